"""The treasury's share of transaction fees: part of the base fee that would be burned."""
from __future__ import annotations

from typing import Any

from runtime.pallets.framework import get_parameter
from runtime.pallets.governance.config import BPS_DENOMINATOR, GOVERNANCE_ADDRESS


def compute_fee_share(gas_used: int, base_fee: int, bps: int) -> int:
    """What of ``gas_used * base_fee`` (burned by EIP-1559) goes to the treasury at ``bps`` basis points."""
    return gas_used * base_fee * bps // BPS_DENOMINATOR


def credit_fee_share(state: Any, gas_used: int, base_fee: int) -> int:
    """Credit the governance account its share of one transaction's base fee; the amount credited.

    Reads ``feeShareBps`` from ``state`` (so a change by governance applies from the next
    transaction on); deterministic, as the executive needs it for every block it builds.
    """
    from runtime.pallets.governance.pallet import Governance

    if gas_used == 0 or base_fee == 0:
        return 0
    amount = compute_fee_share(gas_used, base_fee, get_parameter(state, Governance, "feeShareBps"))
    if amount:
        state.delta_balance(GOVERNANCE_ADDRESS, amount)
    return amount
