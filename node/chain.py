"""The chain as the node keeps it: genesis, head, sealed blocks, and what RPC reads.

One ``Chain`` owns the store. ``seal`` builds the next block with the runtime and
commits header, body, receipts, indexes, state and the new head in one atomic write.

**Edited head state (dev chains).** ``anvil_setBalance`` & co. change the state without a
block, as Anvil does: the node writes the edited trie nodes and records the new root as the
*dev head state* (``Keys.DEV_HEAD_STATE``, with the head's hash), in one atomic write, so a
restart keeps it. ``Chain.head`` is then the stored head header with ``state_root`` swapped
for that root (its hash and RLP stay the sealed block's): whatever reads state at the head
(by tag, number or hash: ``state_at``, eth_call, proofs) sees the edits, and the next block
is built on them. The stored block keeps its sealed header (``get_block_*`` return it, so
``eth_getBlockByNumber`` shows the state root it was sealed with, as Anvil does). Sealing
the next block or a reorg drops the dev head state in the same write; a rewind (evm_revert)
puts back the one its snapshot remembered, if any. The runtime never sees any of this: it
builds the next block on ``head.state_root`` as always.
"""
from __future__ import annotations

import json
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import rlp
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB

from consensus.block_data import BlockData
from node.storage import Keys
from runtime.chainspec import ChainSpec, encode_chain_spec
from runtime.executive import BuiltBlock, build_block, build_genesis, compute_child_base_fee, warm_account_cache
from runtime.primitives.hashing import keccak256
from runtime.primitives.header import BLANK_ROOT, Header, decode_header, encode_header
from runtime.primitives.receipt import Receipt, decode_receipt, encode_receipt_list
from runtime.primitives.transaction import Transaction, decode_transaction
from runtime.state.store import STATE_PREFIX, KeyValueStore, StateDB

PREV_HASHES = 256
BLOCK_CACHE_SIZE = 512


class ChainMismatch(Exception):
    """The datadir holds another chain than the spec describes."""


class StateUnavailable(Exception):
    """The state of a block this node never had: it fast-synced past it (``node/state_sync.py``)."""

    def __init__(self, number: int) -> None:
        super().__init__(f"state of block {number} is not available (fast-synced)")
        self.number = number


@dataclass(slots=True)
class Block:
    header: Header
    transactions: list[Transaction]
    receipts: list[Receipt]
    consensus_data: bytes = b""  # the engine's part of the block (parent's commit, evidence)

    @property
    def hash(self) -> bytes:
        return self.header.hash


@dataclass(frozen=True, slots=True)
class FinalBlockRecord:
    """A final block to store without its state (fast sync), already checked against its
    header and commit (``node.block_import.verify_final_block``)."""

    header: Header
    encoded_header: bytes
    raw_transactions: list[bytes]
    tx_hashes: list[bytes]
    receipts: list[Receipt]
    encoded_receipts: bytes  # rlp([receipt, ...]), as stored
    consensus_data: bytes
    seal: bytes

    @property
    def hash(self) -> bytes:
        return self.header.hash


def encode_body(transactions: list[Transaction], consensus_data: bytes = b"") -> bytes:
    # Senders are stored beside the transactions so a reload never recovers them again.
    return encode_raw_body([tx.raw for tx in transactions], b"".join(tx.sender for tx in transactions),
                           consensus_data)


def encode_raw_body(raws: list[bytes], senders: bytes, consensus_data: bytes = b"") -> bytes:
    """A body from raw transactions; ``senders`` empty when they were never recovered (a
    fast-synced block: ``decode_body`` recovers them on reading)."""
    items: list = [raws, senders]
    if consensus_data:
        items.append(consensus_data)
    return rlp.encode(items, infer_serializer=False)  # bytes and lists only: 2x faster without sedes


def decode_body(data: bytes) -> list[Transaction]:
    raws, senders = rlp.decode(data)[:2]
    transactions = [decode_transaction(bytes(raw), sender=senders[20 * i : 20 * i + 20] or None)
                    for i, raw in enumerate(raws)]
    for tx in transactions:
        if is_impersonated(tx):
            prepare_impersonated(tx)
    return transactions


def is_impersonated(tx: Transaction) -> bool:
    """Sent for an impersonated account (dev): signature r = s = 0, which no key can make.

    Only a dev node makes these (``node/rpc/signing.py``) and only its own stored blocks are
    read with their senders (``decode_body``); a block from a peer is decoded with sender
    recovery, which refuses r = 0.
    """
    return tx.r == 0 and tx.s == 0


def prepare_impersonated(tx: Transaction) -> Transaction:
    """Give an impersonated transaction (decoded with its ``sender``) Anvil's hash and an
    object py-evm executes.

    py-evm refuses r = s = 0 (it checks the signature's range, never the signature itself,
    since the sender is already known), so it runs a copy with r = s = 1 and the sender
    filled in; the block, the hash and RPC keep r = s = 0.
    """
    tx.hash = compute_impersonated_hash(tx.raw, tx.sender)
    executable = tx.evm.copy(r=1, s=1)
    executable.__dict__["sender"] = tx.sender  # a cached_property: never recovered
    tx.evm = executable
    return tx


def compute_impersonated_hash(raw: bytes, sender: bytes) -> bytes:
    """The hash of an impersonated transaction, derived as Anvil derives it.

    Two accounts impersonated with the same fields would share the unsigned transaction's
    hash, so the sender is appended: keccak256(network encoding || sender), where the
    network encoding of a typed transaction is its EIP-2718 envelope as an RLP string and
    that of a legacy one its RLP list.
    """
    encoded = raw if raw[0] >= 0xC0 else rlp.encode(raw)
    return keccak256(encoded + sender)


def make_working_head(header: Header, state_root: bytes) -> Header:
    """``header`` with another state root, keeping the sealed block's hash and RLP."""
    working = header.copy(state_root=state_root)
    working.__dict__["hash"] = header.hash  # Header.hash is a cached_property
    working._cached_rlp = encode_header(header)  # rlp.encode returns it as the encoding
    return working


def decode_body_consensus_data(data: bytes) -> bytes:
    items = rlp.decode(data)
    return bytes(items[2]) if len(items) > 2 else b""


class Chain:
    def __init__(self, store: KeyValueStore, spec: ChainSpec) -> None:
        self.store = store
        self.spec = spec
        self._blocks: OrderedDict[bytes, Block] = OrderedDict()
        self._tx_index: dict[bytes, tuple[bytes, int]] = {}
        # (state root, accounts decoded at that root) from the last block committed: the next
        # block and the head's read view start with them cached (``build_block``'s ``warm_accounts``).
        self._warm_accounts: tuple[bytes, dict] = (b"", {})
        genesis_hash = store.get(Keys.GENESIS)
        genesis, writes = build_genesis(spec, store)
        if genesis_hash is None:
            puts = dict(writes)
            puts[Keys.header(genesis.hash)] = encode_header(genesis)
            puts[Keys.body(genesis.hash)] = encode_body([])
            puts[Keys.receipts(genesis.hash)] = rlp.encode([])
            puts[Keys.canonical(0)] = genesis.hash
            puts[Keys.GENESIS] = genesis.hash
            puts[Keys.HEAD] = genesis.hash
            puts[Keys.SPEC] = json.dumps(encode_chain_spec(spec), sort_keys=True).encode()
            puts[Keys.LOG_ANY_INDEXED] = b"\x01"
            store.write(puts)
        else:
            # The genesis header does not commit to the chain id: compare both.
            stored_id = json.loads(store.get(Keys.SPEC))["chainId"]
            if genesis_hash != genesis.hash or stored_id != spec.chain_id:
                raise ChainMismatch(
                    f"the datadir holds chain id {stored_id} with genesis 0x{genesis_hash.hex()}, but the chain "
                    f"spec '{spec.name}' has chain id {spec.chain_id} and genesis 0x{genesis.hash.hex()}; "
                    "use another --datadir"
                )
        self.genesis = genesis
        self._log_any_indexed = store.get(Keys.LOG_ANY_INDEXED) is not None
        head_hash = store.get(Keys.HEAD)
        self.head: Header  # the working head: see "Edited head state" above
        self.dev_state_root: bytes | None = None
        dev_state = store.get(Keys.DEV_HEAD_STATE)
        dev_root = dev_state[32:] if dev_state is not None and dev_state[:32] == head_hash else None
        self._set_head(self._stored_header(head_hash), dev_root)
        self._prev_hashes: deque[bytes] = deque(maxlen=PREV_HASHES)
        for number in range(max(0, self.head.number - PREV_HASHES + 1), self.head.number + 1):
            self._prev_hashes.appendleft(store.get(Keys.canonical(number)))

    # -- writing -------------------------------------------------------------------

    def build(self, transactions: Iterable[Transaction], *, timestamp: int, coinbase: bytes | None = None,
              consensus_data: bytes = b"") -> BuiltBlock:
        timestamp = max(timestamp, self.head.timestamp)
        return build_block(
            self.store,
            self.head,
            transactions,
            timestamp=timestamp,
            coinbase=self.spec.coinbase if coinbase is None else coinbase,
            chain_id=self.spec.chain_id,
            prev_hashes=self._prev_hashes,
            consensus_data=consensus_data,
            warm_accounts=self._warm_accounts_at(self.head.state_root),
        )

    def _warm_accounts_at(self, state_root: bytes) -> dict | None:
        root, accounts = self._warm_accounts
        return accounts if root == state_root else None

    def commit(self, built: BuiltBlock, *, seal: bytes | None = None) -> Block:
        """Write a built block (and its consensus seal) and make it the head, in one atomic batch."""
        if built.header.parent_hash != self.head.hash:
            raise ValueError("block does not extend the head")
        block = Block(built.header, built.transactions, built.receipts, built.consensus_data)
        puts = self._record_puts(built, seal)
        puts.update(self._canonical_puts(block))
        puts[Keys.HEAD] = block.hash
        self.store.write(puts, [Keys.DEV_HEAD_STATE] if self.dev_state_root is not None else ())
        self._remember(block)
        self._set_head(block.header)
        self._prev_hashes.appendleft(block.hash)
        self._warm_accounts = (built.header.state_root, built.accounts)
        return block

    def store_final(self, records: Iterable[FinalBlockRecord]) -> None:
        """Store final blocks without their state (fast sync), in one atomic write: header,
        body (senders not recovered), receipts, seal and the canonical indexes (number, tx
        locations, logs, evidence). The head does not move: ``set_synced_head`` moves it once
        the state of a block is in; until then RPC sees none of these blocks."""
        puts: dict[bytes, bytes] = {}
        for record in records:
            block_hash = record.hash
            puts[Keys.FINAL_TIP] = block_hash
            puts[Keys.header(block_hash)] = record.encoded_header
            puts[Keys.body(block_hash)] = encode_raw_body(record.raw_transactions, b"", record.consensus_data)
            puts[Keys.receipts(block_hash)] = record.encoded_receipts
            puts[Keys.seal(block_hash)] = record.seal
            puts.update(self._index_puts(record.header, record.tx_hashes, record.receipts, record.consensus_data))
        if puts:
            self.store.write(puts)

    @property
    def final_tip(self) -> Header:
        """The last block stored without state above the head (``store_final``), else the head:
        where a fast sync goes on downloading."""
        tip_hash = self.store.get(Keys.FINAL_TIP)
        header = None if tip_hash is None else self._stored_header(tip_hash)
        if header is None or header.number <= self.head.number or self.store.get(Keys.canonical(header.number)) != tip_hash:
            return self.head
        return header

    def set_synced_head(self, block_hash: bytes) -> Header:
        """Make the stored, canonically indexed block ``block_hash`` the head once its state is
        in (the end of a fast sync), in one write. Returns the new head.

        Raises:
            ValueError: the block is unknown, not indexed as canonical, below the head, or its state is missing.
        """
        header = self._stored_header(block_hash)
        if header is None or self.store.get(Keys.canonical(header.number)) != block_hash:
            raise ValueError(f"block 0x{block_hash.hex()} is not a stored canonical block")
        if header.number < self.head.number:
            raise ValueError(f"block {header.number} is below the head {self.head.number}")
        if not self.has_state(header):
            raise StateUnavailable(header.number)
        deletes = [Keys.DEV_HEAD_STATE] if self.dev_state_root is not None else []
        self.store.write({Keys.HEAD: block_hash}, deletes)
        self._set_head(header)
        self._prev_hashes = deque(self.ancestor_hashes(header), maxlen=PREV_HASHES)
        return header

    def set_head_state(self, state_root: bytes, state_writes: dict[bytes, bytes]) -> None:
        """Make ``state_root`` the head's state (a dev edit): its trie nodes ``state_writes``
        and the dev head state record, in one atomic write."""
        sealed = self._sealed_head
        if state_root == sealed.state_root:
            self.store.write(state_writes, [Keys.DEV_HEAD_STATE])
        else:
            self.store.write({**state_writes, Keys.DEV_HEAD_STATE: sealed.hash + state_root})
        self._set_head(sealed, state_root)

    def _set_head(self, sealed: Header, dev_state_root: bytes | None = None) -> None:
        """The stored header ``sealed`` becomes the head, with the dev head state if any."""
        self._sealed_head = sealed
        if dev_state_root is None or dev_state_root == sealed.state_root:
            self.head = sealed
            self.dev_state_root = None
        else:
            self.head = make_working_head(sealed, dev_state_root)
            self.dev_state_root = dev_state_root

    def store_side(self, built: BuiltBlock, *, seal: bytes | None = None) -> Block:
        """Keep a block of another fork (its state, header, body, receipts, seal) without
        making it canonical; ``reorg`` can make it the head later."""
        if self.get_header_by_hash(built.header.parent_hash) is None:
            raise ValueError("side block on an unknown parent")
        self.store.write(self._record_puts(built, seal))
        return Block(built.header, built.transactions, built.receipts, built.consensus_data)

    def is_canonical(self, header: Header) -> bool:
        return self.get_canonical_hash(header.number) == header.hash

    def reorg(self, new_head_hash: bytes) -> tuple[list[Block], list[Block]]:
        """Make the stored block ``new_head_hash`` the head and its chain canonical, in one
        atomic write. Returns (blocks no longer canonical, newest first; blocks made
        canonical, oldest first).

        Raises:
            ValueError: the block is unknown, or the switch would drop a finalized block.
        """
        header = self.get_header_by_hash(new_head_hash)
        if header is None:
            raise ValueError(f"unknown block 0x{new_head_hash.hex()}")
        added: list[Block] = []
        while not self.is_canonical(header):
            added.append(self.get_block_by_hash(header.hash))
            header = self.get_header_by_hash(header.parent_hash)
        ancestor = header
        if ancestor.number < self.finalized.number:
            raise ValueError(f"a switch to 0x{new_head_hash.hex()} would drop finalized block {self.finalized.number}")
        added.reverse()
        removed = [self.get_block_by_number(n) for n in range(self.head.number, ancestor.number, -1)]
        puts: dict[bytes, bytes] = {}
        deletes: list[bytes] = []
        for block in removed:
            deletes += self._canonical_puts(block).keys()
        for block in added:
            puts.update(self._canonical_puts(block))
        new_head = added[-1].header if added else self._stored_header(ancestor.hash)
        puts[Keys.HEAD] = new_head.hash
        deletes = [k for k in deletes if k not in puts]
        if self.dev_state_root is not None:
            deletes.append(Keys.DEV_HEAD_STATE)
        self.store.write(puts, deletes)
        for block in removed:
            for tx in block.transactions:
                self._tx_index.pop(tx.hash, None)
        for block in added:
            self._remember(block)
        self._prev_hashes = deque(self.ancestor_hashes(new_head), maxlen=PREV_HASHES)  # before the head moves
        self._set_head(new_head)
        return removed, added

    def ancestor_hashes(self, header: Header, count: int = PREV_HASHES) -> tuple[bytes, ...]:
        """``header``'s hash and its ancestors', newest first (the BLOCKHASH window of its child)."""
        if header.hash == self.head.hash:
            return tuple(self._prev_hashes)[:count]
        out = []
        current: Header | None = header
        while current is not None and len(out) < count:
            out.append(current.hash)
            if current.number == 0:
                break
            current = self.get_header_by_hash(current.parent_hash)
        return tuple(out)

    def _record_puts(self, built: BuiltBlock, seal: bytes | None) -> dict[bytes, bytes]:
        """The block's own records, keyed by hash: the same on every fork it may join."""
        block_hash = built.header.hash
        puts = built.state_writes
        puts[Keys.header(block_hash)] = encode_header(built.header)
        puts[Keys.body(block_hash)] = encode_body(built.transactions, built.consensus_data)
        puts[Keys.receipts(block_hash)] = encode_receipt_list([r.encode() for r in built.receipts])
        if seal is not None:
            puts[Keys.seal(block_hash)] = seal
        return puts

    def _canonical_puts(self, block: Block) -> dict[bytes, bytes]:
        """What makes ``block`` part of the canonical chain: its number, tx, log and evidence indexes."""
        return self._index_puts(block.header, [tx.hash for tx in block.transactions], block.receipts,
                                block.consensus_data)

    @staticmethod
    def _index_puts(header: Header, tx_hashes: list[bytes], receipts: list[Receipt],
                    consensus_data: bytes) -> dict[bytes, bytes]:
        block_hash = header.hash
        puts = {Keys.canonical(header.number): block_hash}
        if consensus_data:
            for evidence in BlockData.decode(consensus_data).evidence:
                puts[Keys.evidence(evidence.compute_hash())] = header.number.to_bytes(8, "big")
        for index, tx_hash in enumerate(tx_hashes):
            puts[Keys.tx_location(tx_hash)] = block_hash + index.to_bytes(4, "big")
        for receipt in receipts:
            for log in receipt.logs:
                puts[Keys.log_any(header.number)] = b""
                puts[Keys.log_address(log.address, header.number)] = b""
                for topic in log.topics:
                    puts[Keys.log_topic(topic, header.number)] = b""
        return puts

    def rewind(self, number: int, *, dev_state_root: bytes | None = None) -> list[Block]:
        """Make block ``number`` the head again, forgetting every later block (evm_revert),
        with ``dev_state_root`` as its edited state (a snapshot taken after an edit).

        One atomic write: a crash leaves either the old head or the new one. Returns the
        blocks forgotten, newest first.
        """
        if not 0 <= number <= self.head.number:
            raise ValueError(f"cannot rewind to block {number}: head is {self.head.number}")
        deletes: list[bytes] = []
        removed: list[Block] = []
        for n in range(self.head.number, number, -1):
            block = self.get_block_by_number(n)
            removed.append(block)
            deletes += [Keys.canonical(n), Keys.header(block.hash), Keys.body(block.hash), Keys.receipts(block.hash)]
            deletes += [Keys.tx_location(tx.hash) for tx in block.transactions]
            for receipt in block.receipts:
                for log in receipt.logs:
                    deletes.append(Keys.log_any(n))
                    deletes.append(Keys.log_address(log.address, n))
                    deletes += [Keys.log_topic(topic, n) for topic in log.topics]
            self._blocks.pop(block.hash, None)
            for tx in block.transactions:
                self._tx_index.pop(tx.hash, None)
        new_head = self._stored_header(self.store.get(Keys.canonical(number)))
        puts = {Keys.HEAD: new_head.hash}
        if dev_state_root is not None and dev_state_root != new_head.state_root:
            puts[Keys.DEV_HEAD_STATE] = new_head.hash + dev_state_root
        else:
            deletes.append(Keys.DEV_HEAD_STATE)
        self.store.write(puts, deletes)
        self._set_head(new_head, dev_state_root)
        self._prev_hashes.clear()
        for n in range(max(0, number - PREV_HASHES + 1), number + 1):
            self._prev_hashes.appendleft(self.store.get(Keys.canonical(n)))
        return removed

    # -- reading -------------------------------------------------------------------

    def get_justification(self, block_hash: bytes) -> bytes | None:
        """The finality proof stored when the engine finalized this block (poa: its votes)."""
        return self.store.get(Keys.justification(block_hash))

    def get_evidence_block(self, evidence_hash: bytes) -> int | None:
        """The number of the block that included this evidence (None: never included)."""
        data = self.store.get(Keys.evidence(evidence_hash))
        return None if data is None else int.from_bytes(data, "big")

    def get_seal(self, block_hash: bytes) -> bytes | None:
        """The consensus seal stored beside a block (None for dev-sealed blocks)."""
        return self.store.get(Keys.seal(block_hash))

    @property
    def finalized(self) -> Header:
        """The newest final block: the head when the dev sealer runs, else what the engine said."""
        block_hash = self.store.get(Keys.FINALIZED)
        if block_hash is None:
            return self.head if self.spec.engine == "dev" else self.genesis
        return self.get_header_by_hash(block_hash)

    def set_finalized(self, block_hash: bytes, justification: bytes | None = None) -> None:
        current = self.finalized
        header = self.get_header_by_hash(block_hash)
        if header is None or header.number < current.number:
            raise ValueError("finality never moves back")
        puts = {Keys.FINALIZED: block_hash}
        if justification is not None:
            puts[Keys.justification(block_hash)] = justification
        self.store.write(puts)

    @property
    def prev_hashes(self) -> tuple[bytes, ...]:
        """Hashes of the head and its ancestors, newest first (BLOCKHASH of the next block)."""
        return tuple(self._prev_hashes)

    @property
    def next_base_fee(self) -> int:
        return compute_child_base_fee(self.head)

    def get_canonical_hash(self, number: int) -> bytes | None:
        if number < 0 or number > self.head.number:
            return None
        return self.store.get(Keys.canonical(number))

    def get_header_by_hash(self, block_hash: bytes) -> Header | None:
        """The header to read state at: the working head for the head's hash, else as stored."""
        if block_hash == self.head.hash:
            return self.head
        return self._stored_header(block_hash)

    def _stored_header(self, block_hash: bytes) -> Header | None:
        cached = self._blocks.get(block_hash)
        if cached is not None:
            return cached.header
        data = self.store.get(Keys.header(block_hash))
        return decode_header(data) if data is not None else None

    def get_header_by_number(self, number: int) -> Header | None:
        block_hash = self.get_canonical_hash(number)
        return self.get_header_by_hash(block_hash) if block_hash else None

    def get_block_by_hash(self, block_hash: bytes) -> Block | None:
        block = self._blocks.get(block_hash)
        if block is not None:
            self._blocks.move_to_end(block_hash)
            return block
        header = self._stored_header(block_hash)
        if header is None:
            return None
        body = self.store.get(Keys.body(block_hash))
        transactions = decode_body(body)
        receipts = [decode_receipt(bytes(r)) for r in rlp.decode(self.store.get(Keys.receipts(block_hash)))]
        block = Block(header, transactions, receipts, decode_body_consensus_data(body))
        self._remember(block)
        return block

    def get_encoded_block(self, block_hash: bytes) -> tuple[bytes, list[bytes], bytes, bytes, bytes] | None:
        """A stored block as bytes, for serving peers without decoding its transactions:
        (header encoding, raw transactions, consensus data, seal or b"", receipts encoding)."""
        header = self.store.get(Keys.header(block_hash))
        if header is None:
            return None
        items = rlp.decode(self.store.get(Keys.body(block_hash)))
        consensus_data = bytes(items[2]) if len(items) > 2 else b""
        return (header, items[0], consensus_data, self.store.get(Keys.seal(block_hash)) or b"",
                self.store.get(Keys.receipts(block_hash)))

    def get_block_by_number(self, number: int) -> Block | None:
        block_hash = self.get_canonical_hash(number)
        return self.get_block_by_hash(block_hash) if block_hash else None

    def get_transaction_location(self, tx_hash: bytes) -> tuple[Block, int] | None:
        """The block holding ``tx_hash`` and the transaction's index in it."""
        location = self._tx_index.get(tx_hash)
        if location is None:
            data = self.store.get(Keys.tx_location(tx_hash))
            if data is None:
                return None
            location = (data[:32], int.from_bytes(data[32:], "big"))
        block = self.get_block_by_hash(location[0])
        return (block, location[1]) if block is not None else None

    def state_at(self, header: Header) -> AccountDB:
        """A read view of the state after ``header`` (writes go nowhere); for the head, its
        edited state if a dev method changed it.

        Raises:
            StateUnavailable: a block below the one this node fast-synced to.
        """
        root = self.head.state_root if header.hash == self.head.hash else header.state_root
        if not self.has_state(header):
            raise StateUnavailable(header.number)
        accounts = AccountDB(AtomicDB(StateDB(self.store)), root)
        warm = self._warm_accounts_at(root)
        if warm:
            warm_account_cache(accounts, warm)
        return accounts

    def has_state(self, header: Header) -> bool:
        """Whether the state after ``header`` is stored here (all of it, or none: a fast sync
        downloads only the state of its target block, and moves the head there once it is whole)."""
        root = self.head.state_root if header.hash == self.head.hash else header.state_root
        return root == BLANK_ROOT or self.store.get(STATE_PREFIX + root) is not None

    def blocks_with_logs(self, start: int, end: int, addresses: list[bytes], topics: list[list[bytes] | None]) -> Iterator[int]:
        """Numbers of blocks in [start, end] that may hold matching logs, ascending."""
        candidates: set[int] | None = None
        if addresses:
            candidates = set()
            for address in addresses:
                candidates |= self._indexed_numbers(Keys.LOG_ADDRESS + address, start, end)
        for alternatives in topics:
            if not alternatives:
                continue
            numbers: set[int] = set()
            for topic in alternatives:
                numbers |= self._indexed_numbers(Keys.LOG_TOPIC + topic, start, end)
            candidates = numbers if candidates is None else candidates & numbers
        if candidates is None and self._log_any_indexed:
            candidates = self._indexed_numbers(Keys.LOG_ANY, start, end)
        if candidates is None:
            yield from range(start, end + 1)  # a datadir from before the any-log index
        else:
            yield from sorted(candidates)

    def _indexed_numbers(self, prefix: bytes, start: int, end: int) -> set[int]:
        return {
            int.from_bytes(key[-8:], "big")
            for key, _ in self.store.iterate(prefix, start.to_bytes(8, "big"), (end + 1).to_bytes(8, "big"))
        }

    def _remember(self, block: Block) -> None:
        self._blocks[block.hash] = block
        for index, tx in enumerate(block.transactions):
            self._tx_index[tx.hash] = (block.hash, index)
        while len(self._blocks) > BLOCK_CACHE_SIZE:
            _, old = self._blocks.popitem(last=False)
            for tx in old.transactions:
                self._tx_index.pop(tx.hash, None)
