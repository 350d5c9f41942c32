"""Hypothesis properties of node.txpool: what ``select`` returns, and the pool's bounds.

Failures print the falsifying example (and hypothesis' seed), so they replay.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from node.txpool import TxPool, TxPoolError

SENDERS = [bytes([i]) * 20 for i in (0x11, 0x22, 0x33, 0x44)]
GAS_SIZES = [21_000, 30_000, 50_000, 100_000]


@dataclass(frozen=True, slots=True)
class Tx:
    sender: bytes
    nonce: int
    max_priority_fee_per_gas: int
    max_fee_per_gas: int
    gas: int
    value: int = 0
    hash: bytes = field(default=b"")

    def __post_init__(self) -> None:
        if not self.hash:
            seed = repr((self.sender, self.nonce, self.max_priority_fee_per_gas,
                         self.max_fee_per_gas, self.gas, self.value))
            object.__setattr__(self, "hash", hashlib.sha256(seed.encode()).digest())


txs_strategy = st.builds(
    Tx,
    sender=st.sampled_from(SENDERS),
    nonce=st.integers(0, 7),
    max_priority_fee_per_gas=st.integers(0, 30),
    max_fee_per_gas=st.integers(0, 60),
    gas=st.sampled_from(GAS_SIZES),
    value=st.integers(0, 3),
)
account_nonces_strategy = st.fixed_dictionaries({s: st.integers(0, 3) for s in SENDERS})


def effective_tip(tx: Tx, base_fee: int) -> int:
    return min(tx.max_priority_fee_per_gas, tx.max_fee_per_gas - base_fee)


def pooled(pool: TxPool) -> dict[bytes, dict[int, Tx]]:
    """Every pooled tx, sender -> nonce -> tx (content's split does not matter here)."""
    pending, queued = pool.content(lambda s: 0)
    merged: dict[bytes, dict[int, Tx]] = {}
    for part in (pending, queued):
        for sender, by_nonce in part.items():
            merged.setdefault(sender, {}).update(by_nonce)
    return merged


def reference_select(
    pool: TxPool, base_fee: int, account_nonces: dict[bytes, int], gas_limit: int
) -> list[Tx]:
    """The obvious quadratic greedy: repeatedly take the best next tx of any live sender."""
    by_sender = pooled(pool)
    next_nonce = {s: account_nonces[s] for s in by_sender}
    done: set[bytes] = set()
    chosen: list[Tx] = []
    gas_left = gas_limit
    while True:
        heads = []
        for sender, by_nonce in by_sender.items():
            head = by_nonce.get(next_nonce[sender])
            if sender in done or head is None or head.max_fee_per_gas < base_fee:
                done.add(sender)
            else:
                heads.append(head)
        if not heads:
            return chosen
        # Equal tips: the earlier arrival first, as the pool documents (and geth does).
        best = min(heads, key=lambda t: (-effective_tip(t, base_fee), pool._arrival[t.hash]))  # noqa: SLF001
        if best.gas > gas_left:
            done.add(best.sender)
            continue
        chosen.append(best)
        gas_left -= best.gas
        next_nonce[best.sender] += 1


def check_selection(
    chosen: list[Tx], pool: TxPool, base_fee: int, account_nonces: dict[bytes, int], gas_limit: int
) -> None:
    # (a) per sender: consecutive nonces from the account nonce
    seen: dict[bytes, list[int]] = {}
    for tx in chosen:
        seen.setdefault(tx.sender, []).append(tx.nonce)
    for sender, got in seen.items():
        start = account_nonces[sender]
        assert got == list(range(start, start + len(got))), (sender, got)
    # (b) nothing below the base fee
    assert all(tx.max_fee_per_gas >= base_fee for tx in chosen)
    # (c) within the gas limit
    assert sum(tx.gas for tx in chosen) <= gas_limit
    # every selected tx is pooled, and select removed nothing
    assert all(pool.get(tx.hash) is tx for tx in chosen)
    # and it is the greedy price-and-nonce merge
    assert chosen == reference_select(pool, base_fee, account_nonces, gas_limit)


def add_all(pool: TxPool, txs: list[Tx], account_nonces: dict[bytes, int]) -> None:
    for tx in txs:
        try:
            pool.add(tx, account_nonces[tx.sender])
        except TxPoolError:
            pass


@settings(max_examples=300, deadline=None)
@given(
    txs=st.lists(txs_strategy, max_size=40),
    account_nonces=account_nonces_strategy,
    base_fee=st.integers(0, 50),
    gas_limit=st.integers(0, 600_000),
)
def test_select_respects_nonces_base_fee_and_gas(txs, account_nonces, base_fee, gas_limit):
    pool = TxPool(max_size=25, max_per_sender=8, max_future_gap=6)
    add_all(pool, txs, account_nonces)
    before = pooled(pool)
    chosen = pool.select(base_fee, account_nonces.__getitem__, gas_limit)
    check_selection(chosen, pool, base_fee, account_nonces, gas_limit)
    assert pooled(pool) == before
    assert len(pool) <= 25


@settings(max_examples=300, deadline=None)
@given(
    txs=st.lists(txs_strategy, max_size=40, unique_by=lambda t: (t.sender, t.nonce)),
    account_nonces=account_nonces_strategy,
    base_fee=st.integers(0, 50),
    gas_limit=st.integers(0, 600_000),
    data=st.data(),
)
def test_select_is_independent_of_arrival_order(txs, account_nonces, base_fee, gas_limit, data):
    # (d) unique (sender, nonce), so no replacements; limits high enough to evict nothing
    reordered = data.draw(st.permutations(txs))
    pools = []
    for order in (txs, reordered):
        pool = TxPool(max_size=1000, max_per_sender=100)
        add_all(pool, order, account_nonces)
        pools.append(pool)
    first, second = pools
    assert pooled(first) == pooled(second)
    assert first.select(base_fee, account_nonces.__getitem__, gas_limit) == second.select(
        base_fee, account_nonces.__getitem__, gas_limit
    )


class TxPoolMachine(RuleBasedStateMachine):
    """Random adds, blocks, removals and prunes against a small pool; bounds always hold."""

    MAX_SIZE = 6
    MAX_PER_SENDER = 3

    @initialize(account_nonces=account_nonces_strategy)
    def start(self, account_nonces):
        self.pool = TxPool(max_size=self.MAX_SIZE, max_per_sender=self.MAX_PER_SENDER, max_future_gap=5)
        self.account_nonces = dict(account_nonces)
        self.arrival: dict[bytes, int] = {}  # tx hash -> order of successful adds
        self.told: dict[bytes, int] = {}  # sender -> account nonce last given to the pool

    @rule(tx=txs_strategy)
    def add(self, tx):
        self._add(tx, self.account_nonces[tx.sender])

    @rule(tx=txs_strategy, stale_by=st.integers(0, 2))
    def add_with_a_stale_nonce_view(self, tx, stale_by):
        # The pool may be told an older account nonce than a previous call (reorg, lag).
        self._add(tx, max(0, self.account_nonces[tx.sender] - stale_by))

    def _add(self, tx, account_nonce):
        before = pooled(self.pool)
        full_path = (
            tx.hash not in self.pool
            and account_nonce <= tx.nonce <= account_nonce + 5
            and tx.nonce not in before.get(tx.sender, {})
            and len(before.get(tx.sender, {})) < self.MAX_PER_SENDER
            and len(self.pool) == self.MAX_SIZE
        )
        expected_victim = self.reference_victim(tx, account_nonce, before) if full_path else None
        try:
            self.pool.add(tx, account_nonce)
        except TxPoolError:
            assert not full_path or expected_victim is None
            assert pooled(self.pool) == before
            return
        assert self.pool.get(tx.hash) is tx
        self.arrival[tx.hash] = len(self.arrival)
        self.told[tx.sender] = account_nonce
        if full_path:
            gone = {t.hash for txs in before.values() for t in txs.values() if t.hash not in self.pool}
            assert expected_victim is not None and gone == {expected_victim.hash}

    def reference_victim(self, tx, account_nonce, before):
        """node.txpool's eviction choice, by brute force over the whole pool (None: PoolFull)."""

        def run_end(txs, start, extra=None):
            end = start
            while end in txs or end == extra:
                end += 1
            return end

        def key(t):
            return (t.max_priority_fee_per_gas, t.max_fee_per_gas, -self.arrival[t.hash])

        own = before.get(tx.sender, {})
        end = run_end(own, account_nonce, extra=tx.nonce)
        executable = tx.nonce < end
        price = (tx.max_priority_fee_per_gas, tx.max_fee_per_gas)
        queued, tails = [], []
        for sender, txs in before.items():
            if sender == tx.sender:
                queued += [t for n, t in txs.items() if n < account_nonce or (n >= end and n > tx.nonce)]
                continue
            base = self.told[sender]
            sender_end = run_end(txs, base)
            queued += [t for n, t in txs.items() if not base <= n < sender_end]
            if sender_end > base:
                tails.append(txs[sender_end - 1])
        if queued:
            victim = min(queued, key=key)
            return victim if executable or key(victim)[:2] < price else None
        if executable and tails:
            victim = min(tails, key=key)
            return victim if key(victim)[:2] < price else None
        return None

    @rule(base_fee=st.integers(0, 50), gas_limit=st.integers(0, 300_000))
    def build_block(self, base_fee, gas_limit):
        chosen = self.pool.select(base_fee, self.account_nonces.__getitem__, gas_limit)
        check_selection(chosen, self.pool, base_fee, self.account_nonces, gas_limit)
        for tx in chosen:
            self.account_nonces[tx.sender] = tx.nonce + 1
        self.pool.remove(tx.hash for tx in chosen)
        self._prune()

    def _prune(self):
        dropped = self.pool.prune(self.account_nonces.__getitem__)
        assert all(h not in self.pool for h in dropped)
        self.told.update(self.account_nonces)

    @rule(sender=st.sampled_from(SENDERS), by=st.integers(1, 2), prune=st.booleans())
    def mined_elsewhere(self, sender, by, prune):
        self.account_nonces[sender] += by
        if prune:
            self._prune()
            assert all(
                nonce >= self.account_nonces[s] for s, txs in pooled(self.pool).items() for nonce in txs
            )

    @rule(data=st.data())
    def remove_some(self, data):
        hashes = [tx.hash for txs in pooled(self.pool).values() for tx in txs.values()]
        if hashes:
            gone = data.draw(st.lists(st.sampled_from(hashes), max_size=3))
            self.pool.remove(gone)
            assert all(h not in self.pool for h in gone)

    @invariant()
    def bounded_and_consistent(self):
        # (e) never above max_size; never above the per-sender limit
        assert len(self.pool) <= self.MAX_SIZE
        everything = pooled(self.pool)
        assert all(len(txs) <= self.MAX_PER_SENDER for txs in everything.values())
        assert sum(len(txs) for txs in everything.values()) == len(self.pool)
        assert self.pool.senders() == sorted(everything)
        for sender, txs in everything.items():
            for nonce, tx in txs.items():
                assert tx.sender == sender and tx.nonce == nonce
                assert tx.hash in self.pool and self.pool.get(tx.hash) is tx
        pending, queued = self.pool.content(self.account_nonces.__getitem__)
        for sender, txs in pending.items():
            start = self.account_nonces[sender]
            assert list(txs) == list(range(start, start + len(txs)))
            assert self.pool.pending_nonce(sender, start) == start + len(txs)
            assert start + len(txs) not in queued.get(sender, {})


TxPoolMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
test_txpool_machine = TxPoolMachine.TestCase


def test_equal_tips_go_in_arrival_order_not_hash_order():
    """The case hypothesis once found: two senders tip the same; the first to arrive goes first."""
    senders = (b"\x11" * 20, b"\x22" * 20)
    first, second = Tx(senders[0], 0, 0, 0, 21_000, value=1), Tx(senders[1], 0, 0, 0, 21_000)
    for a, b in ((first, second), (second, first)):  # whichever hash is smaller
        pool = TxPool(max_size=25, max_per_sender=8, max_future_gap=6)
        pool.add(a, 0)
        pool.add(b, 0)
        nonces = {s: 0 for s in senders}
        assert pool.select(0, nonces.__getitem__, 21_000) == [a]
        assert reference_select(pool, 0, nonces, 21_000) == [a]
