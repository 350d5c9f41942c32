"""Vesting parameters: address, bounds, and the gas weight of each call."""

VESTING_ADDRESS = bytes.fromhex("0000000000000000000000000000000000000801")

# parameters
MAX_SCHEDULES_PER_ACCOUNT = 64

# weights (gas): each call's fixed dispatch cost (runtime/pallets/framework.py, "Gas": 25 gas per microsecond of its own Python work);
# storage, logs and payments are metered on top as the EVM charges them.
WEIGHT_CREATE = 5_500    # ~206 us
WEIGHT_RELEASE = 4_500   # ~171 us
WEIGHT_REVOKE = 4_500    # ~164 us
WEIGHT_VIEW = 3_000      # 74-105 us (schedule, the widest output, the most)
