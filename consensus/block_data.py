"""What a consensus engine carries inside a block: the parent's commit and evidence.

A header keeps Ethereum's layout, so the engine's part of a block travels in the block
body and the header commits to it by hash (``extra_data = keccak256(encoding)``, see
``runtime.executive.build_block``), as CometBFT's header commits to its ``LastCommit``
and ``Evidence``. Once a block is on the chain, what it carries can never change.

- ``last_commit``: for ``bft``, the commit (the seal: >2/3 of precommits) of the parent
  block. Every block above 1 carries one, so anyone can check every block's finality from
  the blocks alone, whatever seal a node happened to store beside each. ``poa`` proves
  finality with finality votes instead and carries none.
- ``evidence``: misbehaviour any node can verify (``DoubleSign``, ``DoubleSeal``,
  ``DoubleFinalityVote``, ``SurroundVote``), at most ``MAX_EVIDENCE_PER_BLOCK``, each included once in
  a chain (the node keeps an index), so the PoS pallet can slash on it.

Encoding: empty bytes when there is nothing to carry (the block then has ordinary
``extra_data``), else ``rlp([last_commit seal encoding or b"", [evidence encodings]])``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

import rlp

from consensus.engine import ConsensusEngine, Seal
from consensus.errors import ConsensusError, InvalidEvidence, MalformedMessage, OversizedMessage
from consensus.evidence import KIND_DOUBLE_SIGN, DoubleSign, Evidence
from consensus.poa.evidence import (
    KIND_DOUBLE_FINALITY_VOTE,
    KIND_DOUBLE_SEAL,
    KIND_SURROUND_VOTE,
    DoubleFinalityVote,
    DoubleSeal,
    SurroundVote,
)
from consensus.types import ValidatorSet
from runtime.primitives.header import Header

MAX_EVIDENCE_PER_BLOCK = 32
MAX_EVIDENCE_BYTES = 4096
MAX_BLOCK_DATA_BYTES = 64 * 1024 + MAX_EVIDENCE_PER_BLOCK * MAX_EVIDENCE_BYTES

EVIDENCE_DECODERS: dict[int, Callable[[bytes], Evidence]] = {
    KIND_DOUBLE_SIGN: DoubleSign.decode,
    KIND_DOUBLE_SEAL: DoubleSeal.decode,
    KIND_DOUBLE_FINALITY_VOTE: DoubleFinalityVote.decode,
    KIND_SURROUND_VOTE: SurroundVote.decode,
}


class InvalidBlockData(ConsensusError):
    """A block whose consensus data the engine refuses (missing or bad commit, bad evidence)."""


def decode_evidence(data: bytes) -> Evidence:
    """Any kind of evidence from its encoding (``rlp([kind, first, second])``).

    Raises:
        OversizedMessage, MalformedMessage: with the reason.
    """
    if len(data) > MAX_EVIDENCE_BYTES:
        raise OversizedMessage(len(data), MAX_EVIDENCE_BYTES)
    try:
        items = rlp.decode(data)
    except Exception:
        raise MalformedMessage("evidence is not an RLP encoding") from None
    if not isinstance(items, list) or not items or not isinstance(items[0], bytes) or len(items[0]) != 1:
        raise MalformedMessage("evidence starts with its one-byte kind")
    decoder = EVIDENCE_DECODERS.get(items[0][0])
    if decoder is None:
        raise MalformedMessage(f"unknown evidence kind {items[0][0]}")
    evidence = decoder(data)
    if evidence.encode() != data:
        raise MalformedMessage("evidence encoding is not canonical")
    return evidence


@dataclass(frozen=True, slots=True)
class BlockData:
    last_commit: Seal | None = None
    evidence: tuple[Evidence, ...] = ()

    def encode(self) -> bytes:
        if self.last_commit is None and not self.evidence:
            return b""
        commit = b"" if self.last_commit is None else self.last_commit.encode()
        return rlp.encode([commit, [e.encode() for e in self.evidence]])

    @classmethod
    def decode(cls, data: bytes) -> BlockData:
        """Raises: OversizedMessage, MalformedMessage (shape only; ``validate`` checks the rest)."""
        if not data:
            return cls()
        if len(data) > MAX_BLOCK_DATA_BYTES:
            raise OversizedMessage(len(data), MAX_BLOCK_DATA_BYTES)
        try:
            items = rlp.decode(data)
        except Exception:
            raise MalformedMessage("block consensus data is not an RLP encoding") from None
        if (not isinstance(items, list) or len(items) != 2 or not isinstance(items[0], bytes)
                or not isinstance(items[1], list) or not all(isinstance(e, bytes) for e in items[1])):
            raise MalformedMessage("block consensus data is [last commit, [evidence, ...]]")
        if len(items[1]) > MAX_EVIDENCE_PER_BLOCK:
            raise MalformedMessage(f"more than {MAX_EVIDENCE_PER_BLOCK} pieces of evidence")
        commit = Seal.decode(items[0]) if items[0] else None
        block_data = cls(commit, tuple(decode_evidence(e) for e in items[1]))
        if block_data.encode() != data:
            raise MalformedMessage("block consensus data encoding is not canonical")
        return block_data

    def validate_evidence(self, header: Header, *, chain_id: int, validators: ValidatorSet) -> None:
        """Each piece proves misbehaviour by a validator, at or below this block, once.

        Raises:
            InvalidBlockData: naming the piece and the reason.
        """
        seen: set[bytes] = set()
        for index, evidence in enumerate(self.evidence):
            key = evidence.compute_hash()
            if key in seen:
                raise InvalidBlockData(f"evidence {index} is included twice")
            seen.add(key)
            if evidence.height > header.number:
                raise InvalidBlockData(f"evidence {index} is from height {evidence.height}, "
                                       f"above the block's {header.number}")
            try:
                evidence.validate(chain_id, validators)
            except InvalidEvidence as exc:
                raise InvalidBlockData(f"evidence {index}: {exc.reason}") from None


def compose_block_data(engine: ConsensusEngine, parent: Header, parent_seal: Seal | None,
                       evidence: Iterable[Evidence] = ()) -> BlockData:
    """What the block built on ``parent`` carries: the parent's commit (engines that carry
    one, from block 2 on) and up to ``MAX_EVIDENCE_PER_BLOCK`` pieces of evidence, in hash order."""
    commit = parent_seal if engine.carries_last_commit and parent.number >= 1 else None
    chosen = sorted(evidence, key=lambda e: e.compute_hash())[:MAX_EVIDENCE_PER_BLOCK]
    return BlockData(commit, tuple(chosen))


def validate_block_data(engine: ConsensusEngine, header: Header, parent: Header, data: BlockData) -> None:
    """The block's consensus data is what ``engine`` requires of a child of ``parent``.

    Raises:
        InvalidBlockData: with the reason.
    """
    if engine.carries_last_commit and parent.number >= 1:
        if data.last_commit is None:
            raise InvalidBlockData(f"block {header.number} does not carry the commit of its parent")
        try:
            engine.validate_seal(parent, data.last_commit)
        except ConsensusError as exc:
            raise InvalidBlockData(f"the parent's commit it carries is invalid: {exc.reason}") from None
    elif data.last_commit is not None:
        raise InvalidBlockData(f"a {engine.name} block {header.number} carries no parent commit")
    data.validate_evidence(header, chain_id=engine.chain_id, validators=engine.validators)


__all__ = [
    "BlockData", "compose_block_data", "validate_block_data", "EVIDENCE_DECODERS", "InvalidBlockData", "MAX_EVIDENCE_PER_BLOCK", "decode_evidence",
]
