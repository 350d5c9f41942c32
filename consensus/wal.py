"""The consensus write-ahead log's records: the inputs a Tendermint (or PoA) core receives, as bytes.

Sans-IO and shared: the node (``node/consensus_wal.py``) frames these records in a file,
the simulators (``consensus/sim/runner.py``, ``consensus/sim/poa.py``) keep them in
memory. As CometBFT's WAL, every input is written *before* the core handles it, and a
marker ends each height (``EndHeight``, CometBFT's ``EndHeightMessage``), so a restarted
core is rebuilt with its sign state and fed the inputs after the last marker, in order: it
reaches the same round and step, with the same locks, as before the crash.

The validator's own signed messages are written too, as the ``ProposalReceived`` /
``VoteReceived`` a peer's would be. On replay the sign guard refuses to sign again each
step signed before the crash, and the own message that follows in the log is what the
core counts instead (see ``TendermintCore``: "a refused step is covered by the log").

**The poa log** holds the finality votes a ``PoaCore`` receives (one by one, or as a
peer's justification) and the votes it signs, as ``FinalityVoteReceived`` (its own too: its
sign state forbids signing them again, and a link may need its vote to count). Blocks are
in the node's store, and the finalized block's proof beside it, so a restarted core is
rebuilt from them, then fed the logged votes. A ``FinalizedMarker(number)`` is written
when the core finalizes ``number``: no vote targeting at or below it is replayed (the core
forgets them), and the log is compacted to the marker and the records still above it
(``compute_poa_replay``).

Records, canonical RLP (integers without leading zeros, ``bool`` as 0 or 1):

=============================  ==============================================================
``ProposalReceived``           ``[1, proposal.encode(), valid]``
``VoteReceived``               ``[2, vote.encode()]``
``TimeoutFired``               ``[3, height, round, step]``
``BlockReady``                 ``[4, height, round, block_hash]``
``EndHeight``                  ``[5, height]``
poa ``FinalityVoteReceived``   ``[6, vote.encode()]``
poa ``JustificationReceived``  ``[7, [vote.encode(), ...]]``, the votes in the order received
``FinalizedMarker``            ``[8, number]``
=============================  ==============================================================

The embedded proposal or vote is its wire encoding (``consensus.messages``,
``consensus.poa.messages``), byte for byte. A record is at most ``MAX_RECORD_BYTES``, a
justification ``MAX_JUSTIFICATION_RECORD_BYTES`` (the proofs of ~350 authorities).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Union

import rlp
from rlp.sedes import big_endian_int

from consensus.bft.core import BlockReady, Event, ProposalReceived, SignState, TimeoutFired, VoteReceived
from consensus.errors import ConsensusError, MalformedMessage
from consensus.messages import HASH_SIZE, MAX_MESSAGE_BYTES, Proposal, Vote, decode_message
from consensus.poa.core import FinalityVoteReceived, JustificationReceived
from consensus.poa.messages import FinalityVote
from consensus.types import Step, VoteType

KIND_PROPOSAL = 1
KIND_VOTE = 2
KIND_TIMEOUT = 3
KIND_BLOCK_READY = 4
KIND_END_HEIGHT = 5
KIND_POA_VOTE = 6
KIND_POA_JUSTIFICATION = 7
KIND_FINALIZED = 8
MAX_RECORD_BYTES = MAX_MESSAGE_BYTES + 16  # the largest record but a justification embeds one message
# A justification: up to a proof's worth of votes per authority (~190 kB each, see
# ``consensus.poa.finality.MAX_PROOF_LINKS``); within the node file's 64 MiB frames.
MAX_JUSTIFICATION_RECORD_BYTES = 64 * 1024 * 1024 - 16
_TIMEOUT_STEPS = (Step.PROPOSE, Step.PREVOTE, Step.PRECOMMIT)


@dataclass(frozen=True, slots=True)
class EndHeight:
    """``height`` is committed: the records before this marker are never replayed."""

    height: int


@dataclass(frozen=True, slots=True)
class FinalizedMarker:
    """The poa core finalized ``number``: logged votes targeting at or below it are never replayed."""

    number: int


WalInput = Union[ProposalReceived, VoteReceived, TimeoutFired, BlockReady]
PoaWalInput = Union[FinalityVoteReceived, JustificationReceived]
WalRecord = Union[ProposalReceived, VoteReceived, TimeoutFired, BlockReady, EndHeight, FinalityVoteReceived,
                  JustificationReceived, FinalizedMarker]


@dataclass(frozen=True, slots=True)
class Replay:
    """What a restarted core is fed: ``Start(height)``, then ``inputs`` in order."""

    height: int
    inputs: tuple[WalInput, ...]


# --- canonical RLP of the few shapes a record has ----------------------------------------
# The simulator writes one record per delivered message; these are ~10x faster than
# ``rlp.encode`` and give the same bytes (tests/unit/consensus/test_wal.py checks it).


def _length_prefix(length: int, short: int, long: int) -> bytes:
    if length < 56:
        return bytes((short + length,))
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((long + len(size),)) + size


def _rlp_bytes(data: bytes) -> bytes:
    if len(data) == 1 and data[0] < 0x80:
        return data
    return _length_prefix(len(data), 0x80, 0xB7) + data


def _rlp_int(value: int) -> bytes:
    if value < 0:
        raise ValueError("RLP integers are unsigned")
    return _rlp_bytes(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _rlp_list(*encoded: bytes) -> bytes:
    payload = b"".join(encoded)
    return _length_prefix(len(payload), 0xC0, 0xF7) + payload


# --- encode / decode -----------------------------------------------------------------------


def encode_record(record: WalRecord) -> bytes:
    """The canonical bytes of one record (see the module docstring for the layout)."""
    kind = type(record)
    if kind is VoteReceived:
        return _rlp_list(b"\x02", _rlp_bytes(record.vote.encode()))
    if kind is ProposalReceived:
        return _rlp_list(b"\x01", _rlp_bytes(record.proposal.encode()), _rlp_int(1 if record.block_valid else 0))
    if kind is TimeoutFired:
        return _rlp_list(b"\x03", _rlp_int(record.height), _rlp_int(record.round), _rlp_int(int(record.step)))
    if kind is BlockReady:
        return _rlp_list(b"\x04", _rlp_int(record.height), _rlp_int(record.round), _rlp_bytes(record.block_hash))
    if kind is EndHeight:
        return _rlp_list(b"\x05", _rlp_int(record.height))
    if kind is FinalityVoteReceived:
        return _rlp_list(b"\x06", _rlp_bytes(record.vote.encode()))
    if kind is JustificationReceived:
        return _rlp_list(b"\x07", _rlp_list(*(_rlp_bytes(vote.encode()) for vote in record.votes)))
    if kind is FinalizedMarker:
        return _rlp_list(b"\x08", _rlp_int(record.number))
    raise TypeError(f"not a WAL record: {record!r}")


def _int(item: object, name: str) -> int:
    if not isinstance(item, bytes):
        raise MalformedMessage(f"WAL record {name}: expected an integer")
    try:
        return big_endian_int.deserialize(item)
    except Exception:
        raise MalformedMessage(f"WAL record {name}: not a canonical integer") from None


def _message(item: object) -> Proposal | Vote:
    if not isinstance(item, bytes):
        raise MalformedMessage("WAL record message: expected bytes")
    try:
        message = decode_message(item)
        canonical = message.encode() == item
    except ConsensusError as exc:
        raise MalformedMessage(f"WAL record message: {exc.reason}") from None
    except Exception:  # fields a message cannot encode
        canonical = False
    if not canonical:
        raise MalformedMessage("WAL record message: not canonical")
    return message


def _poa_vote(item: object) -> FinalityVote:
    """A vote as the wire decodes it: its fields are the core's to check, on replay as when it
    came (a record holds what was received: refusing it here would cut the log there)."""
    if not isinstance(item, bytes):
        raise MalformedMessage("WAL record finality vote: expected bytes")
    try:
        vote = FinalityVote.decode(item)
    except ConsensusError as exc:
        raise MalformedMessage(f"WAL record finality vote: {exc.reason}") from None
    if vote.encode() != item:
        raise MalformedMessage("WAL record finality vote: not canonical")
    return vote


def decode_record(data: bytes) -> WalRecord:
    """The record ``encode_record`` made of these bytes.

    Only the shape is checked (a replayed message is validated again by the core).

    Raises:
        MalformedMessage: not a record, an unknown kind, a field out of range, or bytes
            that are not the canonical encoding of what they decode to.
    """
    if not isinstance(data, bytes) or len(data) > MAX_JUSTIFICATION_RECORD_BYTES:
        raise MalformedMessage("WAL record: not bytes, or too large")
    try:
        items = rlp.decode(data)
    except Exception:
        raise MalformedMessage("WAL record: not an RLP encoding") from None
    if not isinstance(items, list) or not items:
        raise MalformedMessage("WAL record: expected a non-empty RLP list")
    kind = _int(items[0], "kind")
    fields = items[1:]
    if kind != KIND_POA_JUSTIFICATION and len(data) > MAX_RECORD_BYTES:
        raise MalformedMessage("WAL record: too large")
    record: WalRecord
    if kind == KIND_VOTE and len(fields) == 1:
        message = _message(fields[0])
        if type(message) is not Vote:
            raise MalformedMessage("WAL vote record holds a proposal")
        record = VoteReceived(message)
    elif kind == KIND_PROPOSAL and len(fields) == 2:
        message = _message(fields[0])
        if type(message) is not Proposal:
            raise MalformedMessage("WAL proposal record holds a vote")
        valid = _int(fields[1], "valid")
        if valid not in (0, 1):
            raise MalformedMessage("WAL record valid: expected 0 or 1")
        record = ProposalReceived(message, valid == 1)
    elif kind == KIND_TIMEOUT and len(fields) == 3:
        step = _int(fields[2], "step")
        if step not in _TIMEOUT_STEPS:
            raise MalformedMessage(f"WAL record step: no timeout for step {step}")
        record = TimeoutFired(_int(fields[0], "height"), _int(fields[1], "round"), Step(step))
    elif kind == KIND_BLOCK_READY and len(fields) == 3:
        block_hash = fields[2]
        if not isinstance(block_hash, bytes) or len(block_hash) != HASH_SIZE:
            raise MalformedMessage(f"WAL record block hash: expected {HASH_SIZE} bytes")
        record = BlockReady(_int(fields[0], "height"), _int(fields[1], "round"), block_hash)
    elif kind == KIND_END_HEIGHT and len(fields) == 1:
        record = EndHeight(_int(fields[0], "height"))
    elif kind == KIND_POA_VOTE and len(fields) == 1:
        record = FinalityVoteReceived(_poa_vote(fields[0]))
    elif kind == KIND_POA_JUSTIFICATION and len(fields) == 1:
        if not isinstance(fields[0], list):
            raise MalformedMessage("WAL justification record: expected a list of votes")
        record = JustificationReceived(tuple(_poa_vote(item) for item in fields[0]))
    elif kind == KIND_FINALIZED and len(fields) == 1:
        record = FinalizedMarker(_int(fields[0], "number"))
    else:
        raise MalformedMessage(f"WAL record: unknown kind {kind} with {len(fields)} fields")
    if encode_record(record) != data:
        raise MalformedMessage("WAL record: not canonical")
    return record


# --- replay ------------------------------------------------------------------------------------


def compute_replay(records: Iterable[WalRecord]) -> Replay | None:
    """The inputs to feed a restarted core: those after the last ``EndHeight``, for the
    height after it. None when there is no marker (a log that says nothing of any height)."""
    last: int | None = None
    inputs: list[WalInput] = []
    for record in records:
        if type(record) is EndHeight:
            last = record.height
            inputs = []
        else:
            inputs.append(record)
    if last is None:
        return None
    return Replay(last + 1, tuple(inputs))


def compute_poa_replay(records: Iterable[WalRecord]) -> tuple[PoaWalInput, ...]:
    """The poa inputs to feed a restarted core, in order: those with a vote targeting above the
    last ``FinalizedMarker`` (all of them without one), wherever they are in the log.

    A justification keeps only its votes above the marker (the others cannot count: they
    target the finalized block or below). Records of other engines are skipped. The same
    selection compacts the log: the marker, then what this returns.
    """
    inputs: list[PoaWalInput] = []
    final = -1
    for record in records:
        kind = type(record)
        if kind is FinalizedMarker:
            final = max(final, record.number)
        elif kind is FinalityVoteReceived or kind is JustificationReceived:
            inputs.append(record)
    kept: list[PoaWalInput] = []
    for event in inputs:
        if type(event) is FinalityVoteReceived:
            if event.vote.target_number > final:
                kept.append(event)
        else:
            votes = tuple(vote for vote in event.votes if vote.target_number > final)
            if votes:
                kept.append(event if len(votes) == len(event.votes) else JustificationReceived(votes))
    return tuple(kept)


def compute_last_signed(inputs: Iterable[Event], address: bytes | None) -> SignState | None:
    """The latest (height, round, step) among ``address``'s own messages in ``inputs``.

    A node writes its own message to the log before it persists its sign state, so after a
    crash between the two the log knows better; the restarted core's guard takes the later.
    """
    if address is None:
        return None
    best: SignState | None = None
    for event in inputs:
        kind = type(event)
        if kind is VoteReceived and event.vote.validator == address:
            step = Step.PREVOTE if event.vote.type == VoteType.PREVOTE else Step.PRECOMMIT
            state = SignState(event.vote.height, event.vote.round, step)
        elif kind is ProposalReceived and event.proposal.proposer == address:
            state = SignState(event.proposal.height, event.proposal.round, Step.PROPOSE)
        else:
            continue
        if best is None or state > best:
            best = state
    return best


__all__ = [
    "EndHeight", "FinalizedMarker", "MAX_JUSTIFICATION_RECORD_BYTES", "MAX_RECORD_BYTES", "PoaWalInput", "Replay",
    "WalInput", "WalRecord", "compute_last_signed", "compute_poa_replay", "compute_replay", "decode_record",
    "encode_record",
]
