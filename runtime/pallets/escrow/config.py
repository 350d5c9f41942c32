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

# weights (gas): ~20k per new storage slot, 5k per update, 2.1k per read, plus a base
WEIGHT_OPEN = 180_000      # lastId update + up to 8 new slots of the escrow + Opened
WEIGHT_SHIP = 75_000       # read the escrow + shippedAt and the window (new) + status
WEIGHT_CONFIRM = 50_000    # read + status + one transfer + event
WEIGHT_CLAIM = 50_000
WEIGHT_CANCEL = 50_000
WEIGHT_DISPUTE = 40_000    # read + status + event
WEIGHT_RESOLVE = 60_000    # read + status + two transfers + event
WEIGHT_VIEW = 25_000       # read the escrow's ten slots
WEIGHT_NOTIFY = 25_000     # entering the opener pallet for its settlement bookkeeping
