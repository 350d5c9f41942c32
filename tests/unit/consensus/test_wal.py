"""The consensus WAL records (``consensus/wal.py``): canonical bytes, refusals, and replay.

The replay suite is CometBFT's "crash the WAL at every message index": a validator runs a
height that takes two rounds and a lock change, its log is cut after each record, and a
core rebuilt from the sign state and the log must reach the same state, sign nothing that
conflicts with what it signed before, and commit the same block from the peers' messages.

The poa records (finality votes, justifications, the ``FinalizedMarker``) get the same: a PoA
authority restarted after any input, from its sign state, stored blocks, the finalized
block's proof and its log, holds the same votes and reaches the same finality.
"""
from __future__ import annotations

import dataclasses

import pytest
import rlp
from hypothesis import given
from hypothesis import strategies as st

import poa_harness
from bft_harness import BLOCK_A, BLOCK_B, CHAIN_ID, NIL, make_stubs
from consensus import engine, poa
from consensus.bft.core import (
    BlockReady,
    Broadcast,
    Commit,
    PersistSignState,
    ProposalReceived,
    SignState,
    Start,
    TendermintCore,
    TimeoutFired,
    VoteReceived,
)
from consensus.errors import MalformedMessage
from consensus.messages import Proposal, Vote
from consensus.types import Step, VoteType
from consensus.wal import (
    MAX_JUSTIFICATION_RECORD_BYTES,
    MAX_RECORD_BYTES,
    EndHeight,
    FinalizedMarker,
    Replay,
    compute_last_signed,
    compute_poa_replay,
    compute_replay,
    decode_record,
    encode_record,
)

VALIDATORS, STUBS = make_stubs([1, 1, 1, 1])
VOTE = STUBS[0].prevote(3, 1, BLOCK_A)
NIL_VOTE = STUBS[1].precommit(3, 2, NIL)
PROPOSAL = STUBS[2].propose(3, 4, BLOCK_B, 2)


def records() -> list:
    return [
        VoteReceived(VOTE), VoteReceived(NIL_VOTE), ProposalReceived(PROPOSAL, True),
        ProposalReceived(PROPOSAL, False), TimeoutFired(3, 0, Step.PROPOSE), TimeoutFired(2**40, 7, Step.PRECOMMIT),
        BlockReady(3, 1, BLOCK_A), EndHeight(0), EndHeight(2**63 - 1),
    ]


# --- codec -----------------------------------------------------------------------------------


@pytest.mark.parametrize("record", records(), ids=lambda r: type(r).__name__)
def test_every_record_round_trips_in_the_documented_layout(record):
    data = encode_record(record)
    assert decode_record(data) == record
    layout = {
        VoteReceived: lambda r: [2, r.vote.encode()],
        ProposalReceived: lambda r: [1, r.proposal.encode(), int(r.block_valid)],
        TimeoutFired: lambda r: [3, r.height, r.round, int(r.step)],
        BlockReady: lambda r: [4, r.height, r.round, r.block_hash],
        EndHeight: lambda r: [5, r.height],
    }[type(record)](record)
    assert data == rlp.encode(layout)  # the fast encoder is canonical RLP
    assert len(data) <= MAX_RECORD_BYTES


@given(height=st.integers(0, 2**64), round_=st.integers(0, 2**31), step=st.sampled_from([0, 1, 2]))
def test_integers_of_any_size_round_trip(height, round_, step):
    for record in (TimeoutFired(height, round_, Step(step)), BlockReady(height, round_, BLOCK_A), EndHeight(height)):
        data = encode_record(record)
        assert decode_record(data) == record
        assert data == rlp.encode([{TimeoutFired: 3, BlockReady: 4, EndHeight: 5}[type(record)],
                                   *[getattr(record, f.name) for f in dataclasses.fields(record)]])


def _bad_records() -> list[tuple[str, bytes]]:
    vote, proposal = VOTE.encode(), PROPOSAL.encode()
    return [
        ("not rlp", b"\xff\x00"),
        ("empty", b""),
        ("a string, not a list", rlp.encode(b"abc")),
        ("empty list", rlp.encode([])),
        ("unknown kind", rlp.encode([9, 1])),
        ("kind with a leading zero", rlp.encode([b"\x00\x05", 1])),
        ("end height with a leading zero", rlp.encode([5, b"\x00\x01"])),
        ("end height as a list", rlp.encode([5, [1]])),
        ("end height with two fields", rlp.encode([5, 1, 2])),
        ("vote record without the vote", rlp.encode([2])),
        ("vote record holding a proposal", rlp.encode([2, proposal])),
        ("proposal record holding a vote", rlp.encode([1, vote, 1])),
        ("proposal record without valid", rlp.encode([1, proposal])),
        ("valid is 2", rlp.encode([1, proposal, 2])),
        ("vote record holding garbage", rlp.encode([2, b"\x01\x02\x03"])),
        ("non-canonical message inside", rlp.encode([2, rlp.encode([2, b"\x00\x01", *rlp.decode(vote)[2:]])])),
        ("message as a list", rlp.encode([2, rlp.decode(vote)])),
        ("timeout at step commit", rlp.encode([3, 1, 0, int(Step.COMMIT)])),
        ("timeout at an unknown step", rlp.encode([3, 1, 0, 9])),
        ("block hash of 31 bytes", rlp.encode([4, 1, 0, BLOCK_A[:31]])),
        ("block ready without the hash", rlp.encode([4, 1, 0])),
        ("trailing bytes", encode_record(EndHeight(1)) + b"\x00"),
        ("long form for a short list", b"\xf8\x02\x05\x01"),
        ("oversized", rlp.encode([2, b"\x00" * MAX_RECORD_BYTES])),
    ]


@pytest.mark.parametrize("name,data", _bad_records(), ids=[n for n, _ in _bad_records()])
def test_malformed_records_are_refused(name, data):
    with pytest.raises(MalformedMessage) as info:
        decode_record(data)
    assert info.value.reason


def test_decode_refuses_what_is_not_bytes():
    with pytest.raises(MalformedMessage):
        decode_record("abc")  # type: ignore[arg-type]


def test_encode_refuses_other_events():
    with pytest.raises(TypeError):
        encode_record(Start(1))  # type: ignore[arg-type]


# --- replay ----------------------------------------------------------------------------------


def test_replay_is_what_follows_the_last_end_height():
    a, b, c = VoteReceived(VOTE), TimeoutFired(3, 0, Step.PROPOSE), BlockReady(3, 1, BLOCK_A)
    assert compute_replay([]) is None
    assert compute_replay([a, b]) is None  # no marker: the log says nothing of any height
    assert compute_replay([EndHeight(0)]) == Replay(1, ())
    assert compute_replay([EndHeight(1), a, EndHeight(2), b, c]) == Replay(3, (b, c))


def test_last_signed_is_the_latest_own_step_in_the_log():
    me = STUBS[0]
    inputs = [VoteReceived(me.precommit(3, 1, NIL)), VoteReceived(me.prevote(3, 2, BLOCK_A)),
              VoteReceived(STUBS[1].precommit(3, 5, NIL)), ProposalReceived(STUBS[2].propose(3, 6, BLOCK_B), True),
              TimeoutFired(3, 9, Step.PRECOMMIT)]
    assert compute_last_signed(inputs, me.address) == SignState(3, 2, Step.PREVOTE)
    assert compute_last_signed(inputs, STUBS[2].address) == SignState(3, 6, Step.PROPOSE)
    assert compute_last_signed(inputs, None) is None
    assert compute_last_signed(inputs[2:], me.address) is None


class LoggedValidator:
    """A core driven as the node and the simulator drive it: each input is logged before
    it is handled, each message it signs when it is broadcast; a crash keeps the log and
    the sign state, nothing else."""

    def __init__(self, me: int, sign_state: SignState | None = None, log: list[bytes] | None = None) -> None:
        self.me = me
        self.core = TendermintCore(chain_id=CHAIN_ID, validators=VALIDATORS, signer=STUBS[me].signer,
                                   sign_state=sign_state)
        self.log: list[bytes] = [encode_record(EndHeight(0))] if log is None else list(log)
        self.sign_state = sign_state
        self.signed: list[Proposal | Vote] = []
        self.commits: list[Commit] = []

    def handle(self, event, *, logged: bool = True) -> list:
        if logged and not isinstance(event, Start):
            self.log.append(encode_record(event))
        effects = self.core.handle(event)
        for effect in effects:
            if isinstance(effect, PersistSignState):
                self.sign_state = SignState(effect.height, effect.round, effect.step)
            elif isinstance(effect, Broadcast):
                message = effect.message
                self.signed.append(message)
                record = VoteReceived(message) if isinstance(message, Vote) else ProposalReceived(message, True)
                self.log.append(encode_record(record))
            elif isinstance(effect, Commit):
                self.commits.append(effect)
                self.log = [encode_record(EndHeight(effect.height))]
        return effects

    @classmethod
    def restart(cls, me: int, sign_state: SignState | None, log: list[bytes]) -> tuple[LoggedValidator, list]:
        """Rebuild from the sign state and the log; returns the node and the replay's effects."""
        replay = compute_replay(decode_record(data) for data in log)
        assert replay is not None
        last = compute_last_signed(replay.inputs, STUBS[me].address)
        if last is not None and (sign_state is None or last > sign_state):
            sign_state = last
        node = cls(me, sign_state, log)
        effects = node.handle(Start(replay.height), logged=False)
        for event in replay.inputs:
            effects += node.handle(event, logged=False)
        return node, effects


def index_of_proposer(round: int) -> int:
    return VALIDATORS.validators.index(VALIDATORS.proposer(1, round))


def two_round_height(me: int) -> list:
    """The inputs of a height that validator ``me`` (not the proposer of round 1) decides in
    round 1: round 0 locks A, precommits split, round 1 proposes B and its polka moves the
    lock to B. As the proposer of round 0, ``me`` builds A (``BlockReady``)."""
    s = STUBS
    others = [i for i in range(4) if i != me]
    assert me != index_of_proposer(1)
    proposer0, proposer1 = s[index_of_proposer(0)], s[index_of_proposer(1)]
    return [
        Start(1),
        BlockReady(1, 0, BLOCK_A) if me == index_of_proposer(0) else ProposalReceived(proposer0.propose(1, 0, BLOCK_A), True),
        VoteReceived(s[others[0]].prevote(1, 0, BLOCK_A)),
        VoteReceived(s[others[1]].prevote(1, 0, BLOCK_A)),  # polka for A with ours: lock A, precommit A
        *[VoteReceived(s[i].precommit(1, 0, NIL)) for i in others],
        TimeoutFired(1, 0, Step.PRECOMMIT),
        ProposalReceived(proposer1.propose(1, 1, BLOCK_B), True),  # locked on A: prevote nil
        *[VoteReceived(s[i].prevote(1, 1, BLOCK_B)) for i in others],  # polka for B: lock B, precommit B
        VoteReceived(s[others[0]].precommit(1, 1, BLOCK_B)),
        VoteReceived(s[others[1]].precommit(1, 1, BLOCK_B)),  # decide B
    ]


@pytest.mark.parametrize("me", [index_of_proposer(0), index_of_proposer(2)], ids=["proposer", "voter"])
def test_replay_after_a_crash_at_every_record_resumes_without_a_conflicting_signature(me):
    script = two_round_height(me)
    original = LoggedValidator(me)
    states = []  # after each input: (records logged so far, sign state, core state)
    for event in script:
        original.handle(event)
        core = original.core
        states.append((list(original.log), original.sign_state,
                       (core.height, core.round, core.step, core.locked_value, core.locked_round,
                        core.valid_value, core.valid_round)))
    assert [c.block_hash for c in original.commits] == [BLOCK_B]
    by_step = {(m.height, m.round, type(m), getattr(m, "type", None)): m for m in original.signed}
    # prevote A, precommit A, prevote nil, precommit B; and the proposal of A by its proposer
    assert len(by_step) == len(original.signed) == (5 if me == index_of_proposer(0) else 4)

    empty = [encode_record(EndHeight(0))]
    for i, (log, sign_state, state) in enumerate(states[:-1]):  # the last input commits: a new height
        before_log, before_state = (states[i - 1][0], states[i - 1][1]) if i else (empty, None)
        crashes = [
            (log, sign_state),  # between two inputs
            (log, before_state),  # own message logged, sign state not yet written (the node logs first)
            # input logged, not yet handled (or handled, nothing written): it is handled again
            (before_log + ([] if isinstance(script[i], Start) else [encode_record(script[i])]), before_state),
        ]
        for case, (crash_log, persisted) in enumerate(crashes):
            node, effects = LoggedValidator.restart(me, persisted, crash_log)
            core = node.core
            assert (core.height, core.round, core.step, core.locked_value, core.locked_round,
                    core.valid_value, core.valid_round) == state, (i, case)
            if case < 2:
                assert not [e for e in effects if isinstance(e, (Broadcast, PersistSignState))], (i, case, effects)
            for event in script[i + 1:]:
                node.handle(event)
            assert [c.block_hash for c in node.commits] == [BLOCK_B], (i, case)
            for m in node.signed:  # anything signed after the restart is what was signed before
                assert by_step[(m.height, m.round, type(m), getattr(m, "type", None))] == m, (i, case, m)


def test_a_proposer_replays_its_block_and_proposal():
    me = index_of_proposer(0)
    node = LoggedValidator(me)
    node.handle(Start(1))
    node.handle(BlockReady(1, 0, BLOCK_A))
    [proposal, prevote] = node.signed
    assert isinstance(proposal, Proposal) and prevote.block_hash == BLOCK_A
    restarted, effects = LoggedValidator.restart(me, node.sign_state, node.log)
    assert not [e for e in effects if isinstance(e, Broadcast)]
    assert restarted.core.step == Step.PREVOTE and restarted.core.sign_state == SignState(1, 0, Step.PREVOTE)
    others = [i for i in range(4) if i != me]
    effects = []
    for i in others[:2]:
        effects += restarted.handle(VoteReceived(STUBS[i].prevote(1, 0, BLOCK_A)))
    [precommit] = [e.message for e in effects if isinstance(e, Broadcast)]
    assert (precommit.type, precommit.block_hash) == (VoteType.PRECOMMIT, BLOCK_A)


# --- the node's file (node/consensus_wal.py) ---------------------------------------------------


def test_the_node_file_reads_back_records_and_blocks_in_order(tmp_path):
    from node.consensus_wal import ConsensusWal, WalBlock

    wal = ConsensusWal(tmp_path / "consensus" / "wal")
    assert wal.load().records == []  # no file yet
    written = records()
    for record in written:
        wal.append(record, sync=isinstance(record, TimeoutFired))
    wal.append_block(3, b"header", b"body")
    contents = ConsensusWal(wal.path).load()
    assert contents.records == written and contents.torn_bytes == 0
    assert contents.blocks == [WalBlock(3, b"header", b"body")]


def test_the_node_file_cuts_a_torn_tail_and_appends_after_it(tmp_path):
    from node.consensus_wal import ConsensusWal

    wal = ConsensusWal(tmp_path / "wal")
    wal.append(EndHeight(2), sync=True)
    wal.append(VoteReceived(VOTE), sync=True)
    wal.close()
    whole = wal.path.read_bytes()
    wal.append(TimeoutFired(3, 0, Step.PROPOSE), sync=True)
    wal.close()
    last_frame = wal.path.read_bytes()[len(whole):]
    for cut in range(1, len(last_frame)):  # a crash mid-append leaves any prefix of the last frame
        wal.path.write_bytes(whole + last_frame[:cut])
        contents = wal.load()
        assert contents.records == [EndHeight(2), VoteReceived(VOTE)] and contents.torn_bytes == cut
        assert wal.path.read_bytes() == whole
    flipped = bytearray(whole)
    flipped[-1] ^= 1  # a corrupt last frame (its CRC fails) ends the log too
    wal.path.write_bytes(bytes(flipped))
    assert wal.load().records == [EndHeight(2)]
    wal.append(BlockReady(3, 0, BLOCK_A), sync=True)  # what is appended next is read back
    assert wal.load().records == [EndHeight(2), BlockReady(3, 0, BLOCK_A)]


def test_the_node_file_is_replaced_by_the_marker_at_each_commit(tmp_path):
    from node.consensus_wal import ConsensusWal

    wal = ConsensusWal(tmp_path / "wal")
    for height in range(1, 50):
        wal.append(VoteReceived(VOTE), sync=False)
        wal.append_block(height, b"h" * 500, b"b" * 5000)
        wal.end_height(height)
        size = wal.path.stat().st_size
    assert wal.load().records == [EndHeight(49)] and size < 32  # bounded: one height at most
    assert compute_replay(wal.load().records) == Replay(50, ())
    assert not (tmp_path / "wal.tmp").exists()


# --- poa records -------------------------------------------------------------------------------
# The finality votes a PoA core receives (one by one or as a justification) and those it signs,
# with a marker at each finality; blocks and the finalized block's proof are in the store.

POA_SIGNERS = poa_harness.make_signers(4)
POA_CHAIN = [poa_harness.GENESIS]
for _slot in range(1, 5):
    POA_CHAIN.append(poa_harness.make_header(POA_CHAIN[-1], _slot))


def poa_vote(i: int, source: int, target: int) -> poa.FinalityVote:
    return poa_harness.vote(POA_SIGNERS[i], POA_CHAIN[source], POA_CHAIN[target])


def poa_records() -> list:
    return [
        poa.FinalityVoteReceived(poa_vote(1, 0, 1)),
        poa.JustificationReceived((poa_vote(1, 0, 1), poa_vote(2, 0, 1), poa_vote(3, 1, 2))),
        poa.JustificationReceived(()),
        FinalizedMarker(0),
        FinalizedMarker(2**63 - 1),
    ]


@pytest.mark.parametrize("record", poa_records(), ids=lambda r: type(r).__name__)
def test_every_poa_record_round_trips_in_the_documented_layout(record):
    data = encode_record(record)
    assert decode_record(data) == record
    layout = {
        poa.FinalityVoteReceived: lambda r: [6, r.vote.encode()],
        poa.JustificationReceived: lambda r: [7, [v.encode() for v in r.votes]],
        FinalizedMarker: lambda r: [8, r.number],
    }[type(record)](record)
    assert data == rlp.encode(layout)
    limit = MAX_JUSTIFICATION_RECORD_BYTES if type(record) is poa.JustificationReceived else MAX_RECORD_BYTES
    assert len(data) <= limit


def test_a_vote_record_holds_what_was_received_even_a_vote_the_core_refuses():
    # Logged before the core handles it: a record the decoder refused would cut the log there.
    bad = dataclasses.replace(poa_vote(1, 0, 1), source_number=5, target_hash=b"\x01" * 7)  # target below source
    assert decode_record(encode_record(poa.FinalityVoteReceived(bad))) == poa.FinalityVoteReceived(bad)


def _bad_poa_records() -> list[tuple[str, bytes]]:
    good = poa_vote(1, 0, 1).encode()
    items = rlp.decode(good)
    return [
        ("vote record without the vote", rlp.encode([6])),
        ("vote record with two votes", rlp.encode([6, good, good])),
        ("vote as a list", rlp.encode([6, items])),
        ("vote record holding garbage", rlp.encode([6, b"\x01\x02\x03"])),
        ("vote record holding a bft vote", rlp.encode([6, VOTE.encode()])),
        ("vote of the retired kind 2", rlp.encode([6, rlp.encode([2, *items[1:]])])),
        ("non-canonical vote inside", rlp.encode([6, rlp.encode([3, b"\x00\x01", *items[2:]])])),
        ("oversized vote record", rlp.encode([6, rlp.encode([3, *items[1:5], items[5] + b"\x00" * 600, items[6]])])),
        ("justification as bytes", rlp.encode([7, good])),
        ("justification without its list", rlp.encode([7])),
        ("justification holding a list", rlp.encode([7, [good, items]])),
        ("justification holding garbage", rlp.encode([7, [good, b"\x05"]])),
        ("marker with a leading zero", rlp.encode([8, b"\x00\x01"])),
        ("marker as a list", rlp.encode([8, [1]])),
        ("marker with two fields", rlp.encode([8, 1, 2])),
        ("marker without its number", rlp.encode([8])),
        ("trailing bytes", encode_record(FinalizedMarker(1)) + b"\x00"),
    ]


@pytest.mark.parametrize("name,data", _bad_poa_records(), ids=[n for n, _ in _bad_poa_records()])
def test_malformed_poa_records_are_refused(name, data):
    with pytest.raises(MalformedMessage) as info:
        decode_record(data)
    assert info.value.reason


def test_an_oversized_justification_record_is_refused(monkeypatch):
    record = encode_record(poa.JustificationReceived(tuple(poa_vote(i, 0, 1) for i in range(4))))
    assert len(record) > MAX_RECORD_BYTES  # a justification may exceed the other records' bound
    monkeypatch.setattr("consensus.wal.MAX_JUSTIFICATION_RECORD_BYTES", len(record) - 1)
    with pytest.raises(MalformedMessage):
        decode_record(record)


def test_poa_replay_is_every_vote_above_the_last_marker():
    a, b = poa.FinalityVoteReceived(poa_vote(1, 0, 1)), poa.FinalityVoteReceived(poa_vote(2, 1, 2))
    c = poa.FinalityVoteReceived(poa_vote(3, 2, 4))
    mixed = poa.JustificationReceived((poa_vote(1, 0, 1), poa_vote(2, 1, 3), poa_vote(3, 1, 2)))
    low = poa.JustificationReceived((poa_vote(1, 0, 1), poa_vote(2, 0, 1)))
    assert compute_poa_replay([]) == ()
    assert compute_poa_replay([a, EndHeight(3), VoteReceived(VOTE), b]) == (a, b)  # no marker: all; bft records skipped
    assert compute_poa_replay([FinalizedMarker(0), a, b]) == (a, b)
    # Before the marker, what is still above it; after it, what is above it only.
    assert compute_poa_replay([a, c, low, FinalizedMarker(1), b, poa.FinalityVoteReceived(poa_vote(2, 0, 1))]) == (c, b)
    # A justification keeps its votes above the marker, in order.
    assert compute_poa_replay([mixed, FinalizedMarker(1)]) == (
        poa.JustificationReceived((poa_vote(2, 1, 3), poa_vote(3, 1, 2))),)
    assert compute_poa_replay([mixed, FinalizedMarker(2)]) == (poa.JustificationReceived((poa_vote(2, 1, 3),)),)
    # The highest marker counts (they only go up; one written late changes nothing).
    assert compute_poa_replay([FinalizedMarker(2), a, b, c, FinalizedMarker(1)]) == (c,)


class LoggedAuthority:
    """A PoA core driven as the node and the simulator drive it: votes logged before they are
    handled, its own after its sign state, the log compacted at each finality. A crash keeps
    what ``survives()`` returns: the log, the sign state, the stored blocks and the last
    ``Finalized`` (the store's finalized block and its proof)."""

    def __init__(self, me: int, sign_state=None, log: list[bytes] | None = None) -> None:
        self.me = me
        self.core = poa.PoaCore(chain_id=poa_harness.CHAIN_ID, authorities=[s.address for s in POA_SIGNERS],
                                slot_duration=poa_harness.SLOT_S, signer=POA_SIGNERS[me], sign_state=sign_state)
        self.log: list[bytes] = [] if log is None else list(log)
        self.sign_state = sign_state
        self.blocks: list[engine.BlockImported] = []
        self.finalized: engine.Finalized | None = None
        self.signed: list[poa.FinalityVote] = []

    def handle(self, event, *, logged: bool = True) -> list:
        core = self.core
        if (logged and isinstance(event, (poa.FinalityVoteReceived, poa.JustificationReceived))
                and not core.holds(event)):
            self.log.append(encode_record(event))
        if isinstance(event, engine.BlockImported):
            self.blocks.append(event)
        effects = core.handle(event)
        for effect in effects:
            if isinstance(effect, engine.PersistSignState):
                self.sign_state = effect.state
            elif isinstance(effect, engine.Broadcast):
                self.signed.append(effect.message)
                self.log.append(encode_record(poa.FinalityVoteReceived(effect.message)))
            elif isinstance(effect, engine.Finalized):
                self.finalized = effect
                marker = FinalizedMarker(effect.number)
                kept = compute_poa_replay([*(decode_record(d) for d in self.log), marker])
                self.log = [encode_record(r) for r in (marker, *kept)]
        return effects

    def survives(self) -> tuple:
        return list(self.log), self.sign_state, list(self.blocks), self.finalized

    @classmethod
    def restart(cls, me: int, survived: tuple) -> LoggedAuthority:
        """Start from the finalized block, import the blocks above it, its proof, then the log."""
        log, sign_state, blocks, finalized = survived
        node = cls(me, sign_state, log)
        node.finalized = finalized
        root = POA_CHAIN[0 if finalized is None else finalized.number]
        node.handle(poa.Start(root))
        for block in blocks:
            if block.header.number > root.number:
                node.handle(block)
        if finalized is not None:
            node.handle(poa.JustificationReceived(finalized.votes), logged=False)
        for event in compute_poa_replay(decode_record(d) for d in log):
            node.handle(event, logged=False)
        return node

    def state(self) -> tuple:
        core = self.core
        links = [(s.number, s.hash, t.number, t.hash) for s in POA_CHAIN for t in POA_CHAIN if s.number < t.number]
        return (core.finalized_number, core.get_justified().hash, core.get_head().hash, core.sign_state,
                tuple(core.get_link_votes(link) for link in links if link[2] > core.finalized_number))


_SEAL_CORE = poa.PoaCore(chain_id=poa_harness.CHAIN_ID, authorities=[s.address for s in POA_SIGNERS],
                         slot_duration=poa_harness.SLOT_S)


def poa_script(me: int) -> list:
    """Blocks 1-4 (slots 1-4) and the other authorities' votes on them, for authority ``me``:
    1 is justified one vote at a time, 2 by a justification (which finalizes 1), and the
    link 2 -> 3 is left one vote short until the last input (which finalizes 2)."""
    others = [i for i in range(4) if i != me]
    blocks = [engine.BlockImported(h, poa_harness.seal(_SEAL_CORE, h, POA_SIGNERS[h.number % 4]))
              for h in POA_CHAIN[1:]]
    return [
        blocks[0],
        poa.FinalityVoteReceived(poa_vote(others[0], 0, 1)),
        poa.FinalityVoteReceived(poa_vote(others[1], 0, 1)),  # with ours: 1 justified
        blocks[1],
        poa.FinalityVoteReceived(poa_vote(others[0], 1, 2)),
        poa.FinalityVoteReceived(poa_vote(others[0], 1, 2)),  # a repeat: not logged again
        poa.JustificationReceived((poa_vote(others[0], 0, 1), poa_vote(others[1], 0, 1), poa_vote(others[1], 1, 2),
                                   poa_vote(others[2], 1, 2))),  # 2 justified, 1 final
        blocks[2],
        poa.FinalityVoteReceived(poa_vote(others[1], 2, 3)),
        blocks[3],  # we vote 2 -> 4: 3 is not justified here
        poa.FinalityVoteReceived(poa_vote(others[2], 2, 3)),  # 2 -> 3 by 3 of 4 with ours: 2 final
    ]


def test_a_poa_core_restarted_after_any_input_holds_the_same_votes_and_reaches_the_same_finality():
    me = 0
    script = poa_script(me)
    original = LoggedAuthority(me)
    original.handle(poa.Start(POA_CHAIN[0]))
    after = []  # after each input: what survives a crash, and the core's state
    for event in script:
        before = original.survives()
        original.handle(event)
        after.append((original.survives(), original.state(), before))
    assert [v.link[::2] for v in original.signed] == [(0, 1), (1, 2), (2, 3), (2, 4)]
    assert original.finalized.number == 2
    # Compacted at each finality: the marker, then the votes above it (2 -> 3: ours and two others'; 2 -> 4: ours).
    assert [decode_record(d) for d in original.log] == [FinalizedMarker(2), *(poa.FinalityVoteReceived(v) for v in (
        original.signed[2], poa_vote(2, 2, 3), original.signed[3], poa_vote(3, 2, 3)))]
    for i, (survived, state, before) in enumerate(after):
        crashes = [survived]  # between two inputs
        if isinstance(script[i], poa.FinalityVoteReceived) and encode_record(script[i]) not in before[0]:
            # logged, not yet handled: it is handled on replay
            crashes.append(([*before[0], encode_record(script[i])], *before[1:]))
        for case, crashed in enumerate(crashes):
            node = LoggedAuthority.restart(me, crashed)
            assert node.state() == state, (i, case)
            assert set(node.signed) <= set(original.signed), (i, case)  # what it signs it had signed, if anything
            if case == 0:
                assert not node.signed, i  # nothing signed again on replay
            for event in script[i + 1:]:
                node.handle(event)
            assert (node.finalized.number, node.finalized.block_hash) == (2, POA_CHAIN[2].hash), (i, case)
            assert set(node.signed) <= set(original.signed), (i, case)


def test_without_the_log_a_restarted_poa_core_misses_the_votes_it_held():
    me = 0
    script = poa_script(me)
    original = LoggedAuthority(me)
    original.handle(poa.Start(POA_CHAIN[0]))
    for event in script[:-1]:
        original.handle(event)
    _, sign_state, blocks, finalized = original.survives()
    node = LoggedAuthority.restart(me, ([], sign_state, blocks, finalized))
    node.handle(script[-1])
    # The two other votes of 2 -> 3 (ours and a peer's) are gone, and ours cannot be signed again.
    assert node.finalized.number == 1
