"""The governance pallet: proposals voted with locked native tokens, executed as the pallet; the treasury."""
from runtime.pallets.governance.config import GOVERNANCE_ADDRESS
from runtime.pallets.governance.fees import compute_fee_share, credit_fee_share
from runtime.pallets.governance.pallet import Governance, compute_passed, compute_state

__all__ = ["GOVERNANCE_ADDRESS", "Governance", "compute_fee_share", "compute_passed", "compute_state", "credit_fee_share"]
