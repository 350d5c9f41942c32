"""Importing a block someone else built: checked by the engine and the runtime, then stored.

A block from a peer (gossip, sync) or a replayed WAL goes through ``BlockImporter.execute``
(no writes): the header against its parent and its seal (``engine.validate_header``), the
consensus data it carries (the parent's commit, evidence), then every transaction re-run
(``runtime.executive.execute_block``: roots, gas, bloom must match). ``import_block`` then
stores it: on the head it becomes the head; on another fork it is kept as a side block for
the engine's fork choice (``Node.switch_head``).

On the wire a block is ``rlp([header, [raw transactions], consensus data, seal])``: senders
are recovered here, never taken from the sender's word.

**Final blocks without execution (fast sync).** Under an engine whose seal proves finality
(bft: the seal is the commit, >2/3 of the voting power), a block with a valid seal is what
the validators executed and agreed on, state root included. ``import_final`` stores such
blocks with the receipts a peer sent, without executing them and without state
(``Chain.store_final``): each is checked against its parent (parent hash, number,
timestamp, base fee, gas limit), its seal, its consensus data (the parent's commit it
carries, evidence) and its body (transactions root from the transactions; receipts root,
logs bloom and gas used from the receipts). Transactions stay raw: their senders are
recovered when they are read.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import rlp

from consensus.block_data import BlockData, validate_block_data
from consensus.engine import ConsensusEngine, Seal
from consensus.errors import ConsensusError
from node.chain import Block, FinalBlockRecord
from node.service import Node
from runtime.errors import InvalidBlock, InvalidTransaction
from runtime.executive import BuiltBlock, commit_consensus_data, compute_child_base_fee, execute_block
from runtime.primitives.hashing import keccak256
from runtime.primitives.header import Header, decode_header, encode_header
from runtime.primitives.receipt import decode_receipt, merge_blooms
from runtime.primitives.transaction import TX_MAX_SIZE, Transaction, decode_transaction
from runtime.primitives.trie import compute_ordered_root

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


@dataclass(frozen=True, slots=True)
class FinalBlock:
    """A block as fast sync takes it: transactions raw (neither decoded nor senders
    recovered), with its seal and the receipts the peer sent (encoded, in order)."""

    header: Header
    encoded_header: bytes
    raw_transactions: tuple[bytes, ...]
    consensus_data: bytes
    seal: Seal | None
    receipts: bytes  # rlp([receipt encoding, ...]), as received and as stored

    @classmethod
    def decode(cls, block: bytes, receipts: bytes) -> FinalBlock:
        """From a wire block (``WireBlock``'s encoding) and ``rlp([receipt, ...])``.

        Raises: BlockRefused, naming what is wrong.
        """
        if len(block) > MAX_BLOCK_MESSAGE_BYTES:
            raise BlockRefused(f"block message of {len(block)} bytes exceeds {MAX_BLOCK_MESSAGE_BYTES}")
        try:
            items = rlp.decode(block)
        except Exception:
            raise BlockRefused("block message is not an RLP encoding") from None
        if (not isinstance(items, list) or len(items) != 4 or not isinstance(items[1], list)
                or not all(isinstance(x, bytes) for x in (items[0], items[2], items[3], *items[1]))):
            raise BlockRefused("block message is [header, [transactions], consensus data, seal]")
        for index, raw in enumerate(items[1]):
            if not raw or len(raw) > TX_MAX_SIZE:
                raise BlockRefused(f"transaction {index}: empty or over {TX_MAX_SIZE} bytes")
        try:
            header = decode_header(items[0])
        except Exception as exc:
            raise BlockRefused(f"bad header: {exc}") from None
        try:
            seal = Seal.decode(items[3]) if items[3] else None
        except ConsensusError as exc:
            raise BlockRefused(f"bad seal: {exc.reason}") from None
        return cls(header, bytes(items[0]), tuple(items[1]), bytes(items[2]), seal, bytes(receipts))


def verify_final_block(engine: ConsensusEngine, block: FinalBlock, parent: Header) -> FinalBlockRecord:
    """Check a final block without executing it: against its parent, its seal (which must
    prove finality), its consensus data, and its body and receipts against its header.

    Raises:
        BlockRefused: with the reason.
    """
    header = block.header
    if header.base_fee_per_gas != compute_child_base_fee(parent):
        raise BlockRefused(f"base fee {header.base_fee_per_gas} of block {header.number} does not follow its parent")
    if header.gas_limit != parent.gas_limit:
        raise BlockRefused(f"gas limit {header.gas_limit} of block {header.number} differs from its parent's")
    if block.consensus_data and header.extra_data != commit_consensus_data(block.consensus_data):
        raise BlockRefused("extra_data does not commit to the block's consensus data")
    try:
        engine.validate_header(header, parent, block.seal)
        data = BlockData.decode(block.consensus_data)
        validate_block_data(engine, header, parent, data)
    except ConsensusError as exc:
        raise BlockRefused(exc.reason) from None
    raws = list(block.raw_transactions)
    if compute_ordered_root(raws) != header.transactions_root:
        raise BlockRefused(f"the transactions of block {header.number} do not match its transactions root")
    try:
        encoded_receipts = rlp.decode(block.receipts)  # strict: only a canonical encoding is stored as it came
    except Exception:
        raise BlockRefused(f"the receipts of block {header.number} are not an RLP encoding") from None
    if not isinstance(encoded_receipts, list) or not all(isinstance(r, bytes) for r in encoded_receipts):
        raise BlockRefused(f"the receipts of block {header.number} are not a list of encodings")
    if len(encoded_receipts) != len(raws):
        raise BlockRefused(f"block {header.number} has {len(raws)} transactions and {len(encoded_receipts)} receipts")
    if compute_ordered_root(encoded_receipts) != header.receipts_root:
        raise BlockRefused(f"the receipts of block {header.number} do not match its receipts root")
    try:
        receipts = [decode_receipt(r) for r in encoded_receipts]
    except Exception:
        raise BlockRefused(f"a receipt of block {header.number} does not decode") from None
    gas_used = receipts[-1].cumulative_gas_used if receipts else 0
    if gas_used != header.gas_used:
        raise BlockRefused(f"receipts of block {header.number} use {gas_used} gas, its header says {header.gas_used}")
    if merge_blooms([r.bloom for r in receipts]) != header.logs_bloom:
        raise BlockRefused(f"the receipts' blooms of block {header.number} do not make its logs bloom")
    return FinalBlockRecord(header, block.encoded_header, raws, [keccak256(raw) for raw in raws], receipts,
                            block.receipts, block.consensus_data, block.seal.encode())


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

        A block already stored is returned as it is, unless a fast sync stored it without
        its state.

        Raises:
            UnknownParent, BlockRefused: with the reason.
        """
        chain = self.chain
        stored = chain.get_block_by_hash(block.header.hash)
        if stored is not None and chain.has_state(stored.header):
            return stored, False  # (one stored by a fast sync without its state is executed now)
        built = self.execute(block)
        seal = None if block.seal is None else block.seal.encode()
        if block.header.parent_hash == chain.head.hash:
            return self.node.commit_built(built, seal=seal), True
        return chain.store_side(built, seal=seal), False

    def import_final(self, blocks: Sequence[FinalBlock], parent: Header) -> Header:
        """Check final blocks extending ``parent`` (the head, or the last block stored without
        state) one after the other (``verify_final_block``) and store them without execution
        or state in one atomic write (``Chain.store_final``); the head does not move. Blocks
        already stored are passed over. Returns the last block's header.

        Nothing is stored if one block is refused: the caller asks for the range again.

        Raises:
            BlockRefused: with the reason (and the refused block's number in it).
        """
        chain = self.chain
        if blocks[0].header.number <= chain.finalized.number:
            raise BlockRefused(f"block {blocks[0].header.number} is at or below the finalized block "
                               f"{chain.finalized.number}")
        records = []
        for block in blocks:
            if block.header.parent_hash != parent.hash:
                raise BlockRefused(f"block {block.header.number} does not extend block {parent.number} "
                                   f"0x{parent.hash.hex()}")
            if chain.get_header_by_hash(block.header.hash) is None:
                records.append(verify_final_block(self.engine, block, parent))
            parent = block.header
        chain.store_final(records)
        return parent


__all__ = ["BlockImporter", "BlockRefused", "FinalBlock", "UnknownParent", "WireBlock", "verify_final_block"]
