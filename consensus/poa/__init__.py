"""Aura-style proof of authority with finality votes (``core.PoaCore``), sans-IO.

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
- ``Finalized(number, block_hash, votes)``: store the votes as the block's justification,
  move the finalized pointer (RPC ``finalized``/``safe`` tags), never revert past it.
- ``ReportEvidence(evidence)``: keep ``evidence.encode()`` for inclusion in a block.

Inputs: ``Start(finalized_header)`` once at start; ``Tick(now_ms)`` from the clock (at
least once per slot); ``BlockImported`` for every block the node stored (after
``validate_header(header, parent, seal)`` passed and the block executed; on restart, every
stored block above the finalized one, parents first); ``FinalityVoteReceived`` for each
vote from gossip (a ``ConsensusError`` means: drop it, score the peer down). Blocks from a
future slot should wait until their slot before import, as Aura does.
"""
from consensus.poa.core import (
    BlockReady,
    FinalityVoteReceived,
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
from consensus.poa.evidence import DoubleFinalityVote, DoubleSeal
from consensus.poa.messages import FinalityVote, SlotSeal

__all__ = [
    "BlockReady", "DoubleFinalityVote", "DoubleSeal", "FinalityVote", "FinalityVoteReceived", "PoaCore",
    "PoaSignState", "ProposeBlock", "Sealed", "SlotSeal", "Start", "WrongAuthor", "WrongSlot", "choose_head",
    "compute_slot", "compute_slot_author", "seal_header",
]
