"""keccak256, the one hash of the chain (pycryptodome: the fastest measured here)."""
from __future__ import annotations

from Crypto.Hash import keccak as _keccak


def keccak256(data: bytes) -> bytes:
    return _keccak.new(digest_bits=256, data=data).digest()


EMPTY_KECCAK = keccak256(b"")
