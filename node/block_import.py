"""Importing a block someone else built: checked by the engine and the runtime, then stored.

A block from a peer (gossip, sync) or a replayed WAL goes through ``BlockImporter.execute``
(no writes): the header against its parent and its seal (``engine.validate_header``), the
consensus data it carries (the parent's commit, evidence), then every transaction re-run
(``runtime.executive.execute_block``: roots, gas, bloom must match). ``import_block`` then
stores it: on the head it becomes the head; on another fork it is kept as a side block for
the engine's fork choice (``Node.switch_head``).

On the wire a block is ``rlp([header, [raw transactions], consensus data, seal])``: senders
are recovered here, never taken from the sender's word.
"""
from __future__ import annotations

from dataclasses import dataclass

import rlp

from consensus.block_data import BlockData, validate_block_data
from consensus.engine import ConsensusEngine, Seal
from consensus.errors import ConsensusError
from node.chain import Block
from node.service import Node
from runtime.errors import InvalidBlock, InvalidTransaction
from runtime.executive import BuiltBlock, execute_block
from runtime.primitives.header import Header, decode_header, encode_header
from runtime.primitives.transaction import Transaction, decode_transaction

MAX_BLOCK_MESSAGE_BYTES = 8 * 1024 * 1024


class BlockRefused(Exception):
    """A block this node will not store, with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownParent(BlockRefused):
    """The parent is not stored here (yet): sync it first."""


@dataclass(frozen=True, slots=True)
class WireBlock:
    header: Header
    transactions: tuple[Transaction, ...]
    consensus_data: bytes
    seal: Seal | None

    def encode(self) -> bytes:
        return rlp.encode([encode_header(self.header), [tx.raw for tx in self.transactions],
                           self.consensus_data, b"" if self.seal is None else self.seal.encode()])

    @classmethod
    def from_block(cls, block: Block, seal: bytes | None) -> WireBlock:
        return cls(block.header, tuple(block.transactions), block.consensus_data,
                   None if seal is None else Seal.decode(seal))

    @classmethod
    def decode(cls, data: bytes) -> WireBlock:
        """Raises: BlockRefused, naming what is wrong."""
        if len(data) > MAX_BLOCK_MESSAGE_BYTES:
            raise BlockRefused(f"block message of {len(data)} bytes exceeds {MAX_BLOCK_MESSAGE_BYTES}")
        try:
            items = rlp.decode(data)
        except Exception:
            raise BlockRefused("block message is not an RLP encoding") from None
        if (not isinstance(items, list) or len(items) != 4 or not isinstance(items[1], list)
                or not all(isinstance(x, bytes) for x in (items[0], items[2], items[3], *items[1]))):
            raise BlockRefused("block message is [header, [transactions], consensus data, seal]")
        try:
            header = decode_header(items[0])
        except Exception as exc:
            raise BlockRefused(f"bad header: {exc}") from None
        transactions = []
        for index, raw in enumerate(items[1]):
            try:
                transactions.append(decode_transaction(raw))
            except InvalidTransaction as exc:
                raise BlockRefused(f"transaction {index}: {exc}") from None
        try:
            seal = Seal.decode(items[3]) if items[3] else None
        except ConsensusError as exc:
            raise BlockRefused(f"bad seal: {exc.reason}") from None
        return cls(header, tuple(transactions), bytes(items[2]), seal)


class BlockImporter:
    def __init__(self, node: Node, engine: ConsensusEngine) -> None:
        self.node = node
        self.chain = node.chain
        self.engine = engine

    def execute(self, block: WireBlock, *, check_seal: bool = True) -> BuiltBlock:
        """Every check, no write.

        ``check_seal=False`` is for a bft proposal, whose seal (the commit) does not exist yet.

        Raises:
            UnknownParent, BlockRefused: with the reason.
        """
        header = block.header
        chain = self.chain
        parent = chain.get_header_by_hash(header.parent_hash)
        if parent is None:
            raise UnknownParent(f"parent 0x{header.parent_hash.hex()} of block {header.number} is unknown")
        finalized = chain.finalized
        if header.number <= finalized.number:
            raise BlockRefused(f"block {header.number} is at or below the finalized block {finalized.number}")
        try:
            if check_seal:
                self.engine.validate_header(header, parent, block.seal)
            data = BlockData.decode(block.consensus_data)
            validate_block_data(self.engine, header, parent, data)
        except ConsensusError as exc:
            raise BlockRefused(exc.reason) from None
        for evidence in data.evidence:
            included = chain.get_evidence_block(evidence.compute_hash())
            if included is not None and included < header.number:
                raise BlockRefused(f"evidence already included in block {included}")
        try:
            return execute_block(
                chain.store, parent, header, list(block.transactions),
                chain_id=chain.spec.chain_id, prev_hashes=chain.ancestor_hashes(parent),
                consensus_data=block.consensus_data,
            )
        except InvalidBlock as exc:
            raise BlockRefused(str(exc)) from None

    def import_block(self, block: WireBlock) -> tuple[Block, bool]:
        """Check and store ``block``; returns (the stored block, whether it is the new head).

        A block already stored is returned as it is.

        Raises:
            UnknownParent, BlockRefused: with the reason.
        """
        chain = self.chain
        stored = chain.get_block_by_hash(block.header.hash)
        if stored is not None:
            return stored, False
        built = self.execute(block)
        seal = None if block.seal is None else block.seal.encode()
        if block.header.parent_hash == chain.head.hash:
            return self.node.commit_built(built, seal=seal), True
        return chain.store_side(built, seal=seal), False


__all__ = ["BlockImporter", "BlockRefused", "UnknownParent", "WireBlock"]
