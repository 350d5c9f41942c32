"""Governance: proposals voted on with locked native tokens, executed as the governance account.

``propose`` takes a deposit (msg.value >= ``minDeposit``) and a call: target, calldata, value.
After ``votingDelay`` the proposal is Active for ``votingPeriod`` seconds; ``vote`` locks
msg.value as the vote's weight (one vote per account per proposal). The vote passes when
turnout (for + against + abstain) reaches the quorum taken when it was proposed and for >
against. ``enactmentDelay`` after the vote, anyone may ``execute`` it: the pallet calls the
target as ``msg.sender = 0x…0804``, paying ``value`` from the treasury. The governance-only
calls (``treasurySpend``, ``setParameter``, ``pause``, ``unpause``) are reached that way.

After the vote, ``unlock`` returns the caller's vote lock. The first ``unlock`` (by anyone)
or ``execute`` after the vote settles the proposal: emits ``Passed`` or ``Rejected`` once,
and returns the deposit to the proposer, or, Rejected, leaves it to the treasury.

The treasury is the pallet account's balance less what it holds for others (``locked``:
deposits and vote locks not yet returned), so funds sent by ``fundTreasury``, the fee share
(:mod:`runtime.pallets.governance.fees`) and forfeited deposits all land in it. All checks
run before the first write; a failing call reverts its writes anyway.

Where the issue was silent:

- One vote per account per proposal (``AlreadyVoted``); its weight is all of msg.value.
- The quorum, voting window and enactment time are fixed when the proposal is made, so
  governance changing a parameter does not move a running vote.
- The vote is open for ``votingStarts <= t < votingEnds``; execute needs ``t >= executableAt``.
- Settlement (``Passed``/``Rejected`` and the deposit) happens in the first successful
  ``execute`` or ``unlock`` after the vote, whoever calls it: the deposit goes straight back
  to the proposer (a balance move, no code runs) or stays as treasury. A reverted call
  records nothing, so ``execute`` of a Rejected proposal emits nothing. Anyone may call
  ``unlock`` to settle, even with no vote of their own.
- ``execute`` checks ``value`` against the treasury first (``TreasuryTooLow``); a call that
  fails reverts the whole ``execute``, so the proposal stays Passed and may be retried.
- ``cancel`` is for Pending or Active proposals without votes (``WrongState``, ``HasVotes``).
- ``pause`` of a paused pallet and ``unpause`` of a running one are errors
  (``AlreadyPaused``, ``NotPaused``); governance itself cannot be paused.
- ``setParameter`` accepts only the canonical key (the name NUL-padded), and governance's
  own parameters too.
- A proposal's description is at most ``MAX_DESCRIPTION_BYTES`` and its calldata
  ``MAX_DATA_BYTES``; storing them is metered as SSTOREs (see the framework).
"""
from __future__ import annotations

from typing import Any

from eth_utils import to_checksum_address

from runtime.pallets.framework import (
    CallContext,
    GenesisContext,
    Pallet,
    StorageMap,
    StorageValue,
    call,
    decode_parameter_key,
    encode_parameter_key,
    parse_genesis_number,
)
from runtime.pallets.governance.config import (
    ABSTAIN,
    ACTIVE,
    AGAINST,
    CANCELED,
    EXECUTED,
    FOR,
    GOVERNANCE_ADDRESS,
    MAX_DATA_BYTES,
    MAX_DESCRIPTION_BYTES,
    PARAMETERS,
    PASSED,
    PENDING,
    REJECTED,
    WEIGHT_CANCEL,
    WEIGHT_EXECUTE,
    WEIGHT_FUND,
    WEIGHT_GOVERNANCE_CALL,
    WEIGHT_PROPOSE,
    WEIGHT_UNLOCK,
    WEIGHT_VIEW,
    WEIGHT_VIEW_PROPOSAL,
    WEIGHT_VOTE,
)
from runtime.pallets.governance.errors import (
    AlreadyPaused,
    AlreadyUnlocked,
    AlreadyVoted,
    BadSupport,
    CannotPauseGovernance,
    DataTooLong,
    DepositTooLow,
    DescriptionTooLong,
    EnactmentDelay,
    ExecutionFailed,
    HasVotes,
    NotActive,
    NotGovernance,
    NothingLocked,
    NotPassed,
    NotPaused,
    NotProposer,
    ParameterOutOfRange,
    TreasuryTooLow,
    UnknownPallet,
    UnknownParameter,
    UnknownProposal,
    VoteNotEnded,
    WrongState,
    ZeroAmount,
    ZeroWeight,
)
from runtime.pallets.governance.events import (
    Canceled,
    DepositForfeited,
    Executed,
    PalletPaused,
    PalletUnpaused,
    ParameterSet,
    Passed,
    Proposed,
    Rejected,
    TreasuryFunded,
    TreasurySpent,
    Unlocked,
    Voted,
)

GOVERNANCE = to_checksum_address(GOVERNANCE_ADDRESS)

# Field order is the storage layout (Solidity's packing): times and flags (all a vote reads
# of the proposal) | proposer | target | deposit+quorum | value | forVotes+againstVotes |
# abstainVotes | description | data. Deposits and tallies are uint128 (wei; the native supply
# is far below 2**128); the quorum is stored saturated at 2**128 - 1, which no turnout reaches
# either; value (any uint256 the proposer names) keeps a full slot.
UINT128_MAX = 2**128 - 1
PROPOSAL_FIELDS = (
    ("votingStarts", "uint64"), ("votingEnds", "uint64"), ("executableAt", "uint64"),
    ("executed", "bool"), ("canceled", "bool"),
    ("settled", "bool"),  # Passed/Rejected emitted and the deposit returned or forfeited
    ("proposer", "address"), ("target", "address"), ("deposit", "uint128"), ("quorum", "uint128"),
    ("value", "uint256"), ("forVotes", "uint128"), ("againstVotes", "uint128"), ("abstainVotes", "uint128"),
    ("description", "string"), ("data", "bytes"),
)
_STATE_FIELDS = ("votingStarts", "votingEnds", "executableAt", "executed", "canceled", "settled")  # slot 0
_TALLY_FIELDS = ("forVotes", "againstVotes", "abstainVotes", "quorum")  # what the state needs once the vote ended
# One slot: a vote's weight is its msg.value, under 2**240 wei as every balance is.
VOTE_FIELDS = (("weight", "uint240"), ("support", "uint8"), ("unlocked", "bool"))
_TALLY = {AGAINST: "againstVotes", FOR: "forVotes", ABSTAIN: "abstainVotes"}


def compute_passed(for_votes: int, against_votes: int, abstain_votes: int, quorum: int) -> bool:
    """Turnout reaches the quorum and more weight is for than against."""
    return for_votes + against_votes + abstain_votes >= quorum and for_votes > against_votes


def compute_state(p: dict[str, Any], now: int) -> int:
    """The state of stored proposal ``p`` at time ``now`` (PENDING ... CANCELED)."""
    if p["canceled"]:
        return CANCELED
    if p["executed"]:
        return EXECUTED
    if now < p["votingStarts"]:
        return PENDING
    if now < p["votingEnds"]:
        return ACTIVE
    return PASSED if compute_passed(p["forVotes"], p["againstVotes"], p["abstainVotes"], p["quorum"]) else REJECTED


class Governance(Pallet):
    name = "governance"
    address = GOVERNANCE_ADDRESS
    parameters = PARAMETERS
    storage_schema = {
        "lastId": StorageValue("uint256"),
        "locked": StorageValue("uint256"),  # deposits and vote locks held for others
        "proposals": StorageMap(("uint256",), PROPOSAL_FIELDS),
        "votes": StorageMap(("uint256", "address"), VOTE_FIELDS),
    }
    events = (Proposed, Voted, Passed, Rejected, Executed, Canceled, Unlocked, DepositForfeited, TreasuryFunded,
              TreasurySpent, ParameterSet, PalletPaused, PalletUnpaused)
    errors = (DepositTooLow, DescriptionTooLong, DataTooLong, UnknownProposal, NotActive, WrongState, AlreadyVoted,
              BadSupport, ZeroWeight, VoteNotEnded, NotProposer, HasVotes, NotPassed, EnactmentDelay, AlreadyUnlocked,
              NothingLocked, TreasuryTooLow, ExecutionFailed, NotGovernance, UnknownPallet, UnknownParameter,
              ParameterOutOfRange, CannotPauseGovernance, AlreadyPaused, NotPaused, ZeroAmount)
    genesis_fields = frozenset({"treasury"})

    # -- proposals --
    @call("propose(address target, bytes data, uint256 value, string description)", returns="uint256 id",
          weight=WEIGHT_PROPOSE, payable=True)
    def propose(self, ctx: CallContext, target: str, data: bytes, value: int, description: str) -> int:
        """Propose that governance call target with data and value; msg.value is the deposit."""
        minimum = ctx.param("minDeposit")
        if ctx.value < minimum:
            raise DepositTooLow(minimum, ctx.value)
        text = description.encode()
        if len(text) > MAX_DESCRIPTION_BYTES:
            raise DescriptionTooLong(len(text), MAX_DESCRIPTION_BYTES)
        if len(data) > MAX_DATA_BYTES:
            raise DataTooLong(len(data), MAX_DATA_BYTES)
        starts = ctx.timestamp + ctx.param("votingDelay")
        ends = starts + ctx.param("votingPeriod")
        st = ctx.storage
        proposal_id = st.get_value("lastId") + 1  # ids start at 1
        st.set_value("lastId", proposal_id)
        fields = {
            "proposer": ctx.sender, "target": target, "value": value, "deposit": ctx.value,
            "votingStarts": starts, "votingEnds": ends,
            "executableAt": ends + ctx.param("enactmentDelay"), "quorum": min(ctx.param("quorum"), UINT128_MAX),
            "executed": False, "canceled": False, "settled": False, "description": description, "data": data,
        }
        # A new id's slots are empty: zero amounts and empty strings (a slot of their own) are not written.
        st.set_struct("proposals", {k: v for k, v in fields.items() if v or k in _STATE_FIELDS}, proposal_id)
        st.set_value("locked", st.get_value("locked") + ctx.value)
        ctx.emit(Proposed, id=proposal_id, proposer=ctx.sender, target=target, value=value, deposit=ctx.value,
                 votingStarts=starts, votingEnds=ends, description=description)
        return proposal_id

    @call("vote(uint256 id, uint8 support)", weight=WEIGHT_VOTE, payable=True)
    def vote(self, ctx: CallContext, proposal_id: int, support: int) -> None:
        """Vote 0 against, 1 for, 2 abstain with weight msg.value, locked until the vote ends; once per account."""
        p = self._get(ctx, proposal_id)
        state = compute_state(p, ctx.timestamp)
        if state != ACTIVE:
            raise NotActive(proposal_id, state)
        if support not in _TALLY:
            raise BadSupport(support)
        if ctx.value == 0:
            raise ZeroWeight()
        st = ctx.storage
        if st.get_struct("votes", proposal_id, ctx.sender)["weight"]:
            raise AlreadyVoted(proposal_id, ctx.sender)
        st.set_struct("votes", {"support": support, "weight": ctx.value, "unlocked": False}, proposal_id, ctx.sender)
        tally = _TALLY[support]
        counted = st.get_struct("proposals", proposal_id, fields=(tally,))[tally]
        st.set_struct("proposals", {tally: counted + ctx.value}, proposal_id)
        st.set_value("locked", st.get_value("locked") + ctx.value)
        ctx.emit(Voted, id=proposal_id, voter=ctx.sender, support=support, weight=ctx.value)

    @call("execute(uint256 id)", returns="bytes returndata", weight=WEIGHT_EXECUTE)
    def execute(self, ctx: CallContext, proposal_id: int) -> bytes:
        """Anyone, once a Passed proposal's enactment delay is over: governance calls its target."""
        p = self._get(ctx, proposal_id, "value", "target", "data", "deposit", "proposer")
        state = compute_state(p, ctx.timestamp)
        if state != PASSED:
            raise NotPassed(proposal_id, state)
        if ctx.timestamp < p["executableAt"]:
            raise EnactmentDelay(proposal_id, p["executableAt"])
        have = self._treasury(ctx)
        if p["value"] > have:
            raise TreasuryTooLow(have, p["value"])
        # Marked (and settled) before the call: a call back into governance sees it Executed.
        ctx.storage.set_struct("proposals", {"executed": True}, proposal_id)
        self._settle(ctx, proposal_id, p, PASSED)
        ok, output = ctx.call_contract(p["target"], p["data"], p["value"])
        if not ok:
            raise ExecutionFailed(output)
        ctx.emit(Executed, id=proposal_id, returndata=output)
        return output

    @call("cancel(uint256 id)", weight=WEIGHT_CANCEL)
    def cancel(self, ctx: CallContext, proposal_id: int) -> None:
        """The proposer, before any vote and before the vote ends: the deposit is returned."""
        p = self._get(ctx, proposal_id, "proposer", "deposit", "forVotes", "againstVotes", "abstainVotes")
        if p["proposer"] != ctx.sender:
            raise NotProposer(proposal_id)
        state = compute_state(p, ctx.timestamp)
        if state not in (PENDING, ACTIVE):
            raise WrongState(proposal_id, state)
        if p["forVotes"] + p["againstVotes"] + p["abstainVotes"]:
            raise HasVotes(proposal_id)
        st = ctx.storage
        st.set_struct("proposals", {"canceled": True, "settled": True}, proposal_id)
        st.set_value("locked", st.get_value("locked") - p["deposit"])
        ctx.pay(p["proposer"], p["deposit"])
        ctx.emit(Canceled, id=proposal_id)

    @call("unlock(uint256 id)", returns="uint256 amount", weight=WEIGHT_UNLOCK)
    def unlock(self, ctx: CallContext, proposal_id: int) -> int:
        """After the vote: return the caller's vote lock; the first call also settles the deposit."""
        p = self._get(ctx, proposal_id, "deposit", "proposer")
        state = compute_state(p, ctx.timestamp)
        if state in (PENDING, ACTIVE):
            raise VoteNotEnded(proposal_id, p["votingEnds"])
        v = ctx.storage.get_struct("votes", proposal_id, ctx.sender)
        owed = v["weight"] if not v["unlocked"] else 0
        if not owed and p["settled"]:
            if v["weight"]:
                raise AlreadyUnlocked(proposal_id, ctx.sender)
            raise NothingLocked(proposal_id, ctx.sender)
        if not p["settled"]:
            self._settle(ctx, proposal_id, p, state)
        if owed:
            st = ctx.storage
            st.set_struct("votes", {"unlocked": True}, proposal_id, ctx.sender)
            st.set_value("locked", st.get_value("locked") - owed)
            ctx.pay(ctx.sender, owed)
            ctx.emit(Unlocked, id=proposal_id, account=ctx.sender, amount=owed)
        return owed

    # -- the treasury --
    @call("fundTreasury()", weight=WEIGHT_FUND, payable=True)
    def fund_treasury(self, ctx: CallContext) -> None:
        """Add msg.value to the treasury."""
        if ctx.value == 0:
            raise ZeroAmount()
        ctx.emit(TreasuryFunded, **{"from": ctx.sender, "amount": ctx.value})

    @call("treasurySpend(address to, uint256 amount)", weight=WEIGHT_GOVERNANCE_CALL)
    def treasury_spend(self, ctx: CallContext, to: str, amount: int) -> None:
        """Governance only: pay amount from the treasury to `to`."""
        self._ensure_governance(ctx)
        if amount == 0:
            raise ZeroAmount()
        have = self._treasury(ctx)
        if amount > have:
            raise TreasuryTooLow(have, amount)
        ctx.pay(to, amount)
        ctx.emit(TreasurySpent, to=to, amount=amount)

    # -- governance-only: every pallet's parameters and pause flag --
    @call("setParameter(address pallet, bytes32 key, uint256 value)", weight=WEIGHT_GOVERNANCE_CALL)
    def set_parameter(self, ctx: CallContext, pallet: str, key: bytes, value: int) -> None:
        """Governance only: set a parameter a pallet declares, within its range."""
        self._ensure_governance(ctx)
        target, name = _resolve_parameter(pallet, key)
        if not target.parameters[name].validate(value):
            raise ParameterOutOfRange(key, value)
        ctx.storage_of(target).set_parameter(name, value)
        ctx.emit(ParameterSet, pallet=pallet, key=key, value=value)

    @call("pause(address pallet)", weight=WEIGHT_GOVERNANCE_CALL)
    def pause(self, ctx: CallContext, pallet: str) -> None:
        """Governance only: the pallet's state-changing calls are refused with Paused until unpause."""
        self._ensure_governance(ctx)
        target = _resolve_pallet(pallet)
        if target is Governance:
            raise CannotPauseGovernance()
        storage = ctx.storage_of(target)
        if storage.get_paused():
            raise AlreadyPaused(pallet)
        storage.set_paused(True)
        ctx.emit(PalletPaused, pallet=pallet)

    @call("unpause(address pallet)", weight=WEIGHT_GOVERNANCE_CALL)
    def unpause(self, ctx: CallContext, pallet: str) -> None:
        """Governance only: lift a pause."""
        self._ensure_governance(ctx)
        target = _resolve_pallet(pallet)
        storage = ctx.storage_of(target)
        if not storage.get_paused():
            raise NotPaused(pallet)
        storage.set_paused(False)
        ctx.emit(PalletUnpaused, pallet=pallet)

    # -- views --
    @call("proposal(uint256 id)",
          returns="address proposer, address target, uint256 value, uint256 deposit, uint256 forVotes, "
                  "uint256 againstVotes, uint256 abstainVotes, uint64 votingStarts, uint64 votingEnds, "
                  "uint64 executableAt, uint256 quorum, string description, bytes data",
          weight=WEIGHT_VIEW_PROPOSAL, view=True)
    def proposal(self, ctx: CallContext, proposal_id: int) -> tuple:
        """The proposal id as stored."""
        p = self._get(ctx, proposal_id, *(f for f, _ in PROPOSAL_FIELDS))  # strings: metered slot reads
        return (p["proposer"], p["target"], p["value"], p["deposit"], p["forVotes"], p["againstVotes"],
                p["abstainVotes"], p["votingStarts"], p["votingEnds"], p["executableAt"], p["quorum"],
                p["description"], p["data"])

    @call("state(uint256 id)", returns="uint8 proposalState", weight=WEIGHT_VIEW, view=True)
    def state(self, ctx: CallContext, proposal_id: int) -> int:
        """0 Pending, 1 Active, 2 Passed, 3 Rejected, 4 Executed, 5 Canceled."""
        return compute_state(self._get(ctx, proposal_id), ctx.timestamp)

    @call("voteOf(uint256 id, address voter)", returns="uint8 support, uint256 weight, bool unlocked",
          weight=WEIGHT_VIEW, view=True)
    def vote_of(self, ctx: CallContext, proposal_id: int, voter: str) -> tuple:
        """voter's vote on proposal id (weight 0: none)."""
        self._get(ctx, proposal_id)
        v = ctx.storage.get_struct("votes", proposal_id, voter)
        return v["support"], v["weight"], v["unlocked"]

    @call("treasuryBalance()", returns="uint256 amount", weight=WEIGHT_VIEW, view=True)
    def treasury_balance(self, ctx: CallContext) -> int:
        """The governance account's balance less the deposits and vote locks it holds."""
        return self._treasury(ctx)

    @call("lockedBalance()", returns="uint256 amount", weight=WEIGHT_VIEW, view=True)
    def locked_balance(self, ctx: CallContext) -> int:
        """The deposits and vote locks governance holds, to be returned."""
        return ctx.storage.get_value("locked")

    @call("proposalCount()", returns="uint256 count", weight=WEIGHT_VIEW, view=True)
    def proposal_count(self, ctx: CallContext) -> int:
        """The id of the newest proposal (ids start at 1)."""
        return ctx.storage.get_value("lastId")

    @call("getParameter(address pallet, bytes32 key)", returns="uint256 value", weight=WEIGHT_VIEW, view=True)
    def get_parameter(self, ctx: CallContext, pallet: str, key: bytes) -> int:
        """A pallet's parameter, as setParameter names it."""
        target, name = _resolve_parameter(pallet, key)
        return ctx.storage_of(target).get_parameter(name)

    # -- genesis: {"treasury": amount, <parameter>: value, ...}; the treasury is minted into the pallet --
    @classmethod
    def parse_genesis_extra(cls, section: dict[str, Any], where: str) -> dict[str, Any]:
        return {"treasury": parse_genesis_number(section.get("treasury", 0), f"{where}.treasury")}

    @classmethod
    def apply_genesis_extra(cls, ctx: GenesisContext, parsed: dict[str, Any]) -> None:
        if parsed.get("treasury"):
            ctx.mint(parsed["treasury"])

    # -- internals --
    @staticmethod
    def _get(ctx: CallContext, proposal_id: int, *fields: str) -> dict[str, Any]:
        """The proposal's times and flags, its tallies and quorum once the vote ended (what
        :func:`compute_state` needs), and ``fields``; each slot read once."""
        st = ctx.storage
        p = st.get_struct("proposals", proposal_id, fields=_STATE_FIELDS + fields)
        if p["votingEnds"] == 0:  # every stored proposal has votingPeriod >= 1 after a timestamp
            raise UnknownProposal(proposal_id)
        if not (p["canceled"] or p["executed"]) and ctx.timestamp >= p["votingEnds"]:
            missing = tuple(f for f in _TALLY_FIELDS if f not in p)
            if missing:
                p.update(st.get_struct("proposals", proposal_id, fields=missing))
        return p

    @staticmethod
    def _treasury(ctx: CallContext) -> int:
        return ctx.get_balance(GOVERNANCE_ADDRESS) - ctx.storage.get_value("locked")

    @staticmethod
    def _ensure_governance(ctx: CallContext) -> None:
        if ctx.sender != GOVERNANCE:
            raise NotGovernance()

    @staticmethod
    def _settle(ctx: CallContext, proposal_id: int, p: dict[str, Any], state: int) -> None:
        """Once per proposal, after its vote: emit Passed/Rejected, return or forfeit the deposit."""
        if p["settled"]:
            return
        st = ctx.storage
        st.set_struct("proposals", {"settled": True}, proposal_id)
        st.set_value("locked", st.get_value("locked") - p["deposit"])
        tally = {"forVotes": p["forVotes"], "againstVotes": p["againstVotes"], "abstainVotes": p["abstainVotes"]}
        if state == REJECTED:
            ctx.emit(Rejected, id=proposal_id, **tally)
            if p["deposit"]:
                ctx.emit(DepositForfeited, id=proposal_id, amount=p["deposit"])  # stays, now treasury
        else:
            ctx.emit(Passed, id=proposal_id, **tally)
            if p["deposit"]:
                ctx.pay(p["proposer"], p["deposit"])
                ctx.emit(Unlocked, id=proposal_id, account=p["proposer"], amount=p["deposit"])


def _resolve_pallet(address: str) -> type[Pallet]:
    from runtime.pallets import get_pallet_at  # the registry imports this module

    pallet = get_pallet_at(bytes.fromhex(address[2:]))
    if pallet is None:
        raise UnknownPallet(address)
    return pallet


def _resolve_parameter(address: str, key: bytes) -> tuple[type[Pallet], str]:
    pallet = _resolve_pallet(address)
    name = decode_parameter_key(key)
    if name not in pallet.parameters or encode_parameter_key(name) != key:
        raise UnknownParameter(address, key)
    return pallet, name
