"""The state transition: genesis, and applying transactions to make the next block.

Pure: the caller passes the store to read from, the parent header, the transactions
and the block's timestamp/coinbase; the result holds the new header, receipts and
every state write, for the caller to commit in one atomic batch. Nothing here reads
a clock, a socket or a random source.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB

from runtime.chainspec import ChainSpec
from runtime.errors import InvalidBlock
from runtime.fees import compute_next_base_fee
from runtime.pallets import PALLETS, native_handlers
from runtime.pallets.governance import credit_fee_share
from runtime.primitives.hashing import keccak256
from runtime.primitives.header import BLANK_ROOT, ZERO_HASH, Header, new_header
from runtime.primitives.receipt import Log, Receipt, compute_bloom, merge_blooms
from runtime.primitives.transaction import Transaction
from runtime.primitives.trie import compute_ordered_root
from runtime.state.store import KeyValueStore, StateDB
from vm import evm
from vm.host import BlockContext

evm.register_natives(native_handlers())


@dataclass(slots=True)
class BuiltBlock:
    header: Header
    transactions: list[Transaction]
    receipts: list[Receipt]
    outcomes: list[evm.Outcome]
    rejected: list[tuple[Transaction, str]]
    state_writes: dict[bytes, bytes]
    consensus_data: bytes = b""  # opaque to the runtime; the header's extra_data commits to it
    # Accounts (py-evm ``Account`` records) as they are in the new state, for whoever reads
    # that state next: a read cache only (``build_block``'s ``warm_accounts``).
    accounts: dict[bytes, Any] = dataclasses.field(default_factory=dict)


def build_genesis(spec: ChainSpec, store: KeyValueStore) -> tuple[Header, dict[bytes, bytes]]:
    """The genesis header and the state writes of the spec's allocations."""
    db = StateDB(store)
    accounts = AccountDB(AtomicDB(db), BLANK_ROOT)
    for address, account in spec.alloc:
        accounts.set_balance(address, account.balance)
        if account.nonce:
            accounts.set_nonce(address, account.nonce)
        if account.code:
            accounts.set_code(address, account.code)
        for slot, value in account.storage:
            accounts.set_storage(address, slot, value)
    for pallet in PALLETS:
        for address, code in pallet.genesis_accounts():
            accounts.set_code(address, code)
        section = spec.pallets.get(pallet.name)
        if section is not None:
            pallet.apply_genesis(accounts, pallet.parse_genesis(section, f"pallets.{pallet.name}"))
    accounts.persist()
    header = new_header(
        parent_hash=ZERO_HASH,
        number=0,
        timestamp=spec.timestamp,
        gas_limit=spec.gas_limit,
        base_fee_per_gas=spec.base_fee_per_gas,
        coinbase=spec.coinbase,
        state_root=accounts.state_root,
        extra_data=spec.extra_data,
    )
    return header, db.take_writes()


def compute_child_base_fee(parent: Header) -> int:
    return compute_next_base_fee(parent.base_fee_per_gas, parent.gas_used, parent.gas_limit)


def block_context(parent: Header, *, timestamp: int, coinbase: bytes, chain_id: int, prev_hashes: Sequence[bytes]) -> BlockContext:
    return BlockContext(
        number=parent.number + 1,
        timestamp=timestamp,
        gas_limit=parent.gas_limit,
        base_fee=compute_child_base_fee(parent),
        coinbase=coinbase,
        chain_id=chain_id,
        prev_hashes=tuple(prev_hashes),
    )


def build_block(
    store: KeyValueStore,
    parent: Header,
    transactions: Iterable[Transaction],
    *,
    timestamp: int,
    coinbase: bytes,
    chain_id: int,
    prev_hashes: Sequence[bytes],
    extra_data: bytes = b"",
    consensus_data: bytes = b"",
    warm_accounts: Mapping[bytes, Any] | None = None,
) -> BuiltBlock:
    """Apply ``transactions`` in order on the parent's state and seal nothing.

    ``consensus_data`` is what the consensus engine carries inside the block (the parent's
    commit, evidence); the runtime does not read it, it only binds it into the block hash:
    when present, ``extra_data`` is ``keccak256(consensus_data)``, as CometBFT's header
    commits to its ``LastCommit`` and ``Evidence`` by hash.

    A transaction the state refuses (nonce, balance, fee below the base fee, no gas
    left in the block) is left out and reported in ``rejected``; the block is made of
    the rest.

    ``prev_hashes`` are the hashes of the parent and its ancestors, newest first.

    ``warm_accounts``: accounts as they are in the parent's state (the ``accounts`` of the
    ``BuiltBlock`` that made it), so the block reads them without walking the trie. Only a
    cache: the result is the same without it.
    """
    context = block_context(parent, timestamp=timestamp, coinbase=coinbase, chain_id=chain_id, prev_hashes=prev_hashes)
    db = StateDB(store)
    state = evm.open_state(db, context, parent.state_root)
    if warm_accounts:
        warm_account_cache(state._account_db, warm_accounts)
    included: list[Transaction] = []
    receipts: list[Receipt] = []
    outcomes: list[evm.Outcome] = []
    rejected: list[tuple[Transaction, str]] = []
    cumulative_gas = 0
    for tx in transactions:
        if cumulative_gas + tx.gas > context.gas_limit:
            rejected.append((tx, "exceeds block gas limit"))
            continue
        try:
            outcome = apply_transaction(state, tx)
        except evm.ExecutionRejected as exc:
            rejected.append((tx, str(exc)))
            continue
        cumulative_gas += outcome.gas_used
        logs = tuple(Log(log.address, log.topics, log.data) for log in outcome.logs)
        receipts.append(Receipt(tx.type, outcome.success, cumulative_gas, logs, compute_bloom(logs)))
        included.append(tx)
        outcomes.append(outcome)
    accounts = cached_accounts(state._account_db)  # before persist, which empties the cache
    state.persist()
    if consensus_data:
        extra_data = commit_consensus_data(consensus_data)
    header = new_header(
        parent_hash=parent.hash,
        number=context.number,
        timestamp=timestamp,
        gas_limit=context.gas_limit,
        base_fee_per_gas=context.base_fee,
        coinbase=coinbase,
        state_root=state.state_root,
        transactions_root=compute_ordered_root([tx.raw for tx in included]),
        receipts_root=compute_ordered_root([receipt.encode() for receipt in receipts]),
        logs_bloom=merge_blooms([receipt.bloom for receipt in receipts]),
        gas_used=cumulative_gas,
        extra_data=extra_data,
    )
    return BuiltBlock(header, included, receipts, outcomes, rejected, db.take_writes(), consensus_data, accounts)


# py-evm's AccountDB keeps the decoded accounts it has read or written in ``_account_cache``
# (kept equal to its journal: updated on every write, emptied on a revert and by
# ``persist``). A state opened at a root starts with it empty, so every block read its
# senders, recipients and the coinbase back from the trie the block before had just written
# (about a fifth of a plain transfer's CPU). An account record is a function of (state root,
# address) alone, so what one state held at its end can seed the next state opened at that
# root.


# At most this many accounts are carried from one state to the next (the most recently used):
# seeding costs ~0.1 µs an account, a trie read tens of µs, and py-evm's cache holds 2048.
WARM_ACCOUNTS_MAX = 512


def cached_accounts(account_db: Any) -> dict[bytes, Any]:
    """The accounts ``account_db`` holds decoded, valid once its root is computed: all but
    those with storage writes (their storage root is computed later, by ``make_state_root``)."""
    cache = getattr(account_db, "_account_cache", None)
    dirty = getattr(account_db, "_dirty_accounts", None)
    if cache is None or dirty is None:
        return {}
    accounts = {}
    for address, account in cache.items():  # lru-dict: most recently used first
        if address not in dirty:
            accounts[address] = account
            if len(accounts) >= WARM_ACCOUNTS_MAX:
                break
    return accounts


def warm_account_cache(account_db: Any, accounts: Mapping[bytes, Any]) -> None:
    """Seed a freshly opened ``account_db`` with accounts known at its root; what it has
    already read or written itself (system contracts at opening) stays as it is."""
    cache = getattr(account_db, "_account_cache", None)
    if cache is None:
        return
    for address, account in accounts.items():
        if address not in cache:
            cache[address] = account


def apply_transaction(state: evm.EvmState, tx: Transaction) -> evm.Outcome:
    """Run one transaction as a block does: the EVM, then the treasury's share of its fee.

    Raises:
        vm.evm.ExecutionRejected: the state refuses it; nothing changed.
    """
    outcome = evm.execute(state, tx.evm)
    apply_fee_share(state, outcome)
    return outcome


def apply_fee_share(state: evm.EvmState, outcome: evm.Outcome) -> None:
    """A share of the base fee py-evm burned goes to the treasury instead (governance's feeShareBps)."""
    credit_fee_share(state, outcome.gas_used, state.execution_context.base_fee_per_gas)


def commit_consensus_data(consensus_data: bytes) -> bytes:
    """The ``extra_data`` of a block carrying ``consensus_data``."""
    return keccak256(consensus_data)


def execute_block(
    store: KeyValueStore,
    parent: Header,
    header: Header,
    transactions: Sequence[Transaction],
    *,
    chain_id: int,
    prev_hashes: Sequence[bytes],
    consensus_data: bytes = b"",
) -> BuiltBlock:
    """Re-execute a block someone else built and check it is the block they claim.

    Raises:
        InvalidBlock: naming the first field that differs (a transaction the state
        refuses, gas used, state/transactions/receipts root, bloom, base fee), or
        ``extra_data`` not committing to the ``consensus_data`` the block carries.
    """
    if consensus_data and header.extra_data != commit_consensus_data(consensus_data):
        raise InvalidBlock("extra_data does not commit to the block's consensus data")
    if header.parent_hash != parent.hash or header.number != parent.number + 1:
        raise InvalidBlock(f"block #{header.number} does not extend #{parent.number} 0x{parent.hash.hex()}")
    if header.timestamp < parent.timestamp:
        raise InvalidBlock(f"timestamp {header.timestamp} is before the parent's {parent.timestamp}")
    built = build_block(
        store, parent, transactions,
        timestamp=header.timestamp, coinbase=header.coinbase, chain_id=chain_id,
        prev_hashes=prev_hashes, extra_data=header.extra_data, consensus_data=consensus_data,
    )
    if built.rejected:
        tx, reason = built.rejected[0]
        raise InvalidBlock(f"transaction 0x{tx.hash.hex()} is invalid here: {reason}")
    for field in ("base_fee_per_gas", "gas_limit", "gas_used", "transactions_root", "receipts_root", "logs_bloom", "state_root"):
        ours, theirs = getattr(built.header, field), getattr(header, field)
        if ours != theirs:
            show = (lambda v: "0x" + v.hex()) if isinstance(ours, bytes) else str
            raise InvalidBlock(f"{field} mismatch: block says {show(theirs)}, execution gives {show(ours)}")
    if built.header.hash != header.hash:
        raise InvalidBlock("header fields differ from the executed block")
    return built
