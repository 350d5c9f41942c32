"""Consensus messages (proposal, vote), their canonical bytes, and their validation.

Sign bytes are the RLP list ``[DOMAIN, chain_id, kind, fields...]``: the domain and the
chain id keep a signature from being replayed on another chain or as another kind of
message. The wire encoding is ``rlp([kind, fields..., signature])``. A nil vote is an
empty block hash; a proposal's ``pol_round`` (-1 = none) is carried as ``pol_round + 1``
because RLP integers are unsigned.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Union

import rlp
from rlp.sedes import big_endian_int

from consensus.errors import (
    InvalidSignature,
    MalformedMessage,
    OversizedMessage,
    UnknownValidator,
    WrongHeight,
    WrongProposer,
)
from consensus.keys import SIGNATURE_SIZE, Signer, verify
from consensus.types import ADDRESS_SIZE, ValidatorSet, VoteType

DOMAIN = b"chameleon/consensus/v1"
KIND_PROPOSAL = 1
KIND_VOTE = 2
HASH_SIZE = 32
MAX_MESSAGE_BYTES = 512  # a signed vote is ~160 bytes, a proposal ~165
MAX_HEIGHT = 2**63 - 1
MAX_ROUND = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Proposal:
    """⟨PROPOSAL, height, round, block_hash, pol_round⟩ signed by ``proposer``."""

    height: int
    round: int
    block_hash: bytes
    pol_round: int
    proposer: bytes
    signature: bytes = b""

    def sign_bytes(self, chain_id: int) -> bytes:
        return rlp.encode([DOMAIN, chain_id, KIND_PROPOSAL, self.height, self.round,
                           self.block_hash, self.pol_round + 1, self.proposer])

    def sign(self, signer: Signer, chain_id: int) -> Proposal:
        """This proposal signed by ``signer`` (who must be its proposer)."""
        if signer.address != self.proposer:
            raise ValueError("a proposal is signed by its proposer")
        return dataclasses.replace(self, signature=signer.sign(self.sign_bytes(chain_id)))

    def recover_signer(self, chain_id: int) -> bytes:
        """Raises: InvalidSignature."""
        return verify(self.sign_bytes(chain_id), self.signature)

    def encode(self) -> bytes:
        return rlp.encode([KIND_PROPOSAL, self.height, self.round, self.block_hash,
                           self.pol_round + 1, self.proposer, self.signature])


@dataclass(frozen=True, slots=True)
class Vote:
    """⟨PREVOTE|PRECOMMIT, height, round, block_hash or nil⟩ signed by ``validator``."""

    type: VoteType
    height: int
    round: int
    block_hash: bytes | None  # None is a vote for nil
    validator: bytes
    signature: bytes = b""

    def sign_bytes(self, chain_id: int) -> bytes:
        return rlp.encode([DOMAIN, chain_id, KIND_VOTE, int(self.type), self.height, self.round,
                           self.block_hash or b"", self.validator])

    def sign(self, signer: Signer, chain_id: int) -> Vote:
        """This vote signed by ``signer`` (who must be its validator)."""
        if signer.address != self.validator:
            raise ValueError("a vote is signed by its validator")
        return dataclasses.replace(self, signature=signer.sign(self.sign_bytes(chain_id)))

    def recover_signer(self, chain_id: int) -> bytes:
        """Raises: InvalidSignature."""
        return verify(self.sign_bytes(chain_id), self.signature)

    def encode(self) -> bytes:
        return rlp.encode([KIND_VOTE, int(self.type), self.height, self.round,
                           self.block_hash or b"", self.validator, self.signature])

    def conflicts_with(self, other: Vote) -> bool:
        """Same validator, height, round and type, but another block hash (or nil)."""
        return (self.validator == other.validator and self.height == other.height
                and self.round == other.round and self.type == other.type
                and self.block_hash != other.block_hash)


Message = Union[Proposal, Vote]


def _int(item: object, name: str) -> int:
    try:
        return big_endian_int.deserialize(item)
    except Exception:
        raise MalformedMessage(f"{name}: not a canonical integer") from None


def _bytes(item: object, name: str) -> bytes:
    if not isinstance(item, bytes):
        raise MalformedMessage(f"{name}: expected bytes")
    return item


def decode_message(data: bytes) -> Message:
    """Decode a wire message; only the shape is checked here, the rest by ``validate_*``.

    Raises:
        OversizedMessage, MalformedMessage.
    """
    if len(data) > MAX_MESSAGE_BYTES:
        raise OversizedMessage(len(data), MAX_MESSAGE_BYTES)
    try:
        items = rlp.decode(data)
    except Exception:
        raise MalformedMessage("not an RLP encoding") from None
    if not isinstance(items, list) or not items:
        raise MalformedMessage("expected a non-empty RLP list")
    kind = _int(items[0], "kind")
    if kind == KIND_PROPOSAL and len(items) == 7:
        return Proposal(
            height=_int(items[1], "height"), round=_int(items[2], "round"),
            block_hash=_bytes(items[3], "block_hash"), pol_round=_int(items[4], "pol_round") - 1,
            proposer=_bytes(items[5], "proposer"), signature=_bytes(items[6], "signature"),
        )
    if kind == KIND_VOTE and len(items) == 7:
        vote_type = _int(items[1], "type")
        if vote_type not in (VoteType.PREVOTE, VoteType.PRECOMMIT):
            raise MalformedMessage(f"unknown vote type {vote_type}")
        block_hash = _bytes(items[4], "block_hash")
        return Vote(
            type=VoteType(vote_type), height=_int(items[2], "height"), round=_int(items[3], "round"),
            block_hash=block_hash or None, validator=_bytes(items[5], "validator"),
            signature=_bytes(items[6], "signature"),
        )
    raise MalformedMessage(f"unknown message kind {kind} with {len(items)} fields")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate_common(message: Message, height_value: int, round_value: int, signer: bytes,
                     block_hash: bytes | None) -> None:
    if not (_is_int(height_value) and 0 <= height_value <= MAX_HEIGHT):
        raise MalformedMessage("height out of range")
    if not (_is_int(round_value) and 0 <= round_value <= MAX_ROUND):
        raise MalformedMessage("round out of range")
    if not isinstance(message.signature, bytes) or not isinstance(signer, bytes):
        raise MalformedMessage("signature and address must be bytes")
    if block_hash is not None and not isinstance(block_hash, bytes):
        raise MalformedMessage("block hash must be bytes")
    try:
        size = len(message.encode())
    except Exception:  # a negative or non-integer field RLP cannot encode
        raise MalformedMessage("fields out of range") from None
    if size > MAX_MESSAGE_BYTES:
        raise OversizedMessage(size, MAX_MESSAGE_BYTES)
    if len(signer) != ADDRESS_SIZE:
        raise MalformedMessage(f"address must be {ADDRESS_SIZE} bytes")
    if block_hash is not None and len(block_hash) != HASH_SIZE:
        raise MalformedMessage(f"block hash must be {HASH_SIZE} bytes")
    if len(message.signature) != SIGNATURE_SIZE:
        raise InvalidSignature(f"signature must be {SIGNATURE_SIZE} bytes")


def validate_vote(vote: Vote, *, chain_id: int, validators: ValidatorSet, height: int) -> None:
    """Check a vote before it may count: shape, size, height, membership, signature.

    Raises:
        MalformedMessage, OversizedMessage, WrongHeight, UnknownValidator, InvalidSignature.
    """
    if vote.type not in (VoteType.PREVOTE, VoteType.PRECOMMIT):
        raise MalformedMessage("unknown vote type")
    _validate_common(vote, vote.height, vote.round, vote.validator, vote.block_hash)
    if vote.height != height:
        raise WrongHeight(vote.height, height)
    if vote.validator not in validators:
        raise UnknownValidator(vote.validator)
    if vote.recover_signer(chain_id) != vote.validator:
        raise InvalidSignature(f"vote is not signed by 0x{vote.validator.hex()}")


def validate_proposal(proposal: Proposal, *, chain_id: int, validators: ValidatorSet, height: int) -> None:
    """Check a proposal: shape, size, height, pol_round < round, signature, proposer.

    Raises:
        MalformedMessage, OversizedMessage, WrongHeight, UnknownValidator, InvalidSignature,
        WrongProposer.
    """
    if proposal.block_hash is None:
        raise MalformedMessage("a proposal names a block")
    _validate_common(proposal, proposal.height, proposal.round, proposal.proposer, proposal.block_hash)
    if not (_is_int(proposal.pol_round) and -1 <= proposal.pol_round < proposal.round):
        raise MalformedMessage("pol_round must be -1 or a round before the proposal's")
    if proposal.height != height:
        raise WrongHeight(proposal.height, height)
    if proposal.proposer not in validators:
        raise UnknownValidator(proposal.proposer)
    if proposal.recover_signer(chain_id) != proposal.proposer:
        raise InvalidSignature(f"proposal is not signed by 0x{proposal.proposer.hex()}")
    expected = validators.proposer(proposal.height, proposal.round).address
    if proposal.proposer != expected:
        raise WrongProposer(proposal.proposer, expected)
