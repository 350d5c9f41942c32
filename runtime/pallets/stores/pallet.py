"""Stores: each store is an ERC-721 token at the pallet's address; stores list products; a
purchase opens an escrow through the escrow pallet's Python interface.

- ``createStore`` mints store ``storeId`` (ids from 1) to msg.sender (``Transfer`` from zero);
  ``tokenURI(storeId)`` is its catalogue URI. Whoever owns the token owns the store: only they
  update the catalogue and list/update products, and they are the seller of every purchase
  made while they own it.
- ``buy(productId, quantity)`` takes ``price * quantity`` as msg.value, takes the quantity
  from stock, and moves the value into a new escrow (buyer: msg.sender; seller: the store's
  owner now; arbiter: parameter ``arbiter``; deadline: now + parameter ``shipWithin``; ref:
  ``bytes32(productId << 32 | quantity)``). The buyer and seller then use escrow's own calls.
- When the escrow settles, escrow calls :meth:`Stores.on_escrow_settled`: RELEASED counts a
  completed order for the store; REFUNDED puts the quantity back in stock (capped at the
  uint32 maximum); RESOLVED (the arbiter split it) does neither.
- ``rate(escrowId, stars)``: the order's buyer, once, 1-5 stars, after the escrow was RELEASED.

Strings are bounded (parameters ``maxNameLength``, ``maxUriLength``, in UTF-8 bytes); storing
them is metered as the SSTOREs of Solidity's string layout (see the framework).
All checks run before the first write; a failing call reverts all its writes anyway.

Where the issue was silent:

- ERC-721 follows OpenZeppelin 5: checks in its order (receiver, existence, authorisation,
  then ``from``), a transfer clears the token's approval without an ``Approval`` event, an
  operator may ``approve``, and a receiver's own revert data is bubbled as is (an empty
  revert or a wrong answer is ``ERC721InvalidReceiver``). Stores are never burnt.
- A store needs a non-empty name; a product needs a price above 0 (an escrow needs value);
  a stock of 0 may be listed. Store and product ids count from 1.
- The store's owner may not buy from it (``SellerCannotBuy``): it would rate itself.
- ``buy`` can also fail with escrow's ``ArbiterIsParty`` (the ``arbiter`` parameter names the
  buyer or the seller); it is in this pallet's ABI so wallets decode it.
- Ratings go to the store whatever its owner is at the time; an order is rated once.
- ``on_escrow_settled`` ignores escrow ids that are not orders of this pallet.
"""
from __future__ import annotations

from typing import Any

from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from runtime.pallets.escrow.errors import ArbiterIsParty
from runtime.pallets.escrow.interface import EscrowStatus, get_escrow_status, open_escrow
from runtime.pallets.framework import (
    CallContext,
    DispatchError,
    Pallet,
    StorageMap,
    StorageValue,
    call,
)
from runtime.pallets.stores.config import (
    ERC721_RECEIVED,
    MAX_UINT32,
    PARAMETERS,
    STORES_ADDRESS,
    SUPPORTED_INTERFACES,
    TOKEN_NAME,
    TOKEN_SYMBOL,
    WEIGHT_APPROVE,
    WEIGHT_BUY,
    WEIGHT_CREATE_STORE,
    WEIGHT_LIST_PRODUCT,
    WEIGHT_RATE,
    WEIGHT_TRANSFER,
    WEIGHT_UPDATE_CATALOG,
    WEIGHT_UPDATE_PRODUCT,
    WEIGHT_VIEW,
)
from runtime.pallets.stores.errors import (
    AlreadyRated,
    BadStars,
    EmptyName,
    ERC721IncorrectOwner,
    ERC721InsufficientApproval,
    ERC721InvalidApprover,
    ERC721InvalidOperator,
    ERC721InvalidOwner,
    ERC721InvalidReceiver,
    ERC721NonexistentToken,
    NameTooLong,
    NotBuyer,
    NotReleased,
    NotStoreOwner,
    OutOfStock,
    SellerCannotBuy,
    UnknownOrder,
    UnknownProduct,
    UnknownStore,
    UriTooLong,
    WrongPayment,
    ZeroPrice,
    ZeroQuantity,
)
from runtime.pallets.stores.events import (
    Approval,
    ApprovalForAll,
    CatalogUpdated,
    OrderSettled,
    ProductListed,
    ProductUpdated,
    Purchased,
    Rated,
    StoreCreated,
    Transfer,
)

ZERO_ADDRESS = "0x" + "00" * 20

# Field order is the storage layout (Solidity's packing). Ids and counters are stored as
# uint64 (they count one a call: never near 2**64); the views return them as uint256.
STORE_FIELDS = (  # owner | name | catalogURI | completedOrders+ratingSum+ratingCount
    ("owner", "address"), ("name", "string"), ("catalogURI", "string"), ("completedOrders", "uint64"),
    ("ratingSum", "uint64"), ("ratingCount", "uint64"),
)
PRODUCT_FIELDS = (  # storeId+stock | price | metadataURI
    ("storeId", "uint64"), ("stock", "uint32"), ("price", "uint256"), ("metadataURI", "string"),
)
ORDER_FIELDS = (  # buyer+quantity+rated | storeId+productId
    ("buyer", "address"), ("quantity", "uint32"), ("rated", "bool"), ("storeId", "uint64"), ("productId", "uint64"),
)
PRODUCT_VIEW = ("storeId", "price", "stock", "metadataURI")  # the product() view's order
ORDER_VIEW = ("storeId", "productId", "quantity", "buyer", "rated")  # the order() view's order

ON_ERC721_RECEIVED = function_signature_to_4byte_selector("onERC721Received(address,address,uint256,bytes)")
assert ON_ERC721_RECEIVED == ERC721_RECEIVED


def compute_order_ref(product_id: int, quantity: int) -> bytes:
    """The ``ref`` of a purchase's escrow: ``bytes32(productId << 32 | quantity)``."""
    return ((product_id << 32) | quantity).to_bytes(32, "big")


def decode_order_ref(ref: bytes) -> tuple[int, int]:
    """(productId, quantity) from an escrow's ``ref`` written by :func:`compute_order_ref`."""
    word = int.from_bytes(ref, "big")
    return word >> 32, word & MAX_UINT32


def _is_zero(account: str) -> bool:
    return int(account, 16) == 0


class _Bubbled(DispatchError):
    """A receiver's own revert data, re-raised as is (as OpenZeppelin's ``_checkOnERC721Received``)."""

    def __init__(self, data: bytes) -> None:
        super().__init__(ERC721InvalidReceiver, ())
        self.data = data

    def encode(self) -> bytes:
        return self.data


class Stores(Pallet):
    name = "stores"
    address = STORES_ADDRESS
    parameters = PARAMETERS
    storage_schema = {
        "lastStoreId": StorageValue("uint256"),
        "lastProductId": StorageValue("uint256"),
        "stores": StorageMap(("uint256",), STORE_FIELDS),
        "balances": StorageValue("uint256", keys=("address",)),
        "tokenApprovals": StorageValue("address", keys=("uint256",)),
        "operatorApprovals": StorageValue("bool", keys=("address", "address")),
        "products": StorageMap(("uint256",), PRODUCT_FIELDS),
        "orders": StorageMap(("uint256",), ORDER_FIELDS),
    }
    events = (Transfer, Approval, ApprovalForAll, StoreCreated, CatalogUpdated, ProductListed, ProductUpdated,
              Purchased, OrderSettled, Rated)
    errors = (ERC721NonexistentToken, ERC721IncorrectOwner, ERC721InsufficientApproval, ERC721InvalidReceiver,
              ERC721InvalidOwner, ERC721InvalidOperator, ERC721InvalidApprover, UnknownStore, NotStoreOwner,
              UnknownProduct, UnknownOrder, EmptyName, NameTooLong, UriTooLong, ZeroPrice, ZeroQuantity,
              WrongPayment, OutOfStock, SellerCannotBuy, NotBuyer, NotReleased, AlreadyRated, BadStars,
              ArbiterIsParty)  # escrow's, from buy when the arbiter parameter names the buyer or the seller

    # ---- ERC-721 ----

    @call("name()", returns="string tokenName", weight=WEIGHT_VIEW, view=True)
    def token_name(self, ctx: CallContext) -> str:
        """The ERC-721 collection name."""
        return TOKEN_NAME

    @call("symbol()", returns="string tokenSymbol", weight=WEIGHT_VIEW, view=True)
    def token_symbol(self, ctx: CallContext) -> str:
        """The ERC-721 collection symbol."""
        return TOKEN_SYMBOL

    @call("supportsInterface(bytes4 interfaceId)", returns="bool supported", weight=WEIGHT_VIEW, view=True)
    def supports_interface(self, ctx: CallContext, interface_id: bytes) -> bool:
        """ERC-165: true for ERC-165, ERC-721 and ERC-721 Metadata."""
        return bytes(interface_id) in SUPPORTED_INTERFACES

    @call("balanceOf(address owner)", returns="uint256 balance", weight=WEIGHT_VIEW, view=True)
    def balance_of(self, ctx: CallContext, owner: str) -> int:
        """How many stores owner owns."""
        owner = to_checksum_address(owner)
        if _is_zero(owner):
            raise ERC721InvalidOwner(ZERO_ADDRESS)
        return ctx.storage.get_value("balances", owner)

    @call("ownerOf(uint256 tokenId)", returns="address owner", weight=WEIGHT_VIEW, view=True)
    def owner_of(self, ctx: CallContext, token_id: int) -> str:
        """The owner of store tokenId."""
        return self._require_owned(ctx, token_id)

    @call("tokenURI(uint256 tokenId)", returns="string uri", weight=WEIGHT_VIEW, view=True)
    def token_uri(self, ctx: CallContext, token_id: int) -> str:
        """The store's catalogue URI."""
        self._require_owned(ctx, token_id)
        return ctx.storage.get_struct("stores", token_id, fields=("catalogURI",))["catalogURI"]

    @call("getApproved(uint256 tokenId)", returns="address operator", weight=WEIGHT_VIEW, view=True)
    def get_approved(self, ctx: CallContext, token_id: int) -> str:
        """The account approved to transfer store tokenId, or the zero address."""
        self._require_owned(ctx, token_id)
        return ctx.storage.get_value("tokenApprovals", token_id)

    @call("isApprovedForAll(address owner, address operator)", returns="bool approved", weight=WEIGHT_VIEW,
          view=True)
    def is_approved_for_all(self, ctx: CallContext, owner: str, operator: str) -> bool:
        """Whether operator may transfer every store of owner."""
        return ctx.storage.get_value("operatorApprovals", to_checksum_address(owner), to_checksum_address(operator))

    @call("approve(address to, uint256 tokenId)", weight=WEIGHT_APPROVE)
    def approve(self, ctx: CallContext, to: str, token_id: int) -> None:
        """Let to transfer store tokenId (the zero address clears it); its owner or an operator of the owner."""
        to = to_checksum_address(to)
        owner = self._require_owned(ctx, token_id)
        if ctx.sender != owner and not ctx.storage.get_value("operatorApprovals", owner, ctx.sender):
            raise ERC721InvalidApprover(ctx.sender)
        ctx.storage.set_value("tokenApprovals", to, token_id)
        ctx.emit(Approval, owner=owner, approved=to, tokenId=token_id)

    @call("setApprovalForAll(address operator, bool approved)", weight=WEIGHT_APPROVE)
    def set_approval_for_all(self, ctx: CallContext, operator: str, approved: bool) -> None:
        """Let operator transfer (and approve) every store of msg.sender, or stop it."""
        operator = to_checksum_address(operator)
        if _is_zero(operator):
            raise ERC721InvalidOperator(operator)
        ctx.storage.set_value("operatorApprovals", approved, ctx.sender, operator)
        ctx.emit(ApprovalForAll, owner=ctx.sender, operator=operator, approved=approved)

    @call("transferFrom(address from, address to, uint256 tokenId)", weight=WEIGHT_TRANSFER)
    def transfer_from(self, ctx: CallContext, from_: str, to: str, token_id: int) -> None:
        """Move store tokenId from its owner from to to; the owner, the approved account or an operator."""
        self._transfer(ctx, to_checksum_address(from_), to_checksum_address(to), token_id)

    @call("safeTransferFrom(address from, address to, uint256 tokenId)", weight=WEIGHT_TRANSFER)
    def safe_transfer_from(self, ctx: CallContext, from_: str, to: str, token_id: int) -> None:
        """transferFrom, then a contract receiver must answer onERC721Received with its selector."""
        self.safe_transfer_from_with_data(ctx, from_, to, token_id, b"")

    @call("safeTransferFrom(address from, address to, uint256 tokenId, bytes data)", weight=WEIGHT_TRANSFER)
    def safe_transfer_from_with_data(self, ctx: CallContext, from_: str, to: str, token_id: int,
                                     data: bytes) -> None:
        """transferFrom, then a contract receiver must answer onERC721Received(.., data) with its selector."""
        from_, to = to_checksum_address(from_), to_checksum_address(to)
        self._transfer(ctx, from_, to, token_id)
        self._check_on_received(ctx, from_, to, token_id, bytes(data))

    # ---- stores and products ----

    @call("createStore(string name, string catalogURI)", returns="uint256 storeId", weight=WEIGHT_CREATE_STORE)
    def create_store(self, ctx: CallContext, name: str, catalog_uri: str) -> int:
        """Open a store: mints its token to msg.sender."""
        if not name:
            raise EmptyName()
        self._check_name(ctx, name)
        self._check_uri(ctx, catalog_uri)
        store_id = ctx.storage.get_value("lastStoreId") + 1
        ctx.storage.set_value("lastStoreId", store_id)
        ctx.storage.set_struct("stores", {"owner": ctx.sender, "name": name, "catalogURI": catalog_uri}, store_id)
        ctx.storage.set_value("balances", ctx.storage.get_value("balances", ctx.sender) + 1, ctx.sender)
        ctx.emit(Transfer, **{"from": ZERO_ADDRESS, "to": ctx.sender, "tokenId": store_id})
        ctx.emit(StoreCreated, storeId=store_id, owner=ctx.sender, name=name, catalogURI=catalog_uri)
        return store_id

    @call("updateCatalog(uint256 storeId, string catalogURI)", weight=WEIGHT_UPDATE_CATALOG)
    def update_catalog(self, ctx: CallContext, store_id: int, catalog_uri: str) -> None:
        """Set the store's catalogue URI (its tokenURI); the store's owner."""
        self._require_store_owner(ctx, store_id)
        self._check_uri(ctx, catalog_uri)
        ctx.storage.set_struct("stores", {"catalogURI": catalog_uri}, store_id)
        ctx.emit(CatalogUpdated, storeId=store_id, catalogURI=catalog_uri)

    @call("listProduct(uint256 storeId, uint256 price, uint32 stock, string metadataURI)",
          returns="uint256 productId", weight=WEIGHT_LIST_PRODUCT)
    def list_product(self, ctx: CallContext, store_id: int, price: int, stock: int, metadata_uri: str) -> int:
        """List a product in the store at price (wei per unit) with stock units; the store's owner."""
        self._require_store_owner(ctx, store_id)
        if price == 0:
            raise ZeroPrice()
        self._check_uri(ctx, metadata_uri)
        product_id = ctx.storage.get_value("lastProductId") + 1
        ctx.storage.set_value("lastProductId", product_id)
        ctx.storage.set_struct("products", {"storeId": store_id, "price": price, "stock": stock,
                                            "metadataURI": metadata_uri}, product_id)
        ctx.emit(ProductListed, productId=product_id, storeId=store_id, price=price, stock=stock,
                 metadataURI=metadata_uri)
        return product_id

    @call("updateProduct(uint256 productId, uint256 price, uint32 stock)", weight=WEIGHT_UPDATE_PRODUCT)
    def update_product(self, ctx: CallContext, product_id: int, price: int, stock: int) -> None:
        """Set a product's price and stock; the owner of its store."""
        p = self._get_product(ctx, product_id, "storeId")
        self._require_store_owner(ctx, p["storeId"])
        if price == 0:
            raise ZeroPrice()
        ctx.storage.set_struct("products", {"price": price, "stock": stock}, product_id)
        ctx.emit(ProductUpdated, productId=product_id, price=price, stock=stock)

    # ---- orders ----

    @call("buy(uint256 productId, uint32 quantity)", returns="uint256 escrowId", weight=WEIGHT_BUY, payable=True)
    def buy(self, ctx: CallContext, product_id: int, quantity: int) -> int:
        """Buy quantity units for exactly price * quantity: the value goes into an escrow to the store's owner."""
        p = self._get_product(ctx, product_id, "price", "stock")
        if quantity == 0:
            raise ZeroQuantity()
        expected = p["price"] * quantity
        if ctx.value != expected:
            raise WrongPayment(expected, ctx.value)
        if p["stock"] < quantity:
            raise OutOfStock(product_id, quantity, p["stock"])
        seller = ctx.storage.get_struct("stores", p["storeId"], fields=("owner",))["owner"]
        if seller == ctx.sender:
            raise SellerCannotBuy(product_id)
        ctx.storage.set_struct("products", {"stock": p["stock"] - quantity}, product_id)
        arbiter = to_checksum_address(ctx.param("arbiter").to_bytes(20, "big"))
        escrow_id = open_escrow(ctx, buyer=ctx.sender, seller=seller, arbiter=arbiter,
                                deadline=ctx.timestamp + ctx.param("shipWithin"),
                                ref=compute_order_ref(product_id, quantity), amount=ctx.value)
        ctx.storage.set_struct("orders", {"storeId": p["storeId"], "productId": product_id, "quantity": quantity,
                                          "buyer": ctx.sender, "rated": False}, escrow_id)  # two full slots
        ctx.emit(Purchased, escrowId=escrow_id, productId=product_id, buyer=ctx.sender, quantity=quantity,
                 amount=ctx.value)
        return escrow_id

    def on_escrow_settled(self, ctx: CallContext, escrow_id: int, status: EscrowStatus) -> None:
        """Escrow's callback when an escrow this pallet opened settles (``EscrowListener``).

        RELEASED: one more completed order for the store. REFUNDED: the quantity goes back in
        stock (capped at the uint32 maximum). RESOLVED: neither. Unknown ids are ignored.
        """
        order = ctx.storage.get_struct("orders", escrow_id)
        if _is_zero(order["buyer"]):
            return
        status = EscrowStatus(status)
        if status == EscrowStatus.RELEASED:
            s = ctx.storage.get_struct("stores", order["storeId"], fields=("completedOrders",))
            ctx.storage.set_struct("stores", {"completedOrders": s["completedOrders"] + 1}, order["storeId"])
        elif status == EscrowStatus.REFUNDED:
            p = ctx.storage.get_struct("products", order["productId"], fields=("stock",))
            ctx.storage.set_struct("products", {"stock": min(MAX_UINT32, p["stock"] + order["quantity"])},
                                   order["productId"])
        ctx.emit(OrderSettled, escrowId=escrow_id, storeId=order["storeId"], status=int(status))

    @call("rate(uint256 escrowId, uint8 stars)", weight=WEIGHT_RATE)
    def rate(self, ctx: CallContext, escrow_id: int, stars: int) -> None:
        """Rate the store of a released order 1-5 stars; the order's buyer, once."""
        order = self._get_order(ctx, escrow_id, "rated", "storeId")
        if order["buyer"] != ctx.sender:
            raise NotBuyer(escrow_id, ctx.sender)
        if order["rated"]:
            raise AlreadyRated(escrow_id)
        if not 1 <= stars <= 5:
            raise BadStars(stars)
        status = get_escrow_status(ctx, escrow_id)
        if status != EscrowStatus.RELEASED:
            raise NotReleased(escrow_id, int(status))
        ctx.storage.set_struct("orders", {"rated": True}, escrow_id)
        s = ctx.storage.get_struct("stores", order["storeId"], fields=("ratingSum", "ratingCount"))
        ctx.storage.set_struct("stores", {"ratingSum": s["ratingSum"] + stars, "ratingCount": s["ratingCount"] + 1},
                               order["storeId"])
        ctx.emit(Rated, escrowId=escrow_id, storeId=order["storeId"], buyer=ctx.sender, stars=stars)

    # ---- views ----

    @call("store(uint256 storeId)",
          returns="address owner, string name, string catalogURI, uint256 completedOrders, uint256 ratingSum, "
                  "uint256 ratingCount",
          weight=WEIGHT_VIEW, view=True)
    def store(self, ctx: CallContext, store_id: int) -> tuple:
        """The store storeId as stored."""
        s = self._get_store(ctx, store_id, *(f for f, _ in STORE_FIELDS))
        return tuple(s[f] for f, _ in STORE_FIELDS)

    @call("product(uint256 productId)", returns="uint256 storeId, uint256 price, uint32 stock, string metadataURI",
          weight=WEIGHT_VIEW, view=True)
    def product(self, ctx: CallContext, product_id: int) -> tuple:
        """The product productId as stored."""
        p = self._get_product(ctx, product_id, *PRODUCT_VIEW)
        return tuple(p[f] for f in PRODUCT_VIEW)

    @call("order(uint256 escrowId)",
          returns="uint256 storeId, uint256 productId, uint32 quantity, address buyer, bool rated",
          weight=WEIGHT_VIEW, view=True)
    def order(self, ctx: CallContext, escrow_id: int) -> tuple:
        """The order paid into escrow escrowId."""
        o = self._get_order(ctx, escrow_id, *ORDER_VIEW)
        return tuple(o[f] for f in ORDER_VIEW)

    @call("storeCount()", returns="uint256 count", weight=WEIGHT_VIEW, view=True)
    def store_count(self, ctx: CallContext) -> int:
        """How many stores were created (ids 1..count)."""
        return ctx.storage.get_value("lastStoreId")

    @call("productCount()", returns="uint256 count", weight=WEIGHT_VIEW, view=True)
    def product_count(self, ctx: CallContext) -> int:
        """How many products were listed (ids 1..count)."""
        return ctx.storage.get_value("lastProductId")

    # ---- helpers ----

    @staticmethod
    def _require_owned(ctx: CallContext, token_id: int) -> str:
        owner = ctx.storage.get_struct("stores", token_id, fields=("owner",))["owner"]
        if _is_zero(owner):
            raise ERC721NonexistentToken(token_id)
        return owner

    @staticmethod
    def _get_store(ctx: CallContext, store_id: int, *fields: str) -> dict[str, Any]:
        s = ctx.storage.get_struct("stores", store_id, fields=("owner", *fields))
        if _is_zero(s["owner"]):  # every store has an owner: tokens are never burnt
            raise UnknownStore(store_id)
        return s

    @staticmethod
    def _require_store_owner(ctx: CallContext, store_id: int) -> None:
        owner = Stores._get_store(ctx, store_id)["owner"]
        if owner != ctx.sender:
            raise NotStoreOwner(store_id, ctx.sender)

    @staticmethod
    def _get_product(ctx: CallContext, product_id: int, *fields: str) -> dict[str, Any]:
        p = ctx.storage.get_struct("products", product_id, fields=("storeId", *fields))
        if p["storeId"] == 0:  # every product belongs to a store
            raise UnknownProduct(product_id)
        return p

    @staticmethod
    def _get_order(ctx: CallContext, escrow_id: int, *fields: str) -> dict[str, Any]:
        o = ctx.storage.get_struct("orders", escrow_id, fields=("buyer", *fields))
        if _is_zero(o["buyer"]):  # every order has a buyer
            raise UnknownOrder(escrow_id)
        return o

    @staticmethod
    def _check_name(ctx: CallContext, name: str) -> None:
        length, limit = len(name.encode()), ctx.param("maxNameLength")
        if length > limit:
            raise NameTooLong(length, limit)

    @staticmethod
    def _check_uri(ctx: CallContext, uri: str) -> None:
        length, limit = len(uri.encode()), ctx.param("maxUriLength")
        if length > limit:
            raise UriTooLong(length, limit)

    @staticmethod
    def _transfer(ctx: CallContext, from_: str, to: str, token_id: int) -> None:
        """OpenZeppelin 5's order of checks: receiver, existence, authorisation, then from."""
        if _is_zero(to):
            raise ERC721InvalidReceiver(to)
        owner = Stores._require_owned(ctx, token_id)
        st = ctx.storage
        authorised = (ctx.sender == owner or st.get_value("operatorApprovals", owner, ctx.sender)
                      or st.get_value("tokenApprovals", token_id) == ctx.sender)
        if not authorised:
            raise ERC721InsufficientApproval(ctx.sender, token_id)
        if owner != from_:
            raise ERC721IncorrectOwner(from_, token_id, owner)
        st.set_value("tokenApprovals", ZERO_ADDRESS, token_id)
        st.set_value("balances", st.get_value("balances", from_) - 1, from_)
        st.set_value("balances", st.get_value("balances", to) + 1, to)
        st.set_struct("stores", {"owner": to}, token_id)
        ctx.emit(Transfer, **{"from": from_, "to": to, "tokenId": token_id})

    @staticmethod
    def _check_on_received(ctx: CallContext, from_: str, to: str, token_id: int, data: bytes) -> None:
        """A receiver with code must return onERC721Received's selector; its own revert data is bubbled."""
        if not ctx.computation.state.get_code(bytes.fromhex(to[2:])):
            return
        calldata = ON_ERC721_RECEIVED + abi_encode(["address", "address", "uint256", "bytes"],
                                                   [ctx.sender, from_, token_id, data])
        ok, output = ctx.call_contract(to, calldata)
        if not ok:
            if output:
                raise _Bubbled(output)
            raise ERC721InvalidReceiver(to)
        if len(output) < 32 or output[:4] != ERC721_RECEIVED:
            raise ERC721InvalidReceiver(to)
