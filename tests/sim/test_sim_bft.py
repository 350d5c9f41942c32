"""Tendermint under the simulator: 4, 7 and 10 validators, hundreds of seeded schedules.

Every suite asserts zero safety violations and zero honest double-signs; the ones whose
adversity the core is live under also assert that every honest validator reached
``blocks`` after the network healed. A failure prints the replay command of each seed.

Crashed validators restart from their WAL and sign state, so they are not faults: the
suites run f = (n - 1) // 3 byzantine validators *and* crashes, up to every honest one.
"""
from __future__ import annotations

import pytest
from sim_helpers import run_and_explain

from consensus.sim.network import parse_partition
from consensus.sim.runner import SimConfig

SIZES = [(4, 100), (7, 60), (10, 40)]  # (validators, seeds): the whole folder stays well under 60 s


def f_max(n: int) -> int:
    """The most byzantine validators (equal power) with f < n/3."""
    return (n - 1) // 3


def minority_partition(n: int, start: int = 500, end: int = 5000):
    """Cut off the f lowest-indexed validators (a minority), then heal."""
    return parse_partition(f"0-{f_max(n) - 1}|{f_max(n)}-{n - 1}@{start}:{end}")


def assert_safe(results, replays):
    assert sum(r.safety_violations for r in results) == 0, replays
    assert sum(r.honest_double_signs for r in results) == 0, replays


def assert_safe_and_live(results, replays):
    assert_safe(results, replays)
    assert all(r.live for r in results), replays


@pytest.mark.parametrize("n,seeds", SIZES)
def test_drops_delays_duplicates_partition_and_crash(n, seeds):
    config = SimConfig(validators=n, drop=0.1, duplicate=0.05, delay_ms=(10, 150), crash=1,
                       partitions=(minority_partition(n),), blocks=8)
    assert_safe_and_live(*run_and_explain(config, seeds))


@pytest.mark.parametrize("n,seeds", SIZES)
def test_silent_byzantine_with_drops_and_partition(n, seeds):
    config = SimConfig(validators=n, byzantine=f_max(n), byzantine_mode="silent", drop=0.1, duplicate=0.05,
                       partitions=(minority_partition(n, 300, 3000),), blocks=8)
    assert_safe_and_live(*run_and_explain(config, seeds, first_seed=1000))


@pytest.mark.parametrize("n,seeds", SIZES)
def test_silent_byzantine_at_f_and_every_honest_validator_crashing(n, seeds):
    # A restarted validator replays its WAL: it is back at its round and step with its
    # locks and its own messages, so a crash does not count against f. (Before the WAL,
    # a third of these seeds stalled for good.)
    config = SimConfig(validators=n, byzantine=f_max(n), byzantine_mode="silent", drop=0.1, duplicate=0.05,
                       crash=n - f_max(n), partitions=(minority_partition(n, 300, 3000),), blocks=8)
    results, replays = run_and_explain(config, seeds, first_seed=1500)
    assert_safe_and_live(results, replays)
    assert sum(r.restarts == n - f_max(n) for r in results) >= 0.8 * len(results)  # they really crashed


@pytest.mark.parametrize("n,seeds", SIZES)
def test_equivocating_byzantine_with_delays_and_duplicates(n, seeds):
    config = SimConfig(validators=n, byzantine=f_max(n), byzantine_mode="equivocate", duplicate=0.05,
                       delay_ms=(10, 150), blocks=8)
    assert_safe_and_live(*run_and_explain(config, seeds, first_seed=2000))


@pytest.mark.parametrize("n,seeds", SIZES)
def test_equivocating_byzantine_with_drops_and_a_healed_partition(n, seeds):
    config = SimConfig(validators=n, byzantine=f_max(n), byzantine_mode="equivocate", drop=0.05,
                       duplicate=0.05, partitions=(minority_partition(n),), blocks=6, budget_ms=20_000)
    assert_safe_and_live(*run_and_explain(config, seeds, first_seed=3500))


@pytest.mark.parametrize("n,seeds", SIZES)
def test_equivocating_byzantine_with_drops_partition_and_crashes(n, seeds):
    # f equivocators and two honest validators crashing: live too, the crashes are no faults.
    config = SimConfig(validators=n, byzantine=f_max(n), byzantine_mode="equivocate", drop=0.05,
                       duplicate=0.05, crash=2, partitions=(minority_partition(n),), blocks=6,
                       budget_ms=20_000)
    assert_safe_and_live(*run_and_explain(config, seeds, first_seed=3000))


@pytest.mark.parametrize("n,byzantine", [(4, 2), (7, 3), (10, 4)])
def test_a_third_or_more_equivocating_breaks_agreement_and_the_checker_sees_it(n, byzantine):
    config = SimConfig(validators=n, byzantine=byzantine, byzantine_mode="equivocate", blocks=6, budget_ms=20_000)
    results, _ = run_and_explain(config, 10)
    assert sum(r.safety_violations for r in results) > 0
    assert any("agreement" in p for r in results for p in r.problems)
    assert sum(r.honest_double_signs for r in results) == 0  # the forks come from byzantine signatures


def test_a_crashed_validator_restarts_from_its_wal_and_sign_state_without_double_signing():
    config = SimConfig(validators=4, crash=2, drop=0.05, blocks=12)
    results, replays = run_and_explain(config, 40, first_seed=4000)
    assert_safe_and_live(results, replays)
    # Both really crashed and came back (a seed may finish its blocks before its crash time).
    assert sum(r.restarts == 2 for r in results) >= 0.9 * len(results)


def test_a_restarted_validator_resumes_its_round_instead_of_deadlocking():
    # Was a liveness loss: with one silent validator, the restarted one came back at round 0
    # with only its last signed message; its sign guard refused the steps it had signed and
    # nobody else held its earlier votes, so no round reached a quorum again. Replaying its
    # WAL puts it back at its round with its own votes.
    config = SimConfig(validators=4, byzantine=1, byzantine_mode="silent", crash=1,
                       partitions=(parse_partition("0-0|1-3@500:5000"),), drop=0.1, duplicate=0.05, blocks=10)
    results, replays = run_and_explain(config, 1, first_seed=10036)
    assert_safe_and_live(results, replays)
    assert results[0].restarts == 1


def test_equivocation_cannot_hide_a_polka():
    # Was a liveness loss: the core counted only a validator's first vote per (round, type).
    config = SimConfig(validators=7, byzantine=2, byzantine_mode="equivocate", drop=0.05, delay_ms=(25, 75), blocks=10)
    results, replays = run_and_explain(config, 1, first_seed=4)
    assert_safe_and_live(results, replays)


@pytest.mark.slow
@pytest.mark.parametrize("n", [4, 7, 10])
@pytest.mark.parametrize("mode", ["silent", "equivocate"])
def test_sweep(n, mode):
    drop = 0.1 if mode == "silent" else 0.0
    config = SimConfig(validators=n, byzantine=f_max(n), byzantine_mode=mode, drop=drop, duplicate=0.05,
                       partitions=(minority_partition(n),) if mode == "silent" else (), blocks=10)
    assert_safe_and_live(*run_and_explain(config, 300, first_seed=10_000))
