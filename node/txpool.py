"""The transaction pool: executable ("pending") and future ("queued") transactions.

Pure and single-threaded: no I/O, no clock, no randomness, no threads. The node's
trio code calls it from one task. The pool never reads state: every call that needs
an account nonce gets it from the caller (the sender's nonce in the latest state).

Vocabulary, for one sender with account nonce ``n``:

- *pending* (executable): the contiguous run of pooled nonces ``n, n+1, ...``;
- *queued*: every other pooled tx of the sender (after a gap, or a stale nonce
  below ``n`` that ``prune`` has not dropped yet).

Determinism: nothing depends on dict order. ``select`` breaks equal tips by arrival
(first come, first served, as geth does): breaking them by tx hash starved a sender
whose next tx happened to hash high behind every other sender (measured with the network
benchmark: one sender stuck 1,000 nonces behind the rest). Block building is not
consensus: other nodes check a block, they never rebuild it. Eviction breaks equal prices
by arrival sequence too (the newest goes first); arrival sequence numbers are unique, so
no further key is needed.
"""
from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, Protocol

# Stale heap entries are dropped lazily; rebuild a heap when they outnumber live ones.
_HEAP_SLACK: Final = 64


class PoolTransaction(Protocol):
    """What the pool reads from a transaction (``runtime.primitives.transaction.Transaction``)."""

    @property
    def hash(self) -> bytes: ...
    @property
    def sender(self) -> bytes: ...
    @property
    def nonce(self) -> int: ...
    @property
    def gas(self) -> int: ...
    @property
    def max_fee_per_gas(self) -> int: ...
    @property
    def max_priority_fee_per_gas(self) -> int: ...
    @property
    def value(self) -> int: ...


# sender -> nonce -> tx, as ``content`` returns it
SenderTxs = dict[bytes, dict[int, PoolTransaction]]


# --- errors -------------------------------------------------------------------------


class TxPoolError(Exception):
    """A transaction the pool refused; ``str(err)`` is the message JSON-RPC clients get."""


class NonceTooLow(TxPoolError):
    def __init__(self, next_nonce: int, tx_nonce: int) -> None:
        super().__init__(f"nonce too low: next nonce {next_nonce}, tx nonce {tx_nonce}")
        self.next_nonce = next_nonce
        self.tx_nonce = tx_nonce


class NonceTooHigh(TxPoolError):
    def __init__(self, max_nonce: int, tx_nonce: int) -> None:
        super().__init__(f"nonce too high: max nonce {max_nonce}, tx nonce {tx_nonce}")
        self.max_nonce = max_nonce
        self.tx_nonce = tx_nonce


class AlreadyKnown(TxPoolError):
    def __init__(self, tx_hash: bytes | None = None) -> None:
        super().__init__("already known")
        self.tx_hash = tx_hash


class ReplacementUnderpriced(TxPoolError):
    def __init__(self, tx_hash: bytes | None = None, replaced_hash: bytes | None = None) -> None:
        super().__init__("replacement transaction underpriced")
        self.tx_hash = tx_hash
        self.replaced_hash = replaced_hash


class PoolFull(TxPoolError):
    def __init__(self, max_size: int | None = None) -> None:
        super().__init__("txpool is full")
        self.max_size = max_size


class AccountLimitExceeded(TxPoolError):
    """The sender already has ``max_per_sender`` txs and the new one is not a lower nonce."""

    def __init__(self, sender: bytes | None = None, limit: int | None = None) -> None:
        super().__init__("account limit exceeded")
        self.sender = sender
        self.limit = limit


# --- internals ----------------------------------------------------------------------

# Eviction candidate: (tip, max_fee, -arrival_seq, version, sender, nonce). The first
# three fields order candidates (cheapest first, then newest first) and are unique
# because arrival sequence numbers are; ``version`` marks an entry stale once the
# sender's account has been refreshed since.
_Candidate = tuple[int, int, int, int, bytes, int]


@dataclass(slots=True)
class _Account:
    txs: dict[int, PoolTransaction]
    base: int  # the latest account nonce the pool was told (by add or prune)
    pending_end: int = 0  # first nonce >= base missing from txs
    version: int = -1


def _price(tx: PoolTransaction) -> tuple[int, int]:
    return (tx.max_priority_fee_per_gas, tx.max_fee_per_gas)


def compute_effective_tip(tx: PoolTransaction, base_fee: int) -> int:
    """What the block producer earns per gas: ``min(max_priority_fee, max_fee - base_fee)``."""
    return min(tx.max_priority_fee_per_gas, tx.max_fee_per_gas - base_fee)


def _run_end(txs: dict[int, PoolTransaction], start: int, extra: int | None = None) -> int:
    """First nonce >= start missing from ``txs`` (with ``extra`` counted as present)."""
    end = start
    while end in txs or end == extra:
        end += 1
    return end


class TxPool:
    """Pooled transactions by sender and nonce, with the rules of admission and eviction.

    Admission (``add``), in order: already known; nonce too low; nonce too high
    (more than ``max_future_gap`` ahead); same sender and nonce present: replace if
    both fee caps are at least ``price_bump_percent`` higher, else refuse; sender
    at ``max_per_sender``: a lower nonce than the sender's highest displaces that
    highest one, else refuse; pool at ``max_size``: evict one tx (see
    ``_choose_victim``) or refuse. Every check runs before the first write, so a
    refused tx leaves the pool untouched.
    """

    def __init__(
        self,
        *,
        max_size: int = 10_000,
        max_per_sender: int = 1000,
        price_bump_percent: int = 10,
        max_future_gap: int = 1024,
    ) -> None:
        if max_size < 1 or max_per_sender < 1 or price_bump_percent < 0 or max_future_gap < 0:
            raise ValueError(
                "txpool limits: max_size and max_per_sender must be >= 1, "
                "price_bump_percent and max_future_gap >= 0"
            )
        self.max_size = max_size
        self.max_per_sender = max_per_sender
        self.price_bump_percent = price_bump_percent
        self.max_future_gap = max_future_gap
        self._by_hash: dict[bytes, PoolTransaction] = {}
        self._arrival: dict[bytes, int] = {}  # tx hash -> arrival sequence number
        self._accounts: dict[bytes, _Account] = {}
        self._next_arrival = 0
        self._next_version = 0
        # Per sender at most one live entry in each: its cheapest queued tx, and the
        # last tx of its pending run.
        self._queued_heap: list[_Candidate] = []
        self._tail_heap: list[_Candidate] = []

    # --- reads ----------------------------------------------------------------------

    def get(self, tx_hash: bytes) -> PoolTransaction | None:
        return self._by_hash.get(tx_hash)

    def __len__(self) -> int:
        return len(self._by_hash)

    def __contains__(self, tx_hash: object) -> bool:
        return tx_hash in self._by_hash

    def senders(self) -> list[bytes]:
        return sorted(self._accounts)

    def pending_nonce(self, sender: bytes, account_nonce: int) -> int:
        """The nonce after the pooled run from ``account_nonce`` (the "pending" tx count)."""
        account = self._accounts.get(sender)
        if account is None:
            return account_nonce
        return _run_end(account.txs, account_nonce)

    def content(
        self, account_nonce: Callable[[bytes], int]
    ) -> tuple[SenderTxs, SenderTxs]:
        """``(pending, queued)`` as geth's ``txpool_content``, sorted by sender then nonce."""
        pending: SenderTxs = {}
        queued: SenderTxs = {}
        for sender in sorted(self._accounts):
            txs = self._accounts[sender].txs
            start = account_nonce(sender)
            end = _run_end(txs, start)
            for nonce in sorted(txs):
                bucket = pending if start <= nonce < end else queued
                bucket.setdefault(sender, {})[nonce] = txs[nonce]
        return pending, queued

    def select(
        self, base_fee: int, account_nonce: Callable[[bytes], int], gas_limit: int
    ) -> list[PoolTransaction]:
        """The txs for the next block, in execution order; removes nothing.

        Per sender, consecutive nonces from ``account_nonce(sender)``; across senders,
        the highest effective tip first (equal tips: the earlier arrival first), as geth's
        ``TransactionsByPriceAndNonce``. A sender stops at its first tx with
        ``max_fee_per_gas < base_fee`` or whose gas exceeds the gas left; the other
        senders go on. O(n log s) for n selected txs from s senders.
        """
        heap: list[tuple[int, int, int, bytes]] = []
        arrival = self._arrival
        for sender, account in self._accounts.items():
            nonce = account_nonce(sender)
            tx = account.txs.get(nonce)
            if tx is not None and tx.max_fee_per_gas >= base_fee:
                heap.append((-compute_effective_tip(tx, base_fee), arrival[tx.hash], nonce, sender))
        # Keys are unique (arrival sequence), so the pop order is independent of dict order.
        heapq.heapify(heap)
        selected: list[PoolTransaction] = []
        gas_left = gas_limit
        while heap:
            _, _, nonce, sender = heapq.heappop(heap)
            txs = self._accounts[sender].txs
            tx = txs[nonce]
            if tx.gas > gas_left:
                continue  # this sender is done for this block; smaller txs of others may fit
            selected.append(tx)
            gas_left -= tx.gas
            following = txs.get(nonce + 1)
            if following is not None and following.max_fee_per_gas >= base_fee:
                tip = compute_effective_tip(following, base_fee)
                heapq.heappush(heap, (-tip, arrival[following.hash], nonce + 1, sender))
        return selected

    # --- writes ---------------------------------------------------------------------

    def add(self, tx: PoolTransaction, account_nonce: int) -> None:
        """Admit ``tx``; ``account_nonce`` is its sender's nonce in the latest state.

        Raises:
            AlreadyKnown, NonceTooLow, NonceTooHigh, ReplacementUnderpriced,
            AccountLimitExceeded, PoolFull (all ``TxPoolError``); the pool is unchanged.
        """
        if tx.hash in self._by_hash:
            raise AlreadyKnown(tx.hash)
        if tx.nonce < account_nonce:
            raise NonceTooLow(account_nonce, tx.nonce)
        if tx.nonce > account_nonce + self.max_future_gap:
            raise NonceTooHigh(account_nonce + self.max_future_gap, tx.nonce)

        account = self._accounts.get(tx.sender)
        to_drop: tuple[bytes, int] | None = None
        old = account.txs.get(tx.nonce) if account is not None else None
        if old is not None:
            if not self._is_sufficient_bump(old, tx):
                raise ReplacementUnderpriced(tx.hash, old.hash)
            to_drop = (tx.sender, tx.nonce)
        elif account is not None and len(account.txs) >= self.max_per_sender:
            highest = max(account.txs)
            if tx.nonce > highest:
                raise AccountLimitExceeded(tx.sender, self.max_per_sender)
            # A lower nonce is worth more to the sender than its highest one; without
            # this a sender whose slots are all future txs could never fill its gap.
            to_drop = (tx.sender, highest)
        elif len(self._by_hash) >= self.max_size:
            to_drop = self._choose_victim(tx, account_nonce)

        # Checks done: from here on nothing raises.
        touched = {tx.sender}
        if to_drop is not None:
            self._discard(*to_drop)
            touched.add(to_drop[0])
        self._insert(tx, account_nonce)
        for sender in touched:
            self._refresh(sender)

    def remove(self, tx_hashes: Iterable[bytes]) -> None:
        """Drop the given txs (e.g. included in a block); unknown hashes are ignored."""
        touched: set[bytes] = set()
        for tx_hash in tx_hashes:
            tx = self._by_hash.get(tx_hash)
            if tx is None:
                continue
            self._discard(tx.sender, tx.nonce)
            touched.add(tx.sender)
        for sender in touched:
            self._refresh(sender)

    def prune(self, account_nonce: Callable[[bytes], int]) -> list[bytes]:
        """After a new head: drop every tx below its sender's account nonce.

        Returns the dropped hashes, by sender then nonce.
        """
        dropped: list[bytes] = []
        for sender in sorted(self._accounts):
            account = self._accounts[sender]
            nonce = account_nonce(sender)
            for stale in sorted(n for n in account.txs if n < nonce):
                dropped.append(self._discard(sender, stale))
            if sender in self._accounts:
                account.base = nonce
                self._refresh(sender)
        return dropped

    # --- internals ------------------------------------------------------------------

    def _is_sufficient_bump(self, old: PoolTransaction, new: PoolTransaction) -> bool:
        factor = 100 + self.price_bump_percent
        return (
            new.max_fee_per_gas * 100 >= old.max_fee_per_gas * factor
            and new.max_priority_fee_per_gas * 100 >= old.max_priority_fee_per_gas * factor
        )

    def _insert(self, tx: PoolTransaction, account_nonce: int) -> None:
        account = self._accounts.get(tx.sender)
        if account is None:
            account = self._accounts[tx.sender] = _Account(txs={}, base=account_nonce)
        account.base = account_nonce
        account.txs[tx.nonce] = tx
        self._by_hash[tx.hash] = tx
        self._arrival[tx.hash] = self._next_arrival
        self._next_arrival += 1

    def _discard(self, sender: bytes, nonce: int) -> bytes:
        """Remove one tx; the caller refreshes the sender afterwards."""
        account = self._accounts[sender]
        tx = account.txs.pop(nonce)
        del self._by_hash[tx.hash]
        del self._arrival[tx.hash]
        if not account.txs:
            del self._accounts[sender]
        return tx.hash

    def _candidate(self, tx: PoolTransaction, version: int) -> _Candidate:
        tip, fee = _price(tx)
        return (tip, fee, -self._arrival[tx.hash], version, tx.sender, tx.nonce)

    def _refresh(self, sender: bytes) -> None:
        """Recompute a sender's pending run and its eviction candidates; O(its tx count)."""
        account = self._accounts.get(sender)
        if account is None:
            return  # its heap entries are stale now and get dropped lazily
        version = account.version = self._next_version
        self._next_version += 1
        account.pending_end = _run_end(account.txs, account.base)
        if account.pending_end > account.base:
            tail = account.txs[account.pending_end - 1]
            heapq.heappush(self._tail_heap, self._candidate(tail, version))
        cheapest: _Candidate | None = None
        for nonce, tx in account.txs.items():
            if account.base <= nonce < account.pending_end:
                continue
            candidate = self._candidate(tx, version)
            if cheapest is None or candidate < cheapest:
                cheapest = candidate
        if cheapest is not None:
            heapq.heappush(self._queued_heap, cheapest)
        self._compact()

    def _compact(self) -> None:
        limit = 2 * len(self._accounts) + _HEAP_SLACK
        for heap in (self._queued_heap, self._tail_heap):
            if len(heap) > limit:
                heap[:] = [c for c in heap if self._is_live(c)]
                heapq.heapify(heap)

    def _is_live(self, candidate: _Candidate) -> bool:
        account = self._accounts.get(candidate[4])
        return account is not None and account.version == candidate[3]

    def _cheapest_live(self, heap: list[_Candidate], exclude: bytes) -> _Candidate | None:
        """The cheapest live candidate not of sender ``exclude``; drops stale entries."""
        held: list[_Candidate] = []
        found: _Candidate | None = None
        while heap:
            top = heap[0]
            if not self._is_live(top):
                heapq.heappop(heap)
            elif top[4] == exclude:
                held.append(heapq.heappop(heap))
            else:
                found = top
                break
        for candidate in held:
            heapq.heappush(heap, candidate)
        return found

    def _choose_victim(self, tx: PoolTransaction, account_nonce: int) -> tuple[bytes, int]:
        """Pick the tx to evict so ``tx`` fits in a full pool, or raise PoolFull.

        1. The cheapest queued tx, by (tip, max fee), newest first on ties. An
           executable ``tx`` evicts it whatever it pays; a queued ``tx`` only if it
           pays strictly more. Of the new tx's own sender, only stale txs and queued
           ones above both its new pending run and ``tx.nonce`` are candidates.
        2. Only when no queued tx is left to evict and ``tx`` is executable: the
           cheapest last tx of another sender's pending run, if ``tx`` pays strictly
           more.

        Other senders are classified by the account nonce last given for them (by
        ``add`` or ``prune``); the new tx's sender by ``account_nonce``.
        """
        account = self._accounts.get(tx.sender)
        own_txs = account.txs if account is not None else {}
        end = _run_end(own_txs, account_nonce, extra=tx.nonce)
        executable = tx.nonce < end
        price = _price(tx)

        queued = self._cheapest_live(self._queued_heap, exclude=tx.sender)
        for nonce, own in own_txs.items():
            if nonce < account_nonce or (nonce >= end and nonce > tx.nonce):
                candidate = self._candidate(own, -1)
                if queued is None or candidate[:3] < queued[:3]:
                    queued = candidate
        if queued is not None:
            if executable or queued[:2] < price:
                return (queued[4], queued[5])
            raise PoolFull(self.max_size)
        if executable:
            tail = self._cheapest_live(self._tail_heap, exclude=tx.sender)
            if tail is not None and tail[:2] < price:
                return (tail[4], tail[5])
        raise PoolFull(self.max_size)
