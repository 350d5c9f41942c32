"""The escrow pallet: a buyer's payment held until the seller ships and the buyer confirms."""
from runtime.pallets.escrow.config import ESCROW_ADDRESS
from runtime.pallets.escrow.interface import EscrowInfo, EscrowListener, EscrowStatus, get_escrow, open_escrow
from runtime.pallets.escrow.pallet import Escrow

__all__ = ["ESCROW_ADDRESS", "Escrow", "EscrowInfo", "EscrowListener", "EscrowStatus", "get_escrow", "open_escrow"]
