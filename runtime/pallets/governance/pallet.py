"""Governance (skeleton: the calls come next)."""
from __future__ import annotations

from runtime.pallets.framework import Pallet
from runtime.pallets.governance.config import GOVERNANCE_ADDRESS


class Governance(Pallet):
    name = "governance"
    address = GOVERNANCE_ADDRESS
