"""The seeded network: partition grammar, determinism, drop / duplicate / partition behaviour."""
from __future__ import annotations

import random

import pytest

from consensus.sim.network import Partition, SimNetwork, parse_partition


def test_parse_partition_groups_ranges_and_time():
    p = parse_partition("0-1|2-3@1000:5000")
    assert p.groups == (frozenset({0, 1}), frozenset({2, 3}))
    assert (p.start_ms, p.end_ms) == (1000, 5000)
    assert parse_partition("0,2|1,3-4@0:10").groups == (frozenset({0, 2}), frozenset({1, 3, 4}))


def test_unnamed_validators_form_one_more_group():
    p = parse_partition("0|1@0:10")
    assert p.group_of(4) == [0, 1, 2, 2]


@pytest.mark.parametrize("spec", ["0-1", "0-1|2@5", "0-1|2@5:5", "0-1@0:10", "0-1|1-2@0:10", "a|b@0:1", "3-1|0@0:1"])
def test_bad_partition_specs_are_refused(spec):
    with pytest.raises(ValueError):
        parse_partition(spec)


def _drain(net: SimNetwork) -> list[tuple[int, int, object]]:
    out = []
    while (entry := net.pop()) is not None:
        out.append((net.now, *entry))
    return out


def _traffic(seed: int, **kwargs) -> list[tuple[int, int, object]]:
    net = SimNetwork(random.Random(seed), 4, **kwargs)
    for i in range(200):
        net.send(i % 4, (i + 1) % 4, i)
    return _drain(net)


def test_same_seed_same_schedule_and_other_seed_another():
    kwargs = dict(delay_ms=(10, 90), drop=0.1, duplicate=0.1)
    assert _traffic(1, **kwargs) == _traffic(1, **kwargs)
    assert _traffic(1, **kwargs) != _traffic(2, **kwargs)


def test_delays_stay_in_range_and_reorder():
    delivered = _traffic(3, delay_ms=(25, 75))
    assert len(delivered) == 200
    assert all(25 <= t <= 75 for t, _, _ in delivered)
    assert [item for _, _, item in delivered] != list(range(200))  # reordered


def test_drop_and_duplicate_rates_are_roughly_right():
    delivered = _traffic(4, drop=0.2, duplicate=0.2)
    items = [item for _, _, item in delivered]
    assert 130 < len(set(items)) < 185
    assert len(items) > len(set(items))


def test_partition_cuts_across_groups_only_while_active():
    net = SimNetwork(random.Random(0), 4, delay_ms=(1, 1), partitions=[parse_partition("0-1|2-3@100:200")])
    net.send(0, 2, "before")
    assert [item for _, _, item in _drain(net)] == ["before"]
    net.schedule(150 - net.now, 0, "tick")
    _drain(net)  # now = 150: partition active
    net.send(0, 2, "cut")
    net.send(0, 1, "same side")
    assert [item for _, _, item in _drain(net)] == ["same side"]
    net.schedule(200 - net.now, 0, "tock")
    _drain(net)  # now = 200: healed
    net.send(0, 2, "healed")
    assert [item for _, _, item in _drain(net)] == ["healed"]
    assert net.last_heal_ms == 200


def test_timers_are_never_dropped():
    net = SimNetwork(random.Random(0), 2, drop=0.99)
    for i in range(50):
        net.schedule(i, 0, i)
    assert [item for _, _, item in _drain(net)] == list(range(50))


def test_partition_is_frozen_value():
    assert Partition((frozenset({0}),), 0, 1) == Partition((frozenset({0}),), 0, 1)
