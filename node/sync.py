"""Block sync: ask peers for blocks by range, import them in order, verified; under bft,
fast sync: final blocks without execution, then the state of the last one.

The request/response protocol (over the network's stream protocol; gossip is never used
for bulk data); a request is ``rlp([kind, ...])``:

- ``rlp([1, start, count])`` or ``rlp([1, start, count, 1])`` (with receipts): the
  canonical blocks ``start .. start+count-1`` (at most ``MAX_BLOCKS_PER_REQUEST``, fewer if
  the response would pass ``MAX_PAYLOAD_BYTES``);
  response ``rlp([[wire block, ...], [justification, ...], finalized number, finalized
  hash, justification])``, and with receipts a sixth item ``[receipts, ...]``: each block
  as ``node.block_import.WireBlock`` (header, transactions, consensus data, seal) with the
  finality proof the server stored for it (``poa``: the finality votes that finalized it,
  empty for a block finalized as an ancestor; ``bft``: always empty, each block's seal is
  its commit), then the server's finalized block with its proof; with receipts, each
  block's receipts as ``rlp([receipt, ...])`` (Ethereum's receipt encodings, as stored);
- ``rlp([2, [hash, ...]])``: state trie nodes and code by hash (``node.state_sync``).

**Full sync** (``Syncer.run``, every engine): batches from several peers at once (each
batch from one peer, a failed or refused batch re-assigned to another), imported strictly
in order through ``BlockImporter`` (which checks each seal, the consensus data and every
state root by re-executing every transaction), each imported block reported so the
engine driver can feed its engine.

**Fast sync** (bft, when the best peer's head is more than ``FAST_SYNC_MIN_BLOCKS`` ahead;
as geth's snap sync and CometBFT's state sync trust consensus): under bft every block's
seal is its commit, so a block with a valid seal is final and its state root is what the
validators executed and agreed on.
1. Blocks with receipts up to the best peer's head, requests pipelined over the peers
   (``PER_PEER_IN_FLIGHT`` each); each checked against its parent, its commit, its
   consensus data and its body and receipts (``BlockImporter.import_final``), and stored
   without execution or state; the head stays. A restart goes on from the last stored
   (``Chain.final_tip``).
2. The state trie of the last block, node by node, each checked by hash
   (``node.state_sync.StateSyncer``).
3. That block becomes the head (``Node.adopt_synced_head``) and is reported as a synced
   block (bft: the engine moves past its height). Blocks above it are full-synced. The
   states of the blocks below it are not kept here: reading one fails with
   ``StateUnavailable`` ("state of block N is not available (fast-synced)").

A peer that answers garbage or an invalid block is reported through ``penalize`` and not
asked again. Progress: a bar with blocks/s and ETA on a terminal, ``sync_progress`` log
lines otherwise; ``current_block``, ``known_states`` and ``pulled_states`` for eth_syncing.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import rlp
import structlog
import trio
from rlp.sedes import big_endian_int

from node import metrics
from node.block_import import BlockImporter, BlockRefused, FinalBlock, UnknownParent, WireBlock
from node.chain import Block, Chain
from node.state_sync import GET_NODE_DATA, NodeDataError, StateSyncer, answer_get_node_data
from runtime.primitives.header import Header

log = structlog.get_logger(__name__)

GET_BLOCKS = 1
MAX_BLOCKS_PER_REQUEST = 128
MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # the network's limit of one response
MAX_PAYLOAD_BYTES = MAX_RESPONSE_BYTES - 1024 * 1024  # blocks, proofs and receipts in one response
MAX_REQUEST_BYTES = 64
REQUEST_TIMEOUT_S = 10.0
IN_FLIGHT = 4
PER_PEER_IN_FLIGHT = 2  # fast sync: a peer builds the next answer while we check the last
FAST_SYNC_MIN_BLOCKS = 256
FAST_SYNC_ENGINES = ("bft",)  # engines whose seal alone proves a block final
FINAL_CHUNK = 16  # fast-synced blocks stored per write, yielding to the event loop between


class SyncProtocolError(Exception):
    """A request or response that breaks the protocol, with the reason."""


@dataclass(frozen=True, slots=True)
class BlocksResponse:
    blocks: tuple[WireBlock, ...] | tuple[FinalBlock, ...]  # FinalBlock when asked with receipts
    justifications: tuple[bytes, ...]
    finalized_number: int
    finalized_hash: bytes
    justification: bytes


def encode_get_blocks(start: int, count: int, *, receipts: bool = False) -> bytes:
    return rlp.encode([GET_BLOCKS, start, count, 1] if receipts else [GET_BLOCKS, start, count])


def decode_get_blocks(data: bytes) -> tuple[int, int, bool]:
    """(start, count, with receipts). Raises: SyncProtocolError."""
    if len(data) > MAX_REQUEST_BYTES:
        raise SyncProtocolError(f"request of {len(data)} bytes exceeds {MAX_REQUEST_BYTES}")
    try:
        fields = [big_endian_int.deserialize(x) for x in rlp.decode(data)]
        kind, start, count = fields[:3]
    except Exception:
        raise SyncProtocolError("request is not rlp([kind, start, count])") from None
    if kind != GET_BLOCKS:
        raise SyncProtocolError(f"unknown request kind {kind}")
    if len(fields) > 4 or fields[3:] not in ([], [0], [1]):
        raise SyncProtocolError("request is not rlp([1, start, count]) or rlp([1, start, count, 1])")
    if not 1 <= count <= MAX_BLOCKS_PER_REQUEST:
        raise SyncProtocolError(f"count {count} is not between 1 and {MAX_BLOCKS_PER_REQUEST}")
    return start, count, fields[3:] == [1]


def answer_request(chain: Chain, data: bytes) -> bytes:
    """The server side of every request kind.

    Raises:
        SyncProtocolError: a malformed request.
    """
    if data[:1] and _request_kind(data) == GET_NODE_DATA:
        try:
            return answer_get_node_data(chain.store, data)
        except NodeDataError as exc:
            raise SyncProtocolError(str(exc)) from None
    return answer_get_blocks(chain, data)


def _request_kind(data: bytes) -> int | None:
    """The kind of a request, read without decoding the rest (None: not a list starting with a small int)."""
    first = data[0]
    offset = 1 if first <= 0xF7 else 1 + first - 0xF7
    return data[offset] if len(data) > offset and data[offset] < 0x80 else None


def answer_get_blocks(chain: Chain, data: bytes) -> bytes:
    """The server side: the blocks asked for that this node has (as stored: nothing is
    decoded but the bodies' outer lists), and its finality.

    Raises:
        SyncProtocolError: a malformed request.
    """
    start, count, with_receipts = decode_get_blocks(data)
    blocks, justifications, receipts, size = [], [], [], 0
    for number in range(start, min(start + count, chain.head.number + 1)):
        block_hash = chain.get_canonical_hash(number)
        header, transactions, consensus_data, seal, block_receipts = chain.get_encoded_block(block_hash)
        encoded = rlp.encode([header, transactions, consensus_data, seal])
        proof = chain.get_justification(block_hash) or b""
        added = len(encoded) + len(proof) + (len(block_receipts) if with_receipts else 0)
        if blocks and size + added > MAX_PAYLOAD_BYTES:
            break
        blocks.append(encoded)
        justifications.append(proof)
        receipts.append(block_receipts)
        size += added
    finalized = chain.finalized
    justification = chain.get_justification(finalized.hash) or b""
    items = [blocks, justifications, finalized.number, finalized.hash, justification]
    if with_receipts:
        items.append(receipts)
    return rlp.encode(items)


def decode_blocks_response(data: bytes, *, receipts: bool = False) -> BlocksResponse:
    """The blocks as ``WireBlock`` (senders recovered), or with ``receipts`` as
    ``FinalBlock`` (transactions raw, receipts beside).

    Raises: SyncProtocolError, naming what is wrong.
    """
    if len(data) > MAX_RESPONSE_BYTES:
        raise SyncProtocolError(f"response of {len(data)} bytes exceeds {MAX_RESPONSE_BYTES}")
    try:
        items = rlp.decode(data)
        raw_blocks, proofs, number, block_hash, justification = items[:5]
        finalized_number = big_endian_int.deserialize(number)
    except Exception:
        raise SyncProtocolError("response is not rlp([[blocks], [justifications], finalized number, hash, "
                                "justification])") from None
    if len(items) != (6 if receipts else 5):
        raise SyncProtocolError(f"response has {len(items)} items, expected {6 if receipts else 5}")
    if not isinstance(raw_blocks, list) or not all(isinstance(b, bytes) for b in raw_blocks):
        raise SyncProtocolError("response blocks are not a list of encodings")
    if (not isinstance(proofs, list) or len(proofs) != len(raw_blocks)
            or not all(isinstance(p, bytes) for p in proofs)):
        raise SyncProtocolError("response justifications are not one encoding per block")
    try:
        if receipts:
            raw_receipts = items[5]
            if (not isinstance(raw_receipts, list) or len(raw_receipts) != len(raw_blocks)
                    or not all(isinstance(r, bytes) for r in raw_receipts)):
                raise SyncProtocolError("response receipts are not one encoding per block")
            blocks = tuple(FinalBlock.decode(b, r) for b, r in zip(raw_blocks, raw_receipts))
        else:
            blocks = tuple(WireBlock.decode(b) for b in raw_blocks)
    except BlockRefused as exc:
        raise SyncProtocolError(f"bad block in response: {exc.reason}") from None
    return BlocksResponse(blocks, tuple(bytes(p) for p in proofs), finalized_number, bytes(block_hash),
                          bytes(justification))


Request = Callable[[object, bytes], Awaitable[bytes]]


class Progress:
    """A rich bar on a terminal; a log line every few seconds otherwise."""

    def __init__(self, start: int, target: int) -> None:
        self.start, self.target = start, target
        self.started = time.monotonic()
        self.last_log = self.started
        self._bar = None
        if sys.stderr.isatty():
            from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeRemainingColumn

            self._bar = Bar(TextColumn("sync"), BarColumn(), TextColumn("{task.completed}/{task.total} blocks"),
                            TextColumn("{task.fields[rate]:.0f} blocks/s"), TimeRemainingColumn(), transient=True)
            self._task = self._bar.add_task("sync", total=target - start, rate=0.0)
            self._bar.start()

    def update(self, head: int) -> None:
        now = time.monotonic()
        done = head - self.start
        rate = done / max(now - self.started, 1e-6)
        if self._bar is not None:
            self._bar.update(self._task, completed=done, rate=rate)
        elif now - self.last_log >= 2.0:
            self.last_log = now
            eta = (self.target - head) / rate if rate > 0 else None
            log.info("sync_progress", head=head, target=self.target, blocks_per_s=round(rate, 1),
                     eta_s=None if eta is None else round(eta, 1))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()


class Syncer:
    """Catch up with peers that are ahead.

    ``request(peer, data) -> response`` sends a request over the network; ``on_block(block,
    seal)`` hears every imported block (the driver feeds the engine); ``on_finality(number,
    hash, justification)`` hears a peer's finality proof once the blocks up to it are in;
    ``penalize(peer, reason)`` reports a misbehaving peer. ``fast=False`` never fast-syncs
    (``chameleon run --sync full``); ``fast_min_blocks`` is how far behind the best peer a
    node must be for a fast sync.
    """

    def __init__(self, importer: BlockImporter, request: Request, *,
                 on_block: Callable[[Block, bytes | None], None] = lambda block, seal: None,
                 on_finality: Callable[[int, bytes, bytes], None] = lambda n, h, j: None,
                 penalize: Callable[[object, str], None] = lambda peer, reason: None,
                 batch: int = MAX_BLOCKS_PER_REQUEST, in_flight: int = IN_FLIGHT,
                 timeout: float = REQUEST_TIMEOUT_S, fast: bool = True,
                 fast_min_blocks: int = FAST_SYNC_MIN_BLOCKS) -> None:
        self.importer = importer
        self.chain = importer.chain
        self.request = request
        self.on_block = on_block
        self.on_finality = on_finality
        self.penalize = penalize
        self.batch = batch
        self.in_flight = in_flight
        self.timeout = timeout
        self.fast = fast
        self.fast_min_blocks = fast_min_blocks
        self.target = 0
        self.syncing = False
        self.starting_block = 0
        self.state_syncer: StateSyncer | None = None
        self._final_tip: int | None = None  # fast sync: the last block stored without state

    @property
    def current_block(self) -> int:
        """The last block synced: the head, or during a fast sync the last block stored without state."""
        head = self.chain.head.number
        return max(head, self._final_tip) if self._final_tip is not None else head

    @property
    def known_states(self) -> int:
        return 0 if self.state_syncer is None else self.state_syncer.known_states

    @property
    def pulled_states(self) -> int:
        return 0 if self.state_syncer is None else self.state_syncer.pulled_states

    async def run(self, peers: Sequence[tuple[object, int, int]]) -> int:
        """Import up to the highest head of ``peers`` (``(peer, head number, finalized
        number)``) that are ahead in head or in finality; returns how many blocks were
        handled. Stops early when no usable peer is left.

        Blocks are asked from the one after the finalized block (the head's, when the two
        are one), so a node on another fork above finality gets the peer's fork too and its
        engine chooses, and a node whose finality lags gets the proofs; blocks already
        stored cost a lookup."""
        head, finalized = self.chain.head.number, self.chain.finalized.number
        usable = {peer: peer_head for peer, peer_head, peer_final in peers
                  if peer_head > head or peer_final > finalized}
        if not usable:
            return 0
        self.starting_block = self.chain.head.number
        self.target = max(usable.values())
        metrics.SYNC_TARGET.set(self.target)
        self.syncing = True
        self.state_syncer = None
        progress = Progress(self.starting_block, self.target)
        imported = 0
        try:
            if self._fast_sync_applies():
                imported = await self._fast_sync(usable, progress)
                if not imported:
                    return 0  # stopped short: the next run goes on from what it stored
            # After a fast sync, the head is final (by its commit) even before the engine says so.
            cursor = (self.chain.head.number if imported else self.chain.finalized.number) + 1
            while usable and cursor <= self.target:
                count, cursor = await self._round(usable, progress, cursor)
                imported += count
                if count == 0 and cursor <= self.target and not usable:
                    break
        finally:
            self.syncing = False
            self._final_tip = None
            progress.close()
        log.info("sync_done", head=self.chain.head.number, imported=imported, target=self.target)
        return imported

    # -- fast sync ---------------------------------------------------------------------

    def _fast_sync_applies(self) -> bool:
        return (self.fast and self.importer.engine.name in FAST_SYNC_ENGINES
                and self.target - self.chain.head.number > self.fast_min_blocks)

    async def _fast_sync(self, usable: dict[object, int], progress: Progress) -> int:
        """Final blocks up to the target without execution, then the state of the last one,
        then that block is the head; returns how many blocks were stored (0 if it stopped
        before the state was whole: the next run goes on where it left off)."""
        chain = self.chain
        start = chain.final_tip
        self._final_tip = start.number
        log.info("fast_sync_started", head=chain.head.number, resume_from=start.number, target=self.target,
                 peers=len(usable))
        started = time.monotonic()
        tip = await self._download_final(usable, progress, start)
        stored = tip.number - start.number
        if tip.number < self.target:
            log.warning("fast_sync_stopped", reason="no peer left to serve the blocks", tip=tip.number,
                        target=self.target)
            return 0
        blocks_s = time.monotonic() - started
        self.state_syncer = StateSyncer(chain.store, self.request, penalize=self.penalize, timeout=self.timeout)
        if not await self.state_syncer.run(tip.state_root, sorted(usable, key=lambda p: -usable[p])):
            log.warning("fast_sync_stopped", reason="no peer left to serve the state", tip=tip.number)
            return 0
        block = self.importer.node.adopt_synced_head(tip.hash)
        self.on_block(block, chain.get_seal(tip.hash))
        progress.update(tip.number)
        log.info("fast_sync_done", head=tip.number, blocks=stored, blocks_s=round(blocks_s, 2),
                 state_nodes=self.state_syncer.known_states, state_pulled=self.state_syncer.pulled_states,
                 seconds=round(time.monotonic() - started, 2))
        return tip.number - self.starting_block

    async def _download_final(self, usable: dict[object, int], progress: Progress, tip: Header) -> Header:
        """Blocks ``tip+1 .. target`` with receipts, pipelined over the peers (at most
        ``in_flight`` requests, ``PER_PEER_IN_FLIGHT`` per peer), checked and stored in order
        without execution (``BlockImporter.import_final``). Returns the last block stored."""
        target = self.target
        send, receive = trio.open_memory_channel[tuple[int, int, object, object]](float("inf"))

        async def fetch(peer: object, start: int, count: int) -> None:
            try:
                with trio.fail_after(self.timeout):
                    data = await self.request(peer, encode_get_blocks(start, count, receipts=True))
                response = decode_blocks_response(data, receipts=True)
                if response.blocks and response.blocks[0].header.number != start:
                    raise SyncProtocolError(f"asked from block {start}, got {response.blocks[0].header.number}")
                if len(response.blocks) > count:
                    raise SyncProtocolError(f"asked for {count} blocks, got {len(response.blocks)}")
                outcome: object = response
            except Exception as exc:  # noqa: BLE001 - any failure of a peer's answer costs that peer
                outcome = "timed out" if isinstance(exc, trio.TooSlowError) else str(exc) or type(exc).__name__
            send.send_nowait((start, count, peer, outcome))

        todo: list[tuple[int, int]] = []  # ranges to ask for again, lowest first
        arrived: dict[int, tuple[object, BlocksResponse]] = {}
        busy: Counter[object] = Counter()
        next_start, in_flight = tip.number + 1, 0
        async with trio.open_nursery() as nursery:
            while tip.number < target:
                while in_flight < self.in_flight:
                    if todo:
                        start, count = todo[0]
                    elif next_start <= target:
                        start, count = next_start, min(self.batch, target - next_start + 1)
                    else:
                        break
                    candidates = [p for p in usable if usable[p] >= start and busy[p] < PER_PEER_IN_FLIGHT]
                    if not candidates:
                        break
                    peer = min(candidates, key=lambda p: (busy[p], -usable[p]))
                    if todo:
                        todo.pop(0)
                    else:
                        next_start += count
                    busy[peer] += 1
                    in_flight += 1
                    nursery.start_soon(fetch, peer, start, count)
                if in_flight == 0:
                    break  # nobody left who serves what is missing
                start, count, peer, outcome = await receive.receive()
                in_flight -= 1
                busy[peer] -= 1
                if isinstance(outcome, str):
                    self.penalize(peer, f"sync: {outcome}")
                    usable.pop(peer, None)
                    todo = sorted([*todo, (start, count)])
                    continue
                got = len(outcome.blocks)
                if got == 0:
                    usable.pop(peer, None)  # it claimed a head it does not serve
                    todo = sorted([*todo, (start, count)])
                    continue
                if got < count:  # cut at the response's byte limit
                    todo = sorted([*todo, (start + got, count - got)])
                arrived[start] = (peer, outcome)
                while tip.number + 1 in arrived:
                    peer, response = arrived.pop(tip.number + 1)
                    end = response.blocks[-1].header.number
                    tip = await self._store_final(peer, response, progress, tip)
                    if tip.number < end:  # refused from tip+1 on: ask someone else
                        usable.pop(peer, None)
                        todo = sorted([*todo, (tip.number + 1, end - tip.number)])
                        break
            nursery.cancel_scope.cancel()
        return tip

    async def _store_final(self, peer: object, response: BlocksResponse, progress: Progress, tip: Header) -> Header:
        """Check and store the blocks of one response, ``FINAL_CHUNK`` per write; returns the
        last block stored (short of the response's last if one was refused)."""
        blocks = response.blocks
        for i in range(0, len(blocks), FINAL_CHUNK):
            chunk = blocks[i : i + FINAL_CHUNK]
            try:
                tip = self.importer.import_final(chunk, tip)
            except BlockRefused as exc:
                log.warning("sync_block_refused", first=chunk[0].header.number, reason=exc.reason)
                self.penalize(peer, f"sync: invalid block: {exc.reason}")
                return tip
            self._final_tip = tip.number
            progress.update(tip.number)
            await trio.sleep(0)
        return tip

    async def _round(self, usable: dict[object, int], progress: Progress, cursor: int) -> tuple[int, int]:
        """Fetch up to ``in_flight`` batches from ``cursor`` from distinct peers, import what
        arrived in order; returns (blocks imported, the next cursor)."""
        peers = sorted(usable, key=lambda p: -usable[p])
        results: dict[int, tuple[object, BlocksResponse]] = {}

        async def fetch(peer: object, start: int, count: int) -> None:
            try:
                with trio.fail_after(self.timeout):
                    data = await self.request(peer, encode_get_blocks(start, count))
                response = decode_blocks_response(data)
                if response.blocks and response.blocks[0].header.number != start:
                    raise SyncProtocolError(f"asked from block {start}, got {response.blocks[0].header.number}")
                results[start] = (peer, response)
            except Exception as exc:  # noqa: BLE001 - any failure of a peer's answer costs that peer
                reason = "timed out" if isinstance(exc, trio.TooSlowError) else str(exc) or type(exc).__name__
                self.penalize(peer, f"sync: {reason}")
                usable.pop(peer, None)

        async with trio.open_nursery() as nursery:
            start = cursor
            for peer in peers[: self.in_flight]:
                if start > usable.get(peer, -1) or start > self.target:
                    continue
                count = min(self.batch, usable[peer] - start + 1)
                nursery.start_soon(fetch, peer, start, count)
                start += count
        imported = 0
        while cursor in results:
            peer, response = results[cursor]
            if not response.blocks:
                usable.pop(peer, None)  # it claimed a head it does not serve
                break
            for block, proof in zip(response.blocks, response.justifications):
                try:
                    stored, is_new_head = self.importer.import_block(block)
                except UnknownParent as exc:
                    # Its chain forks below what we asked for (or it reorganised meanwhile).
                    log.info("sync_fork_below_request", number=block.header.number, reason=exc.reason)
                    usable.pop(peer, None)
                    return imported, cursor
                except BlockRefused as exc:
                    log.warning("sync_block_refused", number=block.header.number, reason=exc.reason)
                    self.penalize(peer, f"sync: invalid block {block.header.number}: {exc.reason}")
                    usable.pop(peer, None)
                    return imported, cursor
                self.on_block(stored, None if block.seal is None else block.seal.encode())
                if proof:
                    self.on_finality(block.header.number, block.header.hash, proof)
                imported += 1
                cursor = block.header.number + 1
            progress.update(self.chain.head.number)
            last = response.blocks[-1].header.number
            if response.finalized_number <= last and response.justification:
                self.on_finality(response.finalized_number, response.finalized_hash, response.justification)
        return imported, cursor


__all__ = ["FAST_SYNC_MIN_BLOCKS", "BlocksResponse", "Syncer", "SyncProtocolError", "answer_get_blocks",
           "answer_request", "decode_blocks_response", "encode_get_blocks"]
