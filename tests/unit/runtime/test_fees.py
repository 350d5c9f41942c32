from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from runtime.fees import compute_next_base_fee


def test_base_fee_moves_with_fullness() -> None:
    assert compute_next_base_fee(10**9, 15_000_000, 30_000_000) == 10**9
    assert compute_next_base_fee(10**9, 30_000_000, 30_000_000) == 1_125_000_000
    assert compute_next_base_fee(10**9, 0, 30_000_000) == 875_000_000


@given(st.integers(0, 10**15), st.integers(5000, 60_000_000), st.data())
def test_matches_pyevm(base_fee, gas_limit, data) -> None:
    from eth.vm.forks.london.headers import calculate_expected_base_fee_per_gas

    gas_used = data.draw(st.integers(0, gas_limit))

    class Parent:
        base_fee_per_gas = base_fee

    parent = Parent()
    parent.gas_used = gas_used
    parent.gas_limit = gas_limit
    parent.block_number = 5
    assert compute_next_base_fee(base_fee, gas_used, gas_limit) == calculate_expected_base_fee_per_gas(parent)
