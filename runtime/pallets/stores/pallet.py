"""Stores (skeleton: the calls come next)."""
from __future__ import annotations

from runtime.pallets.framework import Pallet
from runtime.pallets.stores.config import STORES_ADDRESS


class Stores(Pallet):
    name = "stores"
    address = STORES_ADDRESS
