"""Tendermint as a sans-IO state machine: ``TendermintCore.handle(event) -> list[Effect]``.

This is Algorithm 1 of "The latest gossip on BFT consensus" (Buchman, Kwon, Milosevic,
arXiv:1807.04938); each rule below names the lines it implements. The core reads no
clock, no randomness and no environment and does no I/O: time enters only as
``TimeoutFired``, a block's validity only as the driver's verdict in ``ProposalReceived``,
and everything the node must do comes back as effects, performed in order.

"upon" rules are evaluated after every input until none fires, in a fixed order, so the
same inputs in the same order give the same effects. A ``SignGuard`` stands between the
algorithm and the key: the core signs a (height, round, step) only if it is strictly
after the last one signed, and emits ``PersistSignState`` before the ``Broadcast`` of
what it signed, so a driver that persists before broadcasting never double-signs, even
across restarts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import structlog

from consensus.evidence import DoubleSign
from consensus.keys import Signer
from consensus.messages import Message, Proposal, Vote, validate_proposal, validate_vote
from consensus.types import Step, ValidatorSet, VoteType

log = structlog.get_logger(__name__)

NIL = None  # a vote for no block
# An equivocator's conflicting messages count for the values they name, as the paper counts
# messages per value; these bound what one misbehaving signer can make a node remember.
MAX_VALUES_PER_VOTER = 3  # distinct values one validator's votes are counted for, per (round, type)
MAX_PROPOSALS_PER_ROUND = 3


# --- configuration ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeoutConfig:
    """Timeouts per step, in milliseconds: ``base + round * delta`` (CometBFT's defaults)."""

    propose_ms: int = 3000
    propose_delta_ms: int = 500
    prevote_ms: int = 1000
    prevote_delta_ms: int = 500
    precommit_ms: int = 1000
    precommit_delta_ms: int = 500

    def compute_delay_ms(self, step: Step, round: int) -> int:
        if step == Step.PROPOSE:
            return self.propose_ms + round * self.propose_delta_ms
        if step == Step.PREVOTE:
            return self.prevote_ms + round * self.prevote_delta_ms
        if step == Step.PRECOMMIT:
            return self.precommit_ms + round * self.precommit_delta_ms
        raise ValueError(f"no timeout for step {step!r}")


# --- events (inputs) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Start:
    """Begin deciding ``height`` (from round 0). Ignored for a height not above the current."""

    height: int


@dataclass(frozen=True, slots=True)
class ProposalReceived:
    """A signed proposal, with the driver's verdict on the block it names."""

    proposal: Proposal
    block_valid: bool


@dataclass(frozen=True, slots=True)
class VoteReceived:
    vote: Vote


@dataclass(frozen=True, slots=True)
class TimeoutFired:
    """A timeout the core scheduled has expired (stale ones are ignored)."""

    height: int
    round: int
    step: Step


@dataclass(frozen=True, slots=True)
class BlockReady:
    """The driver's answer to ``RequestBlock``: the hash of the block it built."""

    height: int
    round: int
    block_hash: bytes


Event = Union[Start, ProposalReceived, VoteReceived, TimeoutFired, BlockReady]


# --- effects (outputs) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send a message this node signed to every peer (the core already counted it)."""

    message: Message


@dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    """Feed ``TimeoutFired(height, round, step)`` back after ``delay_ms``."""

    height: int
    round: int
    step: Step
    delay_ms: int


@dataclass(frozen=True, slots=True)
class RequestBlock:
    """This node proposes at (height, round): build a block, answer with ``BlockReady``."""

    height: int
    round: int


@dataclass(frozen=True, slots=True)
class Commit:
    """``block_hash`` is decided at ``height``; ``precommits`` (>2/3 power, sorted by validator) prove it."""

    height: int
    round: int
    block_hash: bytes
    precommits: tuple[Vote, ...]


@dataclass(frozen=True, slots=True)
class ReportEvidence:
    evidence: DoubleSign


@dataclass(frozen=True, slots=True)
class PersistSignState:
    """Persist (atomically, durably) the last signed (height, round, step) before the next effect."""

    height: int
    round: int
    step: Step


Effect = Union[Broadcast, ScheduleTimeout, RequestBlock, Commit, ReportEvidence, PersistSignState]


# --- never sign twice ------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class SignState:
    """The last (height, round, step) this validator signed (CometBFT's priv_validator_state)."""

    height: int
    round: int
    step: Step


class SignGuard:
    """Allows a signature only at a (height, round, step) strictly after the last one signed.

    Strictly after, not "after or equal with the same bytes" as CometBFT: re-sending a
    message signed before a crash is the WAL's job, which holds the signed message.
    """

    __slots__ = ("last",)

    def __init__(self, last: SignState | None = None) -> None:
        self.last = last

    def allows(self, height: int, round: int, step: Step) -> bool:
        return self.last is None or SignState(height, round, step) > self.last

    def record(self, height: int, round: int, step: Step) -> None:
        if not self.allows(height, round, step):
            raise AssertionError("sign guard: signing at or before the last signed step")  # broken invariant
        self.last = SignState(height, round, step)


# --- the core --------------------------------------------------------------------------


class TendermintCore:
    """One validator's (or observer's) Tendermint state for the height being decided.

    Public, read-only between events: ``height``, ``round``, ``step``, ``locked_value``,
    ``locked_round``, ``valid_value``, ``valid_round``, ``sign_state``.
    """

    def __init__(
        self,
        *,
        chain_id: int,
        validators: ValidatorSet,
        signer: Signer | None = None,
        timeouts: TimeoutConfig = TimeoutConfig(),
        sign_state: SignState | None = None,
    ) -> None:
        self.chain_id = chain_id
        self.validators = validators
        self.signer = signer
        self.timeouts = timeouts
        self._guard = SignGuard(sign_state)
        self.started = False
        self._effects: list[Effect] = []
        self._reset_height(0)

    # -- public -------------------------------------------------------------------------

    @property
    def sign_state(self) -> SignState | None:
        return self._guard.last

    @property
    def address(self) -> bytes | None:
        return None if self.signer is None else self.signer.address

    def handle(self, event: Event) -> list[Effect]:
        """Apply one input; return the effects to perform, in order.

        Raises:
            ConsensusError: a proposal or vote that must be dropped (the reason says why);
                the core's state is untouched.
        """
        self._effects = []
        if isinstance(event, VoteReceived):
            self._on_vote(event.vote)
        elif isinstance(event, ProposalReceived):
            self._on_proposal(event.proposal, event.block_valid)
        elif isinstance(event, TimeoutFired):
            self._on_timeout(event)
        elif isinstance(event, BlockReady):
            self._on_block_ready(event)
        elif isinstance(event, Start):
            self._on_start(event.height)
        else:
            raise TypeError(f"not a consensus event: {event!r}")
        effects, self._effects = self._effects, []
        return effects

    # -- inputs -------------------------------------------------------------------------

    def _on_start(self, height: int) -> None:
        if self.started and height <= self.height:
            return
        if height < 1:
            raise ValueError("heights start at 1")
        self.started = True
        self._reset_height(height)
        self._start_round(0)
        self._apply_rules()

    def _on_proposal(self, proposal: Proposal, block_valid: bool) -> None:
        validate_proposal(proposal, chain_id=self.chain_id, validators=self.validators, height=self.height)
        known = self._proposals.get(proposal.round, {})
        if proposal.block_hash in known or len(known) >= MAX_PROPOSALS_PER_ROUND:
            return  # a duplicate, or an equivocating proposer past the bound
        # An equivocating proposer's second proposal is kept too: the precommits of the
        # network may be for it, and the decide rule holds for any proposal (line 49).
        self._add_proposal(proposal, bool(block_valid))
        self._apply_rules()

    def _on_vote(self, vote: Vote) -> None:
        validate_vote(vote, chain_id=self.chain_id, validators=self.validators, height=self.height)
        key = (vote.round, vote.type)
        if vote.validator in self._votes_for.get(key, {}).get(vote.block_hash, {}):
            return  # a duplicate
        existing = self._votes.get(key, {}).get(vote.validator)
        if existing is not None:
            evidence = DoubleSign.from_votes(existing, vote)
            digest = evidence.compute_hash()
            if digest not in self._reported:
                self._reported.add(digest)
                self._effects.append(ReportEvidence(evidence))
            values = sum(1 for voters in self._votes_for[key].values() if vote.validator in voters)
            if values >= MAX_VALUES_PER_VOTER:
                return
        # A conflicting vote still counts for its own value (never twice toward "any"): a
        # node that heard an equivocator's nil first must still see the polka for v.
        self._add_vote(vote)
        self._apply_rules()

    def _on_timeout(self, t: TimeoutFired) -> None:
        if not self.started or t.height != self.height or t.round != self.round:
            return  # stale
        if t.step == Step.PROPOSE and self.step == Step.PROPOSE:
            # Lines 57-60: OnTimeoutPropose.
            self._awaiting_block = None
            self._prevote(NIL)
        elif t.step == Step.PREVOTE and self.step == Step.PREVOTE:
            # Lines 61-64: OnTimeoutPrevote.
            self._precommit(NIL)
        elif t.step == Step.PRECOMMIT:
            # Lines 65-67: OnTimeoutPrecommit (whatever the step).
            self._start_round(self.round + 1)
        else:
            return
        self._apply_rules()

    def _on_block_ready(self, b: BlockReady) -> None:
        if self._awaiting_block != (b.height, b.round) or self.step != Step.PROPOSE:
            return  # stale: the round moved on, or nothing was requested
        self._awaiting_block = None
        self._propose(b.block_hash, -1)
        self._apply_rules()

    # -- state --------------------------------------------------------------------------

    def _reset_height(self, height: int) -> None:
        self.height = height
        self.round = 0
        self.step = Step.PROPOSE
        self.locked_value: bytes | None = None
        self.locked_round = -1
        self.valid_value: bytes | None = None
        self.valid_round = -1
        self._proposals: dict[int, dict[bytes, tuple[Proposal, bool]]] = {}  # round -> hash -> (proposal, valid)
        self._votes: dict[tuple[int, VoteType], dict[bytes, Vote]] = {}  # each validator's first vote
        self._votes_for: dict[tuple[int, VoteType], dict[bytes | None, dict[bytes, Vote]]] = {}
        self._power_for: dict[tuple[int, VoteType], dict[bytes | None, int]] = {}
        self._power_any: dict[tuple[int, VoteType], int] = {}
        self._round_senders: dict[int, set[bytes]] = {}
        self._round_power: dict[int, int] = {}
        self._done: set[tuple[str, int]] = set()  # ("rule", round): the "for the first time" rules
        self._reported: set[bytes] = set()
        self._awaiting_block: tuple[int, int] | None = None

    def _note_sender(self, round: int, address: bytes) -> None:
        senders = self._round_senders.setdefault(round, set())
        if address not in senders:
            senders.add(address)
            self._round_power[round] = self._round_power.get(round, 0) + self.validators.power_of(address)

    def _add_proposal(self, proposal: Proposal, valid: bool) -> None:
        self._proposals.setdefault(proposal.round, {})[proposal.block_hash] = (proposal, valid)
        self._note_sender(proposal.round, proposal.proposer)

    def _first_proposal(self, round: int) -> tuple[Proposal, bool] | None:
        entries = self._proposals.get(round)
        return next(iter(entries.values())) if entries else None

    def _add_vote(self, vote: Vote) -> None:
        key = (vote.round, vote.type)
        power = self.validators.power_of(vote.validator)
        voters = self._votes.setdefault(key, {})
        if vote.validator not in voters:  # "2f+1 of any" counts each validator once
            voters[vote.validator] = vote
            self._power_any[key] = self._power_any.get(key, 0) + power
            self._note_sender(vote.round, vote.validator)
        self._votes_for.setdefault(key, {}).setdefault(vote.block_hash, {})[vote.validator] = vote
        tally = self._power_for.setdefault(key, {})
        tally[vote.block_hash] = tally.get(vote.block_hash, 0) + power

    def _quorum_for(self, round: int, vote_type: VoteType, value: bytes | None) -> bool:
        return self.validators.has_quorum(self._power_for.get((round, vote_type), {}).get(value, 0))

    def _quorum_any(self, round: int, vote_type: VoteType) -> bool:
        return self.validators.has_quorum(self._power_any.get((round, vote_type), 0))

    # -- actions ------------------------------------------------------------------------

    def _schedule(self, step: Step) -> None:
        delay = self.timeouts.compute_delay_ms(step, self.round)
        self._effects.append(ScheduleTimeout(self.height, self.round, step, delay))

    def _sign(self, message: Message, step: Step) -> Message | None:
        """Sign through the guard: PersistSignState, then Broadcast. None if we may not sign."""
        if self.signer is None or self.signer.address not in self.validators:
            return None
        if not self._guard.allows(self.height, self.round, step):
            log.warning("sign_refused", height=self.height, round=self.round, step=step.name,
                        last=self._guard.last)
            return None
        signed = message.sign(self.signer, self.chain_id)
        self._guard.record(self.height, self.round, step)
        self._effects.append(PersistSignState(self.height, self.round, step))
        self._effects.append(Broadcast(signed))
        return signed

    def _start_round(self, round: int) -> None:
        """Lines 11-21: StartRound. Entered from Start, a round skip, a precommit timeout, a commit."""
        self.round = round
        self.step = Step.PROPOSE
        self._awaiting_block = None
        address = self.address
        if address is not None and self.validators.proposer(self.height, round).address == address:
            if self.valid_value is not None:
                self._propose(self.valid_value, self.valid_round)
            else:
                self._awaiting_block = (self.height, round)
                self._effects.append(RequestBlock(self.height, round))
        # The paper schedules this for non-proposers only; the proposer schedules it too
        # (as CometBFT) so a block that is never built cannot stall it.
        self._schedule(Step.PROPOSE)

    def _propose(self, block_hash: bytes, pol_round: int) -> None:
        assert self.address is not None
        proposal = Proposal(self.height, self.round, block_hash, pol_round, self.address)
        signed = self._sign(proposal, Step.PROPOSE)
        if signed is not None and block_hash not in self._proposals.get(self.round, {}):
            self._add_proposal(signed, True)  # we built or saw it valid: deliver to ourselves

    def _vote(self, vote_type: VoteType, value: bytes | None) -> None:
        if self.address is None:
            return
        vote = Vote(vote_type, self.height, self.round, value, self.address)
        step = Step.PREVOTE if vote_type == VoteType.PREVOTE else Step.PRECOMMIT
        signed = self._sign(vote, step)
        if signed is not None and self.address not in self._votes.get((self.round, vote_type), {}):
            self._add_vote(signed)

    def _prevote(self, value: bytes | None) -> None:
        self._vote(VoteType.PREVOTE, value)
        self.step = Step.PREVOTE

    def _precommit(self, value: bytes | None) -> None:
        self._vote(VoteType.PRECOMMIT, value)
        self.step = Step.PRECOMMIT

    def _decide(self, round: int, block_hash: bytes) -> None:
        precommits = tuple(sorted(
            self._votes_for[(round, VoteType.PRECOMMIT)][block_hash].values(), key=lambda v: v.validator,
        ))
        self._effects.append(Commit(self.height, round, block_hash, precommits))
        self.step = Step.COMMIT
        self._reset_height(self.height + 1)
        self._start_round(0)

    # -- the "upon" rules ---------------------------------------------------------------

    def _apply_rules(self) -> None:
        """Fire rules until none applies; each firing changes state, so this ends."""
        if not self.started:
            return
        rules = (
            self._rule_decide,
            self._rule_skip_round,
            self._rule_prevote_on_proposal,
            self._rule_polka,
            self._rule_prevote_nil_quorum,
            self._rule_prevote_timeout,
            self._rule_precommit_timeout,
        )
        while any(rule() for rule in rules):
            pass

    def _rule_decide(self) -> bool:
        """Lines 49-54: a valid proposal of any round r and 2f+1 precommits for it in r: decide."""
        for round in sorted(self._proposals):
            for proposal, valid in self._proposals[round].values():
                if valid and self._quorum_for(round, VoteType.PRECOMMIT, proposal.block_hash):
                    self._decide(round, proposal.block_hash)
                    return True
        return False

    def _rule_skip_round(self) -> bool:
        """Lines 55-56: f+1 power sent messages of a round above ours: start that round."""
        higher = [r for r, power in self._round_power.items()
                  if r > self.round and self.validators.has_one_third(power)]
        if not higher:
            return False
        self._start_round(max(higher))
        return True

    def _rule_prevote_on_proposal(self) -> bool:
        """Lines 22-27 (pol_round = -1) and 28-33 (pol_round = vr with 2f+1 prevotes in vr)."""
        entry = self._first_proposal(self.round) if self.step == Step.PROPOSE else None
        if entry is None:
            return False
        proposal, valid = entry
        v, vr = proposal.block_hash, proposal.pol_round
        if vr == -1:
            ok = valid and (self.locked_round == -1 or self.locked_value == v)
        elif 0 <= vr < self.round and self._quorum_for(vr, VoteType.PREVOTE, v):
            ok = valid and (self.locked_round <= vr or self.locked_value == v)
        else:
            return False  # wait for the polka of vr, or the propose timeout
        self._awaiting_block = None
        self._prevote(v if ok else NIL)
        return True

    def _rule_polka(self) -> bool:
        """Lines 36-43: a valid proposal and 2f+1 prevotes for it in our round, at prevote or later."""
        if self.step < Step.PREVOTE or ("polka", self.round) in self._done:
            return False
        v = next((p.block_hash for p, valid in self._proposals.get(self.round, {}).values()
                  if valid and self._quorum_for(self.round, VoteType.PREVOTE, p.block_hash)), None)
        if v is None:
            return False
        self._done.add(("polka", self.round))
        if self.step == Step.PREVOTE:
            self.locked_value, self.locked_round = v, self.round
            self._precommit(v)
        self.valid_value, self.valid_round = v, self.round
        return True

    def _rule_prevote_nil_quorum(self) -> bool:
        """Lines 44-46: 2f+1 prevotes for nil while at prevote: precommit nil."""
        if self.step != Step.PREVOTE or not self._quorum_for(self.round, VoteType.PREVOTE, NIL):
            return False
        self._precommit(NIL)
        return True

    def _rule_prevote_timeout(self) -> bool:
        """Lines 34-35: 2f+1 prevotes for anything while at prevote, the first time: start the timer."""
        if (self.step != Step.PREVOTE or ("prevote_timeout", self.round) in self._done
                or not self._quorum_any(self.round, VoteType.PREVOTE)):
            return False
        self._done.add(("prevote_timeout", self.round))
        self._schedule(Step.PREVOTE)
        return True

    def _rule_precommit_timeout(self) -> bool:
        """Lines 47-48: 2f+1 precommits for anything in our round, the first time: start the timer."""
        if ("precommit_timeout", self.round) in self._done or not self._quorum_any(self.round, VoteType.PRECOMMIT):
            return False
        self._done.add(("precommit_timeout", self.round))
        self._schedule(Step.PRECOMMIT)
        return True


__all__ = [
    "BlockReady", "Broadcast", "Commit", "Effect", "Event", "PersistSignState",
    "ProposalReceived", "ReportEvidence", "RequestBlock", "ScheduleTimeout", "SignGuard", "SignState",
    "Start", "TendermintCore", "TimeoutConfig", "TimeoutFired", "VoteReceived",
]
