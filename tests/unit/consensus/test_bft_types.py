"""Validator sets: quorum arithmetic and CometBFT's weighted round-robin proposer."""
from __future__ import annotations

from collections import Counter

import pytest

from consensus.types import Step, Validator, ValidatorSet


def addr(i: int) -> bytes:
    return i.to_bytes(20, "big")


def vset(*powers: int) -> ValidatorSet:
    return ValidatorSet([Validator(addr(i + 1), p) for i, p in enumerate(powers)])


def reference_proposers(validators: ValidatorSet, height: int, rounds: int) -> list[bytes]:
    """CometBFT from history: genesis increments once; each committed height once more;
    round r of a height is a copy incremented r more times. Ties: the lower address."""

    def increment(prio: dict[bytes, int]) -> bytes:
        for v in validators:
            prio[v.address] += v.power
        chosen = max(validators, key=lambda v: (prio[v.address], [-b for b in v.address])).address
        prio[chosen] -= validators.total_power
        return chosen

    prio = {v.address: 0 for v in validators}
    first = increment(prio)  # genesis: the proposer of height 1 round 0
    for _ in range(height - 1):
        first = increment(prio)  # one increment per committed height
    out = [first]
    copy = dict(prio)
    for _ in range(rounds - 1):
        out.append(increment(copy))
    return out


@pytest.mark.parametrize(("total", "power", "quorum", "one_third"), [
    (4, 3, True, True), (4, 2, False, True), (4, 1, False, False),
    (3, 3, True, True), (3, 2, False, True), (3, 1, False, False),
    (100, 67, True, True), (100, 66, False, True), (100, 34, False, True), (100, 33, False, False),
    (1, 1, True, True),
])
def test_quorum_arithmetic(total, power, quorum, one_third):
    vs = vset(total)
    assert vs.has_quorum(power) is quorum
    assert vs.has_one_third(power) is one_third


def test_validator_set_sorted_and_checked():
    vs = ValidatorSet([Validator(addr(3), 1), Validator(addr(1), 2), Validator(addr(2), 3)])
    assert [v.address for v in vs] == [addr(1), addr(2), addr(3)]
    assert vs.total_power == 6 and vs.power_of(addr(2)) == 3 and vs.power_of(addr(9)) == 0
    assert addr(1) in vs and addr(9) not in vs and vs.get(addr(9)) is None
    assert vs == ValidatorSet(list(reversed(vs.validators))) and vs.compute_hash() == vset(2, 3, 1).compute_hash()
    for bad in ([], [Validator(addr(1), 0)], [Validator(addr(1), 1), Validator(addr(1), 2)],
                [Validator(b"\x01" * 19, 1)], [Validator(addr(1), True)]):
        with pytest.raises(ValueError):
            ValidatorSet(bad)


def test_proposer_equal_power_is_round_robin_by_address():
    vs = vset(1, 1, 1, 1)
    assert [vs.proposer(1, r).address for r in range(8)] == [addr(i % 4 + 1) for i in range(8)]
    assert vs.proposer(2, 0) == vs.proposer(1, 1)  # one increment per height, one per round


def test_proposer_ties_break_to_lower_address():
    vs = ValidatorSet([Validator(addr(9), 5), Validator(addr(2), 5)])
    assert vs.proposer(1, 0).address == addr(2)


def test_proposer_weights():
    vs = vset(1, 2, 3)
    assert [vs.proposer(h, 0).address[-1] for h in range(1, 13)] == [3, 2, 1, 3, 2, 3] * 2
    vs = vset(7, 1, 30, 2, 11)
    counts = Counter(vs.proposer(h, 0).address for h in range(1, 10 * vs.total_power + 1))
    assert counts == {v.address: 10 * v.power for v in vs}


@pytest.mark.parametrize("powers", [(1, 1, 1, 1), (1, 2, 3), (10, 1, 1, 1), (5, 7, 11, 13, 2), (100, 1)])
def test_proposer_matches_cometbft_history(powers):
    vs = vset(*powers)
    for height in (1, 2, 3, 7, 20):
        assert [vs.proposer(height, r).address for r in range(6)] == reference_proposers(vs, height, 6)


def test_proposer_is_pure_and_deterministic():
    a, b = vset(3, 1, 4, 1, 5), vset(3, 1, 4, 1, 5)
    far = [(10**12 + 17, 3), (5, 10**9), (1, 0)]
    assert [a.proposer(h, r) for h, r in far] == [b.proposer(h, r) for h, r in reversed(far)][::-1]
    assert a.proposer(1 + a.total_power, 0) == a.proposer(1, 0)


def test_steps_are_ordered():
    assert Step.PROPOSE < Step.PREVOTE < Step.PRECOMMIT < Step.COMMIT
