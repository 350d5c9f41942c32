"""Evidence of misbehaviour that any node can verify from the evidence alone.

``DoubleSign``: two votes signed by one validator for the same height, round and type
but different block hashes. The pair is stored in a canonical order (by sign bytes), so
the same two votes always make the same evidence, the same encoding and the same hash.
"""
from __future__ import annotations

from dataclasses import dataclass

import rlp

from consensus.errors import ConsensusError, InvalidEvidence, MalformedMessage
from consensus.messages import Vote, decode_message
from consensus.types import ValidatorSet
from runtime.primitives.hashing import keccak256

KIND_DOUBLE_SIGN = 1


class Evidence:
    """What every kind of evidence shares: ``encode``/``validate`` are its own, these follow."""

    __slots__ = ()

    def encode(self) -> bytes:
        raise NotImplementedError

    def validate(self, chain_id: int, validators: ValidatorSet | None = None) -> None:
        raise NotImplementedError

    def compute_hash(self) -> bytes:
        return keccak256(self.encode())

    def verify(self, chain_id: int, validators: ValidatorSet | None = None) -> bool:
        """True when ``validate`` passes."""
        try:
            self.validate(chain_id, validators)
        except InvalidEvidence:
            return False
        return True


def encode_pair(kind: int, first: bytes, second: bytes) -> bytes:
    return rlp.encode([kind, first, second])


def decode_pair(data: bytes, kind: int) -> tuple[bytes, bytes]:
    """The two encoded messages of an evidence of ``kind``.

    Raises:
        MalformedMessage: not an evidence of that kind.
    """
    try:
        items = rlp.decode(data)
    except Exception:
        raise MalformedMessage("evidence is not an RLP encoding") from None
    if (not isinstance(items, list) or len(items) != 3 or items[0] != bytes((kind,))
            or not all(isinstance(i, bytes) for i in items[1:])):
        raise MalformedMessage(f"not evidence of kind {kind}")
    return items[1], items[2]


@dataclass(frozen=True, slots=True)
class DoubleSign(Evidence):
    """Two conflicting signed votes from one validator; build it with ``from_votes``."""

    vote_a: Vote
    vote_b: Vote

    @classmethod
    def from_votes(cls, first: Vote, second: Vote) -> DoubleSign:
        """The evidence of two conflicting votes, in canonical order (chain-independent)."""
        a, b = sorted((first, second), key=lambda v: (v.block_hash or b"", v.signature))
        return cls(a, b)

    @property
    def validator(self) -> bytes:
        return self.vote_a.validator

    @property
    def height(self) -> int:
        return self.vote_a.height

    def encode(self) -> bytes:
        return encode_pair(KIND_DOUBLE_SIGN, self.vote_a.encode(), self.vote_b.encode())

    @classmethod
    def decode(cls, data: bytes) -> DoubleSign:
        """Raises: MalformedMessage, OversizedMessage."""
        first, second = decode_pair(data, KIND_DOUBLE_SIGN)
        a, b = decode_message(first), decode_message(second)
        if not isinstance(a, Vote) or not isinstance(b, Vote):
            raise MalformedMessage("double-sign evidence holds two votes")
        return cls(a, b)

    def validate(self, chain_id: int, validators: ValidatorSet | None = None) -> None:
        """Check that the evidence proves a double sign (by a member of ``validators``, if given).

        Raises:
            InvalidEvidence: with the reason it proves nothing.
        """
        a, b = self.vote_a, self.vote_b
        if DoubleSign.from_votes(a, b) != self:
            raise InvalidEvidence("votes are not in canonical order")
        if not a.conflicts_with(b):
            raise InvalidEvidence("votes do not conflict (validator, height, round, type, block)")
        if validators is not None and a.validator not in validators:
            raise InvalidEvidence(f"0x{a.validator.hex()} is not a validator")
        for vote in (a, b):
            try:
                signer = vote.recover_signer(chain_id)
            except ConsensusError as exc:
                raise InvalidEvidence(f"bad signature: {exc.reason}") from None
            if signer != vote.validator:
                raise InvalidEvidence(f"vote is not signed by 0x{vote.validator.hex()}")
