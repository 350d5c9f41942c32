"""Stores errors: OpenZeppelin 5's ERC-721 custom errors, then the marketplace's own."""
from runtime.pallets.framework import error

# ERC-721 (OpenZeppelin 5, IERC721Errors), so wallets and explorers decode them
ERC721NonexistentToken = error("ERC721NonexistentToken(uint256 tokenId)", "no store has this id")
ERC721IncorrectOwner = error("ERC721IncorrectOwner(address sender, uint256 tokenId, address owner)",
                             "from is not the store's owner")
ERC721InsufficientApproval = error("ERC721InsufficientApproval(address operator, uint256 tokenId)",
                                   "the caller is not the owner, the approved account, or an operator")
ERC721InvalidReceiver = error("ERC721InvalidReceiver(address receiver)",
                              "to is the zero address, or a contract that did not accept the store")
ERC721InvalidOwner = error("ERC721InvalidOwner(address owner)", "balanceOf the zero address")
ERC721InvalidOperator = error("ERC721InvalidOperator(address operator)", "setApprovalForAll to the zero address")
ERC721InvalidApprover = error("ERC721InvalidApprover(address approver)",
                              "approve by an account that is neither the owner nor its operator")

# the marketplace
UnknownStore = error("UnknownStore(uint256 storeId)", "no store has this id")
NotStoreOwner = error("NotStoreOwner(uint256 storeId, address caller)", "only the store's current owner may")
UnknownProduct = error("UnknownProduct(uint256 productId)", "no product has this id")
UnknownOrder = error("UnknownOrder(uint256 escrowId)", "no order was opened with this escrow id")
EmptyName = error("EmptyName()", "a store needs a name")
NameTooLong = error("NameTooLong(uint256 length, uint256 maxLength)", "the name is longer than maxNameLength bytes")
UriTooLong = error("UriTooLong(uint256 length, uint256 maxLength)", "a URI is longer than maxUriLength bytes")
ZeroPrice = error("ZeroPrice()", "a product needs a price")
ZeroQuantity = error("ZeroQuantity()", "buy with quantity 0")
WrongPayment = error("WrongPayment(uint256 expected, uint256 sent)", "msg.value is not price * quantity")
OutOfStock = error("OutOfStock(uint256 productId, uint32 requested, uint32 available)", "less in stock than asked")
SellerCannotBuy = error("SellerCannotBuy(uint256 productId)", "the store's owner buys from its own store")
NotBuyer = error("NotBuyer(uint256 escrowId, address caller)", "only the order's buyer may rate it")
NotReleased = error("NotReleased(uint256 escrowId, uint8 status)", "the order's escrow is not RELEASED to the seller")
AlreadyRated = error("AlreadyRated(uint256 escrowId)", "an order is rated once")
BadStars = error("BadStars(uint8 stars)", "stars are 1 to 5")
