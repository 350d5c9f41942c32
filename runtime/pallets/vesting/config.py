"""Vesting parameters: address, bounds, and the gas weight of each call."""

VESTING_ADDRESS = bytes.fromhex("0000000000000000000000000000000000000801")

# parameters
MAX_SCHEDULES_PER_ACCOUNT = 64

# weights (gas), measured against the storage slots each call touches
WEIGHT_CREATE = 160_000
WEIGHT_RELEASE = 60_000
WEIGHT_REVOKE = 60_000
WEIGHT_VIEW = 5_000
WEIGHT_VIEW_PER_ITEM = 2_100
