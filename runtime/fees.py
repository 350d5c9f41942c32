"""EIP-1559: the base fee moves with how full the parent block was."""
from __future__ import annotations

ELASTICITY_MULTIPLIER = 2
BASE_FEE_MAX_CHANGE_DENOMINATOR = 8


def compute_next_base_fee(parent_base_fee: int, parent_gas_used: int, parent_gas_limit: int) -> int:
    target = parent_gas_limit // ELASTICITY_MULTIPLIER
    if target == 0 or parent_gas_used == target:
        return parent_base_fee
    if parent_gas_used > target:
        delta = max(parent_base_fee * (parent_gas_used - target) // target // BASE_FEE_MAX_CHANGE_DENOMINATOR, 1)
        return parent_base_fee + delta
    delta = parent_base_fee * (target - parent_gas_used) // target // BASE_FEE_MAX_CHANGE_DENOMINATOR
    return max(parent_base_fee - delta, 0)
