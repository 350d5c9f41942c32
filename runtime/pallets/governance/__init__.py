"""The governance pallet: proposals voted with locked native tokens, executed as the pallet; the treasury."""
from runtime.pallets.governance.config import GOVERNANCE_ADDRESS
from runtime.pallets.governance.pallet import Governance

__all__ = ["GOVERNANCE_ADDRESS", "Governance"]
