"""Validator keys: secp256k1 signatures over keccak256(sign_bytes), recoverable to an address.

A signature is 65 bytes ``r || s || v`` with ``v`` in {0, 1} and a low ``s`` (as
Ethereum's, so a signature has exactly one valid encoding).
"""
from __future__ import annotations

import coincurve

from consensus.errors import InvalidSignature
from runtime.primitives.hashing import keccak256

SIGNATURE_SIZE = 65
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_N = SECP256K1_N // 2


def compute_address(public_key: coincurve.PublicKey) -> bytes:
    """The Ethereum-style 20-byte address of a public key."""
    return keccak256(public_key.format(compressed=False)[1:])[12:]


class Signer:
    """A validator's private key; signs the canonical bytes of consensus messages."""

    __slots__ = ("_key", "address")

    def __init__(self, private_key: bytes) -> None:
        self._key = coincurve.PrivateKey(private_key)
        self.address: bytes = compute_address(self._key.public_key)

    def __repr__(self) -> str:  # never print the key
        return f"Signer(0x{self.address.hex()})"

    def sign(self, sign_bytes: bytes) -> bytes:
        """A 65-byte recoverable signature over ``keccak256(sign_bytes)``."""
        return self._key.sign_recoverable(keccak256(sign_bytes), hasher=None)


def verify(sign_bytes: bytes, signature: bytes) -> bytes:
    """The address that signed ``sign_bytes``.

    Raises:
        InvalidSignature: wrong length, values out of range, or no key recovers.
    """
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        raise InvalidSignature(f"signature must be {SIGNATURE_SIZE} bytes")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    if signature[64] not in (0, 1):
        raise InvalidSignature("signature recovery id must be 0 or 1")
    if not (0 < r < SECP256K1_N) or not (0 < s <= SECP256K1_HALF_N):
        raise InvalidSignature("signature values out of range")
    try:
        public = coincurve.PublicKey.from_signature_and_message(signature, keccak256(sign_bytes), hasher=None)
    except Exception:  # coincurve raises plain Exception on a point that does not recover
        raise InvalidSignature("signature does not recover a public key") from None
    return compute_address(public)
