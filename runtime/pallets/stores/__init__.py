"""The stores pallet: stores as ERC-721 tokens, their products, and purchases through escrow."""
from runtime.pallets.stores.config import STORES_ADDRESS
from runtime.pallets.stores.pallet import Stores

__all__ = ["STORES_ADDRESS", "Stores"]
