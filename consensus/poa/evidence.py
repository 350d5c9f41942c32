"""PoA evidence, verifiable by any node from the evidence alone (alongside ``consensus.evidence.DoubleSign``).

- ``DoubleSeal``: one authority sealed two different headers in one slot.
- ``DoubleFinalityVote``: one authority finality-voted two different blocks at one number.

As ``DoubleSign``, each pair is kept in a canonical order (by block hash, then signature),
so the same two messages always make the same evidence, encoding and hash.
"""
from __future__ import annotations

from dataclasses import dataclass


from consensus.errors import ConsensusError, InvalidEvidence
from consensus.evidence import Evidence, decode_pair, encode_pair
from consensus.poa.messages import FinalityVote, SlotSeal, check_vote_signature, validate_slot_seal
from consensus.types import ValidatorSet

KIND_DOUBLE_SEAL = 2  # DoubleSign is 1
KIND_DOUBLE_FINALITY_VOTE = 3


@dataclass(frozen=True, slots=True)
class DoubleSeal(Evidence):
    """Two seals by one author for one slot over different headers; build it with ``from_seals``."""

    seal_a: SlotSeal
    seal_b: SlotSeal

    @classmethod
    def from_seals(cls, first: SlotSeal, second: SlotSeal) -> DoubleSeal:
        a, b = sorted((first, second), key=lambda s: (s.block_hash, s.signature))
        return cls(a, b)

    @property
    def validator(self) -> bytes:
        return self.seal_a.author

    @property
    def height(self) -> int:
        return self.seal_a.number

    def encode(self) -> bytes:
        return encode_pair(KIND_DOUBLE_SEAL, self.seal_a.encode(), self.seal_b.encode())

    @classmethod
    def decode(cls, data: bytes) -> DoubleSeal:
        """Raises: MalformedMessage, OversizedMessage."""
        a, b = decode_pair(data, KIND_DOUBLE_SEAL)
        return cls(SlotSeal.decode(a), SlotSeal.decode(b))


    def validate(self, chain_id: int, validators: ValidatorSet | None = None) -> None:
        """Raises: InvalidEvidence, with the reason it proves nothing."""
        a, b = self.seal_a, self.seal_b
        if DoubleSeal.from_seals(a, b) != self:
            raise InvalidEvidence("seals are not in canonical order")
        if a.author != b.author or a.slot != b.slot or a.block_hash == b.block_hash:
            raise InvalidEvidence("seals do not conflict (author, slot, block)")
        if validators is not None and a.author not in validators:
            raise InvalidEvidence(f"0x{a.author.hex()} is not an authority")
        for seal in (a, b):
            try:
                validate_slot_seal(seal, chain_id=chain_id)
            except ConsensusError as exc:
                raise InvalidEvidence(f"bad seal: {exc.reason}") from None


@dataclass(frozen=True, slots=True)
class DoubleFinalityVote(Evidence):
    """Two finality votes by one authority for different blocks at one number; build with ``from_votes``."""

    vote_a: FinalityVote
    vote_b: FinalityVote

    @classmethod
    def from_votes(cls, first: FinalityVote, second: FinalityVote) -> DoubleFinalityVote:
        a, b = sorted((first, second), key=lambda v: (v.block_hash, v.signature))
        return cls(a, b)

    @property
    def validator(self) -> bytes:
        return self.vote_a.validator

    @property
    def height(self) -> int:
        return self.vote_a.number

    def encode(self) -> bytes:
        return encode_pair(KIND_DOUBLE_FINALITY_VOTE, self.vote_a.encode(), self.vote_b.encode())

    @classmethod
    def decode(cls, data: bytes) -> DoubleFinalityVote:
        """Raises: MalformedMessage, OversizedMessage."""
        a, b = decode_pair(data, KIND_DOUBLE_FINALITY_VOTE)
        return cls(FinalityVote.decode(a), FinalityVote.decode(b))


    def validate(self, chain_id: int, validators: ValidatorSet | None = None) -> None:
        """Raises: InvalidEvidence, with the reason it proves nothing."""
        a, b = self.vote_a, self.vote_b
        if DoubleFinalityVote.from_votes(a, b) != self:
            raise InvalidEvidence("votes are not in canonical order")
        if not a.conflicts_with(b):
            raise InvalidEvidence("votes do not conflict (validator, number, block)")
        if validators is not None and a.validator not in validators:
            raise InvalidEvidence(f"0x{a.validator.hex()} is not an authority")
        for vote in (a, b):
            try:
                check_vote_signature(vote, chain_id=chain_id)
            except ConsensusError as exc:
                raise InvalidEvidence(f"bad vote: {exc.reason}") from None
