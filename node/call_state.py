"""States for eth_call and eth_estimateGas, with reads shared between calls.

Every call runs on a fresh py-evm state, so no call can see another's writes, and what it
writes is dropped with it. What calls share are the reads under that state: the account
RLP at an address, a storage slot's value, a contract's code and the decoded account.
Every one of them is keyed by content — (state root, address), (storage root, slot), the
code hash, the RLP itself — and a root names one immutable trie, so an entry can never be
stale: a new block, a reorg, evm_revert or a dev edit (anvil_setBalance & co.) gives the
head a new root, whose reads simply miss. Nothing has to be told that the head moved.

A state's reads go to the shared caches only while it has written nothing through them
(``SharedReads``): the first write, or py-evm resetting its cache (a new root, a storage
wipe, a revert), makes that one state read its own tries from then on, exactly as an
uncached state would. After the message, the call's executor skips py-evm's fee,
refund and EIP-161 writes (``CallExecutor``): nothing reads them. Block execution never
uses any of this.
"""
from __future__ import annotations

from typing import Any

import rlp
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from eth.db.backends.base import BaseDB
from eth.db.journal import JournalDB
from eth.db.storage import AccountStorageDB
from eth.rlp.accounts import Account
from eth.vm.execution_context import ExecutionContext
from lru import LRU

from vm.evm import EvmState, compute_execution_context
from vm.host import BlockContext

# Entries per cache; a few tens of MB at most (code: 256 x 128 KiB of WASM at worst).
ACCOUNT_READS = 1 << 15  # (state root, address) -> account RLP
STORAGE_READS = 1 << 16  # (storage root, slot) -> value RLP
CODE_READS = 256  # code hash -> code
DECODED_ACCOUNTS = 1 << 13  # account RLP -> Account


class SharedReads(BaseDB):
    """``db`` read through ``cache`` under ``prefix`` (the root that fixes what ``db`` holds).

    Stands where py-evm puts its per-state ``CacheDB``. Any write or cache reset detaches
    it for good: ``db`` may then hold something the prefix no longer names.
    """

    def __init__(self, db: Any, cache: LRU, prefix: bytes) -> None:
        self._db = db
        self._cache: LRU | None = cache
        self._prefix = prefix

    def __getitem__(self, key: bytes) -> bytes:
        cache = self._cache
        if cache is None:
            return self._db[key]
        cache_key = self._prefix + key
        value = cache.get(cache_key)
        if value is None:
            # A missing node raises here and is never cached.
            value = cache[cache_key] = self._db[key]
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._cache = None
        self._db[key] = value

    def __delitem__(self, key: bytes) -> None:
        self._cache = None
        del self._db[key]

    def _exists(self, key: bytes) -> bool:
        return key in self._db

    def reset_cache(self) -> None:
        self._cache = None


class CallReads:
    """The caches every call state reads through (bounded; safe to keep for the node's life)."""

    def __init__(self) -> None:
        self.accounts: LRU = LRU(ACCOUNT_READS)
        self.storage: LRU = LRU(STORAGE_READS)
        self.code: LRU = LRU(CODE_READS)
        self.decoded: LRU = LRU(DECODED_ACCOUNTS)

    def open_state(self, db: Any, block: BlockContext, state_root: bytes) -> CallState:
        """A fresh state at ``state_root`` over ``db`` (a ``StateDB``) for one call in ``block``."""
        return CallState(AtomicDB(db), compute_execution_context(block), state_root, self)


class CallStorageDB(AccountStorageDB):
    def __init__(self, db: Any, storage_root: bytes, address: bytes, reads: CallReads) -> None:
        super().__init__(db, storage_root, address)
        # The same pipes as py-evm's, with the shared reads where its cache was.
        self._storage_cache = SharedReads(self._storage_lookup, reads.storage, storage_root)
        self._locked_changes = JournalDB(self._storage_cache)
        self._journal_storage = JournalDB(self._locked_changes)


class CallAccountDB(AccountDB):
    def __init__(self, db: Any, state_root: bytes, reads: CallReads) -> None:
        super().__init__(db, state_root)
        self._reads = reads
        # The same pipes as py-evm's (see AccountDB.__init__), with the shared reads where its
        # caches were. Code is keyed by its hash, so it needs no root.
        self._journaldb = JournalDB(SharedReads(self._batchdb, reads.code, b""))
        self._trie_cache = SharedReads(self._trie, reads.accounts, state_root)
        self._journaltrie = JournalDB(self._trie_cache)

    def _get_address_store(self, address: bytes) -> Any:
        store = self._account_stores.get(address)
        if store is None:
            store = CallStorageDB(self._raw_store_db, self._get_storage_root(address), address, self._reads)
            self._account_stores[address] = store
        return store

    def _get_account(self, address: bytes, from_journal: bool = True) -> Account:
        if from_journal and address in self._account_cache:
            return self._account_cache[address]
        encoded = self._get_encoded_account(address, from_journal)
        if encoded:
            # rlp objects are immutable (changes are copies), so calls can share them.
            account = self._reads.decoded.get(encoded)
            if account is None:
                account = self._reads.decoded[encoded] = rlp.decode(encoded, sedes=Account)
        else:
            account = Account()
        if from_journal:
            self._account_cache[address] = account
        return account


class CallExecutor(EvmState.transaction_executor_class):
    def finalize_computation(self, transaction: Any, computation: Any) -> Any:
        # After the message, py-evm pays the refund and the fee and clears touched empty
        # accounts: writes to a state the call drops. What the outcome reads is only the
        # EIP-7623 floor (``finalize_gas_used`` adds it), computed as py-evm does.
        gas_used = transaction.gas - computation.get_gas_remaining()
        gas_refund = self.calculate_gas_refund(computation, gas_used)
        computation.data_floor_gas = self.calc_data_floor_gas(transaction, gas_used, gas_refund)
        return computation


class CallState(EvmState):
    """``EvmState`` over ``CallAccountDB``: the EVM, precompiles and WASM hooks are the same."""

    transaction_executor_class = CallExecutor

    def __init__(self, db: Any, execution_context: ExecutionContext, state_root: bytes, reads: CallReads) -> None:
        self._db = db
        self.execution_context = execution_context
        self._account_db = CallAccountDB(db, state_root, reads)
        self.set_system_contracts()
