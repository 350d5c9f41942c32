"""Aura-style proof of authority with Casper-FFG finality votes (``core.PoaCore``), sans-IO.

What a driver does with each effect of ``PoaCore.handle``, in order:

- ``PersistSignState(state)``: write ``engine.encode_sign_state(state)`` atomically and
  durably (fsync) *before* performing the next effect; pass it back as ``sign_state``
  (bytes) to ``get_engine``/``PoaCore.from_spec`` on restart.
- ``ProposeBlock(slot, parent_hash, number, timestamp)``: build a block on ``parent_hash``
  with that number and timestamp (transactions from the pool), execute it, and feed
  ``BlockReady(header)`` while the slot lasts (a late answer is dropped).
- ``Sealed(header, seal)``: store the block with ``seal.encode()`` beside it, gossip
  block + seal, then feed ``BlockImported(header, seal)``.
- ``Broadcast(vote)``: gossip ``vote.encode()`` on the finality-vote topic.
- ``Finalized(number, block_hash, votes)``: store ``encode_justification(votes)`` as the
  block's justification, move the finalized pointer (RPC ``finalized``/``safe`` tags),
  never revert past it. The votes are the links from the previously finalized block up to
  this one and on to its child (``validate_finality_proof`` checks them); a peer catching
  up can be sent them, and they count from any root it holds between that previous block
  and this one.
- ``ReportEvidence(evidence)``: keep ``evidence.encode()`` for inclusion in a block.

Inputs: ``Start(finalized_header)`` once at start; ``Tick(now_ms)`` from the clock (at
least once per slot); ``BlockImported`` for every block the node stored (after
``validate_header(header, parent, seal)`` passed and the block executed; on restart, every
stored block above the finalized one, parents first, then ``JustificationReceived`` of the
finalized block's stored justification: its last link justifies a child, where this
node's last vote may start); ``FinalityVoteReceived`` for each
vote from gossip; ``JustificationReceived(votes)`` for votes a peer sends as a whole (its
stored ``Finalized`` proofs when this node is behind, or its ``core.get_justification()``);
a ``ConsensusError`` means: drop it, score the peer down. Blocks from a future slot should
wait until their slot before import, as Aura does. A restarted authority votes again only
once it learns a justified block at or above its last vote's source, so feed it the
justifications peers send. When finality stalls, gossip again this node's recent votes
and its ``core.get_justification()`` (the votes that justify its highest justified block:
a byzantine authority may have shown its votes to some nodes only), and ask a peer for
its proofs.

WAL (``consensus.wal``): append each ``FinalityVoteReceived``/``JustificationReceived``
before ``handle`` (``core.holds(event)``: a repeat that changes nothing need not be), and
each own vote as a ``FinalityVoteReceived`` once its ``PersistSignState`` is written; on
``Finalized(number)`` write ``FinalizedMarker(number)`` (and keep only
``compute_poa_replay`` of the log after it). On restart, after the stored blocks and the
finalized block's justification, feed ``compute_poa_replay(log)``: the votes held before
the crash come back, its own among them (its sign state forbids signing them again).
"""
from consensus.poa.core import (
    BlockReady,
    FinalityVoteReceived,
    JustificationReceived,
    PoaCore,
    PoaSignState,
    ProposeBlock,
    Sealed,
    Start,
    WrongAuthor,
    WrongSlot,
    choose_head,
    compute_slot,
    compute_slot_author,
    seal_header,
)
from consensus.poa.evidence import DoubleFinalityVote, DoubleSeal, SurroundVote
from consensus.poa.finality import (
    InvalidFinalityProof,
    decode_justification,
    encode_justification,
    validate_finality_proof,
)
from consensus.poa.messages import FinalityVote, SlotSeal

__all__ = [
    "BlockReady", "DoubleFinalityVote", "DoubleSeal", "FinalityVote", "FinalityVoteReceived", "InvalidFinalityProof",
    "JustificationReceived", "PoaCore", "PoaSignState", "ProposeBlock", "Sealed", "SlotSeal", "Start", "SurroundVote",
    "WrongAuthor", "WrongSlot", "choose_head", "compute_slot", "compute_slot_author", "decode_justification",
    "encode_justification", "seal_header", "validate_finality_proof",
]
