"""What the node gossips on its consensus and block topics, and the check each message
passes before it is forwarded (``network`` calls ``check_*`` as the topic validator).

Consensus topic, one envelope per message:

- ``rlp([1, proposal, block])``: a bft proposal with the block it proposes (a
  ``WireBlock`` without seal: its commit does not exist yet);
- ``rlp([2, vote])``: a bft prevote or precommit;
- ``rlp([3, vote])``: a poa finality vote (a link source → target);
- ``rlp([4, justification])``: poa finality votes proving a block final (re-gossiped
  when finality stalls, so a node that missed votes catches up).

Blocks topic (poa): a sealed ``WireBlock``.

A check costs at most a decode and the signature recoveries: membership of the validator
set and the signature. Heights, rounds and whether a block is valid are the engine's and
the importer's to judge after delivery (a stale message is ignored, never a reason to ban).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import rlp

from consensus.engine import ConsensusEngine
from consensus.errors import ConsensusError
from consensus.messages import Proposal, Vote, decode_message
from consensus.poa.finality import decode_justification
from consensus.poa.messages import FinalityVote, validate_finality_vote
from node.block_import import BlockRefused, WireBlock

PROPOSAL = 1
VOTE = 2
FINALITY_VOTE = 3
JUSTIFICATION = 4
MAX_CONSENSUS_MESSAGE_BYTES = 900 * 1024  # under gossipsub's 1 MiB cap, block included
MAX_BLOCK_MESSAGE_BYTES = 900 * 1024


class GossipRefused(Exception):
    """A message that must not be forwarded, with the reason (the sender loses score)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ConsensusMessage:
    kind: int
    message: Any = None  # Proposal | Vote | FinalityVote
    block: WireBlock | None = None
    votes: tuple[FinalityVote, ...] = ()


def encode_proposal(proposal: Proposal, block: WireBlock) -> bytes:
    return rlp.encode([PROPOSAL, proposal.encode(), block.encode()])


def encode_vote(vote: Vote) -> bytes:
    return rlp.encode([VOTE, vote.encode()])


def encode_finality_vote(vote: FinalityVote) -> bytes:
    return rlp.encode([FINALITY_VOTE, vote.encode()])


def encode_justification(justification: bytes) -> bytes:
    return rlp.encode([JUSTIFICATION, justification])


def decode_consensus_message(data: bytes, *, authorities: int) -> ConsensusMessage:
    """Raises: GossipRefused, naming what is wrong."""
    if len(data) > MAX_CONSENSUS_MESSAGE_BYTES:
        raise GossipRefused(f"consensus message of {len(data)} bytes exceeds {MAX_CONSENSUS_MESSAGE_BYTES}")
    try:
        items = rlp.decode(data)
    except Exception:
        raise GossipRefused("consensus message is not an RLP encoding") from None
    if not isinstance(items, list) or not items or not all(isinstance(i, bytes) for i in items):
        raise GossipRefused("consensus message is [kind, payload...]")
    kind = int.from_bytes(items[0], "big")
    try:
        if kind == PROPOSAL and len(items) == 3:
            proposal = decode_message(items[1])
            if not isinstance(proposal, Proposal):
                raise GossipRefused("a proposal envelope holds a vote")
            block = WireBlock.decode(items[2])
            if block.header.hash != proposal.block_hash:
                raise GossipRefused("the block is not the one proposed")
            return ConsensusMessage(kind, proposal, block)
        if kind == VOTE and len(items) == 2:
            vote = decode_message(items[1])
            if not isinstance(vote, Vote):
                raise GossipRefused("a vote envelope holds a proposal")
            return ConsensusMessage(kind, vote)
        if kind == FINALITY_VOTE and len(items) == 2:
            return ConsensusMessage(kind, FinalityVote.decode(items[1]))
        if kind == JUSTIFICATION and len(items) == 2:
            return ConsensusMessage(kind, votes=decode_justification(items[1], authorities=authorities))
    except ConsensusError as exc:
        raise GossipRefused(exc.reason) from None
    except BlockRefused as exc:
        raise GossipRefused(f"proposed block: {exc.reason}") from None
    raise GossipRefused(f"unknown consensus message kind {kind} with {len(items) - 1} fields")


def check_consensus_message(data: bytes, engine: ConsensusEngine) -> ConsensusMessage:
    """Decode and check signer and signature; what may be forwarded.

    Raises:
        GossipRefused: with the reason.
    """
    message = decode_consensus_message(data, authorities=len(engine.validators))
    validators, chain_id = engine.validators, engine.chain_id
    try:
        if message.kind in (PROPOSAL, VOTE):
            if engine.name != "bft":
                raise GossipRefused(f"a bft message on a {engine.name} chain")
            m = message.message
            signer = m.proposer if isinstance(m, Proposal) else m.validator
            if signer not in validators:
                raise GossipRefused(f"0x{signer.hex()} is not a validator")
            if m.recover_signer(chain_id) != signer:
                raise GossipRefused(f"not signed by 0x{signer.hex()}")
        else:
            if engine.name != "poa":
                raise GossipRefused(f"a poa message on a {engine.name} chain")
            for vote in (message.message,) if message.kind == FINALITY_VOTE else message.votes:
                validate_finality_vote(vote, chain_id=chain_id, validators=validators)
    except ConsensusError as exc:
        raise GossipRefused(exc.reason) from None
    return message


def check_block_message(data: bytes, engine: ConsensusEngine) -> WireBlock:
    """A gossiped sealed block: decoded, its seal checked (the author's signature).

    Raises:
        GossipRefused: with the reason.
    """
    if len(data) > MAX_BLOCK_MESSAGE_BYTES:
        raise GossipRefused(f"block message of {len(data)} bytes exceeds {MAX_BLOCK_MESSAGE_BYTES}")
    try:
        block = WireBlock.decode(data)
        engine.validate_seal(block.header, block.seal)
    except BlockRefused as exc:
        raise GossipRefused(exc.reason) from None
    except ConsensusError as exc:
        raise GossipRefused(f"seal: {exc.reason}") from None
    return block


__all__ = [
    "ConsensusMessage", "GossipRefused", "check_block_message", "check_consensus_message",
    "decode_consensus_message", "encode_finality_vote", "encode_justification", "encode_proposal", "encode_vote",
]
