"""The consensus WAL records (``consensus/wal.py``): canonical bytes, refusals, and replay.

The replay suite is CometBFT's "crash the WAL at every message index": a validator runs a
height that takes two rounds and a lock change, its log is cut after each record, and a
core rebuilt from the sign state and the log must reach the same state, sign nothing that
conflicts with what it signed before, and commit the same block from the peers' messages.
"""
from __future__ import annotations

import dataclasses

import pytest
import rlp
from hypothesis import given
from hypothesis import strategies as st

from bft_harness import BLOCK_A, BLOCK_B, CHAIN_ID, NIL, make_stubs
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
    MAX_RECORD_BYTES,
    EndHeight,
    Replay,
    compute_last_signed,
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
