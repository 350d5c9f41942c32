"""Block sync: ask peers for blocks by range, import them in order, verified.

The request/response protocol (over the network's stream protocol; gossip is never used
for bulk data):

- request ``rlp([1, start, count])``: the canonical blocks ``start .. start+count-1``
  (at most ``MAX_BLOCKS_PER_REQUEST``, fewer if the response would pass
  ``MAX_RESPONSE_BYTES``);
- response ``rlp([[wire block, ...], [justification, ...], finalized number, finalized
  hash, justification])``: each block as ``node.block_import.WireBlock`` (header,
  transactions, consensus data, seal) with the finality proof the server stored for it
  (``poa``: the finality votes that finalized it, empty for a block finalized as an
  ancestor; ``bft``: always empty, each block's seal is its commit), then the server's
  finalized block with its proof.

``Syncer.run`` downloads batches from several peers at once (each batch from one peer,
a failed or refused batch re-assigned to another), imports them strictly in order through
``BlockImporter`` (which checks each seal, the consensus data and every state root), and
reports each imported block so the engine driver can feed its engine. A peer that answers
garbage or an invalid block is reported through ``penalize`` and not asked again.
Progress: a bar with blocks/s and ETA on a terminal, ``sync_progress`` log lines otherwise.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import rlp
import structlog
import trio
from rlp.sedes import big_endian_int

from node import metrics
from node.block_import import BlockImporter, BlockRefused, UnknownParent, WireBlock
from node.chain import Block, Chain

log = structlog.get_logger(__name__)

GET_BLOCKS = 1
MAX_BLOCKS_PER_REQUEST = 128
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
MAX_REQUEST_BYTES = 64
REQUEST_TIMEOUT_S = 10.0
IN_FLIGHT = 4


class SyncProtocolError(Exception):
    """A request or response that breaks the protocol, with the reason."""


@dataclass(frozen=True, slots=True)
class BlocksResponse:
    blocks: tuple[WireBlock, ...]
    justifications: tuple[bytes, ...]
    finalized_number: int
    finalized_hash: bytes
    justification: bytes


def encode_get_blocks(start: int, count: int) -> bytes:
    return rlp.encode([GET_BLOCKS, start, count])


def decode_get_blocks(data: bytes) -> tuple[int, int]:
    """Raises: SyncProtocolError."""
    if len(data) > MAX_REQUEST_BYTES:
        raise SyncProtocolError(f"request of {len(data)} bytes exceeds {MAX_REQUEST_BYTES}")
    try:
        kind, start, count = (big_endian_int.deserialize(x) for x in rlp.decode(data))
    except Exception:
        raise SyncProtocolError("request is not rlp([kind, start, count])") from None
    if kind != GET_BLOCKS:
        raise SyncProtocolError(f"unknown request kind {kind}")
    if not 1 <= count <= MAX_BLOCKS_PER_REQUEST:
        raise SyncProtocolError(f"count {count} is not between 1 and {MAX_BLOCKS_PER_REQUEST}")
    return start, count


def answer_get_blocks(chain: Chain, data: bytes) -> bytes:
    """The server side: the blocks asked for that this node has, and its finality.

    Raises:
        SyncProtocolError: a malformed request.
    """
    start, count = decode_get_blocks(data)
    blocks, justifications, size = [], [], 0
    for number in range(start, min(start + count, chain.head.number + 1)):
        block = chain.get_block_by_number(number)
        encoded = WireBlock.from_block(block, chain.get_seal(block.hash)).encode()
        proof = chain.get_justification(block.hash) or b""
        if blocks and size + len(encoded) + len(proof) > MAX_RESPONSE_BYTES:
            break
        blocks.append(encoded)
        justifications.append(proof)
        size += len(encoded) + len(proof)
    finalized = chain.finalized
    justification = chain.get_justification(finalized.hash) or b""
    return rlp.encode([blocks, justifications, finalized.number, finalized.hash, justification])


def decode_blocks_response(data: bytes) -> BlocksResponse:
    """Raises: SyncProtocolError, naming what is wrong."""
    if len(data) > MAX_RESPONSE_BYTES + 4096:
        raise SyncProtocolError(f"response of {len(data)} bytes exceeds {MAX_RESPONSE_BYTES}")
    try:
        items = rlp.decode(data)
        raw_blocks, proofs, number, block_hash, justification = items
        finalized_number = big_endian_int.deserialize(number)
    except Exception:
        raise SyncProtocolError("response is not rlp([[blocks], [justifications], finalized number, hash, "
                                "justification])") from None
    if not isinstance(raw_blocks, list) or not all(isinstance(b, bytes) for b in raw_blocks):
        raise SyncProtocolError("response blocks are not a list of encodings")
    if (not isinstance(proofs, list) or len(proofs) != len(raw_blocks)
            or not all(isinstance(p, bytes) for p in proofs)):
        raise SyncProtocolError("response justifications are not one encoding per block")
    try:
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
    ``penalize(peer, reason)`` reports a misbehaving peer.
    """

    def __init__(self, importer: BlockImporter, request: Request, *,
                 on_block: Callable[[Block, bytes | None], None] = lambda block, seal: None,
                 on_finality: Callable[[int, bytes, bytes], None] = lambda n, h, j: None,
                 penalize: Callable[[object, str], None] = lambda peer, reason: None,
                 batch: int = MAX_BLOCKS_PER_REQUEST, in_flight: int = IN_FLIGHT,
                 timeout: float = REQUEST_TIMEOUT_S) -> None:
        self.importer = importer
        self.chain = importer.chain
        self.request = request
        self.on_block = on_block
        self.on_finality = on_finality
        self.penalize = penalize
        self.batch = batch
        self.in_flight = in_flight
        self.timeout = timeout
        self.target = 0
        self.syncing = False
        self.starting_block = 0

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
        progress = Progress(self.starting_block, self.target)
        imported = 0
        cursor = self.chain.finalized.number + 1
        try:
            while usable and cursor <= self.target:
                count, cursor = await self._round(usable, progress, cursor)
                imported += count
                if count == 0 and cursor <= self.target and not usable:
                    break
        finally:
            self.syncing = False
            progress.close()
        log.info("sync_done", head=self.chain.head.number, imported=imported, target=self.target)
        return imported

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


__all__ = ["BlocksResponse", "Syncer", "SyncProtocolError", "answer_get_blocks", "decode_blocks_response",
           "encode_get_blocks"]
