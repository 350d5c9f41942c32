"""PoA evidence, verifiable by any node from the evidence alone (alongside ``consensus.evidence.DoubleSign``).

- ``DoubleSeal``: one authority sealed two different headers in one slot.
- ``DoubleFinalityVote``: one authority signed two different finality links with one target
  number (Casper FFG's first slashing condition);
- ``SurroundVote``: one authority signed a link that surrounds another of its links,
  s1 < s2 < t2 < t1 (the second condition).

An honest authority never signs either (``consensus.poa.core``); two conflicting final
blocks imply that more than 1/3 of the authorities did. As ``DoubleSign``, each pair is kept
in a canonical order (double: by link, then signature; surround: the outer vote first), so
the same two messages always make the same evidence, encoding and hash.
"""
from __future__ import annotations

from dataclasses import dataclass


from consensus.errors import ConsensusError, InvalidEvidence
from consensus.evidence import Evidence, decode_pair, encode_pair
from consensus.poa.messages import FinalityVote, SlotSeal, check_vote_signature, validate_slot_seal
from consensus.types import ValidatorSet

KIND_DOUBLE_SEAL = 2  # DoubleSign is 1
KIND_DOUBLE_FINALITY_VOTE = 3
KIND_SURROUND_VOTE = 4


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
    """Two finality votes by one authority with one target number and different links; build with ``from_votes``."""

    vote_a: FinalityVote
    vote_b: FinalityVote

    @classmethod
    def from_votes(cls, first: FinalityVote, second: FinalityVote) -> DoubleFinalityVote:
        a, b = sorted((first, second), key=lambda v: (v.link, v.signature))
        return cls(a, b)

    @property
    def validator(self) -> bytes:
        return self.vote_a.validator

    @property
    def height(self) -> int:
        return self.vote_a.target_number

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
        _validate_votes(a, b, chain_id, validators)
        if DoubleFinalityVote.from_votes(a, b) != self:
            raise InvalidEvidence("votes are not in canonical order")
        if not a.is_double_vote(b):
            raise InvalidEvidence("votes do not conflict (validator, target number, link)")


@dataclass(frozen=True, slots=True)
class SurroundVote(Evidence):
    """A finality vote (``outer``) whose link surrounds another by the same authority (``inner``):
    outer.source < inner.source and inner.target < outer.target. Build it with ``from_votes``."""

    outer: FinalityVote
    inner: FinalityVote

    @classmethod
    def from_votes(cls, first: FinalityVote, second: FinalityVote) -> SurroundVote:
        """The evidence of two votes one of which surrounds the other, in either order.

        Raises:
            ValueError: neither vote surrounds the other.
        """
        if first.surrounds(second):
            return cls(first, second)
        if second.surrounds(first):
            return cls(second, first)
        raise ValueError("neither vote surrounds the other")

    @property
    def validator(self) -> bytes:
        return self.outer.validator

    @property
    def height(self) -> int:
        return self.outer.target_number

    def encode(self) -> bytes:
        return encode_pair(KIND_SURROUND_VOTE, self.outer.encode(), self.inner.encode())

    @classmethod
    def decode(cls, data: bytes) -> SurroundVote:
        """Raises: MalformedMessage, OversizedMessage."""
        a, b = decode_pair(data, KIND_SURROUND_VOTE)
        return cls(FinalityVote.decode(a), FinalityVote.decode(b))

    def validate(self, chain_id: int, validators: ValidatorSet | None = None) -> None:
        """Raises: InvalidEvidence, with the reason it proves nothing."""
        _validate_votes(self.outer, self.inner, chain_id, validators)
        if not self.outer.surrounds(self.inner):
            raise InvalidEvidence("the outer vote does not surround the inner one (validator, source, target)")


def _validate_votes(a: FinalityVote, b: FinalityVote, chain_id: int, validators: ValidatorSet | None) -> None:
    """Both are well-formed votes signed by their validator (a member of ``validators``, if given).

    Raises:
        InvalidEvidence: with the reason.
    """
    for vote in (a, b):
        if not isinstance(vote, FinalityVote):
            raise InvalidEvidence("evidence holds something other than finality votes")
        try:
            check_vote_signature(vote, chain_id=chain_id)
        except ConsensusError as exc:
            raise InvalidEvidence(f"bad vote: {exc.reason}") from None
    if a.validator != b.validator:
        raise InvalidEvidence("votes are by two validators")
    if validators is not None and a.validator not in validators:
        raise InvalidEvidence(f"0x{a.validator.hex()} is not an authority")
