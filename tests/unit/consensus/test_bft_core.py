"""Step rules of the Tendermint core, one scenario each, after CometBFT's state_test.go.

Four validators of power 1 (quorum 3, f+1 = 2); the core under test is validator 3 unless
a scenario says otherwise; the proposer of height 1, round r is validator r % 4.
"Lines" are those of Algorithm 1 in arXiv:1807.04938.

Scenario                                          Rule (lines)
ProposeSuite
  test_start_as_non_proposer                      11-21  StartRound, propose timeout
  test_start_as_proposer_requests_block           11-21  getValue via RequestBlock/BlockReady
  test_block_ready_stale_is_ignored               stale BlockReady
  test_prevote_invalid_block_nil                  22-27  valid(v) false -> prevote nil
  test_propose_timeout_prevotes_nil               57-60
FullRoundSuite
  test_happy_path_commit                          22, 36, 49  4 validators to commit, height+1
  test_commit_with_proposal_of_earlier_round      49     decide in any round r
  test_commit_waits_for_proposal                  49     precommits without the proposal
  test_precommit_nil_on_nil_polka                 44-46
  test_prevote_timeout_once_per_round             34-35, 61-64
  test_precommit_timeout_next_round               47-48, 65-67
  test_timeouts_grow_per_round                    timeout(r) = base + r * delta
  test_stale_timeouts_ignored                     57/61/65 guards
LockSuite
  test_lock_on_polka_refuses_other_value          36-43, 22-27 (locked -> nil)
  test_locked_value_prevoted_again                22-27 (lockedValue = v)
  test_unlock_on_later_polka_pol_round            28-33 (lockedRound <= vr)
  test_pol_round_older_than_lock_prevotes_nil     28-33 (lockedRound > vr, other value)
  test_pol_round_waits_for_polka                  28-33 needs 2f+1 prevotes in vr
  test_relock_on_polka_in_later_round             36-43 in a later round
ValidValueSuite
  test_valid_value_reproposed_by_next_proposer    14-15, 36-43
  test_valid_value_set_after_precommit            36-43 at step precommit: no lock
RoundSkipSuite
  test_round_skip_on_f_plus_one                   55-56
  test_no_round_skip_below_f_plus_one             55-56 (distinct senders, power)
  test_round_skip_counts_per_round                55-56 (per round; never backwards)
SafetySuite
  test_no_second_signature_in_a_step              SignGuard via step + equivocating proposer
  test_restored_sign_state_refuses_lower_steps    SignGuard from persisted state
  test_a_refused_step_is_covered_by_its_own_logged_message  WAL replay (consensus/wal.py)
  test_duplicate_vote_is_idempotent
  test_equivocation_reports_double_sign
  test_bad_messages_rejected_without_effects      bad sig, unknown validator, wrong height,
                                                  wrong proposer, oversized, malformed
"""
from __future__ import annotations

import dataclasses

import pytest

from bft_harness import (
    BLOCK_A,
    BLOCK_B,
    CHAIN_ID,
    NIL,
    Harness,
    ValidatorStub,
    block_requests,
    commits_of,
    ensure_new_round,
    ensure_no_vote,
    ensure_precommit,
    ensure_prevote,
    ensure_proposal,
    ensure_timeout,
    evidence_of,
    make_signer,
    own_votes,
    timeouts_of,
)
from consensus.bft.core import (
    Commit,
    PersistSignState,
    ProposalReceived,
    ScheduleTimeout,
    SignGuard,
    SignState,
    TimeoutConfig,
    VoteReceived,
)
from consensus.errors import (
    ConsensusError,
    InvalidSignature,
    MalformedMessage,
    OversizedMessage,
    UnknownValidator,
    WrongHeight,
    WrongProposer,
)
from consensus.messages import Proposal, Vote
from consensus.types import Step, VoteType

# --- ProposeSuite -----------------------------------------------------------------------


def test_proposer_of_round_r_is_validator_r_mod_4():
    h = Harness()
    assert [h.proposer(r).address for r in range(8)] == [h.stubs[r % 4].address for r in range(8)]


def test_start_as_non_proposer():
    h = Harness(me=3)
    assert h.start() == [ScheduleTimeout(1, 0, Step.PROPOSE, 3000)]
    ensure_new_round(h, 0)


def test_start_as_proposer_requests_block():
    h = Harness(me=0)
    effects = h.start()
    assert len(block_requests(effects)) == 1 and block_requests(effects)[0].round == 0
    ensure_timeout(effects, 1, 0, Step.PROPOSE)
    effects = h.block_ready(0, BLOCK_A)
    ensure_proposal(effects, 1, 0, BLOCK_A, -1)
    ensure_prevote(effects, 0, BLOCK_A)  # our own proposal reaches us at once (line 22)


def test_block_ready_stale_is_ignored():
    h = Harness(me=0)
    h.start()
    h.timeout(0, Step.PROPOSE)  # gave up waiting: prevoted nil
    assert h.block_ready(0, BLOCK_A) == []
    assert h.core.step == Step.PREVOTE
    other = Harness(me=3)
    other.start()
    assert other.block_ready(0, BLOCK_A) == []  # never requested


def test_prevote_invalid_block_nil():
    h = Harness()
    h.start()
    ensure_prevote(h.proposal(0, BLOCK_A, valid=False), 0, NIL)


def test_propose_timeout_prevotes_nil():
    h = Harness()
    h.start()
    effects = h.timeout(0, Step.PROPOSE)
    ensure_prevote(effects, 0, NIL)
    assert h.core.step == Step.PREVOTE


# --- FullRoundSuite ---------------------------------------------------------------------


def test_happy_path_commit():
    h = Harness()
    h.start()
    ensure_prevote(h.proposal(0, BLOCK_A), 0, BLOCK_A)
    assert own_votes(h.prevotes(0, BLOCK_A, 0)) == []  # 2 of 4: no polka yet
    effects = h.prevotes(0, BLOCK_A, 1)
    ensure_precommit(effects, 0, BLOCK_A)
    assert (h.core.locked_value, h.core.locked_round) == (BLOCK_A, 0)
    assert commits_of(h.precommits(0, BLOCK_A, 0)) == []
    effects = h.precommits(0, BLOCK_A, 2)
    [commit] = commits_of(effects)
    assert (commit.height, commit.round, commit.block_hash) == (1, 0, BLOCK_A)
    # Finality is verifiable from the commit alone: >2/3 power of signed precommits for the block.
    signers = {v.recover_signer(CHAIN_ID) for v in commit.precommits}
    assert all(v.block_hash == BLOCK_A and v.type == VoteType.PRECOMMIT for v in commit.precommits)
    assert signers == {v.validator for v in commit.precommits}
    assert h.validators.has_quorum(sum(h.validators.power_of(a) for a in signers))
    assert [v.validator for v in commit.precommits] == sorted(signers)
    # Height 2 starts at once, with its state reset.
    ensure_timeout(effects, 2, 0, Step.PROPOSE)
    ensure_new_round(h, 0, height=2)
    assert (h.core.locked_value, h.core.locked_round, h.core.valid_round) == (None, -1, -1)
    with pytest.raises(WrongHeight):  # a late precommit of height 1
        h.precommits(0, BLOCK_A, 1)


def test_commit_with_proposal_of_earlier_round():
    h = Harness()
    h.start()
    h.proposal(0, BLOCK_A)
    h.timeout(0, Step.PRECOMMIT)  # we are in round 1 now
    ensure_new_round(h, 1)
    [commit] = commits_of(h.precommits(0, BLOCK_A, 0, 1, 2))
    assert (commit.height, commit.round, commit.block_hash) == (1, 0, BLOCK_A)


def test_commit_waits_for_proposal():
    h = Harness()
    h.start()
    assert commits_of(h.precommits(0, BLOCK_A, 0, 1, 2)) == []
    [commit] = commits_of(h.proposal(0, BLOCK_A))
    assert commit.block_hash == BLOCK_A
    h2 = Harness()
    h2.start()
    h2.proposal(0, BLOCK_A, valid=False)
    assert commits_of(h2.precommits(0, BLOCK_A, 0, 1, 2)) == []  # valid(v) is required


def test_precommit_nil_on_nil_polka():
    h = Harness()
    h.start()
    h.timeout(0, Step.PROPOSE)
    effects = h.prevotes(0, NIL, 0, 1)
    ensure_precommit(effects, 0, NIL)
    assert h.core.locked_round == -1


def test_prevote_timeout_once_per_round():
    h = Harness()
    h.start()
    h.proposal(0, BLOCK_A)  # we prevote A
    effects = h.prevotes(0, NIL, 0) + h.prevotes(0, BLOCK_B, 1)  # 3 prevotes, no majority
    assert ensure_timeout(effects, 1, 0, Step.PREVOTE).delay_ms == 1000
    assert timeouts_of(h.prevotes(0, NIL, 2)) == []  # once per round
    ensure_precommit(h.timeout(0, Step.PREVOTE), 0, NIL)  # lines 61-64


def test_precommit_timeout_next_round():
    h = Harness()
    h.start()
    h.timeout(0, Step.PROPOSE)
    h.prevotes(0, NIL, 0, 1)  # we precommit nil
    effects = h.precommits(0, NIL, 0) + h.precommits(0, BLOCK_A, 1)
    ensure_timeout(effects, 1, 0, Step.PRECOMMIT)
    assert timeouts_of(h.precommits(0, NIL, 2)) == []  # once per round
    effects = h.timeout(0, Step.PRECOMMIT)
    ensure_new_round(h, 1)
    assert ensure_timeout(effects, 1, 1, Step.PROPOSE).delay_ms == 3500


def test_timeouts_grow_per_round():
    config = TimeoutConfig(propose_ms=100, propose_delta_ms=10, prevote_ms=50, prevote_delta_ms=5,
                           precommit_ms=60, precommit_delta_ms=6)
    h = Harness(timeouts=config)
    h.start()
    seen = {}
    for r in range(3):
        seen[(r, Step.PROPOSE)] = timeouts_of(h.log)[-1].delay_ms
        h.timeout(r, Step.PROPOSE)
        seen[(r, Step.PREVOTE)] = ensure_timeout(h.prevotes(r, BLOCK_B, 0, 1), 1, r, Step.PREVOTE).delay_ms
        h.timeout(r, Step.PREVOTE)
        seen[(r, Step.PRECOMMIT)] = ensure_timeout(h.precommits(r, NIL, 0, 1), 1, r, Step.PRECOMMIT).delay_ms
        h.timeout(r, Step.PRECOMMIT)
    assert seen == {(r, Step.PROPOSE): 100 + 10 * r for r in range(3)} | {
        (r, Step.PREVOTE): 50 + 5 * r for r in range(3)} | {(r, Step.PRECOMMIT): 60 + 6 * r for r in range(3)}
    assert config.compute_delay_ms(Step.PROPOSE, 1000) == 100 + 10 * 1000


def test_stale_timeouts_ignored():
    h = Harness()
    h.start()
    h.proposal(0, BLOCK_A)  # step prevote
    assert h.timeout(0, Step.PROPOSE) == []  # step moved on
    assert h.timeout(0, Step.PRECOMMIT, height=2) == []  # other height
    h.timeout(0, Step.PRECOMMIT)  # round 1
    assert h.timeout(0, Step.PREVOTE) == [] and h.timeout(0, Step.PRECOMMIT) == []  # old round
    assert h.timeout(1, Step.PREVOTE) == []  # not at prevote yet
    assert h.timeout(1, Step.COMMIT) == []
    ensure_new_round(h, 1)


# --- LockSuite --------------------------------------------------------------------------


def lock_on_a_in_round_0(h: Harness) -> None:
    """Round 0: polka for A, we lock A and precommit it; precommits split; go to round 1."""
    h.start()
    h.proposal(0, BLOCK_A)
    ensure_precommit(h.prevotes(0, BLOCK_A, 0, 1), 0, BLOCK_A)
    h.precommits(0, NIL, 0, 1)
    h.timeout(0, Step.PRECOMMIT)
    ensure_new_round(h, 1)
    assert (h.core.locked_value, h.core.locked_round) == (BLOCK_A, 0)


def test_lock_on_polka_refuses_other_value():
    h = Harness()
    lock_on_a_in_round_0(h)
    ensure_prevote(h.proposal(1, BLOCK_B), 1, NIL)


def test_locked_value_prevoted_again():
    h = Harness()
    lock_on_a_in_round_0(h)
    ensure_prevote(h.proposal(1, BLOCK_A), 1, BLOCK_A)


def go_to_round_2_without_seeing_proposal_1(h: Harness, polka_1: bytes | None) -> None:
    h.timeout(1, Step.PROPOSE)  # prevote nil in round 1
    h.prevotes(1, polka_1, 0, 1, 2)  # a polka we cannot act on (no proposal of round 1)
    h.timeout(1, Step.PREVOTE)
    h.precommits(1, NIL, 0, 1)
    h.timeout(1, Step.PRECOMMIT)
    ensure_new_round(h, 2)


def test_unlock_on_later_polka_pol_round():
    h = Harness()
    lock_on_a_in_round_0(h)
    go_to_round_2_without_seeing_proposal_1(h, BLOCK_B)
    assert h.core.locked_value == BLOCK_A
    # Round 2's proposer re-proposes B with the polka of round 1: lockedRound 0 <= vr 1.
    ensure_prevote(h.proposal(2, BLOCK_B, pol_round=1), 2, BLOCK_B)


def test_pol_round_older_than_lock_prevotes_nil():
    h = Harness()
    lock_on_a_in_round_0(h)
    # Relock on B in round 1 (line 36 in round 1), then round 2 proposes A with pol_round 0.
    h.proposal(1, BLOCK_B)  # locked on A: prevote nil
    ensure_precommit(h.prevotes(1, BLOCK_B, 0, 1, 2), 1, BLOCK_B)
    assert (h.core.locked_value, h.core.locked_round) == (BLOCK_B, 1)
    h.precommits(1, NIL, 0, 1)
    h.timeout(1, Step.PRECOMMIT)
    ensure_prevote(h.proposal(2, BLOCK_A, pol_round=0), 2, NIL)  # lockedRound 1 > vr 0, A != B


def test_pol_round_waits_for_polka():
    h = Harness()
    lock_on_a_in_round_0(h)
    go_to_round_2_without_seeing_proposal_1(h, NIL)  # round 1 had a nil polka, not B
    assert own_votes(h.proposal(2, BLOCK_B, pol_round=1)) == []  # no 2f+1 prevotes for B in 1
    assert h.core.step == Step.PROPOSE
    ensure_prevote(h.timeout(2, Step.PROPOSE), 2, NIL)


def test_relock_on_polka_in_later_round():
    h = Harness()
    lock_on_a_in_round_0(h)
    ensure_prevote(h.proposal(1, BLOCK_B), 1, NIL)
    effects = h.prevotes(1, BLOCK_B, 0, 1, 2)
    ensure_precommit(effects, 1, BLOCK_B)
    assert (h.core.locked_value, h.core.locked_round) == (BLOCK_B, 1)
    assert (h.core.valid_value, h.core.valid_round) == (BLOCK_B, 1)


# --- ValidValueSuite --------------------------------------------------------------------


def test_valid_value_reproposed_by_next_proposer():
    h = Harness(me=1)  # proposer of round 1
    h.start()
    h.proposal(0, BLOCK_A)
    ensure_precommit(h.prevotes(0, BLOCK_A, 0, 2), 0, BLOCK_A)
    h.precommits(0, NIL, 0, 2)
    effects = h.timeout(0, Step.PRECOMMIT)
    assert block_requests(effects) == []  # no new block: validValue is proposed
    ensure_proposal(effects, 1, 1, BLOCK_A, 0)
    ensure_prevote(effects, 1, BLOCK_A)  # line 28 on our own proposal


def test_valid_value_set_after_precommit():
    h = Harness(me=1)
    h.start()
    h.proposal(0, BLOCK_A)  # we prevote A
    h.prevotes(0, NIL, 2)
    h.prevotes(0, BLOCK_A, 0)  # 3 prevotes, no polka: prevote timeout
    ensure_precommit(h.timeout(0, Step.PREVOTE), 0, NIL)
    assert own_votes(h.prevotes(0, BLOCK_A, 3)) == []  # the polka arrives late, at precommit
    assert (h.core.valid_value, h.core.valid_round) == (BLOCK_A, 0)
    assert (h.core.locked_value, h.core.locked_round) == (None, -1)
    h.precommits(0, NIL, 0, 2)
    ensure_proposal(h.timeout(0, Step.PRECOMMIT), 1, 1, BLOCK_A, 0)


# --- RoundSkipSuite ---------------------------------------------------------------------


def test_round_skip_on_f_plus_one():
    h = Harness()
    h.start()
    assert h.prevotes(2, BLOCK_B, 0) == []  # power 1 of 4: not > 1/3
    effects = h.precommits(2, NIL, 1)
    ensure_new_round(h, 2)
    assert ensure_timeout(effects, 1, 2, Step.PROPOSE).delay_ms == 3000 + 2 * 500


def test_no_round_skip_below_f_plus_one():
    h = Harness()
    h.start()
    # The proposal and both votes of one validator count once.
    h.proposal(2, BLOCK_B)
    h.prevotes(2, BLOCK_B, 2)
    h.precommits(2, NIL, 2)
    ensure_new_round(h, 0)
    effects = h.prevotes(2, BLOCK_B, 0)
    assert h.core.round == 2
    ensure_prevote(effects, 2, BLOCK_B)  # the stored proposal of round 2 is acted on at once
    weighted = Harness(powers=[1, 1, 1, 5], me=0)  # one validator alone holds > 1/3
    weighted.start()
    weighted.prevotes(4, NIL, 3)
    ensure_new_round(weighted, 4)


def test_round_skip_counts_per_round():
    h = Harness()
    h.start()
    h.prevotes(5, NIL, 0)
    h.prevotes(3, NIL, 1)
    ensure_new_round(h, 0)  # f+1 counts senders of one round: 1 in round 3, 1 in round 5
    h.prevotes(3, NIL, 2)
    ensure_new_round(h, 3)
    h.precommits(5, NIL, 1)
    ensure_new_round(h, 5)
    h.prevotes(4, NIL, 0, 1, 2)  # a lower round never takes us back
    assert h.core.round == 5


# --- SafetySuite ------------------------------------------------------------------------


def test_no_second_signature_in_a_step():
    h = Harness()
    h.start()
    ensure_prevote(h.proposal(0, BLOCK_A), 0, BLOCK_A)
    # An equivocating proposer's second proposal, a replayed one, and a late timeout.
    second = h.proposer(0).propose(1, 0, BLOCK_B)
    assert h.feed(ProposalReceived(second, True)) == []
    assert h.proposal(0, BLOCK_A) == []
    assert h.timeout(0, Step.PROPOSE) == []
    ensure_precommit(h.prevotes(0, BLOCK_A, 0, 1), 0, BLOCK_A)
    ensure_no_vote(h.prevotes(0, NIL, 2) + h.timeout(0, Step.PREVOTE))
    guard = SignGuard(SignState(1, 0, Step.PREVOTE))
    assert not guard.allows(1, 0, Step.PREVOTE) and not guard.allows(1, 0, Step.PROPOSE)
    assert guard.allows(1, 0, Step.PRECOMMIT) and guard.allows(1, 1, Step.PROPOSE) and guard.allows(2, 0, Step.PROPOSE)
    with pytest.raises(AssertionError):
        guard.record(1, 0, Step.PREVOTE)


def test_restored_sign_state_refuses_lower_steps():
    h = Harness(sign_state=SignState(1, 0, Step.PREVOTE))
    h.start()
    effects = h.proposal(0, BLOCK_A)
    ensure_no_vote(effects)  # prevote of (1, 0) was signed before the restart
    assert h.core.step == Step.PREVOTE  # the algorithm still moves on
    effects = h.prevotes(0, BLOCK_A, 0, 1, 2)
    ensure_precommit(effects, 0, BLOCK_A)  # a later step is allowed
    assert effects[0] == PersistSignState(1, 0, Step.PRECOMMIT)
    assert h.core.sign_state == SignState(1, 0, Step.PRECOMMIT)
    # Restored two rounds ahead, as proposer of round 0: nothing is signed until round 3.
    p = Harness(me=0, sign_state=SignState(1, 2, Step.PRECOMMIT))
    p.start()
    ensure_no_vote(p.block_ready(0, BLOCK_A) + p.timeout(0, Step.PROPOSE))
    p.timeout(0, Step.PRECOMMIT)
    ensure_no_vote(p.timeout(1, Step.PROPOSE))


def test_a_refused_step_is_covered_by_its_own_logged_message():
    # What a WAL replay relies on: restarted with every step of round 0 signed, the core
    # signs nothing again, moves on as if it had, and counts its own earlier messages (next
    # in the log, fed as any vote) in their place, so the lock and the decision come back.
    h = Harness(sign_state=SignState(1, 0, Step.PRECOMMIT))
    me = h.stubs[h.me]
    h.start()
    ensure_no_vote(h.proposal(0, BLOCK_A))
    assert h.core.step == Step.PREVOTE
    assert h.feed(VoteReceived(me.prevote(1, 0, BLOCK_A))) == []
    ensure_no_vote(h.prevotes(0, BLOCK_A, 0, 1))  # the polka: the precommit was signed before
    assert (h.core.step, h.core.locked_value, h.core.locked_round) == (Step.PRECOMMIT, BLOCK_A, 0)
    h.feed(VoteReceived(me.precommit(1, 0, BLOCK_A)))
    [commit] = commits_of(h.precommits(0, BLOCK_A, 0, 1))  # ours and two more: decided
    assert commit.block_hash == BLOCK_A and me.address in [v.validator for v in commit.precommits]
    assert not [e for e in h.log if isinstance(e, PersistSignState)]
    # Without its own precommit the same core waits: two precommits are no quorum of four.
    g = Harness(sign_state=SignState(1, 0, Step.PRECOMMIT))
    g.start()
    g.proposal(0, BLOCK_A)
    g.feed(VoteReceived(g.stubs[g.me].prevote(1, 0, BLOCK_A)))
    g.prevotes(0, BLOCK_A, 0, 1)
    assert not commits_of(g.precommits(0, BLOCK_A, 0, 1)) and g.core.step == Step.PRECOMMIT


def test_duplicate_vote_is_idempotent():
    h = Harness()
    h.start()
    h.timeout(0, Step.PROPOSE)  # our prevote nil
    vote = h.stubs[0].prevote(1, 0, NIL)
    assert h.feed(VoteReceived(vote)) == []
    assert h.feed(VoteReceived(vote)) == []
    assert h.feed(VoteReceived(vote)) == []
    assert h.core.step == Step.PREVOTE  # still two prevotes nil, not four
    ensure_precommit(h.prevotes(0, NIL, 1), 0, NIL)


def test_equivocation_reports_double_sign():
    h = Harness()
    h.start()
    h.timeout(0, Step.PROPOSE)
    h.prevotes(0, NIL, 0)
    effects = h.prevotes(0, BLOCK_A, 0)
    [evidence] = evidence_of(effects)
    assert len(effects) == 1
    evidence.validate(CHAIN_ID, h.validators)
    assert evidence.validator == h.stubs[0].address and evidence.verify(CHAIN_ID)
    assert h.prevotes(0, BLOCK_A, 0) == []  # the same pair again: already reported
    [second] = evidence_of(h.prevotes(0, BLOCK_B, 0))  # a third vote is new evidence
    assert second != evidence
    assert h.core.step == Step.PREVOTE  # one validator's votes, whatever their values, are no quorum


def test_an_equivocators_vote_still_counts_for_its_value():
    # Validator 0 sends us nil first, then A. The paper counts messages per value, so its A
    # still completes the polka for A that 1 and 2 started: heard nil first must not hide it.
    h = Harness()
    h.start()
    ensure_prevote(h.proposal(0, BLOCK_A), 0, BLOCK_A)
    h.prevotes(0, NIL, 0)
    h.prevotes(0, BLOCK_A, 1)
    effects = h.prevotes(0, BLOCK_A, 0)
    assert evidence_of(effects)
    ensure_precommit(effects, 0, BLOCK_A)
    assert h.core.locked_value == BLOCK_A


def test_a_decision_on_an_equivocating_proposers_other_block():
    # The proposer of round 0 sent us A and the rest of the network B; B's precommits decide.
    h = Harness()
    h.start()
    ensure_prevote(h.proposal(0, BLOCK_A), 0, BLOCK_A)
    second = h.proposer(0).propose(1, 0, BLOCK_B)
    assert h.feed(ProposalReceived(second, True)) == []
    effects = h.precommits(0, BLOCK_B, 0, 1, 2)
    [commit] = [e for e in effects if isinstance(e, Commit)]
    assert commit.block_hash == BLOCK_B and len(commit.precommits) == 3


def test_bad_messages_rejected_without_effects():
    h = Harness()
    h.start()
    good = h.stubs[0].prevote(1, 0, NIL)
    stranger = ValidatorStub(make_signer(99), 1)
    cases = [
        (VoteReceived(dataclasses.replace(good, signature=h.stubs[1].prevote(1, 0, NIL).signature)), InvalidSignature),
        (VoteReceived(dataclasses.replace(good, signature=b"\x01" * 65)), InvalidSignature),
        (VoteReceived(dataclasses.replace(good, signature=b"")), InvalidSignature),
        (VoteReceived(dataclasses.replace(good, block_hash=BLOCK_A)), InvalidSignature),
        (VoteReceived(stranger.prevote(1, 0, NIL)), UnknownValidator),
        (VoteReceived(h.stubs[0].prevote(2, 0, NIL)), WrongHeight),
        (VoteReceived(h.stubs[0].prevote(0, 0, NIL)), WrongHeight),
        (VoteReceived(dataclasses.replace(good, signature=b"\x00" * 4096)), OversizedMessage),
        (VoteReceived(dataclasses.replace(good, block_hash=b"\x00" * 31)), MalformedMessage),
        (VoteReceived(dataclasses.replace(good, round=-1)), MalformedMessage),
        (ProposalReceived(h.stubs[1].propose(1, 0, BLOCK_A), True), WrongProposer),
        (ProposalReceived(h.stubs[0].propose(1, 0, BLOCK_A, pol_round=0), True), MalformedMessage),
        (ProposalReceived(dataclasses.replace(h.stubs[0].propose(1, 0, BLOCK_A), height=2), True), WrongHeight),
        (ProposalReceived(dataclasses.replace(h.stubs[0].propose(1, 0, BLOCK_A), block_hash=BLOCK_B), True),
         InvalidSignature),
    ]
    for event, error in cases:
        before = (h.core.height, h.core.round, h.core.step, h.core.sign_state)
        with pytest.raises(error) as info:
            h.feed(event)
        assert isinstance(info.value, ConsensusError) and info.value.reason
        assert (h.core.height, h.core.round, h.core.step, h.core.sign_state) == before
    assert timeouts_of(h.log) == [ScheduleTimeout(1, 0, Step.PROPOSE, 3000)] and len(h.log) == 1
    # None of them counted: the good proposal still gets our prevote for A.
    ensure_prevote(h.proposal(0, BLOCK_A), 0, BLOCK_A)


def test_observer_core_never_signs():
    h = Harness(me=None)
    h.start()
    h.proposal(0, BLOCK_A)
    h.prevotes(0, BLOCK_A, 0, 1, 2)
    effects = h.precommits(0, BLOCK_A, 0, 1, 2)
    assert [c.block_hash for c in commits_of(effects)] == [BLOCK_A]
    assert not [e for e in h.log if isinstance(e, PersistSignState)]


def test_vote_type_is_checked():
    h = Harness()
    h.start()
    vote = Vote(VoteType.PREVOTE, 1, 0, None, h.stubs[0].address)
    with pytest.raises(MalformedMessage):
        h.feed(VoteReceived(dataclasses.replace(vote, type=7)))
    assert isinstance(h.stubs[0].propose(1, 0, BLOCK_A), Proposal)
