"""Errors of the consensus layer: bad peer input is rejected with a reason, never a crash.

Every error carries ``reason`` (a short, stable, snake_case-free sentence a log or a
peer score can use) and, where it helps, the offending values.
"""
from __future__ import annotations

from runtime.errors import ChainError


class ConsensusError(ChainError):
    """Base of every expected consensus failure: the input is dropped, the state untouched."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedMessage(ConsensusError):
    """A message that cannot be decoded or whose fields are out of range."""


class OversizedMessage(ConsensusError):
    """A message larger than the protocol allows."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"message of {size} bytes exceeds the limit of {limit} bytes")
        self.size = size
        self.limit = limit


class InvalidSignature(ConsensusError):
    """A signature that does not recover, or recovers to someone else."""


class UnknownValidator(ConsensusError):
    """A message from an address outside the validator set."""

    def __init__(self, address: bytes) -> None:
        super().__init__(f"unknown validator 0x{address.hex()}")
        self.address = address


class WrongHeight(ConsensusError):
    """A message for a height other than the one the core is deciding."""

    def __init__(self, height: int, expected: int) -> None:
        super().__init__(f"message for height {height}, deciding height {expected}")
        self.height = height
        self.expected = expected


class WrongProposer(ConsensusError):
    """A proposal signed by a validator that is not the proposer of its (height, round)."""

    def __init__(self, address: bytes, expected: bytes) -> None:
        super().__init__(f"proposal from 0x{address.hex()}, proposer is 0x{expected.hex()}")
        self.address = address
        self.expected = expected


class InvalidEvidence(ConsensusError):
    """Evidence that does not prove what it claims."""
