"""The engine driver over the network: what the engine broadcasts goes out on gossip, what
peers gossip comes back in as engine inputs. Same cores as in the simulator.

``NetworkedDriver`` extends ``EngineDriver`` with:

- **out**: ``Broadcast`` of a bft proposal (with its block), a bft vote or a poa finality
  vote is published on the consensus topic; a block this poa authority sealed is published
  on the blocks topic. ``send(topic, data)`` is given by the node's network glue.
- **in**: ``on_consensus(message)`` (already checked: decoded, signer in the set, signature
  good) and ``on_block(block)`` (poa: a sealed block, seal checked):
  - a bft proposal's block is executed on the head (``BlockImporter.execute``, no seal yet)
    and logged to the WAL, then the core gets ``ProposalReceived(proposal, valid)``; the
    glue calls ``on_consensus_async``, which yields to the scheduler between executing the
    block and feeding the core (the two longest synchronous stretches of a height), so
    the node's other tasks are not held up by both at once (block time 0 runs heights back
    to back); messages of one topic are still handled one at a time, in order;
  - bft messages of a later height wait (bounded) until the core reaches it; earlier ones
    are dropped quietly;
  - a poa block is imported (a side fork is kept), the core gets ``BlockImported``, and the
    chain's head follows the core's fork choice (``Node.switch_head``); an unknown parent
    asks the glue to sync from that peer.
- **catch-up**: blocks the syncer imported come in through ``on_synced_block`` (bft: each
  block's seal is its commit, the core moves past the height); a poa peer's finality proof
  through ``on_synced_finality``.
- **stall gossip**: when the height (bft) or the finalized block (poa) has not moved for
  ``stall_s``, the messages of the current height (bft) or the justification (poa) are
  published again, as CometBFT's gossip routines re-send what peers lack. (The network's
  duplicate cache is shorter than ``stall_s``, so a re-send is not swallowed.)
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
import trio

from consensus import poa
from consensus.bft import core as bft
from consensus.engine import BlockImported, Broadcast, Finalized, Seal
from consensus.messages import Proposal, Vote
from consensus.poa.finality import encode_justification as encode_poa_justification
from node.block_import import BlockImporter, BlockRefused, UnknownParent, WireBlock
from node.chain import Block, encode_body
from node.engine_driver import EngineDriver
from node.gossip_messages import (
    FINALITY_VOTE,
    JUSTIFICATION,
    PROPOSAL,
    VOTE,
    ConsensusMessage,
    encode_finality_vote,
    encode_justification,
    encode_proposal,
    encode_vote,
)
from runtime.primitives.header import encode_header

log = structlog.get_logger(__name__)

CONSENSUS_TOPIC = "consensus"
BLOCKS_TOPIC = "blocks"
FUTURE_HEIGHTS = 4  # bft messages this far ahead of the core wait for it
FUTURE_MESSAGES = 4096
STALL_S = 3.0


class NetworkedDriver(EngineDriver):
    def __init__(self, *args: Any, stall_s: float = STALL_S, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.importer = BlockImporter(self.node, self.engine)
        self.send: Callable[[str, bytes], None] = lambda topic, data: None
        self.request_sync: Callable[[object | None], None] = lambda peer: None
        self.stall_s = stall_s
        self._future: dict[int, list[ConsensusMessage]] = {}
        self._future_count = 0
        self._height_messages: dict[bytes, None] = {}  # bft: encoded messages of the current height
        self._progress_mark: tuple[int, int] | None = None

    # -- out -------------------------------------------------------------------------

    def _perform(self, effect: Any) -> None:
        if isinstance(effect, Broadcast):
            super()._perform(effect)
            self._publish(effect.message)
        elif isinstance(effect, Finalized) and effect.seal is not None and effect.block_hash not in self._pending \
                and self.chain.get_header_by_hash(effect.block_hash) is None:
            # Decided without the block reaching us: peers that committed it serve it.
            super()._perform(effect)
            self.request_sync(None)
        elif isinstance(effect, poa.Sealed):
            super()._perform(effect)
            block = self.chain.get_block_by_hash(effect.header.hash)
            if block is not None:
                self.send(BLOCKS_TOPIC, WireBlock.from_block(block, effect.seal.encode()).encode())
        else:
            super()._perform(effect)

    def _publish(self, message: Any) -> None:
        if isinstance(message, Proposal):
            built = self._pending.get(message.block_hash)
            if built is None:
                log.warning("proposal_without_block", height=message.height, round=message.round)
                return
            block = WireBlock(built.header, tuple(built.transactions), built.consensus_data, None)
            data = encode_proposal(message, block)
        elif isinstance(message, Vote):
            data = encode_vote(message)
        elif isinstance(message, poa.FinalityVote):
            data = encode_finality_vote(message)
        else:
            return
        if self._bft:
            self._height_messages[data] = None
        self.send(CONSENSUS_TOPIC, data)

    # -- in --------------------------------------------------------------------------

    def on_consensus(self, message: ConsensusMessage) -> None:
        if message.kind in (PROPOSAL, VOTE):
            if not self._bft:
                return
            height = message.message.height
            current = self.engine.core.height
            if height < current:
                return  # decided already
            if height > current:
                if height <= current + FUTURE_HEIGHTS and self._future_count < FUTURE_MESSAGES:
                    self._future.setdefault(height, []).append(message)
                    self._future_count += 1
                return
            self._feed_bft(message)
        elif message.kind == FINALITY_VOTE:
            self.feed(poa.FinalityVoteReceived(message.message))
            self._follow_fork_choice()
        elif message.kind == JUSTIFICATION:
            self.feed(poa.JustificationReceived(message.votes))
            self._follow_fork_choice()

    async def on_consensus_async(self, message: ConsensusMessage) -> None:
        """``on_consensus``, with a checkpoint between executing a proposed block and the core."""
        if not (self._bft and message.kind == PROPOSAL and message.message.height == self.engine.core.height):
            self.on_consensus(message)
            return
        proposal, block = message.message, message.block
        valid = self._execute_proposed(proposal, block)
        await trio.sleep(0)  # the block is executed (and logged): let the other tasks run
        if self.engine.core.height != proposal.height:
            return  # decided meanwhile (a commit or a sync): the proposal is of a past height
        self._proposal_received(proposal, block, valid)

    def _feed_bft(self, message: ConsensusMessage) -> None:
        if message.kind == PROPOSAL:
            proposal, block = message.message, message.block
            self._proposal_received(proposal, block, self._execute_proposed(proposal, block))
        else:
            self._height_messages[encode_vote(message.message)] = None
            self.feed(bft.VoteReceived(message.message))

    def _proposal_received(self, proposal: Proposal, block: WireBlock, valid: bool) -> None:
        self._height_messages[encode_proposal(proposal, block)] = None
        self.feed(bft.ProposalReceived(proposal, valid))

    def _execute_proposed(self, proposal: Proposal, block: WireBlock) -> bool:
        if proposal.block_hash in self._pending:
            return True
        try:
            built = self.importer.execute(block, check_seal=False)
        except BlockRefused as exc:
            log.warning("proposed_block_invalid", height=proposal.height, round=proposal.round, reason=exc.reason)
            return False
        self._pending[proposal.block_hash] = built
        # Logged so a restart can still commit it if the core decides it.
        self.wal.append_block(proposal.height, encode_header(built.header),
                              encode_body(built.transactions, built.consensus_data))
        return True

    def on_block(self, block: WireBlock, peer: object | None = None) -> None:
        """A sealed poa block from a peer."""
        if self._bft:
            return
        try:
            stored, _ = self.importer.import_block(block)
        except UnknownParent:
            self.request_sync(peer)
            return
        except BlockRefused as exc:
            log.info("gossiped_block_refused", number=block.header.number, reason=exc.reason)
            return
        self.feed(BlockImported(stored.header, block.seal))
        self._follow_fork_choice()

    def on_synced_block(self, block: Block, seal: bytes | None) -> None:
        """A block the syncer imported (its seal already checked)."""
        decoded = None if seal is None else Seal.decode(seal)
        if self._bft:
            if block.header.number >= self.engine.core.height:
                self.feed(BlockImported(block.header, decoded))
                self._new_height()
        else:
            self.feed(BlockImported(block.header, decoded))
            self._follow_fork_choice()

    def on_synced_finality(self, number: int, block_hash: bytes, justification: bytes) -> None:
        if self._bft or not justification:
            return
        try:
            votes = poa.decode_justification(justification, authorities=len(self.engine.validators))
        except Exception as exc:  # noqa: BLE001 - a peer's bytes
            log.info("justification_refused", reason=str(exc))
            return
        self.feed(poa.JustificationReceived(votes))
        self._follow_fork_choice()

    # -- bookkeeping -----------------------------------------------------------------

    def _commit(self, block_hash: bytes, seal: Seal) -> None:
        super()._commit(block_hash, seal)
        if self._bft:
            self._new_height()

    def _new_height(self) -> None:
        """The core moved on: forget the old height's messages, feed what waited for this one."""
        height = self.engine.core.height
        self._height_messages = {}
        for stale in [h for h in self._future if h < height]:
            self._future_count -= len(self._future.pop(stale))
        waiting = self._future.pop(height, [])
        self._future_count -= len(waiting)
        for message in waiting:
            if self.engine.core.height != height:
                break
            self._feed_bft(message)

    def _follow_fork_choice(self) -> None:
        head = self.engine.get_head()
        if head.hash != self.chain.head.hash and self.chain.get_header_by_hash(head.hash) is not None:
            try:
                self.node.switch_head(head.hash)
            except ValueError as exc:
                log.error("fork_choice_refused", reason=str(exc))

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(super().run)
            nursery.start_soon(self._stall_gossip)
            task_status.started()

    async def _stall_gossip(self) -> None:
        while True:
            await trio.sleep(self.stall_s)
            if self._bft:
                core = self.engine.core
                mark = (core.height, core.round)
            else:
                mark = (self.chain.finalized.number, 0)
            if mark != self._progress_mark:
                self._progress_mark = mark
                continue
            if self._bft:
                for data in list(self._height_messages):
                    self.send(CONSENSUS_TOPIC, data)
                self.request_sync(None)
            else:
                justification = self.chain.get_justification(self.chain.finalized.hash)
                if justification:
                    self.send(CONSENSUS_TOPIC, encode_justification(justification))
                votes = self.engine.get_justification()
                if votes:
                    self.send(CONSENSUS_TOPIC, encode_justification(encode_poa_justification(votes)))
                self.request_sync(None)  # peers' stored proofs come with the blocks
            if self.engine.is_validator:
                log.info("consensus_stalled", mark=mark, resent=len(self._height_messages) if self._bft else None)


__all__ = ["BLOCKS_TOPIC", "CONSENSUS_TOPIC", "NetworkedDriver"]
