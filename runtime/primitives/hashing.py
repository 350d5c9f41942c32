"""keccak256, the one hash of the chain (safe-pysha3's C implementation: the fastest here)."""
from __future__ import annotations

from sha3 import keccak_256


def keccak256(data: bytes) -> bytes:
    return keccak_256(data).digest()


EMPTY_KECCAK = keccak256(b"")
