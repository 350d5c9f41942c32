"""Test harness for the Tendermint core, after CometBFT's consensus/common_test.go.

``ValidatorStub``s sign votes and proposals as the other validators would; a ``Harness``
holds one core under test and feeds it events; the ``ensure_*`` helpers pick the
effects a step rule must have produced.
"""
from __future__ import annotations

from consensus.bft.core import (
    BlockReady,
    Broadcast,
    Commit,
    Effect,
    PersistSignState,
    ProposalReceived,
    ReportEvidence,
    RequestBlock,
    ScheduleTimeout,
    SignState,
    Start,
    TendermintCore,
    TimeoutConfig,
    TimeoutFired,
    VoteReceived,
)
from consensus.keys import Signer
from consensus.messages import Proposal, Vote
from consensus.types import Step, Validator, ValidatorSet, VoteType
from runtime.primitives.hashing import keccak256

CHAIN_ID = 7
BLOCK_A = keccak256(b"block A")
BLOCK_B = keccak256(b"block B")
NIL = None


def make_signer(seed: int) -> Signer:
    return Signer(keccak256(b"chameleon test validator %d" % seed))


class ValidatorStub:
    """Another validator: signs what the test tells it to."""

    def __init__(self, signer: Signer, power: int) -> None:
        self.signer = signer
        self.address = signer.address
        self.power = power

    def vote(self, vote_type: VoteType, height: int, round: int, block_hash: bytes | None) -> Vote:
        return Vote(vote_type, height, round, block_hash, self.address).sign(self.signer, CHAIN_ID)

    def prevote(self, height: int, round: int, block_hash: bytes | None) -> Vote:
        return self.vote(VoteType.PREVOTE, height, round, block_hash)

    def precommit(self, height: int, round: int, block_hash: bytes | None) -> Vote:
        return self.vote(VoteType.PRECOMMIT, height, round, block_hash)

    def propose(self, height: int, round: int, block_hash: bytes, pol_round: int = -1) -> Proposal:
        return Proposal(height, round, block_hash, pol_round, self.address).sign(self.signer, CHAIN_ID)


def make_stubs(powers: list[int]) -> tuple[ValidatorSet, list[ValidatorStub]]:
    """Stubs in validator-set order (sorted by address), so stubs[i] is validators[i]."""
    stubs = [ValidatorStub(make_signer(i), p) for i, p in enumerate(powers)]
    stubs.sort(key=lambda s: s.address)
    return ValidatorSet([Validator(s.address, s.power) for s in stubs]), stubs


class Harness:
    """One core under test (validator ``me``) among stubs; with equal powers the proposer
    of (height, round) is stubs[(height + round - 1) % n]."""

    def __init__(self, n: int = 4, me: int | None = 3, powers: list[int] | None = None,
                 timeouts: TimeoutConfig = TimeoutConfig(), sign_state: SignState | None = None) -> None:
        self.validators, self.stubs = make_stubs(powers or [1] * n)
        self.me = me
        signer = None if me is None else self.stubs[me].signer
        self.core = TendermintCore(chain_id=CHAIN_ID, validators=self.validators, signer=signer,
                                   timeouts=timeouts, sign_state=sign_state)
        self.log: list[Effect] = []

    def feed(self, event) -> list[Effect]:
        effects = self.core.handle(event)
        self.log.extend(effects)
        return effects

    def start(self, height: int = 1) -> list[Effect]:
        return self.feed(Start(height))

    def proposer(self, round: int, height: int = 1) -> ValidatorStub:
        address = self.validators.proposer(height, round).address
        return next(s for s in self.stubs if s.address == address)

    def proposal(self, round: int, block_hash: bytes, pol_round: int = -1, valid: bool = True,
                 height: int = 1) -> list[Effect]:
        p = self.proposer(round, height).propose(height, round, block_hash, pol_round)
        return self.feed(ProposalReceived(p, valid))

    def votes(self, vote_type: VoteType, round: int, block_hash: bytes | None, *who: int,
              height: int = 1) -> list[Effect]:
        effects: list[Effect] = []
        for i in who:
            effects += self.feed(VoteReceived(self.stubs[i].vote(vote_type, height, round, block_hash)))
        return effects

    def prevotes(self, round: int, block_hash: bytes | None, *who: int, height: int = 1) -> list[Effect]:
        return self.votes(VoteType.PREVOTE, round, block_hash, *who, height=height)

    def precommits(self, round: int, block_hash: bytes | None, *who: int, height: int = 1) -> list[Effect]:
        return self.votes(VoteType.PRECOMMIT, round, block_hash, *who, height=height)

    def timeout(self, round: int, step: Step, height: int = 1) -> list[Effect]:
        return self.feed(TimeoutFired(height, round, step))

    def block_ready(self, round: int, block_hash: bytes, height: int = 1) -> list[Effect]:
        return self.feed(BlockReady(height, round, block_hash))


# --- ensure_* : what a rule must have produced ------------------------------------------


def signed_messages(effects: list[Effect]) -> list:
    return [e.message for e in effects if isinstance(e, Broadcast)]


def own_votes(effects: list[Effect], vote_type: VoteType | None = None) -> list[Vote]:
    return [m for m in signed_messages(effects)
            if isinstance(m, Vote) and (vote_type is None or m.type == vote_type)]


def ensure_vote(effects: list[Effect], vote_type: VoteType, height: int, round: int,
                block_hash: bytes | None) -> Vote:
    votes = own_votes(effects, vote_type)
    assert len(votes) == 1, f"expected one {vote_type.name}, got {votes}"
    vote = votes[0]
    assert (vote.height, vote.round, vote.block_hash) == (height, round, block_hash), vote
    assert vote.recover_signer(CHAIN_ID) == vote.validator
    ensure_persisted_before_broadcast(effects)
    return vote


def ensure_prevote(effects, round, block_hash, height=1) -> Vote:
    return ensure_vote(effects, VoteType.PREVOTE, height, round, block_hash)


def ensure_precommit(effects, round, block_hash, height=1) -> Vote:
    return ensure_vote(effects, VoteType.PRECOMMIT, height, round, block_hash)


def ensure_no_vote(effects: list[Effect]) -> None:
    assert not signed_messages(effects), signed_messages(effects)
    assert not [e for e in effects if isinstance(e, PersistSignState)]


def ensure_proposal(effects: list[Effect], height: int, round: int, block_hash: bytes, pol_round: int) -> Proposal:
    proposals = [m for m in signed_messages(effects) if isinstance(m, Proposal)]
    assert len(proposals) == 1, proposals
    p = proposals[0]
    assert (p.height, p.round, p.block_hash, p.pol_round) == (height, round, block_hash, pol_round), p
    ensure_persisted_before_broadcast(effects)
    return p


def ensure_persisted_before_broadcast(effects: list[Effect]) -> None:
    """Each Broadcast of our own signed message comes right after its PersistSignState."""
    for i, e in enumerate(effects):
        if isinstance(e, Broadcast):
            m = e.message
            step = Step.PROPOSE if isinstance(m, Proposal) else (
                Step.PREVOTE if m.type == VoteType.PREVOTE else Step.PRECOMMIT)
            assert i > 0 and effects[i - 1] == PersistSignState(m.height, m.round, step), effects


def timeouts_of(effects: list[Effect]) -> list[ScheduleTimeout]:
    return [e for e in effects if isinstance(e, ScheduleTimeout)]


def ensure_timeout(effects: list[Effect], height: int, round: int, step: Step) -> ScheduleTimeout:
    found = [t for t in timeouts_of(effects) if (t.height, t.round, t.step) == (height, round, step)]
    assert len(found) == 1, timeouts_of(effects)
    return found[0]


def ensure_new_round(h: Harness, round: int, height: int = 1) -> None:
    assert (h.core.height, h.core.round, h.core.step) == (height, round, Step.PROPOSE)


def commits_of(effects: list[Effect]) -> list[Commit]:
    return [e for e in effects if isinstance(e, Commit)]


def evidence_of(effects: list[Effect]) -> list:
    return [e.evidence for e in effects if isinstance(e, ReportEvidence)]


def block_requests(effects: list[Effect]) -> list[RequestBlock]:
    return [e for e in effects if isinstance(e, RequestBlock)]
