"""What a PoA authority signs: the seal of a header in its slot, and finality votes.

Sign bytes are ``rlp([DOMAIN, chain_id, kind, fields...])``; the domain (distinct from the
Tendermint messages'), the kind and the chain id keep a signature from being replayed on
another chain or as another kind of message. A seal commits to its block hash; a finality
vote is a Casper-FFG link and commits to both its source and its target block (number and
hash). Kind 2 was the pre-FFG vote ``(number, block_hash)``; it is never reused, so no
signature of the old kind reads as a link.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import rlp
from rlp.sedes import big_endian_int

from consensus.errors import InvalidSignature, MalformedMessage, OversizedMessage, UnknownValidator
from consensus.keys import SIGNATURE_SIZE, Signer, verify
from consensus.types import ADDRESS_SIZE, ValidatorSet

DOMAIN = b"chameleon/poa/v1"
KIND_SEAL = 1
KIND_FINALITY_VOTE = 3  # 2 was the pre-FFG (number, block_hash) vote: retired, never reused
HASH_SIZE = 32
MAX_NUMBER = 2**63 - 1
MAX_VOTE_BYTES = 256  # a signed vote is ~180 bytes


def _int(item: object, name: str) -> int:
    try:
        return big_endian_int.deserialize(item)
    except Exception:
        raise MalformedMessage(f"{name}: not a canonical integer") from None


def _check_common(number: int, block_hash: bytes, address: bytes, signature: bytes) -> None:
    if not isinstance(number, int) or isinstance(number, bool) or not 0 <= number <= MAX_NUMBER:
        raise MalformedMessage("block number out of range")
    if not isinstance(block_hash, bytes) or len(block_hash) != HASH_SIZE:
        raise MalformedMessage(f"block hash must be {HASH_SIZE} bytes")
    if not isinstance(address, bytes) or len(address) != ADDRESS_SIZE:
        raise MalformedMessage(f"address must be {ADDRESS_SIZE} bytes")
    if not isinstance(signature, bytes) or len(signature) != SIGNATURE_SIZE:
        raise InvalidSignature(f"signature must be {SIGNATURE_SIZE} bytes")


@dataclass(frozen=True, slots=True)
class SlotSeal:
    """⟨SEAL, number, slot, block_hash, validator_set_hash⟩ signed by the slot's ``author``."""

    number: int
    slot: int
    block_hash: bytes
    validator_set_hash: bytes
    author: bytes
    signature: bytes = b""

    def sign_bytes(self, chain_id: int) -> bytes:
        return rlp.encode([DOMAIN, chain_id, KIND_SEAL, self.number, self.slot, self.block_hash,
                           self.validator_set_hash, self.author])

    def sign(self, signer: Signer, chain_id: int) -> SlotSeal:
        if signer.address != self.author:
            raise ValueError("a seal is signed by its author")
        return dataclasses.replace(self, signature=signer.sign(self.sign_bytes(chain_id)))

    def recover_signer(self, chain_id: int) -> bytes:
        """Raises: InvalidSignature."""
        return verify(self.sign_bytes(chain_id), self.signature)

    def encode(self) -> bytes:
        return rlp.encode([KIND_SEAL, self.number, self.slot, self.block_hash, self.validator_set_hash,
                           self.author, self.signature])

    @classmethod
    def decode(cls, data: bytes) -> SlotSeal:
        """Raises: OversizedMessage, MalformedMessage."""
        items = _decode_list(data, KIND_SEAL, 7)
        if not all(isinstance(i, bytes) for i in items[3:]):
            raise MalformedMessage("seal fields must be bytes")
        return cls(_int(items[1], "number"), _int(items[2], "slot"), items[3], items[4], items[5], items[6])


@dataclass(frozen=True, slots=True, order=True)
class FinalityVote:
    """⟨FINALITY_VOTE, source_number, source_hash, target_number, target_hash⟩ signed by an authority.

    A Casper-FFG link: the source is a block the authority knows to be justified, the target
    a descendant of it (``source_number < target_number``).
    """

    source_number: int
    source_hash: bytes
    target_number: int
    target_hash: bytes
    validator: bytes
    signature: bytes = b""

    @property
    def link(self) -> tuple[int, bytes, int, bytes]:
        """``(source_number, source_hash, target_number, target_hash)``: what the votes of one link share."""
        return (self.source_number, self.source_hash, self.target_number, self.target_hash)

    def sign_bytes(self, chain_id: int) -> bytes:
        return rlp.encode([DOMAIN, chain_id, KIND_FINALITY_VOTE, self.source_number, self.source_hash,
                           self.target_number, self.target_hash, self.validator])

    def sign(self, signer: Signer, chain_id: int) -> FinalityVote:
        if signer.address != self.validator:
            raise ValueError("a vote is signed by its validator")
        return dataclasses.replace(self, signature=signer.sign(self.sign_bytes(chain_id)))

    def recover_signer(self, chain_id: int) -> bytes:
        """Raises: InvalidSignature."""
        return verify(self.sign_bytes(chain_id), self.signature)

    def is_double_vote(self, other: FinalityVote) -> bool:
        """Same validator and target number, another link (Casper's first slashing condition)."""
        return (self.validator == other.validator and self.target_number == other.target_number
                and self.link != other.link)

    def surrounds(self, other: FinalityVote) -> bool:
        """Same validator, and ``other`` lies strictly inside this vote: s1 < s2 < t2 < t1 (the second)."""
        return (self.validator == other.validator and self.source_number < other.source_number
                and other.target_number < self.target_number)

    def encode(self) -> bytes:
        return rlp.encode([KIND_FINALITY_VOTE, self.source_number, self.source_hash, self.target_number,
                           self.target_hash, self.validator, self.signature])

    @classmethod
    def decode(cls, data: bytes) -> FinalityVote:
        """Raises: OversizedMessage, MalformedMessage."""
        items = _decode_list(data, KIND_FINALITY_VOTE, 7)
        if not all(isinstance(items[i], bytes) for i in (2, 4, 5, 6)):
            raise MalformedMessage("vote fields must be bytes")
        return cls(_int(items[1], "source number"), items[2], _int(items[3], "target number"), items[4],
                   items[5], items[6])


def _decode_list(data: bytes, kind: int, length: int) -> list:
    if len(data) > MAX_VOTE_BYTES:
        raise OversizedMessage(len(data), MAX_VOTE_BYTES)
    try:
        items = rlp.decode(data)
    except Exception:
        raise MalformedMessage("not an RLP encoding") from None
    if not isinstance(items, list) or len(items) != length or _int(items[0], "kind") != kind:
        raise MalformedMessage(f"expected a message of kind {kind} with {length} fields")
    return items


def validate_finality_vote(vote: FinalityVote, *, chain_id: int, validators: ValidatorSet) -> None:
    """Check a finality vote before it may count: shape, membership, signature.

    Raises:
        MalformedMessage, InvalidSignature, UnknownValidator.
    """
    if not isinstance(vote, FinalityVote):
        raise MalformedMessage("not a finality vote")
    _check_vote_shape(vote)
    if vote.validator not in validators:
        raise UnknownValidator(vote.validator)
    check_vote_signature(vote, chain_id=chain_id)


def check_vote_signature(vote: FinalityVote, *, chain_id: int) -> None:
    """Check a finality vote's shape and that its validator signed it (membership aside).

    Raises:
        MalformedMessage, InvalidSignature.
    """
    _check_vote_shape(vote)
    if vote.recover_signer(chain_id) != vote.validator:
        raise InvalidSignature(f"finality vote is not signed by 0x{vote.validator.hex()}")


def _check_vote_shape(vote: FinalityVote) -> None:
    _check_common(vote.target_number, vote.target_hash, vote.validator, vote.signature)
    if (not isinstance(vote.source_number, int) or isinstance(vote.source_number, bool)
            or not 0 <= vote.source_number <= MAX_NUMBER):
        raise MalformedMessage("source number out of range")
    if not isinstance(vote.source_hash, bytes) or len(vote.source_hash) != HASH_SIZE:
        raise MalformedMessage(f"source hash must be {HASH_SIZE} bytes")
    if vote.source_number >= vote.target_number:
        raise MalformedMessage(f"target {vote.target_number} is not above source {vote.source_number}")


def validate_slot_seal(seal: SlotSeal, *, chain_id: int) -> None:
    """Check a slot seal's shape and that its author signed it (the slot's author is checked by the engine).

    Raises:
        MalformedMessage, InvalidSignature.
    """
    _check_common(seal.number, seal.block_hash, seal.author, seal.signature)
    if not isinstance(seal.slot, int) or isinstance(seal.slot, bool) or not 0 <= seal.slot <= MAX_NUMBER:
        raise MalformedMessage("slot out of range")
    if not isinstance(seal.validator_set_hash, bytes) or len(seal.validator_set_hash) != HASH_SIZE:
        raise MalformedMessage(f"validator set hash must be {HASH_SIZE} bytes")
    if seal.recover_signer(chain_id) != seal.author:
        raise InvalidSignature(f"seal is not signed by 0x{seal.author.hex()}")
