"""Governance address, parameters, bounds and the gas weight of each call."""
from runtime.pallets.framework import Parameter

GOVERNANCE_ADDRESS = bytes.fromhex("0000000000000000000000000000000000000804")

ETHER = 10**18
DAY_SECONDS = 86_400
# Longest delay or period a parameter may set: keeps every stored time far inside uint64.
MAX_PERIOD_SECONDS = 10 * 365 * DAY_SECONDS
BPS_DENOMINATOR = 10_000

PARAMETERS = {
    "minDeposit": Parameter(ETHER, doc="least msg.value propose takes as a deposit (wei)"),
    "votingDelay": Parameter(0, maximum=MAX_PERIOD_SECONDS, doc="seconds a proposal stays Pending before voting opens"),
    "votingPeriod": Parameter(3 * DAY_SECONDS, minimum=1, maximum=MAX_PERIOD_SECONDS, doc="seconds voting stays open"),
    "enactmentDelay": Parameter(DAY_SECONDS, maximum=MAX_PERIOD_SECONDS,
                                doc="seconds after the vote ends before a passed proposal may be executed"),
    "quorum": Parameter(ETHER, doc="least turnout (for + against + abstain weight, wei) for a proposal to pass"),
    "feeShareBps": Parameter(1_000, maximum=BPS_DENOMINATOR,
                             doc="share of each transaction's base fee credited to the treasury instead of burned"),
}

# bounds: what a proposal stores is paid for per word, and capped
MAX_DESCRIPTION_BYTES = 2_048
MAX_DATA_BYTES = 8_192

# proposal states, as state(id) returns them
PENDING, ACTIVE, PASSED, REJECTED, EXECUTED, CANCELED = range(6)

# vote support
AGAINST, FOR, ABSTAIN = range(3)

# weights (gas), measured against the storage slots each call touches
WEIGHT_PROPOSE = 260_000
WEIGHT_PER_STORED_WORD = 22_100   # each 32-byte word of description and data
WEIGHT_VOTE = 90_000
WEIGHT_EXECUTE = 70_000
WEIGHT_CANCEL = 60_000
WEIGHT_UNLOCK = 70_000
WEIGHT_FUND = 10_000
WEIGHT_GOVERNANCE_CALL = 30_000
WEIGHT_VIEW = 5_000
WEIGHT_VIEW_PER_WORD = 2_100
