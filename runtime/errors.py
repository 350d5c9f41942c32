"""Errors of the state transition: expected failures carry the offending values."""
from __future__ import annotations


class ChainError(Exception):
    """Base of every expected failure the runtime reports."""


class InvalidTransaction(ChainError):
    """A transaction that can never be included as it is.

    The message uses the words Ethereum clients match on (``nonce too low``,
    ``insufficient funds for gas * price + value``, ...).
    """


class InvalidBlock(ChainError):
    """A block that breaks a rule of the chain."""


class InvalidChainSpec(ChainError):
    """A chain spec field is missing or wrong; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"chain spec: {field}: {reason}")
        self.field = field
        self.reason = reason
