"""Hypothesis generates network schedules (seed, drop, delays, a partition) and shrinks a failure.

A failing example is reported with ``note`` as a replay command, so a shrunk failure is a
one-line ``chameleon simulate`` reproduction to paste into ``tests/sim/regressions``.
"""
from __future__ import annotations

from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from consensus.sim.network import parse_partition
from consensus.sim.runner import SimConfig, replay_command, run_seed


@st.composite
def schedules(draw) -> SimConfig:
    n = draw(st.sampled_from([4, 7]))
    lo = draw(st.integers(0, 100))
    hi = draw(st.integers(lo, lo + 200))
    drop = draw(st.sampled_from([0.0, 0.01, 0.05, 0.1, 0.2]))
    duplicate = draw(st.sampled_from([0.0, 0.05, 0.2]))
    partitions = ()
    if draw(st.booleans()):
        cut = draw(st.integers(1, n - 1))  # any split, even one with no 2/3 side: liveness returns after heal
        start = draw(st.integers(0, 3000))
        length = draw(st.integers(1, 8000))
        partitions = (parse_partition(f"0-{cut - 1}|{cut}-{n - 1}@{start}:{start + length}"),)
    # A crash counts against f (no WAL: a restarted validator lost what it signed but its last message).
    byzantine = draw(st.integers(0, (n - 1) // 3))
    crash = draw(st.integers(0, (n - 1) // 3 - byzantine))
    return SimConfig(validators=n, byzantine=byzantine, byzantine_mode="silent", crash=crash, drop=drop,
                     duplicate=duplicate, delay_ms=(lo, hi), partitions=partitions, blocks=5)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=schedules(), seed=st.integers(0, 2**32 - 1))
def test_any_schedule_is_safe_and_live_after_heal(config, seed):
    note(f"replay: {replay_command(config, seed)}")
    result = run_seed(config, seed)
    note(f"problems: {result.problems}")
    assert result.safety_violations == 0
    assert result.honest_double_signs == 0
    assert result.live


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), drop=st.sampled_from([0.0, 0.05]))
def test_equivocation_below_a_third_is_always_safe(seed, drop):
    config = SimConfig(validators=4, byzantine=1, byzantine_mode="equivocate", drop=drop, blocks=5, budget_ms=15_000)
    note(f"replay: {replay_command(config, seed)}")
    result = run_seed(config, seed)
    assert result.safety_violations == 0 and result.honest_double_signs == 0
