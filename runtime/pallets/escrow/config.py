"""Escrow address, parameters and weights."""
from runtime.pallets.framework import Parameter

ESCROW_ADDRESS = bytes.fromhex("0000000000000000000000000000000000000802")

DAY = 86_400
BPS_DENOMINATOR = 10_000

# parameters, tuned by governance; a shipped escrow keeps the window it was shipped under
PARAMETERS = {
    "confirmWindow": Parameter(7 * DAY, minimum=60, maximum=365 * DAY,
                               doc="seconds the buyer has after shipping to confirm or dispute before the seller may claim"),
}

# weights (gas): each call's fixed dispatch cost (runtime/pallets/framework.py, "Gas": 25 gas per microsecond of its own Python work);
# storage, logs and payments are metered on top as the EVM charges them.
WEIGHT_OPEN = 6_000        # ~224 us; also what another pallet's open_escrow pays
WEIGHT_SHIP = 3_000        # ~113 us
WEIGHT_CONFIRM = 6_500     # ~260 us (as cancel: one payment and a log)
WEIGHT_CLAIM = 6_500
WEIGHT_CANCEL = 6_500      # ~261 us
WEIGHT_DISPUTE = 3_000     # ~116 us
WEIGHT_RESOLVE = 9_500     # ~378 us: two payments
WEIGHT_VIEW = 3_500        # ~123 us; also what get_escrow / get_escrow_status pay
WEIGHT_NOTIFY = 3_000      # entering the opener pallet for its settlement bookkeeping
