"""PoA (Aura + Casper-FFG finality votes): slots, seals, fork choice, justification, finality,
honest voting and its sign state, evidence, and finality proofs checked without the core."""
from __future__ import annotations

import dataclasses

import pytest

from consensus.engine import BlockImported, Broadcast, Finalized, InvalidSeal, PersistSignState, ReportEvidence, Tick
from consensus.errors import ConsensusError, InvalidEvidence, MalformedMessage, OversizedMessage, UnknownValidator
from consensus.keys import Signer
from consensus.poa.finality import MAX_PROOF_LINKS
from consensus.poa import (
    BlockReady,
    DoubleFinalityVote,
    DoubleSeal,
    FinalityVote,
    FinalityVoteReceived,
    InvalidFinalityProof,
    JustificationReceived,
    PoaCore,
    PoaSignState,
    ProposeBlock,
    Sealed,
    Start,
    SurroundVote,
    WrongAuthor,
    WrongSlot,
    choose_head,
    compute_slot,
    compute_slot_author,
    decode_justification,
    encode_justification,
    validate_finality_proof,
)
from poa_harness import (
    CHAIN_ID,
    GENESIS,
    SLOT_S,
    Network,
    ensure_persisted_first,
    feed_votes,
    import_chain,
    make_core,
    make_header,
    make_signers,
    of_type,
    seal,
    sealed_block,
    vote,
    votes,
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


def test_fork_choice_never_leaves_the_justified_block():
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


def test_the_core_follows_the_highest_justified_block_not_the_longest_chain():
    signers = make_signers(4)
    core = make_core(signers, None)
    a1, a2, a3 = import_chain(core, signers, GENESIS, [1, 2, 3], b"a")
    (b1,) = import_chain(core, signers, GENESIS, [5], b"b")
    assert core.get_head() == a3
    feed_votes(core, signers[:3], GENESIS, b1)
    assert core.is_justified(b1.hash) and core.get_justified() == b1
    assert core.get_head() == b1  # the longer chain does not contain the highest justified block
    (b2,) = import_chain(core, signers, b1, [6], b"b")
    assert core.get_head() == b2
    feed_votes(core, signers[:3], GENESIS, a2)  # a higher justified block moves the head back
    assert core.get_justified() == a2 and core.get_head() == a3


def test_blocks_are_authored_on_the_fork_choice_head():
    signers = make_signers(4)
    core = make_core(signers, 3)
    import_chain(core, signers, GENESIS, [1, 2], b"a")
    (b1,) = import_chain(core, signers, GENESIS, [5], b"b")
    feed_votes(core, signers[:3], GENESIS, b1)
    (propose,) = of_type(core.handle(Tick(7 * SLOT_S * 1000)), ProposeBlock)
    assert (propose.parent_hash, propose.number) == (b1.hash, 2)


def test_the_core_refuses_a_longer_fork_that_skips_the_finalized_block():
    net = Network(4)
    net.run_slots(1, 3)
    core = net.cores[0]
    assert core.finalized_number == 2  # block 3's link finalized block 2
    head = core.get_head()
    header, s = sealed_block(core, net.signers, GENESIS, 10, b"fork")
    with pytest.raises(ConsensusError, match="below the finalized root"):
        core.handle(BlockImported(header, s))
    assert core.get_head() == head


# --- justification and finality --------------------------------------------------------


@pytest.mark.parametrize("n, quorum", [(3, 3), (4, 3), (6, 5), (7, 5), (10, 7)])
def test_a_block_is_justified_by_more_than_two_thirds_on_one_link(n, quorum):
    signers = make_signers(n)
    core = make_core(signers, None)
    (a1,) = import_chain(core, signers, GENESIS, [1])
    assert of_type(feed_votes(core, signers[:quorum - 1], GENESIS, a1), Finalized) == []
    assert not core.is_justified(a1.hash)
    feed_votes(core, signers[quorum - 1:quorum], GENESIS, a1)
    assert core.is_justified(a1.hash) and not core.is_final(1)


def test_exactly_two_thirds_does_not_justify():
    for n, votes_ in ((3, 2), (6, 4)):
        signers = make_signers(n)
        core = make_core(signers, None)
        (a1,) = import_chain(core, signers, GENESIS, [1])
        feed_votes(core, signers[:votes_], GENESIS, a1)
        assert not core.is_justified(a1.hash)


def test_votes_on_different_links_to_one_block_do_not_add_up():
    signers = make_signers(4)
    core = make_core(signers, None)
    a1, a2 = import_chain(core, signers, GENESIS, [1, 2])
    feed_votes(core, signers[:2], GENESIS, a2)
    feed_votes(core, signers[2:3], a1, a2)
    assert not core.is_justified(a2.hash)


def test_a_link_to_a_child_finalizes_its_justified_source():
    signers = make_signers(4)
    core = make_core(signers, None)
    a1, a2 = import_chain(core, signers, GENESIS, [1, 2])
    feed_votes(core, signers[:3], GENESIS, a1)
    (finalized,) = of_type(feed_votes(core, signers[1:], a1, a2), Finalized)
    assert (finalized.number, finalized.block_hash) == (1, a1.hash)
    assert core.is_final(1) and not core.is_final(2) and core.is_justified(a2.hash)
    # The proof: the link that justified a1 from the root, then the finalizing link, by validator.
    assert [v.link for v in finalized.votes] == [(0, GENESIS.hash, 1, a1.hash)] * 3 + [(1, a1.hash, 2, a2.hash)] * 3
    headers = {h.hash: h for h in (GENESIS, a1, a2)}
    validate_finality_proof(chain_id=CHAIN_ID, validators=core.validators, root_number=0, root_hash=GENESIS.hash,
                            finalized_number=1, finalized_hash=a1.hash, votes=finalized.votes, get_header=headers.get)


def test_a_link_to_a_block_that_is_not_a_child_does_not_finalize():
    signers = make_signers(4)
    core = make_core(signers, None)
    a1, a2, a3, a4 = import_chain(core, signers, GENESIS, [1, 2, 3, 4])
    feed_votes(core, signers[:3], GENESIS, a1)
    assert of_type(feed_votes(core, signers[:3], a1, a3), Finalized) == []
    assert core.is_justified(a3.hash) and not core.is_final(1)
    (finalized,) = of_type(feed_votes(core, signers[:3], a3, a4), Finalized)
    assert finalized.number == 3 and core.is_final(1) and core.is_final(2)  # ancestors come along
    assert [v.link[2] for v in finalized.votes] == [1, 1, 1, 3, 3, 3, 4, 4, 4]


def test_a_finalizing_link_counts_once_its_source_is_justified():
    signers = make_signers(4)
    core = make_core(signers, None)
    a1, a2 = import_chain(core, signers, GENESIS, [1, 2])
    assert feed_votes(core, signers[:3], a1, a2) == []  # a1 is not justified yet
    (finalized,) = of_type(feed_votes(core, signers[:3], GENESIS, a1), Finalized)
    assert finalized.block_hash == a1.hash and core.is_justified(a2.hash)


def test_votes_before_the_block_count_when_it_arrives():
    signers = make_signers(4)
    core = make_core(signers, None)
    a1, s1 = sealed_block(core, signers, GENESIS, 1)
    a2, s2 = sealed_block(core, signers, a1, 2)
    assert feed_votes(core, signers[:3], GENESIS, a1) == []
    assert feed_votes(core, signers[:3], a1, a2) == []
    assert core.handle(BlockImported(a1, s1)) == []
    assert core.is_justified(a1.hash)
    (finalized,) = of_type(core.handle(BlockImported(a2, s2)), Finalized)
    assert finalized.block_hash == a1.hash


def test_a_link_from_below_the_root_counts_for_a_block_above_it():
    # A peer's proof may start below our root (it finalized in other steps, or we restarted).
    signers = make_signers(4)
    observer = make_core(signers, None)
    a1, a2, a3 = import_chain(observer, signers, GENESIS, [1, 2, 3])
    core = PoaCore(chain_id=CHAIN_ID, authorities=[s.address for s in signers], slot_duration=SLOT_S)
    core.handle(Start(a1))
    for header in (a2, a3):
        core.handle(BlockImported(header, observer._seals[header.hash]))
    feed_votes(core, signers[:3], GENESIS, a2)
    assert core.is_justified(a2.hash)
    (finalized,) = of_type(feed_votes(core, signers[:3], a2, a3), Finalized)
    assert finalized.block_hash == a2.hash


def test_bad_finality_votes_are_dropped_with_a_reason():
    signers = make_signers(4)
    core = make_core(signers, None)
    a1, a2 = import_chain(core, signers, GENESIS, [1, 2])
    (b1,) = import_chain(core, signers, GENESIS, [3], b"b")
    outsider = Signer(keccak256(b"outsider"))
    with pytest.raises(UnknownValidator):
        core.handle(FinalityVoteReceived(vote(outsider, GENESIS, a1)))
    forged = dataclasses.replace(vote(signers[0], GENESIS, a1), validator=signers[1].address)
    with pytest.raises(ConsensusError, match="not signed by"):
        core.handle(FinalityVoteReceived(forged))
    far = FinalityVote(0, GENESIS.hash, 5000, a1.hash, signers[0].address).sign(signers[0], CHAIN_ID)
    with pytest.raises(ConsensusError, match="above the finalized"):
        core.handle(FinalityVoteReceived(far))
    backwards = FinalityVote(2, a2.hash, 1, a1.hash, signers[0].address).sign(signers[0], CHAIN_ID)
    with pytest.raises(MalformedMessage, match="not above source"):
        core.handle(FinalityVoteReceived(backwards))
    misnumbered = FinalityVote(0, GENESIS.hash, 3, a2.hash, signers[0].address).sign(signers[0], CHAIN_ID)
    with pytest.raises(MalformedMessage, match="names block 2 as number 3"):
        core.handle(FinalityVoteReceived(misnumbered))
    with pytest.raises(ConsensusError, match="not an ancestor"):
        core.handle(FinalityVoteReceived(vote(signers[0], b1, a2)))
    with pytest.raises(ConsensusError):
        core.handle(FinalityVoteReceived(dataclasses.replace(vote(signers[0], GENESIS, a1), source_hash=b"\x01")))
    assert core.get_link_votes((0, GENESIS.hash, 1, a1.hash)) == ()  # none of them counted


@pytest.mark.parametrize("field, value", [
    ("source_number", -1), ("source_number", "1"), ("source_number", True), ("source_number", 2**64),
    ("target_number", None), ("target_number", 0), ("source_hash", b"short"), ("source_hash", [1]),
    ("target_hash", "00" * 32), ("validator", b"\x00" * 19), ("validator", None), ("signature", b""),
    ("signature", b"\x01" * 65),
])
def test_malformed_votes_are_refused_with_a_reason_alone_or_in_a_justification(field, value):
    signers = make_signers(4)
    core = make_core(signers, None)
    (a1,) = import_chain(core, signers, GENESIS, [1])
    bad = dataclasses.replace(vote(signers[0], GENESIS, a1), **{field: value})
    with pytest.raises(ConsensusError):
        core.handle(FinalityVoteReceived(bad))
    with pytest.raises(ConsensusError):
        core.handle(JustificationReceived((vote(signers[1], GENESIS, a1), bad)))
    assert core.get_link_votes((0, GENESIS.hash, 1, a1.hash)) == ()  # a refused justification leaves no vote
    with pytest.raises(ConsensusError):
        core.handle(FinalityVoteReceived("not a vote"))  # type: ignore[arg-type]
    with pytest.raises(ConsensusError):
        core.handle(JustificationReceived([vote(signers[1], GENESIS, a1)]))  # type: ignore[arg-type]


def test_vote_encoding_round_trips_and_bad_bytes_are_refused():
    signers = make_signers(4)
    a1 = make_header(GENESIS, 1)
    v = vote(signers[0], GENESIS, a1)
    assert FinalityVote.decode(v.encode()) == v
    with pytest.raises(MalformedMessage):
        FinalityVote.decode(b"\x01\x02\x03")
    with pytest.raises(MalformedMessage):
        FinalityVote.decode(v.encode()[:-1])
    with pytest.raises(OversizedMessage):
        FinalityVote.decode(b"\xc0" * 300)
    # The kind and the chain id are signed: a vote does not verify on another chain.
    assert v.recover_signer(CHAIN_ID + 1) != signers[0].address


def test_four_authorities_produce_and_finalize_the_same_chain():
    net = Network(4)
    net.run_slots(1, 12)
    heads = {core.get_head().hash for core in net.cores}
    assert len(heads) == 1
    for finalized in net.finalized:  # the harness checks every proof with validate_finality_proof
        assert [f.number for f in finalized] == list(range(1, 12))  # block 12 waits for its child's link
    assert all(core.is_final(11) and not core.is_final(12) for core in net.cores)


def test_a_single_authority_finalizes_each_block_when_its_child_comes():
    signers = make_signers(1)
    core = make_core(signers, 0)
    finalized = []
    for slot in (3, 4, 5):
        (propose,) = core.handle(Tick(slot * SLOT_S * 1000))
        effects = core.handle(BlockReady(make_header(core.get_header(propose.parent_hash), propose.slot)))
        assert [type(e) for e in effects] == [PersistSignState, Sealed]
        sealed = effects[1]
        effects = core.handle(BlockImported(sealed.header, sealed.seal))
        assert [type(e) for e in effects][:2] == [PersistSignState, Broadcast]
        finalized += of_type(effects, Finalized)
    assert [f.number for f in finalized] == [1, 2] and core.is_final(2) and not core.is_final(3)


# --- honest voting ---------------------------------------------------------------------


def test_an_authority_votes_from_the_highest_justified_block_to_the_head():
    signers = make_signers(4)
    core = make_core(signers, 0)
    a1, s1 = sealed_block(core, signers, GENESIS, 1)
    effects = core.handle(BlockImported(a1, s1))
    ensure_persisted_first(effects)
    (v1,) = [e.message for e in of_type(effects, Broadcast)]
    assert v1.link == (0, GENESIS.hash, 1, a1.hash) and v1.validator == signers[0].address
    feed_votes(core, signers[1:3], GENESIS, a1)
    assert core.is_justified(a1.hash)
    a2, s2 = sealed_block(core, signers, a1, 2)
    effects = core.handle(BlockImported(a2, s2))
    (v2,) = [e.message for e in of_type(effects, Broadcast)]
    assert v2.link == (1, a1.hash, 2, a2.hash)
    assert core.sign_state == PoaSignState(-1, 2, a2.hash, 1)


def test_votes_split_at_one_number_move_on_to_the_next_and_finalize():
    # The known limit of the old extension rule: 2-2 at one number stalled finality for good.
    signers = make_signers(4)
    core = make_core(signers, 0)
    (a1,) = import_chain(core, signers, GENESIS, [1], b"a")  # we vote 0 -> a1
    b1, s1 = sealed_block(core, signers, GENESIS, 2, b"b")
    assert of_type(core.handle(BlockImported(b1, s1)), Broadcast) == []  # target 1 is spent
    feed_votes(core, signers[1:2], GENESIS, a1)
    feed_votes(core, signers[2:], GENESIS, b1)
    assert not core.is_justified(a1.hash) and not core.is_justified(b1.hash)  # 2-2
    b2, s2 = sealed_block(core, signers, b1, 3, b"b")
    (v,) = [e.message for e in of_type(core.handle(BlockImported(b2, s2)), Broadcast)]
    assert v.link == (0, GENESIS.hash, 2, b2.hash)  # again, at a higher target, from the same source
    feed_votes(core, signers[1:3], GENESIS, b2)
    assert core.is_justified(b2.hash)
    b3, s3 = sealed_block(core, signers, b2, 4, b"b")
    (v,) = [e.message for e in of_type(core.handle(BlockImported(b3, s3)), Broadcast)]
    assert v.link == (2, b2.hash, 3, b3.hash)
    (finalized,) = of_type(feed_votes(core, signers[1:3], b2, b3), Finalized)
    assert finalized.block_hash == b2.hash and core.finalized_number == 2 and core.get_header(a1.hash) is None


def test_an_authority_never_votes_twice_at_one_target_number():
    signers = make_signers(4)
    core = make_core(signers, 0)
    (a1,) = import_chain(core, signers, GENESIS, [1], b"a")
    b1, sb = sealed_block(core, signers, GENESIS, 2, b"b")
    feed_votes(core, signers[1:], GENESIS, b1)  # b1 justified before we even have it
    effects = core.handle(BlockImported(b1, sb))
    assert core.get_head() == b1 and of_type(effects, Broadcast) == []  # target 1 is spent
    (b2,) = import_chain(core, signers, b1, [3], b"b")
    assert core.sign_state.last_target_number == 2 and core.sign_state.last_source_number == 1


def test_a_restarted_authority_refuses_to_revote_a_target_number():
    signers = make_signers(4)
    core = make_core(signers, 0)
    a1, sa = sealed_block(core, signers, GENESIS, 1, b"a")
    effects = core.handle(BlockImported(a1, sa))
    (persist,) = of_type(effects, PersistSignState)
    assert (persist.state.last_target_number, persist.state.last_target_hash) == (1, a1.hash)
    restarted = make_core(signers, 0, sign_state=PoaSignState.decode(core.encode_sign_state(persist.state)))
    b1, sb = sealed_block(restarted, signers, GENESIS, 2, b"b")
    assert restarted.handle(BlockImported(b1, sb)) == []  # another block at number 1: no vote
    b2, sb2 = sealed_block(restarted, signers, b1, 3)
    (v,) = [e.message for e in of_type(restarted.handle(BlockImported(b2, sb2)), Broadcast)]
    assert v.link == (0, GENESIS.hash, 2, b2.hash)  # a higher target on another fork is fine


def test_a_restarted_authority_waits_for_justification_rather_than_surround_its_vote():
    signers = make_signers(4)
    core = make_core(signers, 0)
    a1, a2, a3 = import_chain(core, signers, GENESIS, [1, 2, 3])  # it voted 0 -> 1, 0 -> 2, 0 -> 3
    feed_votes(core, signers[1:], GENESIS, a1)
    feed_votes(core, signers[1:], a1, a2)
    assert core.finalized_number == 1 and core.get_justified() == a2
    a4, s4 = sealed_block(core, signers, a3, 4)
    (v,) = [e.message for e in of_type(core.handle(BlockImported(a4, s4)), Broadcast)]
    assert v.link == (2, a2.hash, 4, a4.hash)
    persisted = core.encode_sign_state(core.sign_state)
    # Restart from the finalized block 1: it knows nothing justified above it.
    restarted = PoaCore(chain_id=CHAIN_ID, authorities=[s.address for s in signers], slot_duration=SLOT_S,
                        signer=signers[0], sign_state=PoaCore.decode_sign_state(persisted))
    restarted.handle(Start(a1))
    for header in (a2, a3, a4):
        assert restarted.handle(BlockImported(header, core._seals[header.hash])) == []
    a5, s5 = sealed_block(restarted, signers, a4, 5)
    # 1 -> 5 would surround its own 2 -> 4: it waits.
    assert restarted.handle(BlockImported(a5, s5)) == []
    # Peers' votes show a2 justified (a link from below the root counts): now it may vote 2 -> 5.
    effects = []
    for v_ in votes(signers[1:3], GENESIS, a2) + [vote(signers[3], GENESIS, a2)]:
        effects += restarted.handle(FinalityVoteReceived(v_))
    (v,) = [e.message for e in of_type(effects, Broadcast)]
    assert v.link == (2, a2.hash, 5, a5.hash)
    ensure_persisted_first(effects)


def test_a_restarted_authority_resumes_from_its_finalized_blocks_stored_proof():
    # A single authority crashed after persisting its vote 2 -> 3 (which finalized block 2)
    # but before storing that finality: it restarts from block 1 with last source 2.
    signers = make_signers(1)
    core = make_core(signers, 0)
    chain, proofs = [], {}
    for slot in (1, 2, 3):
        header, s_ = sealed_block(core, signers, chain[-1][0] if chain else GENESIS, slot)
        proofs.update({f.number: f.votes for f in of_type(core.handle(BlockImported(header, s_)), Finalized)})
        chain.append((header, s_))
    assert sorted(proofs) == [1, 2] and core.sign_state.last_source_number == 2
    restarted = PoaCore(chain_id=CHAIN_ID, authorities=[signers[0].address], slot_duration=SLOT_S,
                        signer=signers[0], sign_state=core.sign_state)
    restarted.handle(Start(chain[0][0]))
    for header, s_ in chain[1:]:
        restarted.handle(BlockImported(header, s_))
    a4, s4 = sealed_block(restarted, signers, chain[-1][0], 4)
    assert restarted.handle(BlockImported(a4, s4)) == []  # 1 -> 4 would surround 2 -> 3
    stored = decode_justification(encode_justification(proofs[1]), authorities=1)  # as the driver keeps it
    effects = restarted.handle(JustificationReceived(stored))  # ends with the link 1 -> 2
    (v,) = [e.message for e in of_type(effects, Broadcast)]
    assert v.link == (2, chain[1][0].hash, 4, a4.hash)
    assert [f.number for f in of_type(effects, Finalized)] == []  # 2 -> 4 is no child link
    with pytest.raises(MalformedMessage):
        decode_justification(b"\x01\x02", authorities=1)


def test_a_justification_is_taken_whole_even_with_an_equivocators_other_vote():
    # A node that holds an equivocator's vote for one fork still follows a peer's proof that
    # counts the equivocator's vote for the other fork.
    signers = make_signers(4)
    core = make_core(signers, None)
    (a1,) = import_chain(core, signers, GENESIS, [1], b"a")
    b1, b2 = import_chain(core, signers, GENESIS, [2, 3], b"b")
    core.handle(FinalityVoteReceived(vote(signers[0], GENESIS, a1)))  # the equivocator, first
    proof = votes(signers[:3], GENESIS, b1) + votes(signers[:3], b1, b2)
    for v_ in proof[1:3] + proof[4:]:  # the honest ones arrive one by one: 2 of 3 is not enough
        core.handle(FinalityVoteReceived(v_))
    (report,) = of_type(core.handle(FinalityVoteReceived(proof[0])), ReportEvidence)  # a double vote:
    assert isinstance(report.evidence, DoubleFinalityVote) and not core.is_justified(b1.hash)  # not counted
    effects = core.handle(JustificationReceived(tuple(proof)))
    assert [f.block_hash for f in of_type(effects, Finalized)] == [b1.hash]
    assert of_type(effects, ReportEvidence) == []  # reported once
    with pytest.raises(ConsensusError, match="not signed by"):
        core.handle(JustificationReceived((dataclasses.replace(proof[3], validator=signers[3].address),)))
    with pytest.raises(ConsensusError, match="at most"):
        core.handle(JustificationReceived(tuple(proof) * 1000))


def test_sign_state_round_trips_and_reads_the_pre_ffg_format():
    state = PoaSignState(4, 9, b"\x02" * 32, 7)
    assert PoaSignState.decode(state.encode()) == state
    assert PoaSignState.decode(PoaSignState().encode()) == PoaSignState()
    import rlp
    old = rlp.encode([5, 8, b"\x03" * 32])  # last sealed slot 4, last voted number 7
    assert PoaSignState.decode(old) == PoaSignState(4, 7, b"\x03" * 32, -1)


# --- never sign twice: seals -----------------------------------------------------------


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


def test_two_links_with_one_target_number_become_evidence_and_only_the_first_counts():
    signers = make_signers(4)
    core = make_core(signers, None)
    (a1,) = import_chain(core, signers, GENESIS, [1], b"a")
    (b1,) = import_chain(core, signers, GENESIS, [2], b"b")
    core.handle(FinalityVoteReceived(vote(signers[3], GENESIS, a1)))
    (report,) = of_type(core.handle(FinalityVoteReceived(vote(signers[3], GENESIS, b1))), ReportEvidence)
    evidence = report.evidence
    assert isinstance(evidence, DoubleFinalityVote) and evidence.height == 1
    assert evidence.validator == signers[3].address
    evidence.validate(CHAIN_ID, core.validators)
    assert DoubleFinalityVote.decode(evidence.encode()) == evidence
    assert DoubleFinalityVote.from_votes(vote(signers[3], GENESIS, b1), vote(signers[3], GENESIS, a1)) == evidence
    assert core.get_link_votes((0, GENESIS.hash, 1, b1.hash)) == ()  # the first vote counts
    assert not evidence.verify(CHAIN_ID + 1)
    tampered = DoubleFinalityVote(evidence.vote_a,
                                  dataclasses.replace(evidence.vote_b, signature=evidence.vote_a.signature))
    assert not tampered.verify(CHAIN_ID)
    same = vote(signers[3], GENESIS, a1)
    with pytest.raises(InvalidEvidence, match="do not conflict"):
        DoubleFinalityVote.from_votes(same, same).validate(CHAIN_ID)
    with pytest.raises(InvalidEvidence, match="canonical"):
        DoubleFinalityVote(evidence.vote_b, evidence.vote_a).validate(CHAIN_ID)
    outsider = Signer(keccak256(b"outsider"))
    assert not DoubleFinalityVote.from_votes(vote(outsider, GENESIS, a1),
                                             vote(outsider, GENESIS, b1)).verify(CHAIN_ID, core.validators)
    two_voters = DoubleFinalityVote.from_votes(vote(signers[0], GENESIS, a1), vote(signers[1], GENESIS, b1))
    assert not two_voters.verify(CHAIN_ID)


@pytest.mark.parametrize("outer_first", [True, False])
def test_a_link_surrounding_another_becomes_evidence(outer_first):
    signers = make_signers(4)
    core = make_core(signers, None)
    a1, a2, a3, a4 = import_chain(core, signers, GENESIS, [1, 2, 3, 4])
    outer, inner = vote(signers[2], GENESIS, a4), vote(signers[2], a1, a3)
    first, second = (outer, inner) if outer_first else (inner, outer)
    assert core.handle(FinalityVoteReceived(first)) == []
    (report,) = of_type(core.handle(FinalityVoteReceived(second)), ReportEvidence)
    evidence = report.evidence
    assert isinstance(evidence, SurroundVote) and (evidence.outer, evidence.inner) == (outer, inner)
    assert evidence.validator == signers[2].address and evidence.height == 4
    evidence.validate(CHAIN_ID, core.validators)
    assert SurroundVote.decode(evidence.encode()) == evidence
    assert SurroundVote.from_votes(inner, outer) == evidence
    assert core.get_link_votes(second.link) == ()  # evidence, not a vote
    assert not evidence.verify(CHAIN_ID + 1)
    with pytest.raises(InvalidEvidence, match="does not surround"):
        SurroundVote(inner, outer).validate(CHAIN_ID)
    with pytest.raises(ValueError):
        SurroundVote.from_votes(vote(signers[2], a1, a2), vote(signers[2], a2, a3))  # adjacent: fine
    with pytest.raises(InvalidEvidence, match="two validators"):
        SurroundVote(outer, vote(signers[3], a1, a3)).validate(CHAIN_ID)
    outsider = Signer(keccak256(b"outsider"))
    assert not SurroundVote(vote(outsider, GENESIS, a4), vote(outsider, a1, a3)).verify(CHAIN_ID, core.validators)


def test_evidence_kinds_are_distinct():
    signers = make_signers(4)
    a1 = make_header(GENESIS, 1)
    a2 = make_header(a1, 2)
    a3 = make_header(a2, 3)
    surround = SurroundVote.from_votes(vote(signers[0], GENESIS, a3), vote(signers[0], a1, a2))
    with pytest.raises(MalformedMessage):
        DoubleFinalityVote.decode(surround.encode())


# --- finality proofs without the core --------------------------------------------------


def _proof_setup():
    """Four authorities, chain a1..a4 and a fork b1; a1 justified from genesis, a1 -> a3, a3 -> a4."""
    signers = make_signers(4)
    core = make_core(signers, None)
    chain = import_chain(core, signers, GENESIS, [1, 2, 3, 4])
    (b1,) = import_chain(core, signers, GENESIS, [5], b"b")
    headers = {h.hash: h for h in (GENESIS, *chain, b1)}
    return signers, core.validators, chain, b1, headers


def _check(validators, headers, votes_, finalized, root=GENESIS):
    validate_finality_proof(chain_id=CHAIN_ID, validators=validators, root_number=root.number, root_hash=root.hash,
                            finalized_number=finalized.number, finalized_hash=finalized.hash, votes=votes_,
                            get_header=headers.get)


def test_a_finality_proof_checks_from_its_root_and_from_any_final_block_up_to_it():
    signers, validators, (a1, a2, a3, a4), _, headers = _proof_setup()
    proof = votes(signers[:3], GENESIS, a1) + votes(signers[1:], a1, a3) + votes(signers[:3], a3, a4)
    _check(validators, headers, proof, a3)
    _check(validators, headers, proof, a3, root=a1)
    _check(validators, headers, proof, a3, root=a2)  # a1 -> a3 counts from below this root
    _check(validators, headers, votes(signers[:3], GENESIS, a1) + votes(signers[:3], a1, a2), a1)


@pytest.mark.parametrize("case, reason", [
    ("short_of_a_quorum", "no supermajority link"),
    ("forged_signature", "bad vote"),
    ("outsider", "bad vote: unknown validator"),
    ("one_validator_thrice", "no supermajority link"),
    ("not_a_child", "no supermajority link"),
    ("not_justified", "do not justify"),
    ("fork_of_the_root", "do not justify"),
    ("unknown_blocks", "do not justify"),
    ("at_the_root", "not above the root"),
    ("too_many_votes", "more than the"),
])
def test_a_forged_or_insufficient_finality_proof_is_refused(case, reason):
    signers, validators, (a1, a2, a3, a4), b1, headers = _proof_setup()
    justify = votes(signers[:3], GENESIS, a1)
    finalized, root = a1, GENESIS
    if case == "short_of_a_quorum":
        proof = justify + votes(signers[:2], a1, a2)
    elif case == "forged_signature":
        link = votes(signers[:3], a1, a2)
        link[0] = dataclasses.replace(link[0], validator=signers[3].address)
        proof = justify + link
    elif case == "outsider":
        proof = justify + votes(signers[:2], a1, a2) + [vote(Signer(keccak256(b"outsider")), a1, a2)]
    elif case == "one_validator_thrice":
        proof = justify + [vote(signers[0], a1, a2)] * 3
    elif case == "not_a_child":
        proof = justify + votes(signers[:3], a1, a3)
    elif case == "not_justified":
        proof = votes(signers[:3], a1, a2)
    elif case == "fork_of_the_root":
        proof, root, finalized = justify + votes(signers[:3], a1, a2), b1, a2
    elif case == "unknown_blocks":
        del headers[a1.hash]
        proof = justify + votes(signers[:3], a1, a2)
    elif case == "at_the_root":
        proof, root = justify + votes(signers[:3], a1, a2), a1
    else:
        proof = (justify + votes(signers[:3], a1, a2)) * (MAX_PROOF_LINKS * 4 // 6 + 1)
    with pytest.raises(InvalidFinalityProof, match=reason):
        _check(validators, headers, proof, finalized, root=root)
