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

# bounds: what a proposal stores is metered slot by slot, and capped
MAX_DESCRIPTION_BYTES = 2_048
MAX_DATA_BYTES = 8_192

# proposal states, as state(id) returns them
PENDING, ACTIVE, PASSED, REJECTED, EXECUTED, CANCELED = range(6)

# vote support
AGAINST, FOR, ABSTAIN = range(3)

# weights (gas): each call's fixed dispatch cost (runtime/pallets/framework.py, "Gas": 25 gas per microsecond of its own Python work);
# storage (description and data included, slot by slot), logs, payments and execute's call
# are metered on top as the EVM charges them.
WEIGHT_PROPOSE = 5_500           # ~211 us
WEIGHT_VOTE = 4_000              # ~146 us
WEIGHT_EXECUTE = 7_500           # ~297 us besides the target's own execution
WEIGHT_CANCEL = 4_500            # ~174 us
WEIGHT_UNLOCK = 11_000           # ~438 us when it settles too (two payments, three logs)
WEIGHT_FUND = 2_500              # ~83 us
WEIGHT_GOVERNANCE_CALL = 3_500   # setParameter, pause, unpause, treasurySpend: resolve and check
WEIGHT_VIEW = 2_500              # ~69 us
WEIGHT_VIEW_PROPOSAL = 3_500     # ~136 us: the widest output
