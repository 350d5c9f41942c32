"""The trio driver of a consensus engine: it feeds the engine its inputs and performs
the effects, for real (clock, block building, storage, signing-state file).

The engine decides; the driver only acts, in the order the effects come:

- ``PersistSignState``: written and fsynced to ``<datadir>/consensus/sign_state`` before
  the next effect, so a restarted validator never signs what conflicts with it;
- ``poa.ProposeBlock``: build a block with the pool's ready transactions at the slot's
  timestamp, answer ``BlockReady``; ``poa.Sealed``: commit it with its seal;
- ``bft.RequestBlock``: build a block (not before ``block_time`` after the head, and with
  ``block_time`` 0 not before ``MIN_BUILD_DELAY_S`` after the request), answer ``BlockReady``;
  ``Finalized`` with a seal (a bft commit): commit that block with it;
- ``bft.ScheduleTimeout``: sleep, then feed ``TimeoutFired``;
- ``Finalized``: move the chain's finalized pointer (RPC ``safe``/``finalized``);
- ``Broadcast``: nothing to send yet (there is no network: one validator);
- ``ReportEvidence``: verified into the evidence pool (``node/evidence_pool.py``).

Every block this driver builds carries the engine's consensus data
(``consensus/block_data.py``): for ``bft`` the commit of its parent, and for both engines
the pending evidence; the header's ``extra_data`` commits to it.

An input the engine refuses (``ConsensusError``) is logged and dropped.

**Block time 0** ("as fast as consensus goes"): everything a height does runs on the trio
thread, synchronously between awaits (building and executing blocks, WAL and sign-state
fsyncs, the LevelDB commit), and a proposer that builds the next block the moment the last
one is committed leaves its network tasks, RPC and peers' sync requests only the gaps
between heights. So with ``block_time`` 0 the proposer waits ``MIN_BUILD_DELAY_S`` before
building (the other tasks run meanwhile: gossip of the commit, transactions, RPC), and
yields once between building the block and handing it to the engine (building is the
longest synchronous stretch of a height). Neither changes what is logged or signed, nor in
what order: the block and its ``BlockReady`` are still logged before ``handle``, and every
signed message still reaches the WAL and the sign state before its ``Broadcast``.

**The bft WAL** (``node/consensus_wal.py``, records of ``consensus.wal``): every input of
the core (proposal with its verdict, vote, timeout fired, block ready) is appended before
``handle``; a block this node built is appended before its ``BlockReady``; each message it
signs is appended (fsynced) *before* its ``PersistSignState`` is written, so the log never
lacks a message the sign state says was signed (a crash between the two leaves the log one
step ahead, and the restarted guard takes the later of the two). A commit replaces the log
by its ``EndHeight`` marker. On start the driver rebuilds the core with its sign state,
restores the logged blocks of the current height, and replays every logged input of that
height, unlogged: the core is back at its round and step with its locks; each step it
signed before is refused by its sign guard and covered by its own logged message, which
follows in the log.

**The poa WAL**: finality votes received (flushed) and signed (fsynced, after the sign
state) are appended before ``handle``; each ``Finalized`` rewrites the log to
``FinalizedMarker(n)`` plus the votes above it; on start, after the blocks and the stored
justification, ``compute_poa_replay(log)`` is fed back.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rlp
import structlog
import trio

from consensus import poa
from consensus.bft import core as bft
from consensus.engine import (
    BlockImported,
    Broadcast,
    ConsensusEngine,
    Finalized,
    PersistSignState,
    ReportEvidence,
    Seal,
    Tick,
)
from consensus.errors import ConsensusError
from consensus.messages import Proposal, Vote
from consensus.wal import FinalizedMarker, compute_last_signed, compute_poa_replay, compute_replay
from node import metrics
from consensus.block_data import BlockData, compose_block_data, validate_block_data
from node.chain import decode_body, decode_body_consensus_data, encode_body
from node.evidence_pool import EvidencePool, EvidenceRefused
from node.consensus_wal import ConsensusWal
from node.service import Node
from runtime.errors import InvalidBlock
from runtime.executive import BuiltBlock, execute_block
from runtime.primitives.header import decode_header, encode_header

log = structlog.get_logger(__name__)

# What the bft WAL logs of the core's inputs (``Start`` and ``BlockImported`` follow from the chain).
_LOGGED_INPUTS = (bft.ProposalReceived, bft.VoteReceived, bft.TimeoutFired, bft.BlockReady)
# And the poa WAL (blocks and the finalized block's proof are in the chain); our own votes too.
_POA_LOGGED_INPUTS = (poa.FinalityVoteReceived, poa.JustificationReceived)

# With block time 0: the least a proposer waits between the engine's request and building the
# block, so the node's other tasks (gossip, sync answers, RPC) get the thread between heights.
MIN_BUILD_DELAY_S = 0.05


def load_sign_state(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def save_sign_state(path: Path, data: bytes) -> None:
    """Atomically and durably: a crash leaves the old state or the new, never a torn one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class EngineDriver:
    def __init__(
        self,
        node: Node,
        engine: ConsensusEngine,
        sign_state_path: Path,
        *,
        block_time: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.node = node
        self.chain = node.chain
        self.engine = engine
        self.sign_state_path = sign_state_path
        self.block_time = block_time
        self._clock = clock
        self._pending: dict[bytes, BuiltBlock] = {}  # built, waiting for the engine's verdict
        self._nursery: trio.Nursery | None = None
        self._bft = not isinstance(engine, poa.PoaCore)
        self.wal = ConsensusWal(sign_state_path.parent / "wal")
        self.evidence = EvidencePool(node.chain, engine)

    # -- inputs ----------------------------------------------------------------------

    def feed(self, event: Any, *, replaying: bool = False) -> None:
        """Hand one input to the engine (logged first, unless it is being replayed)."""
        if self._bft and not replaying and isinstance(event, _LOGGED_INPUTS):
            # Timeouts and our own blocks are ours: fsynced. Peer messages are only flushed.
            self.wal.append(event, sync=isinstance(event, (bft.TimeoutFired, bft.BlockReady)))
        elif (not self._bft and not replaying and isinstance(event, _POA_LOGGED_INPUTS)
              and not self.engine.holds(event)):
            self.wal.append(event, sync=False)  # peer votes: flushed (a repeat the core holds is not logged)
        try:
            effects = self.engine.handle(event)
        except ConsensusError as exc:
            log.warning("consensus_input_dropped", input=type(event).__name__, reason=str(exc))
            return
        for i, effect in enumerate(effects):
            if self._bft and isinstance(effect, PersistSignState):
                # The signed message goes to the log before the sign state is written.
                following = effects[i + 1] if i + 1 < len(effects) else None
                if isinstance(following, Broadcast):
                    self._log_signed(following.message)
            elif not self._bft and isinstance(effect, Broadcast) and isinstance(effect.message, poa.FinalityVote):
                # Our finality vote, its sign state written: a restart cannot sign it again, it counts this one.
                self.wal.append(poa.FinalityVoteReceived(effect.message), sync=True)
            self._perform(effect)
            if not self._bft and isinstance(effect, Finalized):
                # The marker; the log keeps only the votes above it (bounded, as the bft log is per height).
                marker = FinalizedMarker(effect.number)
                self.wal.replace([marker, *compute_poa_replay([*self.wal.load().records, marker])])
        if self._bft:
            metrics.CONSENSUS_HEIGHT.set(self.engine.core.height)
            metrics.CONSENSUS_ROUND.set(self.engine.core.round)
        else:
            metrics.CONSENSUS_HEIGHT.set(self.chain.head.number + 1)

    def _log_signed(self, message: Any) -> None:
        if isinstance(message, Proposal):
            self.wal.append(bft.ProposalReceived(message, True), sync=True)
        elif isinstance(message, Vote):
            self.wal.append(bft.VoteReceived(message), sync=True)

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._start()
            task_status.started()
            if isinstance(self.engine, poa.PoaCore):
                await self._run_slots()
            else:
                await trio.sleep_forever()

    def _start(self) -> None:
        chain = self.chain
        if isinstance(self.engine, poa.PoaCore):
            finalized = chain.finalized
            # The logged finality votes above the finalized block; the log is compacted to them.
            contents = self.wal.load()
            if contents.torn_bytes:
                log.warning("consensus_wal_torn_tail", bytes=contents.torn_bytes)
            marker = FinalizedMarker(finalized.number)
            logged = compute_poa_replay([*contents.records, marker])
            self.wal.replace([marker, *logged])
            self.feed(poa.Start(finalized))
            for number in range(finalized.number + 1, chain.head.number + 1):
                header = chain.get_header_by_number(number)
                self.feed(BlockImported(header, self._stored_seal(header.hash)))
            # The finalized block's stored proof ends with a link to a child: our last vote may start there.
            try:
                votes = poa.decode_justification(chain.get_justification(finalized.hash) or b"",
                                                 authorities=len(self.engine.validators))
            except ConsensusError as exc:
                log.warning("justification_not_replayed", reason=str(exc))
            else:
                self.feed(poa.JustificationReceived(votes), replaying=True)  # stored with the block: not logged
            for event in logged:  # then the votes received (and our own) since, in order
                self.feed(event, replaying=True)
            if logged:
                log.info("consensus_wal_replayed", finalized=finalized.number, records=len(logged),
                         justified=self.engine.get_justified().number)
        else:
            head = chain.head
            inputs = self._load_wal(head.number + 1)
            if head.number > 0:
                self.feed(BlockImported(head, self._stored_seal(head.hash)))
            else:
                self.feed(bft.Start(1))
            self._replay(head.number + 1, inputs)
        log.info("consensus_started", engine=self.engine.name, head=chain.head.number, finalized=chain.finalized.number)

    async def _run_slots(self) -> None:
        slot_ms = self.engine.slot_duration * 1000
        while True:
            now_ms = int(self._clock() * 1000)
            self.feed(Tick(now_ms))
            await trio.sleep((slot_ms - now_ms % slot_ms) / 1000 + 0.001)

    def _load_wal(self, height: int) -> tuple[Any, ...]:
        """Read the WAL before the core starts: rebuild the core if the log knows of a later
        signature than the sign state, restore the blocks built for ``height``, and return the
        inputs to replay (none unless the log's last marker is the height before ``height``)."""
        contents = self.wal.load()
        if contents.torn_bytes:
            log.warning("consensus_wal_torn_tail", bytes=contents.torn_bytes)
        replay = compute_replay(contents.records)
        if replay is None or replay.height != height:
            # A new log, or one of a height already stored (a crash between storing the block
            # and writing its marker): nothing of ``height`` was signed or received yet.
            self.wal.end_height(height - 1)
            return ()
        core = self.engine.core
        last = compute_last_signed(replay.inputs, core.address)
        if last is not None and (core.sign_state is None or last > core.sign_state):
            # Crashed between logging a message and writing the sign state: the log knows better.
            save_sign_state(self.sign_state_path, self.engine.encode_sign_state(last))
            self.engine.core = bft.TendermintCore(chain_id=core.chain_id, validators=core.validators,
                                                  signer=core.signer, timeouts=core.timeouts, sign_state=last)
        for block in contents.blocks:
            if block.height != height:
                continue
            header = decode_header(block.header)
            consensus_data = decode_body_consensus_data(block.body)
            try:
                validate_block_data(self.engine, header, self.chain.head, BlockData.decode(consensus_data))
                built = execute_block(
                    self.chain.store, self.chain.head, header, decode_body(block.body),
                    chain_id=self.chain.spec.chain_id, prev_hashes=self.chain.prev_hashes,
                    consensus_data=consensus_data,
                )
            except (InvalidBlock, ConsensusError) as exc:
                log.warning("wal_block_dropped", reason=str(exc))
                continue
            self._pending[header.hash] = built
        return replay.inputs

    def _replay(self, height: int, inputs: tuple[Any, ...]) -> None:
        """Feed the logged inputs of ``height`` back, in order, without logging them again."""
        round_, step = self.engine.core.round, self.engine.core.step
        for event in inputs:
            if self.engine.core.height != height:
                break  # the replay decided the height (it crashed before storing the block)
            self.feed(event, replaying=True)
            if self.engine.core.height == height:
                round_, step = self.engine.core.round, self.engine.core.step
        if inputs:
            # The round the height was at when the replay ended, or when it decided: a lone
            # validator killed just after logging its proposal finishes the height on replay.
            decided = self.engine.core.height != height
            log.info("consensus_wal_replayed", height=height, records=len(inputs), round=round_,
                     step=step.name, decided=decided)

    def _block_data(self) -> bytes:
        """What the next block carries for the engine: the head's commit (bft) and evidence."""
        head = self.chain.head
        data = compose_block_data(self.engine, head, self._stored_seal(head.hash), self.evidence.pending())
        return data.encode()

    def _stored_seal(self, block_hash: bytes) -> Seal | None:
        data = self.chain.get_seal(block_hash)
        return Seal.decode(data) if data is not None else None

    # -- effects ---------------------------------------------------------------------

    def _perform(self, effect: Any) -> None:
        if isinstance(effect, PersistSignState):
            save_sign_state(self.sign_state_path, self.engine.encode_sign_state(effect.state))
        elif isinstance(effect, poa.ProposeBlock):
            self._propose_poa(effect)
        elif isinstance(effect, poa.Sealed):
            self._commit(effect.header.hash, effect.seal)
        elif isinstance(effect, bft.RequestBlock):
            delay = max(0.0, self.chain.head.timestamp + self.block_time - self._clock())
            if self.block_time <= 0:
                delay = max(delay, MIN_BUILD_DELAY_S)
            self._nursery.start_soon(self._answer_request, effect.height, effect.round, delay)
        elif isinstance(effect, bft.ScheduleTimeout):
            self._nursery.start_soon(self._fire_timeout, effect)
        elif isinstance(effect, Finalized):
            if effect.seal is not None and effect.block_hash in self._pending:
                self._commit(effect.block_hash, effect.seal)
            justification = None if effect.seal is not None else rlp.encode([v.encode() for v in effect.votes])
            if self.chain.get_header_by_hash(effect.block_hash) is None:
                log.warning("finalized_unknown_block", number=effect.number, block="0x" + effect.block_hash.hex())
            elif effect.number >= self.chain.finalized.number:
                self.chain.set_finalized(effect.block_hash, justification)
                metrics.FINALIZED.set(effect.number)
                header = self.chain.get_header_by_hash(effect.block_hash)
                metrics.TIME_TO_FINALITY.observe(max(0.0, self._clock() - header.timestamp))
        elif isinstance(effect, Broadcast):
            pass  # logged with its PersistSignState; one validator and no network yet: nobody else to tell
        elif isinstance(effect, ReportEvidence):
            evidence = effect.evidence
            log.warning("consensus_evidence", evidence=type(evidence).__name__,
                        validator="0x" + evidence.validator.hex(), height=evidence.height)
            try:
                self.evidence.add(evidence)
            except EvidenceRefused as exc:
                log.info("evidence_not_kept", reason=str(exc))
        else:
            raise AssertionError(f"unknown consensus effect {effect!r}")

    def _propose_poa(self, effect: poa.ProposeBlock) -> None:
        if effect.parent_hash != self.chain.head.hash:
            log.info("proposal_skipped", slot=effect.slot, reason="parent is not our head")
            return
        built = self.node.build(timestamp=effect.timestamp, consensus_data=self._block_data())
        self._pending[built.header.hash] = built
        self.feed(poa.BlockReady(built.header))

    async def _answer_request(self, height: int, round_: int, delay: float) -> None:
        await trio.sleep(delay)
        if self.chain.head.number + 1 != height:
            return  # the height moved on while we waited
        built = self.node.build(timestamp=int(self._clock()), consensus_data=self._block_data())
        # Building was the long synchronous part: let the other tasks run before signing it.
        await trio.sleep(0)
        if self.chain.head.number + 1 != height or built.header.parent_hash != self.chain.head.hash:
            return  # a peer's commit (or a sync) moved the head meanwhile: this block is stale
        if self.engine.core.height != height or self.engine.core.round != round_:
            return  # the core moved past this request: it no longer waits for the block
        self._pending[built.header.hash] = built
        self.wal.append_block(height, encode_header(built.header),
                              encode_body(built.transactions, built.consensus_data))
        self.feed(bft.BlockReady(height, round_, built.header.hash))

    async def _fire_timeout(self, effect: bft.ScheduleTimeout) -> None:
        await trio.sleep(effect.delay_ms / 1000)
        self.feed(bft.TimeoutFired(effect.height, effect.round, effect.step))

    def _commit(self, block_hash: bytes, seal: Seal) -> None:
        built = self._pending.pop(block_hash, None)
        if built is None or built.header.parent_hash != self.chain.head.hash:
            log.warning("sealed_block_dropped", block="0x" + block_hash.hex(), reason="not built on the head")
            return
        included = [e.compute_hash() for e in BlockData.decode(built.consensus_data).evidence]
        self.node.commit_built(built, seal=seal.encode())
        self.evidence.remove(included)
        if self._bft:
            self.wal.end_height(built.header.number)
        # Anything else built for this height is stale now.
        self._pending = {h: b for h, b in self._pending.items() if b.header.parent_hash == self.chain.head.hash}
        self.feed(BlockImported(built.header, seal))
