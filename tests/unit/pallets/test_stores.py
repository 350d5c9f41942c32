"""The stores pallet: ERC-721 stores, the catalogue, purchases through escrow, ratings; and
random create/list/buy/transfer/settle/rate sequences against a model."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector, keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from runtime.pallets import compute_abi
from runtime.pallets.escrow import ESCROW_ADDRESS, Escrow
from runtime.pallets.escrow.interface import EscrowInfo, EscrowStatus
from runtime.pallets.framework import COLD_SLOAD_COST, SSTORE_SET_GAS, CallContext, apply_parameter
from runtime.pallets.stores import STORES_ADDRESS, Stores
from runtime.pallets.stores import pallet as stores_pallet
from runtime.pallets.stores.pallet import compute_order_ref, decode_order_ref
from tests.unit.pallets.harness import Runtime, checksum
from tests.unit.pallets.test_framework import decode_error

ABI = compute_abi(Stores)
ZERO = "0x" + "00" * 20
PRICE = 10**15
ON_RECEIVED = function_signature_to_4byte_selector("onERC721Received(address,address,uint256,bytes)")

# Receivers with hand-written EVM code (PUSH0 needs Shanghai+).
# Returns onERC721Received's selector, left-aligned in one word, after storing keccak(calldata) at slot 0.
ACCEPTING = bytes.fromhex("365f5f37" "365f20" "5f55" "63150b7a02" "60e01b" "5f52" "6020" "5f" "f3")
WRONG_ANSWER = bytes.fromhex("6020" "5f" "f3")             # returns one zero word
SILENT_REVERT = bytes.fromhex("5f5ffd")                   # revert with no data
REASON_REVERT = bytes.fromhex("63deadbeef" "60e01b" "5f52" "6004" "5f" "fd")  # revert with 0xdeadbeef


def err(result) -> tuple[str, tuple]:
    assert not result.success, "the call succeeded"
    return decode_error(ABI, result.outcome.output)


def storage_root(rt: Runtime, address: bytes = STORES_ADDRESS) -> bytes:
    return rt.state._account_db._get_storage_root(address)  # noqa: SLF001


def snapshot(rt: Runtime) -> tuple:
    return rt.balances(), storage_root(rt), storage_root(rt, ESCROW_ADDRESS)


def assert_noop(rt: Runtime, sender: bytes, name: str, args: list, expected: tuple[str, tuple], value: int = 0,
                raw: bytes | None = None) -> None:
    """The call fails with ``expected`` and changes no balance and no pallet storage."""
    before = snapshot(rt)
    if raw is not None:
        outcome = rt.raw_call(sender, STORES_ADDRESS, raw, value)
        assert not outcome.success
        assert decode_error(ABI, outcome.output) == expected
    else:
        r = rt.call(sender, Stores, name, args, value=value)
        assert err(r) == expected
    assert snapshot(rt) == before


def lower(account: bytes) -> str:
    return checksum(account).lower()


def safe_transfer_data(frm: bytes, to: bytes, token_id: int, data: bytes) -> bytes:
    sig = "safeTransferFrom(address,address,uint256,bytes)"
    return function_signature_to_4byte_selector(sig) + abi_encode(
        ["address", "address", "uint256", "bytes"], [checksum(frm), checksum(to), token_id, data])


def topics_of(log) -> list[int]:
    return [int.from_bytes(t, "big") for t in log.topics]


def create_store(rt: Runtime, who: bytes, name: str = "Shop", uri: str = "ipfs://catalog") -> int:
    r = rt.call(who, Stores, "createStore", [name, uri])
    assert r.success, r.outcome
    return r.values[0]


def list_product(rt: Runtime, who: bytes, store_id: int, price: int = PRICE, stock: int = 10,
                 uri: str = "ipfs://p") -> int:
    r = rt.call(who, Stores, "listProduct", [store_id, price, stock, uri])
    assert r.success, r.outcome
    return r.values[0]


# ---- ERC-721 ----

def test_metadata_and_interfaces() -> None:
    rt = Runtime()
    assert rt.view(Stores, "name") == "Chameleon Stores"
    assert rt.view(Stores, "symbol") == "STORE"
    for iid in ("01ffc9a7", "80ac58cd", "5b5e139f"):
        assert rt.view(Stores, "supportsInterface", bytes.fromhex(iid)) is True
    for iid in ("ffffffff", "00000000", "780e9d63"):  # ERC-165's invalid id, nothing, Enumerable
        assert rt.view(Stores, "supportsInterface", bytes.fromhex(iid)) is False


def test_erc721_abi_is_standard() -> None:
    functions = {f"{i['name']}({','.join(x['type'] for x in i['inputs'])})": i["stateMutability"]
                 for i in ABI if i["type"] == "function"}
    erc721 = {
        "balanceOf(address)": "view", "ownerOf(uint256)": "view", "getApproved(uint256)": "view",
        "isApprovedForAll(address,address)": "view", "approve(address,uint256)": "nonpayable",
        "setApprovalForAll(address,bool)": "nonpayable", "transferFrom(address,address,uint256)": "nonpayable",
        "safeTransferFrom(address,address,uint256)": "nonpayable",
        "safeTransferFrom(address,address,uint256,bytes)": "nonpayable", "supportsInterface(bytes4)": "view",
        "name()": "view", "symbol()": "view", "tokenURI(uint256)": "view",
    }
    assert erc721.items() <= functions.items()
    # the ERC-721 interface id is the XOR of its function selectors
    ids = [function_signature_to_4byte_selector(s) for s in erc721 if s not in
           ("supportsInterface(bytes4)", "name()", "symbol()", "tokenURI(uint256)")]
    x = 0
    for i in ids:
        x ^= int.from_bytes(i, "big")
    assert x.to_bytes(4, "big").hex() == "80ac58cd"
    events = {i["name"]: [(x["name"], x["type"], x["indexed"]) for x in i["inputs"]]
              for i in ABI if i["type"] == "event"}
    assert events["Transfer"] == [("from", "address", True), ("to", "address", True), ("tokenId", "uint256", True)]
    assert events["Approval"] == [("owner", "address", True), ("approved", "address", True),
                                  ("tokenId", "uint256", True)]
    assert events["ApprovalForAll"] == [("owner", "address", True), ("operator", "address", True),
                                        ("approved", "bool", False)]
    assert events["Purchased"] == [("escrowId", "uint256", True), ("productId", "uint256", True),
                                   ("buyer", "address", True), ("quantity", "uint32", False),
                                   ("amount", "uint256", False)]
    errors = {f"{i['name']}({','.join(x['type'] for x in i['inputs'])})" for i in ABI if i["type"] == "error"}
    assert {"ERC721NonexistentToken(uint256)", "ERC721IncorrectOwner(address,uint256,address)",
            "ERC721InsufficientApproval(address,uint256)", "ERC721InvalidReceiver(address)",
            "ERC721InvalidOwner(address)", "ERC721InvalidOperator(address)",
            "ERC721InvalidApprover(address)"} <= errors


def test_create_store_mints_the_token() -> None:
    rt = Runtime()
    a, b, _ = rt.accounts
    r = rt.call(a, Stores, "createStore", ["Alice's", "ipfs://alice"])
    assert r.values == (1,)
    transfer, created = r.outcome.logs
    assert transfer.address == STORES_ADDRESS
    assert transfer.topics[0] == keccak(text="Transfer(address,address,uint256)")
    assert topics_of(transfer)[1:] == [0, int.from_bytes(a, "big"), 1]
    assert transfer.data == b""
    assert created.topics[0] == keccak(text="StoreCreated(uint256,address,string,string)")
    assert abi_decode(["string", "string"], created.data) == ("Alice's", "ipfs://alice")
    assert rt.view(Stores, "ownerOf", 1) == lower(a)
    assert rt.view(Stores, "balanceOf", checksum(a)) == 1
    assert rt.view(Stores, "balanceOf", checksum(b)) == 0
    assert rt.view(Stores, "tokenURI", 1) == "ipfs://alice"
    assert rt.view(Stores, "store", 1) == (lower(a), "Alice's", "ipfs://alice", 0, 0, 0)
    assert create_store(rt, a, "Second") == 2
    assert rt.view(Stores, "balanceOf", checksum(a)) == 2
    assert rt.view(Stores, "storeCount") == 2


def test_strings_are_bounded_and_metered_per_slot() -> None:
    rt = Runtime()
    a = rt.accounts[0]
    assert_noop(rt, a, "createStore", ["", "u"], ("EmptyName", ()))
    assert_noop(rt, a, "createStore", ["n" * 65, "u"], ("NameTooLong", (65, 64)))
    assert_noop(rt, a, "createStore", ["n", "u" * 257], ("UriTooLong", (257, 256)))
    assert_noop(rt, a, "createStore", ["é" * 33, "u"], ("NameTooLong", (66, 64)))  # bytes, not characters
    assert rt.call(a, Stores, "createStore", ["n", "u"]).success  # the counters' first writes (0 -> 1)
    short = rt.call(a, Stores, "createStore", ["n", "u"])
    long_ = rt.call(a, Stores, "createStore", ["n" * 64, "u" * 256])
    assert long_.success
    # short strings sit in their slot (Solidity's layout); the long ones take 2 + 8 more new slots
    assert long_.outcome.gas_used - short.outcome.gas_used >= 10 * (SSTORE_SET_GAS + COLD_SLOAD_COST)
    apply_parameter(rt.state, Stores, "maxNameLength", 100)
    rt._reopen()
    assert rt.call(a, Stores, "createStore", ["n" * 100, "u"]).success
    store_id = create_store(rt, a)
    assert_noop(rt, a, "updateCatalog", [store_id, "x" * 257], ("UriTooLong", (257, 256)))
    assert_noop(rt, a, "listProduct", [store_id, 1, 1, "x" * 300], ("UriTooLong", (300, 256)))


def test_transfer_by_owner_clears_the_approval() -> None:
    rt = Runtime()
    a, b, c = rt.accounts
    sid = create_store(rt, a)
    r = rt.call(a, Stores, "approve", [checksum(c), sid])
    (log,) = r.outcome.logs
    assert log.topics[0] == keccak(text="Approval(address,address,uint256)")
    assert topics_of(log)[1:] == [int.from_bytes(a, "big"), int.from_bytes(c, "big"), sid]
    assert rt.view(Stores, "getApproved", sid) == lower(c)
    r = rt.call(a, Stores, "transferFrom", [checksum(a), checksum(b), sid])
    assert r.success
    (log,) = r.outcome.logs
    assert topics_of(log) == [int.from_bytes(keccak(text="Transfer(address,address,uint256)"), "big"),
                              int.from_bytes(a, "big"), int.from_bytes(b, "big"), sid]
    assert rt.view(Stores, "ownerOf", sid) == lower(b)
    assert rt.view(Stores, "getApproved", sid) == ZERO
    assert rt.view(Stores, "balanceOf", checksum(a)) == 0
    assert rt.view(Stores, "balanceOf", checksum(b)) == 1
    assert rt.view(Stores, "store", sid)[0] == lower(b)
    # the old approval is gone: c may not move it now
    assert_noop(rt, c, "transferFrom", [checksum(b), checksum(c), sid],
                ("ERC721InsufficientApproval", (lower(c), sid)))


def test_approved_account_and_operator_may_transfer() -> None:
    rt = Runtime()
    a, b, c = rt.accounts
    sid = create_store(rt, a)
    rt.call(a, Stores, "approve", [checksum(b), sid])
    assert rt.call(b, Stores, "transferFrom", [checksum(a), checksum(c), sid]).success  # approved
    assert rt.view(Stores, "ownerOf", sid) == lower(c)
    r = rt.call(c, Stores, "setApprovalForAll", [checksum(a), True])
    (log,) = r.outcome.logs
    assert log.topics[0] == keccak(text="ApprovalForAll(address,address,bool)")
    assert abi_decode(["bool"], log.data) == (True,)
    assert rt.view(Stores, "isApprovedForAll", checksum(c), checksum(a)) is True
    assert rt.call(a, Stores, "approve", [checksum(b), sid]).success  # an operator may approve
    assert rt.call(a, Stores, "transferFrom", [checksum(c), checksum(a), sid]).success  # and transfer
    assert rt.view(Stores, "ownerOf", sid) == lower(a)
    rt.call(c, Stores, "setApprovalForAll", [checksum(a), False])
    assert rt.view(Stores, "isApprovedForAll", checksum(c), checksum(a)) is False


def test_bad_erc721_calls_are_named_and_change_nothing() -> None:
    rt = Runtime()
    a, b, c = rt.accounts
    sid = create_store(rt, a)
    assert_noop(rt, a, "ownerOf", [99], ("ERC721NonexistentToken", (99,)))
    assert_noop(rt, a, "tokenURI", [0], ("ERC721NonexistentToken", (0,)))
    assert_noop(rt, a, "getApproved", [99], ("ERC721NonexistentToken", (99,)))
    assert_noop(rt, a, "balanceOf", [ZERO], ("ERC721InvalidOwner", (ZERO,)))
    assert_noop(rt, a, "setApprovalForAll", [ZERO, True], ("ERC721InvalidOperator", (ZERO,)))
    assert_noop(rt, b, "approve", [checksum(c), sid], ("ERC721InvalidApprover", (lower(b),)))
    assert_noop(rt, a, "approve", [checksum(c), 99], ("ERC721NonexistentToken", (99,)))
    assert_noop(rt, a, "transferFrom", [checksum(a), ZERO, sid], ("ERC721InvalidReceiver", (ZERO,)))
    assert_noop(rt, a, "transferFrom", [checksum(a), checksum(b), 99], ("ERC721NonexistentToken", (99,)))
    assert_noop(rt, b, "transferFrom", [checksum(a), checksum(b), sid],
                ("ERC721InsufficientApproval", (lower(b), sid)))
    assert_noop(rt, a, "transferFrom", [checksum(b), checksum(c), sid],
                ("ERC721IncorrectOwner", (lower(b), sid, lower(a))))
    assert_noop(rt, a, "safeTransferFrom", [checksum(b), checksum(c), sid],
                ("ERC721IncorrectOwner", (lower(b), sid, lower(a))))
    # a non-payable ERC-721 call refuses value
    assert_noop(rt, a, "transferFrom", [checksum(a), checksum(b), sid], ("NotPayable", (1,)), value=1)


def test_safe_transfer_to_an_eoa_and_to_receivers() -> None:
    rt = Runtime()
    a, b, _ = rt.accounts
    good, wrong, silent, reason = (bytes([0xE0 + i]) * 20 for i in range(4))
    for addr, code in ((good, ACCEPTING), (wrong, WRONG_ANSWER), (silent, SILENT_REVERT), (reason, REASON_REVERT)):
        rt.state.set_code(addr, code)
    rt._reopen()
    sid = create_store(rt, a)
    assert rt.call(a, Stores, "safeTransferFrom", [checksum(a), checksum(b), sid]).success  # an EOA: no call
    assert rt.view(Stores, "ownerOf", sid) == lower(b)

    data = safe_transfer_data(b, good, sid, b"hello")
    out = rt.raw_call(b, STORES_ADDRESS, data)
    assert out.success, out
    assert rt.view(Stores, "ownerOf", sid) == lower(good)
    expected_calldata = ON_RECEIVED + abi_encode(["address", "address", "uint256", "bytes"],
                                                 [checksum(b), checksum(b), sid, b"hello"])
    assert rt.state.get_storage(good, 0) == int.from_bytes(keccak(expected_calldata), "big")

    sid2 = create_store(rt, a)
    for target in (wrong, silent):
        assert_noop(rt, a, "safeTransferFrom", [checksum(a), checksum(target), sid2],
                    ("ERC721InvalidReceiver", (lower(target),)))
        assert_noop(rt, a, "", [], ("ERC721InvalidReceiver", (lower(target),)),
                    raw=safe_transfer_data(a, target, sid2, b"x"))
    before = snapshot(rt)
    out = rt.raw_call(a, STORES_ADDRESS, safe_transfer_data(a, reason, sid2, b""))
    assert not out.success and out.output == bytes.fromhex("deadbeef")  # the receiver's reason is bubbled
    assert snapshot(rt) == before
    # a pallet is an account with code that does not answer onERC721Received
    assert_noop(rt, a, "safeTransferFrom", [checksum(a), checksum(ESCROW_ADDRESS), sid2],
                ("UnknownSelector", (ON_RECEIVED,)))
    # plain transferFrom does not ask the receiver
    assert rt.call(a, Stores, "transferFrom", [checksum(a), checksum(wrong), sid2]).success


# ---- catalogue ----

def test_catalogue_and_products() -> None:
    rt = Runtime()
    a, b, _ = rt.accounts
    sid = create_store(rt, a)
    r = rt.call(a, Stores, "updateCatalog", [sid, "ipfs://v2"])
    (log,) = r.outcome.logs
    assert log.topics[0] == keccak(text="CatalogUpdated(uint256,string)")
    assert rt.view(Stores, "tokenURI", sid) == "ipfs://v2"
    r = rt.call(a, Stores, "listProduct", [sid, 5 * PRICE, 3, "ipfs://shoe"])
    assert r.values == (1,)
    (log,) = r.outcome.logs
    assert topics_of(log)[1:] == [1, sid]
    assert abi_decode(["uint256", "uint32", "string"], log.data) == (5 * PRICE, 3, "ipfs://shoe")
    assert rt.view(Stores, "product", 1) == (sid, 5 * PRICE, 3, "ipfs://shoe")
    r = rt.call(a, Stores, "updateProduct", [1, PRICE, 2**32 - 1])
    assert r.success and abi_decode(["uint256", "uint32"], r.outcome.logs[0].data) == (PRICE, 2**32 - 1)
    assert rt.view(Stores, "product", 1) == (sid, PRICE, 2**32 - 1, "ipfs://shoe")
    assert rt.view(Stores, "productCount") == 1

    assert_noop(rt, b, "updateCatalog", [sid, "x"], ("NotStoreOwner", (sid, lower(b))))
    assert_noop(rt, a, "updateCatalog", [7, "x"], ("UnknownStore", (7,)))
    assert_noop(rt, b, "listProduct", [sid, 1, 1, "x"], ("NotStoreOwner", (sid, lower(b))))
    assert_noop(rt, a, "listProduct", [7, 1, 1, "x"], ("UnknownStore", (7,)))
    assert_noop(rt, a, "listProduct", [sid, 0, 1, "x"], ("ZeroPrice", ()))
    assert_noop(rt, b, "updateProduct", [1, 1, 1], ("NotStoreOwner", (sid, lower(b))))
    assert_noop(rt, a, "updateProduct", [2, 1, 1], ("UnknownProduct", (2,)))
    assert_noop(rt, a, "updateProduct", [1, 0, 1], ("ZeroPrice", ()))
    assert_noop(rt, a, "product", [2], ("UnknownProduct", (2,)))
    assert_noop(rt, a, "store", [2], ("UnknownStore", (2,)))
    assert_noop(rt, a, "order", [1], ("UnknownOrder", (1,)))

    # the store's new owner manages it; the old one no longer may
    rt.call(a, Stores, "transferFrom", [checksum(a), checksum(b), sid])
    assert_noop(rt, a, "updateProduct", [1, 1, 1], ("NotStoreOwner", (sid, lower(a))))
    assert rt.call(b, Stores, "updateProduct", [1, 2 * PRICE, 4]).success
    assert rt.call(b, Stores, "listProduct", [sid, 1, 1, ""]).values == (2,)


def test_order_ref_round_trips() -> None:
    ref = compute_order_ref(7, 3)
    assert len(ref) == 32 and int.from_bytes(ref, "big") == (7 << 32) | 3
    assert decode_order_ref(ref) == (7, 3)
    assert decode_order_ref(compute_order_ref(2**200, 2**32 - 1)) == (2**200, 2**32 - 1)


# ---- purchases against a stand-in escrow (the pallet alone) ----

@dataclass
class FakeEscrow:
    """A stand-in for escrow's Python interface: holds the value in escrow's account, records the call."""
    escrows: dict

    def open_escrow(self, ctx: CallContext, *, buyer, seller, arbiter, deadline, ref, amount) -> int:
        ctx.enter(Escrow, weight=10_000, value=amount)
        escrow_id = 100 + len(self.escrows)
        self.escrows[escrow_id] = EscrowInfo(buyer=buyer, seller=seller, arbiter=arbiter, amount=amount,
                                             deadline=deadline, ref=ref, status=EscrowStatus.OPEN, shipped_at=0,
                                             opener=checksum(STORES_ADDRESS))
        return escrow_id

    def get_escrow(self, ctx: CallContext, escrow_id: int) -> EscrowInfo:
        info = self.escrows.get(escrow_id)
        if info is None:
            return EscrowInfo(ZERO, ZERO, ZERO, 0, 0, b"\x00" * 32, EscrowStatus.NONE, 0, ZERO)
        return info

    def get_escrow_status(self, ctx: CallContext, escrow_id: int) -> EscrowStatus:
        return self.get_escrow(ctx, escrow_id).status


@pytest.fixture
def fake(monkeypatch):
    f = FakeEscrow({})
    monkeypatch.setattr(stores_pallet, "open_escrow", f.open_escrow)
    monkeypatch.setattr(stores_pallet, "get_escrow_status", f.get_escrow_status)
    return f


def settle(rt: Runtime, fake: FakeEscrow, escrow_id: int, status: EscrowStatus) -> list[tuple]:
    """What escrow does when it settles: set its status, then call the opener back in a stores context.

    The logs the callback emitted, as (address, topics, data)."""
    from dataclasses import replace

    from runtime.pallets.framework import Storage
    fake.escrows[escrow_id] = replace(fake.escrows[escrow_id], status=status)

    class _Computation:
        def __init__(self, state):
            self.state = state
            self.logs = []

        def add_log_entry(self, address, topics, data):
            self.logs.append((address, topics, data))

        def consume_gas(self, amount, reason):  # the callback's log is charged; gas is not the point here
            pass

    comp = _Computation(rt.state)
    ctx = CallContext(pallet=Stores, computation=comp, sender=checksum(ESCROW_ADDRESS), value=0,
                      timestamp=rt.timestamp, block_number=rt.number, storage=Storage(Stores, rt.state))
    Stores().on_escrow_settled(ctx, escrow_id, status)
    rt._reopen()
    return comp.logs


def test_buy_with_a_stand_in_escrow(fake) -> None:
    rt = Runtime()
    owner, buyer, new_owner = rt.accounts
    sid = create_store(rt, owner)
    pid = list_product(rt, owner, sid, price=PRICE, stock=5)
    rt.call(owner, Stores, "transferFrom", [checksum(owner), checksum(new_owner), sid])
    before = rt.balances()
    r = rt.call(buyer, Stores, "buy", [pid, 3], value=3 * PRICE)
    assert r.success, r.outcome
    (escrow_id,) = r.values
    info = fake.escrows[escrow_id]
    assert (info.buyer, info.seller, info.amount) == (checksum(buyer), checksum(new_owner), 3 * PRICE)
    assert info.arbiter == checksum(bytes.fromhex("0000000000000000000000000000000000000804"))
    assert info.deadline == rt.timestamp + 7 * 86_400
    assert decode_order_ref(info.ref) == (pid, 3)
    assert rt.balance(ESCROW_ADDRESS) == before[ESCROW_ADDRESS] + 3 * PRICE
    assert rt.balance(STORES_ADDRESS) == 0
    assert rt.view(Stores, "product", pid)[2] == 2
    assert rt.view(Stores, "order", escrow_id) == (sid, pid, 3, lower(buyer), False)
    (log,) = [lg for lg in r.outcome.logs if lg.address == STORES_ADDRESS]
    assert log.topics[0] == keccak(text="Purchased(uint256,uint256,address,uint32,uint256)")
    assert topics_of(log)[1:] == [escrow_id, pid, int.from_bytes(buyer, "big")]
    assert abi_decode(["uint32", "uint256"], log.data) == (3, 3 * PRICE)

    # parameters steer the arbiter and the deadline
    apply_parameter(rt.state, Stores, "arbiter", int.from_bytes(owner, "big"))
    apply_parameter(rt.state, Stores, "shipWithin", 3600)
    rt._reopen()
    (e2,) = rt.call(buyer, Stores, "buy", [pid, 1], value=PRICE).values
    assert fake.escrows[e2].arbiter == checksum(owner)
    assert fake.escrows[e2].deadline == rt.timestamp + 3600

    assert_noop(rt, buyer, "rate", [escrow_id, 5], ("NotReleased", (escrow_id, int(EscrowStatus.OPEN))))
    logs = settle(rt, fake, escrow_id, EscrowStatus.RELEASED)
    assert logs and logs[0][1][0] == int.from_bytes(keccak(text="OrderSettled(uint256,uint256,uint8)"), "big")
    assert rt.view(Stores, "store", sid)[3] == 1
    assert_noop(rt, new_owner, "rate", [escrow_id, 5], ("NotBuyer", (escrow_id, lower(new_owner))))
    assert_noop(rt, buyer, "rate", [escrow_id, 0], ("BadStars", (0,)))
    assert_noop(rt, buyer, "rate", [escrow_id, 6], ("BadStars", (6,)))
    assert_noop(rt, buyer, "rate", [999, 5], ("UnknownOrder", (999,)))
    r = rt.call(buyer, Stores, "rate", [escrow_id, 4])
    assert r.success
    (log,) = r.outcome.logs
    assert topics_of(log)[1:] == [escrow_id, sid, int.from_bytes(buyer, "big")]
    assert rt.view(Stores, "store", sid)[3:] == (1, 4, 1)
    assert rt.view(Stores, "order", escrow_id)[4] is True
    assert_noop(rt, buyer, "rate", [escrow_id, 4], ("AlreadyRated", (escrow_id,)))

    # a refund puts the quantity back; an arbiter's split does not
    stock = rt.view(Stores, "product", pid)[2]
    settle(rt, fake, e2, EscrowStatus.REFUNDED)
    assert rt.view(Stores, "product", pid)[2] == stock + 1
    assert rt.view(Stores, "store", sid)[3] == 1
    (e3,) = rt.call(buyer, Stores, "buy", [pid, 1], value=PRICE).values
    settle(rt, fake, e3, EscrowStatus.RESOLVED)
    assert rt.view(Stores, "product", pid)[2] == stock
    assert rt.view(Stores, "store", sid)[3] == 1


def test_refund_restock_is_capped(fake) -> None:
    rt = Runtime()
    owner, buyer, _ = rt.accounts
    sid = create_store(rt, owner)
    pid = list_product(rt, owner, sid, price=1, stock=2)
    (eid,) = rt.call(buyer, Stores, "buy", [pid, 2], value=2).values
    rt.call(owner, Stores, "updateProduct", [pid, 1, 2**32 - 1])
    settle(rt, fake, eid, EscrowStatus.REFUNDED)
    assert rt.view(Stores, "product", pid)[2] == 2**32 - 1
    before = storage_root(rt)
    fake.escrows[555] = fake.escrows[eid]
    assert settle(rt, fake, 555, EscrowStatus.RELEASED) == []  # not an order of this pallet: ignored
    assert storage_root(rt) == before


def test_bad_buys_are_named_and_change_nothing(fake) -> None:
    rt = Runtime()
    owner, buyer, _ = rt.accounts
    sid = create_store(rt, owner)
    pid = list_product(rt, owner, sid, price=PRICE, stock=2)
    assert_noop(rt, buyer, "buy", [9, 1], ("UnknownProduct", (9,)), value=PRICE)
    assert_noop(rt, buyer, "buy", [pid, 0], ("ZeroQuantity", ()))
    assert_noop(rt, buyer, "buy", [pid, 1], ("WrongPayment", (PRICE, PRICE - 1)), value=PRICE - 1)
    assert_noop(rt, buyer, "buy", [pid, 2], ("WrongPayment", (2 * PRICE, PRICE)), value=PRICE)
    assert_noop(rt, buyer, "buy", [pid, 3], ("OutOfStock", (pid, 3, 2)), value=3 * PRICE)
    assert_noop(rt, owner, "buy", [pid, 1], ("SellerCannotBuy", (pid,)), value=PRICE)
    assert not fake.escrows


# ---- purchases through the escrow pallet ----

def test_purchase_flow_through_escrow() -> None:
    rt = Runtime(accounts=4)
    owner, buyer, new_owner, _ = rt.accounts
    sid = create_store(rt, owner)
    pid = list_product(rt, owner, sid, price=PRICE, stock=5)
    assert rt.call(owner, Stores, "safeTransferFrom", [checksum(owner), checksum(new_owner), sid]).success
    issuance = sum(rt.balances().values())
    r = rt.call(buyer, Stores, "buy", [pid, 2], value=2 * PRICE)
    assert r.success, r.outcome
    (eid,) = r.values
    assert eid == 1
    assert rt.balance(ESCROW_ADDRESS) == 2 * PRICE and rt.balance(STORES_ADDRESS) == 0
    stored = rt.view(Escrow, "escrow", eid)
    assert stored[:4] == (lower(buyer), lower(new_owner), "0x0000000000000000000000000000000000000804", 2 * PRICE)
    assert stored[4] == rt.timestamp + 7 * 86_400 and decode_order_ref(stored[5]) == (pid, 2)
    assert [lg.address for lg in r.outcome.logs] == [ESCROW_ADDRESS, STORES_ADDRESS]  # Opened, Purchased
    assert_noop(rt, buyer, "rate", [eid, 5], ("NotReleased", (eid, int(EscrowStatus.OPEN))))

    assert rt.call(new_owner, Escrow, "markShipped", [eid]).success
    assert_noop(rt, buyer, "rate", [eid, 5], ("NotReleased", (eid, int(EscrowStatus.SHIPPED))))
    seller_before = rt.balance(new_owner)
    r = rt.call(buyer, Escrow, "confirm", [eid])
    assert r.success, r.outcome
    assert rt.balance(new_owner) == seller_before + 2 * PRICE  # the store's owner at purchase time is paid
    settled = [lg for lg in r.outcome.logs if lg.address == STORES_ADDRESS]
    assert [lg.topics[0] for lg in settled] == [keccak(text="OrderSettled(uint256,uint256,uint8)")]
    assert abi_decode(["uint8"], settled[0].data) == (int(EscrowStatus.RELEASED),)
    assert rt.view(Stores, "store", sid)[3] == 1
    assert rt.call(buyer, Stores, "rate", [eid, 5]).success
    assert rt.view(Stores, "store", sid) == (lower(new_owner), "Shop", "ipfs://catalog", 1, 5, 1)
    assert_noop(rt, buyer, "rate", [eid, 3], ("AlreadyRated", (eid,)))
    assert rt.view(Stores, "product", pid)[2] == 3
    assert sum(rt.balances().values()) == issuance


def test_cancel_refunds_and_restocks_a_dispute_does_neither() -> None:
    rt = Runtime(accounts=4)
    owner, buyer, arbiter, _ = rt.accounts
    sid = create_store(rt, owner)
    pid = list_product(rt, owner, sid, price=PRICE, stock=3)
    (e1,) = rt.call(buyer, Stores, "buy", [pid, 3], value=3 * PRICE).values
    assert_noop(rt, buyer, "buy", [pid, 1], ("OutOfStock", (pid, 1, 0)), value=PRICE)
    buyer_before = rt.balance(buyer)
    assert rt.call(owner, Escrow, "cancel", [e1]).success  # the seller cancels: refund
    assert rt.balance(buyer) == buyer_before + 3 * PRICE
    assert rt.view(Stores, "product", pid)[2] == 3
    assert_noop(rt, buyer, "rate", [e1, 5], ("NotReleased", (e1, int(EscrowStatus.REFUNDED))))

    apply_parameter(rt.state, Stores, "arbiter", int.from_bytes(arbiter, "big"))
    rt._reopen()
    (e2,) = rt.call(buyer, Stores, "buy", [pid, 1], value=PRICE).values
    assert rt.call(buyer, Escrow, "dispute", [e2]).success
    assert rt.call(arbiter, Escrow, "resolve", [e2, 5000]).success
    assert rt.view(Stores, "product", pid)[2] == 2
    assert rt.view(Stores, "store", sid)[3] == 0
    assert_noop(rt, buyer, "rate", [e2, 5], ("NotReleased", (e2, int(EscrowStatus.RESOLVED))))
    assert rt.balance(ESCROW_ADDRESS) == 0 and rt.balance(STORES_ADDRESS) == 0


def test_escrow_refusals_surface_named() -> None:
    rt = Runtime()
    owner, buyer, _ = rt.accounts
    sid = create_store(rt, owner)
    pid = list_product(rt, owner, sid)
    apply_parameter(rt.state, Stores, "arbiter", int.from_bytes(buyer, "big"))
    rt._reopen()
    assert_noop(rt, buyer, "buy", [pid, 1], ("ArbiterIsParty", ()), value=PRICE)


# ---- random sequences against a model ----

class StoresMachine(RuleBasedStateMachine):
    """Stores, products, orders and their escrows modelled, checked against the pallets after each step."""

    def __init__(self) -> None:
        super().__init__()
        self.rt = Runtime(accounts=4, balance=10**20)
        self.issuance = sum(self.rt.balances().values())
        self.owners: dict[int, bytes] = {}          # storeId -> owner
        self.products: dict[int, dict] = {}         # productId -> storeId, price, stock, listed, sold
        self.orders: dict[int, dict] = {}           # escrowId -> productId, storeId, qty, buyer, seller, status, rated

    def _acct(self, i: int) -> bytes:
        return self.rt.accounts[i % len(self.rt.accounts)]

    def _fails(self, r, name: str) -> None:
        before = snapshot(self.rt)
        assert err(r)[0] == name
        assert snapshot(self.rt) == before

    @precondition(lambda self: len(self.owners) < 4)
    @rule(who=st.integers(0, 3), name=st.text(max_size=8), too_long=st.integers(0, 5).map(lambda n: n == 0),
          uri=st.text(max_size=10))
    def create(self, who, name, too_long, uri) -> None:
        name = "n" * 65 if too_long else name
        before = snapshot(self.rt)
        r = self.rt.call(self._acct(who), Stores, "createStore", [name, uri])
        if not name or len(name.encode()) > 64:
            assert err(r)[0] in ("EmptyName", "NameTooLong")
            assert snapshot(self.rt) == before
            return
        assert r.success, r.outcome
        assert r.values == (len(self.owners) + 1,)
        self.owners[r.values[0]] = self._acct(who)

    @precondition(lambda self: self.owners)
    @rule(pick=st.integers(0, 10**6), who=st.integers(0, 4), price=st.integers(0, 10**16), stock=st.integers(0, 20))
    def list_product(self, pick, who, price, stock) -> None:
        sid = sorted(self.owners)[pick % len(self.owners)]
        caller = self.owners[sid] if who == 0 else self._acct(who)  # mostly the owner
        before = snapshot(self.rt)
        r = self.rt.call(caller, Stores, "listProduct", [sid, price, stock, "ipfs://x"])
        expected = "NotStoreOwner" if caller != self.owners[sid] else "ZeroPrice" if price == 0 else None
        if expected:
            assert err(r)[0] == expected
            assert snapshot(self.rt) == before
            return
        assert r.values == (len(self.products) + 1,)
        self.products[r.values[0]] = dict(store=sid, price=price, stock=stock, listed=stock, sold=0)

    @precondition(lambda self: self.products)
    @rule(pick=st.integers(0, 10**6), price=st.integers(1, 10**16), stock=st.integers(0, 20))
    def restock(self, pick, price, stock) -> None:
        pid = sorted(self.products)[pick % len(self.products)]
        p = self.products[pid]
        assert self.rt.call(self.owners[p["store"]], Stores, "updateProduct", [pid, price, stock]).success
        p.update(price=price, stock=stock, listed=stock + p["sold"])

    @precondition(lambda self: self.owners)
    @rule(pick=st.integers(0, 10**6), who=st.integers(0, 4), to=st.integers(0, 3), safe=st.booleans())
    def transfer(self, pick, who, to, safe) -> None:
        sid = sorted(self.owners)[pick % len(self.owners)]
        caller, target = (self.owners[sid] if who == 0 else self._acct(who)), self._acct(to)
        before = snapshot(self.rt)
        name = "safeTransferFrom" if safe else "transferFrom"
        r = self.rt.call(caller, Stores, name, [checksum(caller), checksum(target), sid])
        if caller != self.owners[sid]:
            assert err(r)[0] == "ERC721InsufficientApproval"
            assert snapshot(self.rt) == before
            return
        assert r.success, r.outcome
        self.owners[sid] = target

    @precondition(lambda self: self.products)
    @rule(pick=st.integers(0, 10**6), who=st.integers(0, 3), qty=st.integers(0, 6),
          underpay=st.integers(0, 5).map(lambda n: n == 0))
    def buy(self, pick, who, qty, underpay) -> None:
        pid = sorted(self.products)[pick % len(self.products)]
        p = self.products[pid]
        buyer = self._acct(who)
        value = p["price"] * qty - (1 if underpay and qty else 0)
        before = snapshot(self.rt)
        r = self.rt.call(buyer, Stores, "buy", [pid, qty], value=value)
        seller = self.owners[p["store"]]
        expected = ("ZeroQuantity" if qty == 0 else "WrongPayment" if underpay else
                    "OutOfStock" if p["stock"] < qty else "SellerCannotBuy" if buyer == seller else None)
        if expected:
            assert err(r)[0] == expected
            assert snapshot(self.rt) == before
            return
        assert r.success, r.outcome
        (eid,) = r.values
        assert eid == len(self.orders) + 1
        p["stock"] -= qty
        p["sold"] += qty
        self.orders[eid] = dict(pid=pid, store=p["store"], qty=qty, buyer=buyer, seller=seller,
                                amount=value, status=EscrowStatus.OPEN, rated=False)

    @precondition(lambda self: self.orders)
    @rule(pick=st.integers(0, 10**6), action=st.sampled_from(["ship", "confirm", "confirm", "cancel"]))
    def settle(self, pick, action) -> None:
        eid = sorted(self.orders)[pick % len(self.orders)]
        o = self.orders[eid]
        open_ = o["status"] in (EscrowStatus.OPEN, EscrowStatus.SHIPPED)
        if action == "ship":
            r = self.rt.call(o["seller"], Escrow, "markShipped", [eid])
            assert r.success == (o["status"] == EscrowStatus.OPEN)
            if r.success:
                o["status"] = EscrowStatus.SHIPPED
        elif action == "confirm":
            seller_before = self.rt.balance(o["seller"])
            r = self.rt.call(o["buyer"], Escrow, "confirm", [eid])
            assert r.success == open_
            if r.success:
                o["status"] = EscrowStatus.RELEASED
                assert self.rt.balance(o["seller"]) == seller_before + o["amount"]
        else:
            r = self.rt.call(o["seller"], Escrow, "cancel", [eid])
            assert r.success == (o["status"] == EscrowStatus.OPEN)
            if r.success:
                o["status"] = EscrowStatus.REFUNDED
                p = self.products[o["pid"]]
                p["stock"] += o["qty"]
                p["sold"] -= o["qty"]

    @precondition(lambda self: self.orders)
    @rule(pick=st.integers(0, 10**6), who=st.integers(0, 3), stars=st.integers(0, 6))
    def rate(self, pick, who, stars) -> None:
        eid = sorted(self.orders)[pick % len(self.orders)]
        o = self.orders[eid]
        caller = o["buyer"] if who < 2 else self._acct(who)  # mostly the buyer
        before = snapshot(self.rt)
        r = self.rt.call(caller, Stores, "rate", [eid, stars])
        expected = ("NotBuyer" if caller != o["buyer"] else "AlreadyRated" if o["rated"] else
                    "BadStars" if not 1 <= stars <= 5 else
                    "NotReleased" if o["status"] != EscrowStatus.RELEASED else None)
        if expected:
            assert err(r)[0] == expected
            assert snapshot(self.rt) == before
            return
        assert r.success, r.outcome
        o["rated"] = stars

    @invariant()
    def issuance_is_conserved(self) -> None:
        assert sum(self.rt.balances().values()) == self.issuance
        assert self.rt.balance(STORES_ADDRESS) == 0
        held = sum(o["amount"] for o in self.orders.values()
                   if o["status"] in (EscrowStatus.OPEN, EscrowStatus.SHIPPED))
        assert self.rt.balance(ESCROW_ADDRESS) == held

    @invariant()
    def stock_adds_up(self) -> None:
        for pid, p in self.products.items():
            stock = self.rt.view(Stores, "product", pid)[2]
            assert stock == p["stock"] >= 0
            assert stock + p["sold"] == p["listed"]

    @invariant()
    def one_owner_per_store_and_balances_match(self) -> None:
        for sid, owner in self.owners.items():
            assert self.rt.view(Stores, "ownerOf", sid) == lower(owner)
        counts = [self.rt.view(Stores, "balanceOf", checksum(a)) for a in self.rt.accounts]
        assert sum(counts) == len(self.owners) == self.rt.view(Stores, "storeCount")
        for a, n in zip(self.rt.accounts, counts):
            assert n == sum(1 for o in self.owners.values() if o == a)

    @invariant()
    def store_stats_match_orders(self) -> None:
        for sid in self.owners:
            done = [o for o in self.orders.values() if o["store"] == sid and o["status"] == EscrowStatus.RELEASED]
            rated = [o["rated"] for o in done if o["rated"]]
            assert self.rt.view(Stores, "store", sid)[3:] == (len(done), sum(rated), len(rated))


StoresMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=30, deadline=None,
                                           suppress_health_check=[HealthCheck.too_slow])
TestStoresMachine = StoresMachine.TestCase


# ---- parameters at genesis, pause ----

def test_genesis_sets_the_parameters() -> None:
    from eth.db.atomic import AtomicDB

    from runtime.chainspec import parse_chain_spec
    from runtime.errors import InvalidChainSpec
    from runtime.executive import build_genesis
    from runtime.pallets.framework import get_parameter
    from runtime.state.store import MemoryStore, StateDB

    base = {"name": "t", "chainId": 7, "gasLimit": 30_000_000, "baseFeePerGas": 0, "consensus": {"engine": "dev"}}
    arbiter = "0x" + "ab" * 20
    spec = parse_chain_spec({**base, "pallets": {"stores": {"arbiter": arbiter, "shipWithin": 3600}}})
    store = MemoryStore()
    header, writes = build_genesis(spec, store)
    store.write(writes)
    rt = Runtime()
    rt.db = AtomicDB(StateDB(store))
    rt.state = rt._open(header.state_root)
    assert get_parameter(rt.state, Stores, "arbiter") == int(arbiter, 16)
    assert get_parameter(rt.state, Stores, "shipWithin") == 3600
    assert get_parameter(rt.state, Stores, "maxUriLength") == 256
    for bad, field in (({"shipWithin": 10}, "pallets.stores.shipWithin"), ({"arbiter": 0}, "pallets.stores.arbiter"),
                       ({"colour": 1}, "pallets.stores.colour")):
        with pytest.raises(InvalidChainSpec) as info:
            parse_chain_spec({**base, "pallets": {"stores": bad}})
        assert info.value.field == field


def test_a_paused_stores_pallet_refuses_writes_but_answers_views() -> None:
    from runtime.pallets.framework import apply_paused

    rt = Runtime()
    a, b, _ = rt.accounts
    sid = create_store(rt, a)
    apply_paused(rt.state, Stores, True)
    rt._reopen()
    paused = ("Paused", (lower(STORES_ADDRESS),))
    assert_noop(rt, a, "createStore", ["x", ""], paused)
    assert_noop(rt, a, "transferFrom", [checksum(a), checksum(b), sid], paused)
    assert_noop(rt, a, "listProduct", [sid, 1, 1, ""], paused)
    assert rt.view(Stores, "ownerOf", sid) == lower(a)
    assert rt.view(Stores, "store", sid)[1] == "Shop"
