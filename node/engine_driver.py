"""The trio driver of a consensus engine: it feeds the engine its inputs and performs
the effects, for real (clock, block building, storage, signing-state file).

The engine decides; the driver only acts, in the order the effects come:

- ``PersistSignState``: written and fsynced to ``<datadir>/consensus/sign_state`` before
  the next effect, so a restarted validator never signs what conflicts with it;
- ``poa.ProposeBlock``: build a block with the pool's ready transactions at the slot's
  timestamp, answer ``BlockReady``; ``poa.Sealed``: commit it with its seal;
- ``bft.RequestBlock``: build a block (not before ``block_time`` after the head), answer
  ``BlockReady``; ``Finalized`` with a seal (a bft commit): commit that block with it;
- ``bft.ScheduleTimeout``: sleep, then feed ``TimeoutFired``;
- ``Finalized``: move the chain's finalized pointer (RPC ``safe``/``finalized``);
- ``Broadcast``: written to the consensus WAL (``node/consensus_wal.py``) first; nothing
  to send yet (there is no network: one validator). On restart the WAL's messages and
  proposed block of the current height are fed back, so the core resumes the height;
- ``ReportEvidence``: verified into the evidence pool (``node/evidence_pool.py``).

Every block this driver builds carries the engine's consensus data
(``consensus/block_data.py``): for ``bft`` the commit of its parent, and for both engines
the pending evidence; the header's ``extra_data`` commits to it.

An input the engine refuses (``ConsensusError``) is logged and dropped.
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
from consensus.errors import MalformedMessage
from consensus.messages import Proposal, Vote, decode_message
from node import metrics
from consensus.block_data import BlockData, compose_block_data, validate_block_data
from node.chain import decode_body, decode_body_consensus_data, encode_body
from node.evidence_pool import EvidencePool, EvidenceRefused
from node.consensus_wal import BLOCK, MESSAGE, ConsensusWal
from node.service import Node
from runtime.errors import InvalidBlock
from runtime.executive import BuiltBlock, execute_block
from runtime.primitives.header import decode_header, encode_header

log = structlog.get_logger(__name__)


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
        self.wal = ConsensusWal(sign_state_path.parent / "wal")
        self.evidence = EvidencePool(node.chain, engine)

    # -- inputs ----------------------------------------------------------------------

    def feed(self, event: Any) -> None:
        try:
            effects = self.engine.handle(event)
        except ConsensusError as exc:
            log.warning("consensus_input_dropped", input=type(event).__name__, reason=str(exc))
            return
        for effect in effects:
            self._perform(effect)

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
            self.feed(poa.Start(finalized))
            for number in range(finalized.number + 1, chain.head.number + 1):
                header = chain.get_header_by_number(number)
                self.feed(BlockImported(header, self._stored_seal(header.hash)))
        else:
            head = chain.head
            if head.number > 0:
                self.feed(BlockImported(head, self._stored_seal(head.hash)))
            else:
                self.feed(bft.Start(1))
            self._replay_wal(head.number + 1)
        log.info("consensus_started", engine=self.engine.name, head=chain.head.number, finalized=chain.finalized.number)

    async def _run_slots(self) -> None:
        slot_ms = self.engine.slot_duration * 1000
        while True:
            now_ms = int(self._clock() * 1000)
            self.feed(Tick(now_ms))
            await trio.sleep((slot_ms - now_ms % slot_ms) / 1000 + 0.001)

    def _replay_wal(self, height: int) -> None:
        """Feed back what this validator proposed and signed at ``height`` before it stopped."""
        records = self.wal.records(height)
        for kind, payload in records:
            if kind == BLOCK:
                header_rlp, body = rlp.decode(payload)
                header = decode_header(header_rlp)
                consensus_data = decode_body_consensus_data(body)
                try:
                    validate_block_data(self.engine, header, self.chain.head, BlockData.decode(consensus_data))
                    built = execute_block(
                        self.chain.store, self.chain.head, header, decode_body(body),
                        chain_id=self.chain.spec.chain_id, prev_hashes=self.chain.prev_hashes,
                        consensus_data=consensus_data,
                    )
                except (InvalidBlock, ConsensusError) as exc:
                    log.warning("wal_block_dropped", reason=str(exc))
                    continue
                self._pending[header.hash] = built
        for kind, payload in records:
            if kind != MESSAGE:
                continue
            try:
                message = decode_message(payload)
            except MalformedMessage:
                continue
            if isinstance(message, Proposal):
                self.feed(bft.ProposalReceived(message, message.block_hash in self._pending))
            elif isinstance(message, Vote):
                self.feed(bft.VoteReceived(message))
        if records:
            log.info("consensus_wal_replayed", height=height, records=len(records))

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
        elif isinstance(effect, Broadcast):
            message = effect.message
            if isinstance(message, (Proposal, Vote)):
                self.wal.append(MESSAGE, message.height, message.encode())
            # one validator and no network yet: nobody else to tell
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
        self._pending[built.header.hash] = built
        payload = rlp.encode([encode_header(built.header), encode_body(built.transactions, built.consensus_data)])
        self.wal.append(BLOCK, height, payload)
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
        self.wal.clear()
        # Anything else built for this height is stale now.
        self._pending = {h: b for h, b in self._pending.items() if b.header.parent_hash == self.chain.head.hash}
        self.feed(BlockImported(built.header, seal))
