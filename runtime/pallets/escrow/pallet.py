"""Escrow (skeleton: the calls come next)."""
from __future__ import annotations

from runtime.pallets.escrow.config import ESCROW_ADDRESS
from runtime.pallets.framework import Pallet


class Escrow(Pallet):
    name = "escrow"
    address = ESCROW_ADDRESS
