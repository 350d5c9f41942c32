"""The vesting pallet: native value locked for a beneficiary, released on a linear schedule."""
from runtime.pallets.vesting.pallet import VESTING_ADDRESS, Vesting, compute_vested

__all__ = ["VESTING_ADDRESS", "Vesting", "compute_vested"]
