"""What a virtual machine may ask of the chain while it runs code.

The EVM reaches these through py-evm's ``StateAPI`` (the state object *is* its host);
WASM contracts and native pallets will reach the same operations through this
protocol, so all three see one state, one balance per account, one journal.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class BlockContext:
    """The block a transaction executes in, as code sees it (COINBASE, NUMBER, ...)."""

    number: int
    timestamp: int
    gas_limit: int
    base_fee: int
    coinbase: bytes
    chain_id: int
    prev_randao: bytes = b"\x00" * 32
    # Hashes of up to 256 previous blocks, newest first (BLOCKHASH); may be lazy.
    prev_hashes: Iterable[bytes] = ()


class Host(Protocol):
    def get_balance(self, address: bytes) -> int: ...
    def set_balance(self, address: bytes, balance: int) -> None: ...
    def get_nonce(self, address: bytes) -> int: ...
    def get_code(self, address: bytes) -> bytes: ...
    def get_storage(self, address: bytes, slot: int) -> int: ...
    def set_storage(self, address: bytes, slot: int, value: int) -> None: ...
