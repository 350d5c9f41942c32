"""PoA (Aura + finality votes): slots, seals, fork choice, finality, sign state, evidence."""
from __future__ import annotations

import dataclasses

import pytest

from consensus.engine import BlockImported, Broadcast, Finalized, InvalidSeal, PersistSignState, ReportEvidence, Tick
from consensus.errors import ConsensusError, InvalidEvidence, UnknownValidator
from consensus.keys import Signer
from consensus.poa import (
    BlockReady,
    DoubleFinalityVote,
    DoubleSeal,
    FinalityVote,
    FinalityVoteReceived,
    PoaCore,
    PoaSignState,
    ProposeBlock,
    Sealed,
    WrongAuthor,
    WrongSlot,
    choose_head,
    compute_slot,
    compute_slot_author,
)
from poa_harness import (
    CHAIN_ID,
    GENESIS,
    SLOT_S,
    Network,
    ensure_persisted_first,
    make_core,
    make_header,
    make_signers,
    of_type,
    seal,
    sealed_block,
    vote,
)
from runtime.primitives.hashing import keccak256


# --- slots -----------------------------------------------------------------------------


def test_slot_is_timestamp_divided_by_duration():
    assert [compute_slot(t, 2) for t in (0, 1, 2, 3, 4, 9)] == [0, 0, 1, 1, 2, 4]


def test_authors_take_slots_in_turn():
    signers = make_signers(4)
    authorities = [s.address for s in signers]
    assert [compute_slot_author(s, authorities) for s in range(9)] == authorities * 2 + authorities[:1]


def test_authorities_are_in_address_order_whatever_the_spec_order():
    signers = make_signers(4)
    core = PoaCore(chain_id=CHAIN_ID, authorities=[s.address for s in reversed(signers)])
    assert core.authorities == tuple(sorted(s.address for s in signers))


def test_only_the_slot_author_is_asked_to_propose():
    signers = make_signers(4)
    cores = [make_core(signers, i) for i in range(4)]
    for slot in range(1, 9):
        proposers = [i for i, core in enumerate(cores) if of_type(core.handle(Tick(slot * SLOT_S * 1000)), ProposeBlock)]
        assert proposers == [slot % 4]


def test_propose_names_the_slot_the_head_and_the_slot_start():
    signers = make_signers(4)
    core = make_core(signers, 1)
    (p,) = core.handle(Tick(1 * SLOT_S * 1000 + 999))
    assert p == ProposeBlock(slot=1, parent_hash=GENESIS.hash, number=1, timestamp=SLOT_S)
    assert core.handle(Tick(1 * SLOT_S * 1000 + 1500)) == []  # once per slot


def test_observer_and_non_authority_never_propose_or_vote():
    signers = make_signers(4)
    outsider = Signer(keccak256(b"not an authority"))
    core = PoaCore(chain_id=CHAIN_ID, authorities=[s.address for s in signers], slot_duration=SLOT_S, signer=outsider)
    from consensus.poa import Start
    core.handle(Start(GENESIS))
    assert core.handle(Tick(SLOT_S * 1000 * 5)) == []
    header, s = sealed_block(core, signers, GENESIS, 1)
    assert core.handle(BlockImported(header, s)) == []


# --- header validation -----------------------------------------------------------------


def test_header_sealed_by_its_slot_author_is_valid():
    signers = make_signers(4)
    core = make_core(signers, None)
    header, s = sealed_block(core, signers, GENESIS, 5)
    core.validate_header(header, GENESIS, s)


def test_header_sealed_by_another_authority_is_refused():
    signers = make_signers(4)
    core = make_core(signers, None)
    header = make_header(GENESIS, 5)
    with pytest.raises(WrongAuthor, match="slot 5 belongs to") as info:
        core.validate_header(header, GENESIS, seal(core, header, signers[2]))
    assert info.value.author == signers[2].address and info.value.expected == signers[1].address


def test_header_sealed_by_an_outsider_is_refused():
    signers = make_signers(4)
    core = make_core(signers, None)
    header = make_header(GENESIS, 5)
    with pytest.raises(WrongAuthor):
        core.validate_header(header, GENESIS, seal(core, header, Signer(keccak256(b"outsider"))))


def test_seal_for_another_slot_than_the_timestamp_is_refused():
    signers = make_signers(4)
    core = make_core(signers, None)
    header, s = sealed_block(core, signers, GENESIS, 5)
    with pytest.raises(WrongSlot, match="slot 6, header timestamp is in slot 5"):
        core.validate_header(header, GENESIS, dataclasses.replace(s, round=6))


def test_header_in_a_slot_not_after_its_parent_is_refused():
    signers = make_signers(4)
    core = make_core(signers, None)
    parent, s = sealed_block(core, signers, GENESIS, 5)
    same_slot = make_header(parent, 5)
    with pytest.raises(WrongSlot, match="not after the parent's slot 5"):
        core.validate_header(same_slot, parent, seal(core, same_slot, signers[1]))


def test_bad_signature_is_refused():
    signers = make_signers(4)
    core = make_core(signers, None)
    header, s = sealed_block(core, signers, GENESIS, 5)
    author, sig = s.signatures[0]
    flipped = sig[:10] + bytes([sig[10] ^ 1]) + sig[11:]
    with pytest.raises(InvalidSeal, match="not signed by|bad seal signature"):
        core.validate_header(header, GENESIS, dataclasses.replace(s, signatures=((author, flipped),)))


def test_seal_of_another_header_is_refused():
    signers = make_signers(4)
    core = make_core(signers, None)
    header, _ = sealed_block(core, signers, GENESIS, 5)
    other, other_seal = sealed_block(core, signers, GENESIS, 5, tag=b"other")
    with pytest.raises(InvalidSeal, match="not signed by"):
        core.validate_header(header, GENESIS, other_seal)


def test_missing_seal_foreign_engine_and_foreign_set_are_refused():
    signers = make_signers(4)
    core = make_core(signers, None)
    header, s = sealed_block(core, signers, GENESIS, 5)
    with pytest.raises(InvalidSeal, match="needs a seal"):
        core.validate_header(header, GENESIS, None)
    with pytest.raises(InvalidSeal, match="engine 'bft'"):
        core.validate_header(header, GENESIS, dataclasses.replace(s, engine="bft"))
    with pytest.raises(InvalidSeal, match="another validator set"):
        core.validate_header(header, GENESIS, dataclasses.replace(s, validator_set_hash=b"\x01" * 32))


def test_header_not_following_its_parent_is_refused():
    signers = make_signers(4)
    core = make_core(signers, None)
    a, sa = sealed_block(core, signers, GENESIS, 1)
    b, sb = sealed_block(core, signers, a, 2)
    with pytest.raises(InvalidSeal, match="parent"):
        core.validate_header(b, GENESIS, sb)


def test_a_refused_block_leaves_the_core_untouched():
    signers = make_signers(4)
    core = make_core(signers, 0)
    header = make_header(GENESIS, 5)
    with pytest.raises(WrongAuthor):
        core.handle(BlockImported(header, seal(core, header, signers[0])))
    assert core.get_header(header.hash) is None and core.sign_state == PoaSignState()


# --- fork choice -----------------------------------------------------------------------


def test_fork_choice_takes_the_longest_chain():
    a1 = make_header(GENESIS, 1)
    a2 = make_header(a1, 2)
    b1 = make_header(GENESIS, 3)
    headers = {h.hash: h for h in (GENESIS, a1, a2, b1)}
    assert choose_head(headers.values(), GENESIS, headers=headers) == a2


def test_fork_choice_never_leaves_the_finalized_head():
    a1 = make_header(GENESIS, 1)
    b1 = make_header(GENESIS, 2)
    b2 = make_header(b1, 3)
    b3 = make_header(b2, 4)
    headers = {h.hash: h for h in (GENESIS, a1, b1, b2, b3)}
    assert choose_head(headers.values(), GENESIS, headers=headers) == b3
    assert choose_head(headers.values(), a1, headers=headers) == a1  # the longer fork lacks a1


def test_fork_choice_breaks_ties_by_the_lower_hash():
    a1 = make_header(GENESIS, 1, b"a")
    b1 = make_header(GENESIS, 2, b"b")
    headers = {h.hash: h for h in (GENESIS, a1, b1)}
    expected = min(a1, b1, key=lambda h: h.hash)
    assert choose_head(headers.values(), GENESIS, headers=headers) == expected
    assert choose_head(reversed(list(headers.values())), GENESIS, headers=headers) == expected


def test_the_core_refuses_a_longer_fork_that_skips_the_finalized_block():
    net = Network(4)
    net.run_slots(1, 3)
    core = net.cores[0]
    assert core.finalized_number == 3
    head = core.get_head()
    fork_parent = GENESIS
    header, s = sealed_block(core, net.signers, fork_parent, 10, b"fork")
    with pytest.raises(ConsensusError, match="below the finalized head"):
        core.handle(BlockImported(header, s))
    assert core.get_head() == head


# --- finality --------------------------------------------------------------------------


def _finality_after(n: int, voters: int) -> list:
    signers = make_signers(n)
    core = make_core(signers, None)
    header, s = sealed_block(core, signers, GENESIS, 1)
    core.handle(BlockImported(header, s))
    effects = []
    for signer in signers[:voters]:
        effects += core.handle(FinalityVoteReceived(vote(signer, header)))
    return of_type(effects, Finalized)


@pytest.mark.parametrize("n, final_at", [(3, 3), (4, 3), (6, 5), (7, 5), (10, 7)])
def test_a_block_is_final_with_more_than_two_thirds_of_the_votes(n, final_at):
    assert _finality_after(n, final_at - 1) == []
    (finalized,) = _finality_after(n, final_at)
    assert finalized.number == 1 and len(finalized.votes) == final_at


def test_exactly_two_thirds_is_not_final():
    assert _finality_after(3, 2) == []
    assert _finality_after(6, 4) == []


def test_votes_before_the_block_count_when_it_arrives():
    signers = make_signers(4)
    core = make_core(signers, None)
    header, s = sealed_block(core, signers, GENESIS, 1)
    for signer in signers[:3]:
        assert core.handle(FinalityVoteReceived(vote(signer, header))) == []
    (finalized,) = of_type(core.handle(BlockImported(header, s)), Finalized)
    assert finalized.block_hash == header.hash
    assert core.is_final(1) and not core.is_final(2)
    assert [v.validator for v in finalized.votes] == sorted(v.validator for v in finalized.votes)


def test_finality_of_a_block_finalizes_its_ancestors():
    signers = make_signers(4)
    core = make_core(signers, None)
    a, sa = sealed_block(core, signers, GENESIS, 1)
    b, sb = sealed_block(core, signers, a, 2)
    core.handle(BlockImported(a, sa))
    core.handle(BlockImported(b, sb))
    for signer in signers[:3]:
        core.handle(FinalityVoteReceived(vote(signer, b)))
    assert core.is_final(1) and core.is_final(2) and core.finalized_hash == b.hash


def test_bad_finality_votes_are_dropped_with_a_reason():
    signers = make_signers(4)
    core = make_core(signers, None)
    header, s = sealed_block(core, signers, GENESIS, 1)
    outsider = Signer(keccak256(b"outsider"))
    with pytest.raises(UnknownValidator):
        core.handle(FinalityVoteReceived(vote(outsider, header)))
    forged = dataclasses.replace(vote(signers[0], header), validator=signers[1].address)
    with pytest.raises(ConsensusError, match="not signed by"):
        core.handle(FinalityVoteReceived(forged))
    far = FinalityVote(5000, header.hash, signers[0].address).sign(signers[0], CHAIN_ID)
    with pytest.raises(ConsensusError, match="above the finalized"):
        core.handle(FinalityVoteReceived(far))


def test_four_authorities_produce_and_finalize_the_same_chain():
    net = Network(4)
    net.run_slots(1, 12)
    heads = {core.get_head().hash for core in net.cores}
    assert len(heads) == 1
    for finalized in net.finalized:
        assert finalized[-1].number == 12
        assert [f.number for f in finalized] == list(range(1, 13))
    assert all(core.is_final(12) for core in net.cores)


def test_a_single_authority_finalizes_each_block_it_seals():
    signers = make_signers(1)
    core = make_core(signers, 0)
    (propose,) = core.handle(Tick(3 * SLOT_S * 1000))
    effects = core.handle(BlockReady(make_header(GENESIS, propose.slot)))
    assert [type(e) for e in effects] == [PersistSignState, Sealed]
    sealed = effects[1]
    effects = core.handle(BlockImported(sealed.header, sealed.seal))
    assert [type(e) for e in effects] == [PersistSignState, Broadcast, Finalized]
    assert core.is_final(1)


# --- never sign twice ------------------------------------------------------------------


def test_sealing_persists_the_slot_before_the_sealed_block():
    signers = make_signers(4)
    core = make_core(signers, 1)
    core.handle(Tick(1 * SLOT_S * 1000))
    effects = core.handle(BlockReady(make_header(GENESIS, 1)))
    ensure_persisted_first(effects)
    assert effects[0] == PersistSignState(PoaSignState(last_sealed_slot=1))


def test_a_slot_is_sealed_once():
    signers = make_signers(4)
    core = make_core(signers, 1)
    core.handle(Tick(1 * SLOT_S * 1000))
    assert of_type(core.handle(BlockReady(make_header(GENESIS, 1))), Sealed)
    assert core.handle(BlockReady(make_header(GENESIS, 1, b"again"))) == []


def test_a_restored_sign_state_refuses_to_reseal_a_slot():
    signers = make_signers(4)
    core = make_core(signers, 1)
    core.handle(Tick(1 * SLOT_S * 1000))
    persisted = core.encode_sign_state(core.handle(BlockReady(make_header(GENESIS, 1)))[0].state)
    restarted = make_core(signers, 1, sign_state=PoaCore.decode_sign_state(persisted))
    assert restarted.handle(Tick(1 * SLOT_S * 1000 + 10)) == []  # no ProposeBlock for a sealed slot
    assert restarted.handle(BlockReady(make_header(GENESIS, 1, b"after restart"))) == []
    assert of_type(restarted.handle(Tick(5 * SLOT_S * 1000)), ProposeBlock)  # its next slot is fine


def test_a_restored_sign_state_refuses_to_revote_a_number():
    signers = make_signers(4)
    core = make_core(signers, 0)
    a, sa = sealed_block(core, signers, GENESIS, 1, b"a")
    effects = core.handle(BlockImported(a, sa))
    ensure_persisted_first(effects)
    (persist,) = of_type(effects, PersistSignState)
    assert (persist.state.last_vote_number, persist.state.last_vote_hash) == (1, a.hash)
    restarted = make_core(signers, 0, sign_state=PoaSignState.decode(core.encode_sign_state(persist.state)))
    b, sb = sealed_block(restarted, signers, GENESIS, 2, b"b")
    assert restarted.handle(BlockImported(b, sb)) == []  # another block at number 1: no vote
    c, sc = sealed_block(restarted, signers, b, 3)
    assert restarted.handle(BlockImported(c, sc)) == []  # it does not extend the last vote either


def test_votes_follow_the_last_vote_and_unlock_when_a_conflicting_block_is_final():
    signers = make_signers(4)
    core = make_core(signers, 0)
    a, sa = sealed_block(core, signers, GENESIS, 1, b"a")
    core.handle(BlockImported(a, sa))  # votes for a at 1
    b, sb = sealed_block(core, signers, GENESIS, 2, b"b")
    b2, sb2 = sealed_block(core, signers, b, 3)
    b3, sb3 = sealed_block(core, signers, b2, 4)
    core.handle(BlockImported(b, sb))
    assert core.handle(BlockImported(b2, sb2)) == []  # the longer fork does not extend our vote
    effects = []
    for signer in signers[1:]:
        effects += core.handle(FinalityVoteReceived(vote(signer, b2)))
    assert of_type(effects, Finalized)[0].block_hash == b2.hash
    effects = core.handle(BlockImported(b3, sb3))
    (v,) = [e.message for e in of_type(effects, Broadcast)]
    assert (v.number, v.block_hash) == (3, b3.hash)


def test_malformed_sign_state_is_refused():
    with pytest.raises(ConsensusError):
        PoaSignState.decode(b"\x01\x02")


# --- evidence --------------------------------------------------------------------------


def test_two_headers_sealed_by_one_author_in_one_slot_become_evidence():
    signers = make_signers(4)
    core = make_core(signers, None)
    a, sa = sealed_block(core, signers, GENESIS, 1, b"a")
    b, sb = sealed_block(core, signers, GENESIS, 1, b"b")
    assert core.handle(BlockImported(a, sa)) == []
    (report,) = of_type(core.handle(BlockImported(b, sb)), ReportEvidence)
    evidence = report.evidence
    assert isinstance(evidence, DoubleSeal) and evidence.validator == signers[1].address
    evidence.validate(CHAIN_ID, core.validators)
    decoded = DoubleSeal.decode(evidence.encode())
    assert decoded == evidence and decoded.verify(CHAIN_ID, core.validators)
    assert not evidence.verify(CHAIN_ID + 1)  # signed for another chain
    with pytest.raises(InvalidEvidence, match="do not conflict"):
        DoubleSeal.from_seals(evidence.seal_a, evidence.seal_a).validate(CHAIN_ID)
    assert of_type(core.handle(BlockImported(b, sb)), ReportEvidence) == []  # reported once


def test_two_finality_votes_at_one_number_become_evidence():
    signers = make_signers(4)
    core = make_core(signers, None)
    a, _ = sealed_block(core, signers, GENESIS, 1, b"a")
    b, _ = sealed_block(core, signers, GENESIS, 2, b"b")
    core.handle(FinalityVoteReceived(vote(signers[3], a)))
    (report,) = of_type(core.handle(FinalityVoteReceived(vote(signers[3], b))), ReportEvidence)
    evidence = report.evidence
    assert isinstance(evidence, DoubleFinalityVote) and evidence.height == 1
    evidence.validate(CHAIN_ID, core.validators)
    assert DoubleFinalityVote.decode(evidence.encode()) == evidence
    assert DoubleFinalityVote.from_votes(vote(signers[3], b), vote(signers[3], a)) == evidence  # canonical
    tampered = DoubleFinalityVote(evidence.vote_a, dataclasses.replace(evidence.vote_b, signature=evidence.vote_a.signature))
    assert not tampered.verify(CHAIN_ID)
    outsider = Signer(keccak256(b"outsider"))
    assert not DoubleFinalityVote.from_votes(vote(outsider, a), vote(outsider, b)).verify(CHAIN_ID, core.validators)
