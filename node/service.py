"""The running node: chain + transaction pool + block sealer, on trio.

In dev mode the sealer is Anvil's: with automine, every submitted transaction is
sealed at once (transactions that arrive while a block is being built go into the
next one together); with interval mining (``--block-time``, evm_setIntervalMining), a
block is sealed on each interval. The two can be on together (evm_setAutomine(true)
while an interval runs): transactions are sealed at once and a block, empty or not,
also comes every interval.

Dev mode also edits the head's state without a block (``edit_head_state``,
``load_state``: see ``node/chain.py``, "Edited head state"), remembers it in snapshots,
and keeps the set of impersonated accounts (whose transactions it takes unsigned).
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
import trio
from eth.db.account import AccountDB

from node import dev_state, metrics
from node.chain import Block, Chain
from runtime.executive import BuiltBlock
from node.txpool import TxPool, TxPoolError
from runtime.errors import InvalidTransaction
from runtime.primitives.transaction import Transaction, validate_against_account, validate_transaction

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class _Waiter:
    done: trio.Event = field(default_factory=trio.Event)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class _Snapshot:
    head_hash: bytes
    number: int
    dev_state_root: bytes | None  # the head's edited state, if any
    time_offset: int


class Node:
    def __init__(
        self,
        chain: Chain,
        pool: TxPool,
        *,
        automine: bool = True,
        block_time: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.chain = chain
        self.pool = pool
        self.automine = automine and not block_time
        self._interval = block_time or None  # seconds between interval-mined blocks
        self._interval_changed = trio.Event()
        self._clock = clock
        self._time_offset = 0  # evm_increaseTime
        self._next_timestamp: int | None = None  # evm_setNextBlockTimestamp
        self._wake = trio.Event()
        self._waiters: dict[bytes, _Waiter] = {}
        self._head_state: AccountDB | None = None
        self._snapshots: list[_Snapshot] = []
        self.impersonated: set[bytes] = set()  # anvil_impersonateAccount
        self.auto_impersonate = False  # anvil_autoImpersonateAccount
        # Called synchronously, from the one trio thread: they must not block.
        self.new_block_listeners: list[Callable[[Block], None]] = []
        self.new_transaction_listeners: list[Callable[[Transaction], None]] = []
        # Blocks that stopped being canonical (evm_revert), newest first.
        self.removed_block_listeners: list[Callable[[Block], None]] = []
        metrics.HEAD.set(chain.head.number)

    # -- state of the head ---------------------------------------------------------

    @property
    def head_state(self) -> AccountDB:
        if self._head_state is None:
            self._head_state = self.chain.state_at(self.chain.head)
        return self._head_state

    def account_nonce(self, address: bytes) -> int:
        return self.head_state.get_nonce(address)

    def pending_nonce(self, address: bytes) -> int:
        return self.pool.pending_nonce(address, self.account_nonce(address))

    # -- transactions --------------------------------------------------------------

    def validate(self, tx: Transaction) -> None:
        """Every check a transaction must pass before it enters the pool.

        Raises:
            InvalidTransaction: with the client-facing message.
        """
        validate_transaction(tx, chain_id=self.chain.spec.chain_id, block_gas_limit=self.chain.head.gas_limit)
        state = self.head_state
        validate_against_account(tx, nonce=state.get_nonce(tx.sender), balance=state.get_balance(tx.sender))
        base_fee = self.chain.next_base_fee
        if tx.max_fee_per_gas < base_fee:
            raise InvalidTransaction(
                f"max fee per gas less than block base fee: address 0x{tx.sender.hex()}, "
                f"maxFeePerGas: {tx.max_fee_per_gas}, baseFee: {base_fee}"
            )

    async def submit(self, tx: Transaction) -> bytes:
        """Validate and pool ``tx``; with automine, return once the block holding it is sealed.

        Raises:
            InvalidTransaction: refused (the pool's and the runtime's messages).
        """
        self.validate(tx)
        try:
            self.pool.add(tx, self.account_nonce(tx.sender))
        except TxPoolError as exc:
            raise InvalidTransaction(str(exc)) from None
        metrics.TXPOOL_SIZE.set(len(self.pool))
        self._notify(self.new_transaction_listeners, tx)
        if not self.automine:
            return tx.hash
        waiter = self._waiters.setdefault(tx.hash, _Waiter())
        self._wake.set()
        await waiter.done.wait()
        if waiter.error is not None:
            raise InvalidTransaction(waiter.error)
        return tx.hash

    # -- snapshots (dev) -------------------------------------------------------------

    def snapshot(self) -> int:
        """Remember the head, its edited state and the clock; ``revert`` goes back to them (evm_snapshot)."""
        head = self.chain.head
        self._snapshots.append(_Snapshot(head.hash, head.number, self.chain.dev_state_root, self._time_offset))
        return len(self._snapshots)

    def revert(self, snapshot_id: int) -> bool:
        """Back to snapshot ``snapshot_id``, dropping it and every later one (as Hardhat, Anvil)."""
        if not 1 <= snapshot_id <= len(self._snapshots):
            return False
        snap = self._snapshots[snapshot_id - 1]
        del self._snapshots[snapshot_id - 1 :]
        if self.chain.get_canonical_hash(snap.number) != snap.head_hash:
            return False
        self._rewind(snap.number, snap.dev_state_root)
        self._time_offset = snap.time_offset
        log.info("reverted", head=snap.number)
        return True

    def reset(self) -> None:
        """Back to the genesis of the same spec (anvil_reset): every block, state edit,
        pooled transaction and snapshot is dropped and the clock offset cleared; the
        mining mode and the impersonated accounts stay, as in Anvil."""
        self._snapshots.clear()
        for waiter in self._waiters.values():
            waiter.error = "dropped: the chain was reset"
        self._release_waiters()
        pending, queued = self.pool.content(self.head_state.get_nonce)
        self.pool.remove([tx.hash for txs in (*pending.values(), *queued.values()) for tx in txs.values()])
        self._rewind(0, None)
        self._time_offset = 0
        log.info("reset", genesis="0x" + self.chain.head.hash.hex())

    def _rewind(self, number: int, dev_state_root: bytes | None) -> None:
        removed = self.chain.rewind(number, dev_state_root=dev_state_root)
        for block in removed:
            self._notify(self.removed_block_listeners, block)
        self._next_timestamp = None
        self._head_state = None
        self.pool.prune(self.head_state.get_nonce)
        metrics.HEAD.set(number)
        metrics.TXPOOL_SIZE.set(len(self.pool))

    # -- state edits (dev) -------------------------------------------------------------

    def edit_head_state(self, edit: Callable[[AccountDB], None]) -> None:
        """Apply ``edit`` to the accounts at the head (anvil_setBalance & co.): reads at the
        head see the change at once and the next block builds on it.

        Raises:
            ValueError: not a dev chain (a chain run by an engine is never edited).
        """
        self._require_dev()
        root, writes = dev_state.apply_account_edit(self.chain.store, self.chain.head.state_root, edit)
        self._set_head_state(root, writes)

    def dump_state(self) -> bytes:
        """Every account at the head, in the format of ``node/dev_state.py`` (anvil_dumpState)."""
        return dev_state.encode_dump(dev_state.get_accounts(self.chain.store, self.chain.head.state_root))

    def load_state(self, blob: bytes) -> None:
        """Merge a dump (ours or Anvil's) into the head's state (anvil_loadState).

        Raises:
            dev_state.StateDumpError: the blob is not a dump.
            ValueError: not a dev chain.
        """
        self._require_dev()
        records = dev_state.decode_dump(blob)
        root, writes = dev_state.merge_accounts(self.chain.store, self.chain.head.state_root, records)
        self._set_head_state(root, writes)

    def _set_head_state(self, root: bytes, writes: dict[bytes, bytes]) -> None:
        self.chain.set_head_state(root, writes)
        self._head_state = None
        log.debug("head_state_edited", head=self.chain.head.number, state_root="0x" + root.hex())
        # A lowered balance or a raised nonce can leave pooled transactions stale.
        self.pool.prune(self.head_state.get_nonce)
        metrics.TXPOOL_SIZE.set(len(self.pool))

    def _require_dev(self) -> None:
        if self.chain.spec.engine != "dev":
            raise ValueError(f"the state of a chain run by the {self.chain.spec.engine} engine is not edited")

    # -- impersonation (dev) -----------------------------------------------------------

    def is_impersonated(self, address: bytes) -> bool:
        return self.auto_impersonate or address in self.impersonated

    # -- fork choice ---------------------------------------------------------------

    def switch_head(self, block_hash: bytes) -> None:
        """Make the stored block ``block_hash`` the head (the engine's fork choice moved).

        Listeners hear the blocks that left the canonical chain (newest first), then the
        ones that joined it (oldest first); transactions of the old fork that the new one
        lacks go back to the pool, as geth re-injects them.

        Raises:
            ValueError: unknown block, or the switch would drop a finalized block.
        """
        removed, added = self.chain.reorg(block_hash)
        self._head_state = None
        self._next_timestamp = None
        included = {tx.hash for block in added for tx in block.transactions}
        for block in removed:
            self._notify(self.removed_block_listeners, block)
        for block in added:
            self._notify(self.new_block_listeners, block)
        for block in reversed(removed):
            for tx in block.transactions:
                if tx.hash not in included:
                    try:
                        self.pool.add(tx, self.account_nonce(tx.sender))
                    except TxPoolError:
                        pass  # a nonce the new fork already used, or a full pool: gone, as in geth
        self.pool.prune(self.head_state.get_nonce)
        metrics.HEAD.set(self.chain.head.number)
        metrics.TXPOOL_SIZE.set(len(self.pool))
        log.info("head_switched", head=self.chain.head.number, block="0x" + block_hash.hex(),
                 dropped=len(removed), joined=len(added))

    def adopt_synced_head(self, block_hash: bytes) -> Block:
        """Make the fast-synced block ``block_hash`` (stored without execution, its state
        downloaded) the head (``Chain.set_synced_head``); listeners hear that block only.

        Raises:
            ValueError, StateUnavailable: see ``Chain.set_synced_head``.
        """
        self.chain.set_synced_head(block_hash)
        self._head_state = None
        self._next_timestamp = None
        self.pool.prune(self.head_state.get_nonce)
        block = self.chain.get_block_by_hash(block_hash)
        metrics.HEAD.set(block.header.number)
        metrics.TXPOOL_SIZE.set(len(self.pool))
        self._notify(self.new_block_listeners, block)
        return block

    # -- sealing -------------------------------------------------------------------

    def set_next_timestamp(self, timestamp: int) -> None:
        """The next block gets ``timestamp``; the clock carries on from there (as Anvil).

        Raises:
            ValueError: ``timestamp`` is not after the head's.
        """
        head = self.chain.head.timestamp
        if timestamp <= head:
            raise ValueError(
                f"timestamp {timestamp} is lower than or equal to previous block's timestamp {head}"
            )
        self._next_timestamp = timestamp
        self._time_offset = timestamp - int(self._clock())

    def increase_time(self, seconds: int) -> int:
        self._time_offset += seconds
        return self._time_offset

    @property
    def interval(self) -> float | None:
        """Seconds between interval-mined blocks (None: no interval mining)."""
        return self._interval

    def set_interval(self, seconds: float | None) -> None:
        """Start, change (the wait starts over) or stop (None or 0) interval mining."""
        self._interval = seconds or None
        self._interval_changed.set()

    def next_timestamp(self) -> int:
        if self._next_timestamp is not None:
            return self._next_timestamp
        return int(self._clock()) + self._time_offset

    def ready_transactions(self) -> list[Transaction]:
        """What the next block would hold, in order (the pool's selection at the head)."""
        chain = self.chain
        return self.pool.select(chain.next_base_fee, self.head_state.get_nonce, chain.head.gas_limit)

    def build(self, selected: list[Transaction] | None = None, *, timestamp: int | None = None,
              consensus_data: bytes = b"") -> BuiltBlock:
        """Execute the next block on the head from ``selected`` (default: the ready transactions)."""
        if selected is None:
            selected = self.ready_transactions()
        return self.chain.build(selected, timestamp=self.next_timestamp() if timestamp is None else timestamp,
                                consensus_data=consensus_data)

    def seal(self, selected: list[Transaction] | None = None) -> Block:
        """Build and commit the next block at once (the dev sealer)."""
        return self.commit_built(self.build(selected))

    def commit_built(self, built: BuiltBlock, *, seal: bytes | None = None) -> Block:
        """Commit a built block (with its consensus seal, if any) and do the bookkeeping."""
        started = time.perf_counter()
        block = self.chain.commit(built, seal=seal)
        self._next_timestamp = None
        self._head_state = None
        self.pool.remove([tx.hash for tx in built.transactions])
        self.pool.remove([tx.hash for tx, _ in built.rejected])
        self.pool.prune(self.head_state.get_nonce)
        for tx, reason in built.rejected:
            log.info("transaction_dropped", tx="0x" + tx.hash.hex(), reason=reason)
            waiter = self._waiters.get(tx.hash)
            if waiter is not None:
                waiter.error = reason
        # Every sender waiting is answered now: included, dropped (with the reason), still
        # pooled behind a nonce gap, or replaced by a higher-fee transaction meanwhile.
        self._release_waiters()
        elapsed = time.perf_counter() - started
        metrics.HEAD.set(block.header.number)
        if self.chain.spec.engine == "dev":
            metrics.FINALIZED.set(block.header.number)
        metrics.TXPOOL_SIZE.set(len(self.pool))
        metrics.BLOCK_IMPORT_SECONDS.observe(elapsed)
        metrics.TRANSACTIONS.inc(len(built.transactions))
        log.debug("block_sealed", number=block.header.number, txs=len(built.transactions), gas_used=block.header.gas_used, ms=round(elapsed * 1000, 2))
        self._notify(self.new_block_listeners, block)
        return block

    @staticmethod
    def _notify(listeners: list[Callable], item: object) -> None:
        # A listener's bug must not stop the sealer: the block is already committed.
        for listener in listeners:
            try:
                listener(item)
            except Exception:
                log.exception("listener_failed", listener=getattr(listener, "__qualname__", repr(listener)))

    def _release_waiters(self) -> None:
        for waiter in self._waiters.values():
            waiter.done.set()
        self._waiters.clear()

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._mine_on_interval)
            task_status.started()
            await self._automine()

    async def _automine(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            # Let every request already on the wire reach the pool first, so they
            # share one block instead of one block each.
            await trio.sleep(0)
            if self._waiters or self.pool:
                selected = self.ready_transactions()
                if selected:
                    self.seal(selected)
                else:
                    self._release_waiters()

    async def _mine_on_interval(self) -> None:
        while True:
            self._interval_changed = trio.Event()
            if self._interval is None:
                await self._interval_changed.wait()
                continue
            with trio.move_on_after(self._interval):
                await self._interval_changed.wait()
                continue  # changed: wait the new interval from now
            self.seal()
