"""Property: the order honest messages arrive in changes neither what the core commits nor
whether it ever signs twice.

Each scenario is a fixed set of honest inputs (proposals, the other validators' votes,
and the timeouts a node may see); hypothesis permutes them. Inputs that became stale
(a late vote of a decided height) are dropped with a reason, as a driver would.
"""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bft_harness import BLOCK_A, BLOCK_B, Harness, ensure_persisted_before_broadcast
from consensus.bft.core import Broadcast, Commit, ProposalReceived, TimeoutFired, VoteReceived
from consensus.errors import ConsensusError
from consensus.messages import Vote
from consensus.types import Step

ME = 3


def _timeouts(rounds: int) -> list:
    return [TimeoutFired(1, r, s) for r in range(rounds) for s in (Step.PROPOSE, Step.PREVOTE, Step.PRECOMMIT)]


def _scenario_commit_b_in_round_1(h: Harness) -> tuple[list, bytes]:
    """Round 0 fails (A gets one prevote), round 1 commits B."""
    s = h.stubs
    events = [ProposalReceived(h.proposer(0).propose(1, 0, BLOCK_A), True),
              ProposalReceived(h.proposer(1).propose(1, 1, BLOCK_B), True)]
    events += [VoteReceived(v) for v in (
        s[0].prevote(1, 0, BLOCK_A), s[1].prevote(1, 0, None), s[2].prevote(1, 0, None),
        s[0].precommit(1, 0, None), s[1].precommit(1, 0, None), s[2].precommit(1, 0, None),
        *(s[i].prevote(1, 1, BLOCK_B) for i in range(3)),
        *(s[i].precommit(1, 1, BLOCK_B) for i in range(3)),
    )]
    return events + _timeouts(2), BLOCK_B


def _scenario_polka_a_then_reproposed(h: Harness) -> tuple[list, bytes]:
    """Round 0 has a polka for A but precommits split; round 1 re-proposes A with pol_round 0."""
    s = h.stubs
    events = [ProposalReceived(h.proposer(0).propose(1, 0, BLOCK_A), True),
              ProposalReceived(h.proposer(1).propose(1, 1, BLOCK_A, pol_round=0), True)]
    events += [VoteReceived(v) for v in (
        *(s[i].prevote(1, 0, BLOCK_A) for i in range(3)),
        s[0].precommit(1, 0, BLOCK_A), s[1].precommit(1, 0, None), s[2].precommit(1, 0, None),
        *(s[i].prevote(1, 1, BLOCK_A) for i in range(3)),
        *(s[i].precommit(1, 1, BLOCK_A) for i in range(3)),
    )]
    return events + _timeouts(2), BLOCK_A


def _scenario_nothing_decided(h: Harness) -> tuple[list, bytes | None]:
    """Two rounds of split votes: no order may produce a commit."""
    s = h.stubs
    events = [ProposalReceived(h.proposer(r).propose(1, r, BLOCK_A if r == 0 else BLOCK_B), True) for r in (0, 1)]
    events += [VoteReceived(v) for r in (0, 1) for v in (
        s[0].prevote(1, r, BLOCK_A), s[1].prevote(1, r, BLOCK_B), s[2].prevote(1, r, None),
        s[0].precommit(1, r, BLOCK_A), s[1].precommit(1, r, None), s[2].precommit(1, r, BLOCK_B),
    )]
    return events + _timeouts(3), None


SCENARIOS = [_scenario_commit_b_in_round_1, _scenario_polka_a_then_reproposed, _scenario_nothing_decided]
# Sign once: hypothesis only reorders.
BUILT = []
for _build in SCENARIOS:
    _h = Harness(me=ME)
    BUILT.append((_h, *_build(_h)))


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_delivery_order_changes_neither_commit_nor_signatures(data):
    template, events, expected = BUILT[data.draw(st.integers(0, len(BUILT) - 1), label="scenario")]
    order = data.draw(st.permutations(events), label="order")
    h = Harness(me=ME)
    assert h.validators == template.validators
    h.start()
    for event in order:
        try:
            h.feed(event)
        except ConsensusError:
            pass  # stale (a height already decided): dropped, as the driver would
    commits = [e for e in h.log if isinstance(e, Commit)]
    if expected is None:
        assert commits == []
    else:
        assert [(c.height, c.block_hash) for c in commits] == [(1, expected)]
    # Never two different signatures for one (height, round, type); persisted before broadcast.
    ensure_persisted_before_broadcast(h.log)
    signed: dict[tuple, object] = {}
    for e in h.log:
        if isinstance(e, Broadcast):
            m = e.message
            key = (type(m).__name__, m.height, m.round, m.type if isinstance(m, Vote) else None)
            assert key not in signed, (key, signed[key], m)
            signed[key] = m
