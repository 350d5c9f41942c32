"""Unit tests of node.txpool: one test (or a few) per admission, selection and pruning rule."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import pytest

from node.txpool import (
    AccountLimitExceeded,
    AlreadyKnown,
    NonceTooHigh,
    NonceTooLow,
    PoolFull,
    ReplacementUnderpriced,
    TxPool,
    TxPoolError,
)

ALICE = b"\xaa" * 20
BOB = b"\xbb" * 20
CAROL = b"\xcc" * 20
DAVE = b"\xdd" * 20
GAS = 21_000


@dataclass(frozen=True, slots=True)
class Tx:
    sender: bytes
    nonce: int
    max_priority_fee_per_gas: int
    max_fee_per_gas: int
    gas: int = GAS
    value: int = 0
    hash: bytes = field(default=b"")

    def __post_init__(self) -> None:
        if not self.hash:
            seed = repr((self.sender, self.nonce, self.max_priority_fee_per_gas,
                         self.max_fee_per_gas, self.gas, self.value))
            object.__setattr__(self, "hash", hashlib.sha256(seed.encode()).digest())


def tx(sender: bytes, nonce: int, tip: int = 1, fee: int | None = None, **kw: int) -> Tx:
    return Tx(sender, nonce, tip, tip + 100 if fee is None else fee, **kw)


def nonces(account_nonces: dict[bytes, int]):
    return lambda sender: account_nonces.get(sender, 0)


ZERO = nonces({})


def snapshot(pool: TxPool) -> tuple:
    pending, queued = pool.content(ZERO)
    return (len(pool), pool.senders(), pending, queued)


def assert_refused(
    pool: TxPool, t: Tx, account_nonce: int, error: type[TxPoolError], message: str
) -> None:
    """The add raises ``error`` with ``message`` and leaves the pool unchanged."""
    before = snapshot(pool)
    with pytest.raises(error) as info:
        pool.add(t, account_nonce)
    assert str(info.value) == message
    assert snapshot(pool) == before


# --- nonce rules --------------------------------------------------------------------


def test_select_orders_one_senders_txs_by_nonce_whatever_the_arrival_order():
    pool = TxPool()
    txs = [tx(ALICE, n, tip=10 - n) for n in range(3)]
    for t in (txs[2], txs[0], txs[1]):
        pool.add(t, 0)
    assert pool.select(0, ZERO, 10**9) == txs


def test_future_nonce_waits_until_the_gap_is_filled():
    pool = TxPool()
    later = tx(ALICE, 1)
    pool.add(later, 0)
    assert pool.select(0, ZERO, 10**9) == []
    assert pool.pending_nonce(ALICE, 0) == 0
    pending, queued = pool.content(ZERO)
    assert pending == {} and queued == {ALICE: {1: later}}

    first = tx(ALICE, 0)
    pool.add(first, 0)
    assert pool.select(0, ZERO, 10**9) == [first, later]
    assert pool.pending_nonce(ALICE, 0) == 2


def test_nonce_too_low():
    pool = TxPool()
    assert_refused(pool, tx(ALICE, 3), 5, NonceTooLow, "nonce too low: next nonce 5, tx nonce 3")


def test_nonce_too_high_beyond_the_future_gap():
    pool = TxPool(max_future_gap=4)
    pool.add(tx(ALICE, 9), 5)  # exactly at the gap
    assert_refused(pool, tx(ALICE, 10), 5, NonceTooHigh, "nonce too high: max nonce 9, tx nonce 10")


def test_already_known():
    pool = TxPool()
    t = tx(ALICE, 0)
    pool.add(t, 0)
    assert_refused(pool, t, 0, AlreadyKnown, "already known")


def test_already_known_is_checked_before_the_nonce():
    pool = TxPool()
    t = tx(ALICE, 0)
    pool.add(t, 0)
    # The head moved on but prune has not run yet: still reported as known, like geth.
    assert_refused(pool, t, 1, AlreadyKnown, "already known")


# --- replacement --------------------------------------------------------------------


def test_replacement_accepted_at_ten_percent_on_both_fees():
    pool = TxPool()
    old = tx(ALICE, 0, tip=100, fee=200)
    new = tx(ALICE, 0, tip=110, fee=220)
    pool.add(old, 0)
    pool.add(new, 0)
    assert len(pool) == 1
    assert old.hash not in pool and pool.get(old.hash) is None
    assert pool.get(new.hash) is new
    assert pool.select(0, ZERO, 10**9) == [new]


@pytest.mark.parametrize(("tip", "fee"), [(109, 220), (110, 219), (100, 1000), (1000, 200)])
def test_replacement_refused_below_ten_percent_on_either_fee(tip, fee):
    pool = TxPool()
    old = tx(ALICE, 0, tip=100, fee=200)
    pool.add(old, 0)
    assert_refused(pool, tx(ALICE, 0, tip=tip, fee=fee), 0, ReplacementUnderpriced,
                   "replacement transaction underpriced")
    assert pool.get(old.hash) is old


def test_replacement_threshold_is_not_rounded_down():
    # 15 * 1.1 = 16.5: 16 is not a 10% bump, 17 is.
    pool = TxPool()
    pool.add(tx(ALICE, 0, tip=15, fee=15), 0)
    with pytest.raises(ReplacementUnderpriced):
        pool.add(tx(ALICE, 0, tip=16, fee=16), 0)
    pool.add(tx(ALICE, 0, tip=17, fee=17), 0)


def test_replacement_uses_the_configured_bump():
    pool = TxPool(price_bump_percent=50)
    pool.add(tx(ALICE, 0, tip=10, fee=10), 0)
    with pytest.raises(ReplacementUnderpriced):
        pool.add(tx(ALICE, 0, tip=14, fee=15), 0)
    pool.add(tx(ALICE, 0, tip=15, fee=15), 0)


def test_replacement_in_a_full_pool_evicts_nothing():
    pool = TxPool(max_size=2)
    pool.add(tx(ALICE, 0, tip=5), 0)
    pool.add(tx(BOB, 0, tip=10, fee=10), 0)
    pool.add(tx(BOB, 0, tip=11, fee=11), 0)
    assert len(pool) == 2 and pool.senders() == [ALICE, BOB]


# --- pool size limit and eviction ---------------------------------------------------


def test_full_pool_refuses_a_tx_that_does_not_pay_more():
    pool = TxPool(max_size=2)
    pool.add(tx(ALICE, 0, tip=5, fee=50), 0)
    pool.add(tx(BOB, 0, tip=5, fee=50), 0)
    assert_refused(pool, tx(CAROL, 0, tip=5, fee=50), 0, PoolFull, "txpool is full")
    assert_refused(pool, tx(CAROL, 0, tip=4, fee=500), 0, PoolFull, "txpool is full")


def test_full_pool_evicts_the_lowest_tip_executable_tx_for_one_that_pays_more():
    pool = TxPool(max_size=2)
    cheap = tx(ALICE, 0, tip=3)
    dear = tx(BOB, 0, tip=9)
    pool.add(cheap, 0)
    pool.add(dear, 0)
    new = tx(CAROL, 0, tip=4)
    pool.add(new, 0)
    assert cheap.hash not in pool
    assert dear.hash in pool and new.hash in pool and len(pool) == 2


def test_executable_eviction_takes_the_end_of_a_senders_run():
    pool = TxPool(max_size=3)
    first = tx(ALICE, 0, tip=1)  # the cheapest tx, but evicting it would strand nonce 1
    last = tx(ALICE, 1, tip=5)
    bob = tx(BOB, 0, tip=7)
    for t in (first, last, bob):
        pool.add(t, 0)
    pool.add(tx(CAROL, 0, tip=6), 0)
    assert last.hash not in pool
    assert first.hash in pool and bob.hash in pool


def test_queued_tx_is_evicted_before_any_executable_one_even_if_it_pays_more():
    pool = TxPool(max_size=2)
    executable = tx(ALICE, 0, tip=1)
    future = tx(BOB, 5, tip=50)
    pool.add(executable, 0)
    pool.add(future, 0)
    pool.add(tx(CAROL, 0, tip=1), 0)
    assert future.hash not in pool and executable.hash in pool


def test_the_cheapest_queued_tx_goes_first():
    pool = TxPool(max_size=3)
    pool.add(tx(ALICE, 0, tip=1), 0)
    dear = tx(BOB, 4, tip=8)
    cheap = tx(CAROL, 4, tip=2)
    pool.add(dear, 0)
    pool.add(cheap, 0)
    pool.add(tx(DAVE, 0, tip=1), 0)
    assert cheap.hash not in pool and dear.hash in pool


def test_equal_price_eviction_takes_the_newest_arrival():
    pool = TxPool(max_size=3)
    pool.add(tx(ALICE, 0, tip=9), 0)
    older = tx(BOB, 4, tip=2)
    newer = tx(CAROL, 4, tip=2)
    pool.add(older, 0)
    pool.add(newer, 0)
    pool.add(tx(DAVE, 0, tip=1), 0)
    assert newer.hash not in pool and older.hash in pool


def test_queued_tx_evicts_a_queued_one_only_if_it_pays_strictly_more():
    pool = TxPool(max_size=2)
    pool.add(tx(ALICE, 0, tip=1), 0)
    future = tx(BOB, 3, tip=5, fee=50)
    pool.add(future, 0)
    assert_refused(pool, tx(CAROL, 3, tip=5, fee=50), 0, PoolFull, "txpool is full")
    pool.add(tx(CAROL, 3, tip=5, fee=51), 0)
    assert future.hash not in pool and len(pool) == 2


def test_queued_tx_never_evicts_an_executable_one():
    pool = TxPool(max_size=2)
    pool.add(tx(ALICE, 0, tip=1), 0)
    pool.add(tx(BOB, 0, tip=1), 0)
    assert_refused(pool, tx(CAROL, 3, tip=100), 0, PoolFull, "txpool is full")


def test_gap_filling_tx_is_executable_and_keeps_its_own_run():
    # Alice's nonce 0 turns her queued nonce 1 executable: Bob's queued tx goes instead.
    pool = TxPool(max_size=3)
    alice_1 = tx(ALICE, 1, tip=1)
    bob_future = tx(BOB, 7, tip=9)
    pool.add(alice_1, 0)
    pool.add(bob_future, 0)
    pool.add(tx(CAROL, 0, tip=5), 0)
    pool.add(tx(ALICE, 0, tip=1), 0)
    assert bob_future.hash not in pool and alice_1.hash in pool


def test_a_sender_never_evicts_its_own_lower_nonces():
    pool = TxPool(max_size=2)
    pool.add(tx(ALICE, 0, tip=9), 0)
    alice_2 = tx(ALICE, 2, tip=1)
    pool.add(alice_2, 0)
    # Alice's nonce 5 is queued and the only queued candidate (nonce 2) is below it.
    assert_refused(pool, tx(ALICE, 5, tip=50), 0, PoolFull, "txpool is full")


def test_a_sender_can_evict_its_own_higher_queued_nonce():
    pool = TxPool(max_size=2)
    pool.add(tx(ALICE, 0, tip=9), 0)
    alice_5 = tx(ALICE, 5, tip=1)
    pool.add(alice_5, 0)
    alice_1 = tx(ALICE, 1, tip=1)
    pool.add(alice_1, 0)
    assert alice_5.hash not in pool and alice_1.hash in pool


def test_stale_txs_count_as_queued_for_eviction():
    pool = TxPool(max_size=2)
    stale = tx(ALICE, 0, tip=50)
    pool.add(stale, 0)
    pool.add(tx(ALICE, 1, tip=50), 1)  # Alice's account nonce is 1 now; 0 is stale
    pool.add(tx(BOB, 0, tip=1), 0)
    assert stale.hash not in pool


# --- per-sender limit ---------------------------------------------------------------


def test_per_sender_limit():
    pool = TxPool(max_per_sender=2)
    pool.add(tx(ALICE, 0), 0)
    pool.add(tx(ALICE, 1, tip=10, fee=10), 0)
    assert_refused(pool, tx(ALICE, 2), 0, AccountLimitExceeded, "account limit exceeded")
    pool.add(tx(BOB, 0), 0)  # others are not affected
    pool.add(tx(ALICE, 1, tip=11, fee=11), 0)  # replacement is not an extra slot
    assert len(pool) == 3


def test_lower_nonce_displaces_the_senders_highest_at_the_limit():
    pool = TxPool(max_per_sender=2)
    far = tx(ALICE, 9)
    pool.add(tx(ALICE, 5), 0)
    pool.add(far, 0)
    pool.add(tx(ALICE, 0), 0)
    assert far.hash not in pool and len(pool) == 2
    assert pool.pending_nonce(ALICE, 0) == 1


# --- select -------------------------------------------------------------------------


def test_select_orders_senders_by_effective_tip():
    pool = TxPool()
    a = tx(ALICE, 0, tip=10, fee=100)  # effective tip at base 95: 5
    b = tx(BOB, 0, tip=7, fee=1000)   # effective tip at base 95: 7
    pool.add(a, 0)
    pool.add(b, 0)
    assert pool.select(0, ZERO, 10**9) == [a, b]
    assert pool.select(95, ZERO, 10**9) == [b, a]


def test_select_merges_senders_by_price_and_nonce():
    pool = TxPool()
    a0, a1 = tx(ALICE, 0, tip=5), tx(ALICE, 1, tip=20)
    b0, b1 = tx(BOB, 0, tip=8), tx(BOB, 1, tip=1)
    for t in (a0, a1, b0, b1):
        pool.add(t, 0)
    # Alice's 20 waits behind her 5; Bob's 8 goes first.
    assert pool.select(0, ZERO, 10**9) == [b0, a0, a1, b1]


def test_select_equal_tips_break_by_hash():
    pool = TxPool()
    a, b = tx(ALICE, 0, tip=5), tx(BOB, 0, tip=5)
    pool.add(b, 0)
    pool.add(a, 0)
    assert pool.select(0, ZERO, 10**9) == sorted([a, b], key=lambda t: t.hash)


def test_select_starts_at_the_account_nonce_and_stops_at_a_gap():
    pool = TxPool()
    for n in (0, 1, 2, 4):
        pool.add(tx(ALICE, n), 0)
    assert [t.nonce for t in pool.select(0, nonces({ALICE: 1}), 10**9)] == [1, 2]
    assert pool.select(0, nonces({ALICE: 3}), 10**9) == []


def test_select_skips_a_sender_whose_next_tx_is_below_the_base_fee():
    pool = TxPool()
    poor = tx(ALICE, 0, tip=1, fee=9)
    after_poor = tx(ALICE, 1, tip=50, fee=500)
    rich = tx(BOB, 0, tip=1, fee=10)
    rich_then_poor = tx(BOB, 1, tip=1, fee=9)
    for t in (poor, after_poor, rich, rich_then_poor):
        pool.add(t, 0)
    assert pool.select(10, ZERO, 10**9) == [rich]
    assert len(pool) == 4  # select removes nothing


def test_select_skips_a_sender_whose_next_tx_exceeds_the_gas_left():
    pool = TxPool()
    big = tx(ALICE, 0, tip=9, gas=60_000)
    after_big = tx(ALICE, 1, tip=9, gas=GAS)
    b0, b1 = tx(BOB, 0, tip=5, gas=GAS), tx(BOB, 1, tip=5, gas=GAS)
    for t in (big, after_big, b0, b1):
        pool.add(t, 0)
    assert pool.select(0, ZERO, 50_000) == [b0, b1]
    assert pool.select(0, ZERO, 60_000) == [big]
    assert pool.select(0, ZERO, 81_000) == [big, after_big]
    assert pool.select(0, ZERO, 102_000) == [big, after_big, b0]


def test_select_on_an_empty_pool():
    assert TxPool().select(7, ZERO, 30_000_000) == []


def test_select_handles_thousands_of_txs():
    pool = TxPool(max_size=20_000)
    for s in range(500):
        sender = s.to_bytes(20, "big")
        for n in range(10):
            pool.add(tx(sender, n, tip=(s * 7 + n) % 13), 0)
    chosen = pool.select(0, ZERO, 30_000_000)
    assert len(chosen) == 30_000_000 // GAS
    tips = [t.max_priority_fee_per_gas for t in chosen]
    assert tips[0] == 12


# --- remove, prune, pending_nonce, content ------------------------------------------


def test_remove_drops_known_hashes_and_ignores_unknown_ones():
    pool = TxPool()
    a0, a1 = tx(ALICE, 0), tx(ALICE, 1)
    pool.add(a0, 0)
    pool.add(a1, 0)
    pool.remove([a0.hash, b"\x00" * 32])
    assert len(pool) == 1 and a0.hash not in pool
    assert pool.select(0, nonces({ALICE: 1}), 10**9) == [a1]
    pool.remove([a1.hash])
    assert len(pool) == 0 and pool.senders() == []


def test_prune_after_a_new_head():
    pool = TxPool()
    a = [tx(ALICE, n) for n in range(4)]
    b = [tx(BOB, n) for n in range(2)]
    for t in a + b:
        pool.add(t, 0)
    dropped = pool.prune(nonces({ALICE: 2, BOB: 5}))
    assert dropped == [a[0].hash, a[1].hash, b[0].hash, b[1].hash]
    assert pool.senders() == [ALICE]
    assert pool.select(0, nonces({ALICE: 2}), 10**9) == [a[2], a[3]]
    assert pool.prune(nonces({ALICE: 2})) == []


def test_pending_nonce():
    pool = TxPool()
    assert pool.pending_nonce(ALICE, 7) == 7
    for n in (7, 8, 10):
        pool.add(tx(ALICE, n), 7)
    assert pool.pending_nonce(ALICE, 7) == 9
    assert pool.pending_nonce(ALICE, 10) == 11
    assert pool.pending_nonce(BOB, 3) == 3


def test_content_splits_pending_and_queued():
    pool = TxPool()
    a0, a1, a3 = tx(ALICE, 0), tx(ALICE, 1), tx(ALICE, 3)
    b2 = tx(BOB, 2)
    c5 = tx(CAROL, 5)
    for t in (a3, c5, a1, b2, a0):
        pool.add(t, 0)
    pending, queued = pool.content(nonces({CAROL: 5}))
    assert pending == {ALICE: {0: a0, 1: a1}, CAROL: {5: c5}}
    assert queued == {ALICE: {3: a3}, BOB: {2: b2}}
    assert list(pending) == [ALICE, CAROL]


def test_senders_are_sorted():
    pool = TxPool()
    for sender in (CAROL, ALICE, BOB):
        pool.add(tx(sender, 0), 0)
    assert pool.senders() == [ALICE, BOB, CAROL]


def test_bad_limits_are_refused():
    with pytest.raises(ValueError):
        TxPool(max_size=0)


def test_equal_tips_go_first_come_first_served_so_no_sender_starves():
    # Hashes chosen so that, ordered by hash, sender B's next tx would always lose to A's.
    pool = TxPool()
    a, b = b"\xaa" * 20, b"\xbb" * 20
    for nonce in range(4):
        pool.add(Tx(b, nonce, 1, 101, hash=b"\xff" + bytes([nonce]) * 31), 0)
        pool.add(Tx(a, nonce, 1, 101, hash=b"\x00" + bytes([nonce]) * 31), 0)
    chosen = pool.select(0, ZERO, GAS * 4)
    assert [(t.sender, t.nonce) for t in chosen] == [(b, 0), (a, 0), (b, 1), (a, 1)]
