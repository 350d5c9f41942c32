"""Stores address, parameters and weights."""
from runtime.pallets.framework import Parameter

STORES_ADDRESS = bytes.fromhex("0000000000000000000000000000000000000803")

# ERC-721 metadata
TOKEN_NAME = "Chameleon Stores"
TOKEN_SYMBOL = "STORE"

# ERC-165 interface ids the pallet answers true for
INTERFACE_ERC165 = bytes.fromhex("01ffc9a7")
INTERFACE_ERC721 = bytes.fromhex("80ac58cd")
INTERFACE_ERC721_METADATA = bytes.fromhex("5b5e139f")
SUPPORTED_INTERFACES = frozenset({INTERFACE_ERC165, INTERFACE_ERC721, INTERFACE_ERC721_METADATA})

# IERC721Receiver.onERC721Received(address,address,uint256,bytes).selector
ERC721_RECEIVED = bytes.fromhex("150b7a02")

GOVERNANCE_ADDRESS_AS_UINT = 0x0804
SECONDS_PER_DAY = 86_400
MAX_UINT32 = 2**32 - 1

# parameters (governance may tune them; genesis may set them)
PARAMETERS = {
    "arbiter": Parameter(GOVERNANCE_ADDRESS_AS_UINT, minimum=1, maximum=2**160 - 1,
                         doc="who resolves a disputed order's escrow: an address held as a uint256"),
    "shipWithin": Parameter(7 * SECONDS_PER_DAY, minimum=60, maximum=365 * SECONDS_PER_DAY,
                            doc="seconds a seller has to ship: the escrow deadline is the purchase time plus this"),
    "maxNameLength": Parameter(64, minimum=1, maximum=1024, doc="longest store name, in UTF-8 bytes"),
    "maxUriLength": Parameter(256, minimum=1, maximum=4096, doc="longest catalogue or metadata URI, in UTF-8 bytes"),
}

# weights (gas): each call's fixed dispatch cost (runtime/pallets/framework.py, "Gas": 25 gas per microsecond of its own Python work);
# storage (strings included, slot by slot), logs and payments are metered on top.
WEIGHT_CREATE_STORE = 6_000    # ~225 us
WEIGHT_UPDATE_CATALOG = 3_500  # ~130 us
WEIGHT_LIST_PRODUCT = 4_000    # ~159 us
WEIGHT_UPDATE_PRODUCT = 3_000  # ~110 us
WEIGHT_BUY = 5_500             # ~206 us besides the escrow's own, which its interface charges (WEIGHT_OPEN)
WEIGHT_RATE = 4_000            # ~150 us besides the escrow status read (its WEIGHT_VIEW)
WEIGHT_TRANSFER = 5_000        # ~189 us (a receiver's onERC721Received is a metered call on top)
WEIGHT_APPROVE = 4_000         # 131-145 us
WEIGHT_VIEW = 2_500            # 75-104 us
