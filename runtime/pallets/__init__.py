"""Native pallets, each at its own address and reached with Solidity-ABI calldata.

``PALLETS`` lists them in address order; ``native_handlers()`` is the mapping the EVM
runs them from (see vm/evm.py ``register_natives``). A new pallet is a package here plus
one line in ``PALLETS``.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runtime.pallets.framework import Pallet, compute_abi, compute_solidity_interface
from runtime.pallets.escrow import Escrow
from runtime.pallets.governance import Governance
from runtime.pallets.stores import Stores
from runtime.pallets.vesting import Vesting

PALLETS: tuple[type[Pallet], ...] = (Vesting, Escrow, Stores, Governance)


def native_handlers() -> dict[bytes, Callable[[Any], Any]]:
    return {p.address: p.handle for p in PALLETS}


def get_pallet_at(address: bytes) -> type[Pallet] | None:
    """The pallet at ``address``, or None."""
    for p in PALLETS:
        if p.address == address:
            return p
    return None


def get_pallet(name: str) -> type[Pallet]:
    for p in PALLETS:
        if p.name == name:
            return p
    raise KeyError(name)


def get_interface_name(pallet: type[Pallet]) -> str:
    return "I" + pallet.name[:1].upper() + pallet.name[1:]


def compute_artifacts(pallet: type[Pallet]) -> dict[str, str]:
    """File name -> content of the pallet's generated ABI JSON and Solidity interface."""
    return {
        f"{pallet.name}.abi.json": json.dumps(compute_abi(pallet), indent=2) + "\n",
        f"{get_interface_name(pallet)}.sol": compute_solidity_interface(pallet),
    }


def write_artifacts(out: Path) -> list[Path]:
    """Write every pallet's artifacts into ``out``; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for pallet in PALLETS:
        for name, text in compute_artifacts(pallet).items():
            (out / name).write_text(text)
            written.append(out / name)
    return written


__all__ = ["PALLETS", "Pallet", "compute_abi", "compute_solidity_interface", "compute_artifacts", "get_pallet", "get_pallet_at", "native_handlers", "write_artifacts"]
