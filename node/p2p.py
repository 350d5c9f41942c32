"""The node on the peer-to-peer network: topics, sync and the status it announces.

``NodeNetwork`` wires ``network.Network`` (bytes, peers, scores) to the node:

- **status**: chain id, genesis, head and finalized head, for every handshake;
- **transactions** topic: a transaction entering the pool (RPC or gossip) is published;
  a gossiped one is checked (decodes, signature, chain id) before it is forwarded and
  pooled after; a nonce already used or a fee too low is ignored, not punished;
- **consensus** topic: proposals (with their block), votes, poa finality votes and
  justifications, checked (signer in the set, signature) before forwarding
  (``node.gossip_messages``), then handed to the engine driver (``on_consensus_async``:
  it yields between executing a proposed block and feeding the engine);
- **blocks** topic (poa): sealed blocks, seal checked before forwarding;
- **sync**: the request handler serves blocks by range (with receipts for a fast sync)
  and state trie nodes and code by hash (``node.sync``, ``node.state_sync``); a sync loop
  catches up from the peers whose head is ahead, on start, when the driver asks (an
  unknown parent, a decision whose block never came), and every few seconds: fast (final
  blocks without execution, then the state) when far behind on a bft chain, unless
  ``fast_sync=False`` (``--sync full``).
"""
from __future__ import annotations

import structlog
import trio

from network import ACCEPT, IGNORE, REJECT, ChainPoint, Network, NetworkConfig, PeerMisbehaviour, Status
from network.identity import NodeIdentity
from node.engine_network import BLOCKS_TOPIC, CONSENSUS_TOPIC, NetworkedDriver
from node.gossip_messages import (
    MAX_BLOCK_MESSAGE_BYTES,
    MAX_CONSENSUS_MESSAGE_BYTES,
    GossipRefused,
    check_block_message,
    check_consensus_message,
)
from node.service import Node
from node.sync import SyncProtocolError, Syncer, answer_request
from runtime.errors import InvalidTransaction
from runtime.primitives.transaction import Transaction, decode_transaction

log = structlog.get_logger(__name__)

TRANSACTIONS_TOPIC = "transactions"
SYNC_INTERVAL_S = 1.0  # a look at the peers' heads (no network traffic); a new peer ahead is synced within it
NO_PEER_SYNC_INTERVAL_S = 0.1  # until the first peer is in: a node starting behind syncs as soon as it can
TX_OUTBOX = 4096


def topic_limits() -> dict[str, int]:
    return {TRANSACTIONS_TOPIC: 128 * 1024, CONSENSUS_TOPIC: MAX_CONSENSUS_MESSAGE_BYTES,
            BLOCKS_TOPIC: MAX_BLOCK_MESSAGE_BYTES}


class NodeNetwork:
    def __init__(self, node: Node, driver: NetworkedDriver, config: NetworkConfig, identity: NodeIdentity, *,
                 fast_sync: bool = True) -> None:
        self.node = node
        self.chain = node.chain
        self.driver = driver  # validators and full nodes alike run their chain's engine
        self.net = Network(config, identity, status=self.status)
        self.syncer = Syncer(driver.importer, self._request,
                             on_block=self._on_synced_block, on_finality=self._on_synced_finality,
                             penalize=lambda peer, reason: self.net.report(peer, reason), fast=fast_sync)
        self._wake_sync = trio.Event()
        self._tx_send, self._tx_receive = trio.open_memory_channel[Transaction](TX_OUTBOX)
        self._nursery: trio.Nursery | None = None
        self._tx_dropped = 0

    # -- what the node tells peers ---------------------------------------------------

    def status(self) -> Status:
        chain = self.chain
        head, finalized = chain.head, chain.finalized
        return Status(chain.spec.chain_id, chain.genesis.hash, ChainPoint(head.number, head.hash),
                      ChainPoint(finalized.number, finalized.hash))

    @property
    def peer_count(self) -> int:
        return len(self.net.peers())

    # -- running ---------------------------------------------------------------------

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            await nursery.start(self.net.run)
            await self.net.subscribe(TRANSACTIONS_TOPIC, self._check_transaction, self._on_transaction)
            self.net.set_request_handler(self._serve)
            driver = self.driver
            await self.net.subscribe(CONSENSUS_TOPIC, self._check_consensus,
                                     lambda peer, data: driver.on_consensus_async(self._decoded(data)))
            await self.net.subscribe(BLOCKS_TOPIC, self._check_block,
                                     lambda peer, data: driver.on_block(check_block_message(data, driver.engine), peer))
            driver.send = self._send
            driver.request_sync = self.request_sync
            self.node.new_transaction_listeners.append(self._queue_transaction)
            nursery.start_soon(self._publish_transactions)
            nursery.start_soon(self._sync_loop)
            log.info("p2p_started", peer_id=self.net.peer_id, listen=self.net.multiaddr)
            task_status.started()

    def _send(self, topic: str, data: bytes) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(self._publish, topic, data)

    async def _publish(self, topic: str, data: bytes) -> None:
        try:
            await self.net.publish(topic, data)
        except Exception as exc:  # noqa: BLE001 - a failed publish is logged, the node goes on
            log.warning("publish_failed", topic=topic, reason=str(exc))

    # -- transactions ----------------------------------------------------------------

    def _queue_transaction(self, tx: Transaction) -> None:
        try:
            self._tx_send.send_nowait(tx)
        except trio.WouldBlock:
            self._tx_dropped += 1
            if self._tx_dropped in (1, 10) or self._tx_dropped % 1000 == 0:  # not one line per transaction
                log.warning("tx_gossip_dropped", dropped=self._tx_dropped, reason="outbox full")

    async def _publish_transactions(self) -> None:
        async for tx in self._tx_receive:
            await self._publish(TRANSACTIONS_TOPIC, tx.raw)

    def _check_transaction(self, peer: str, data: bytes):
        try:
            tx = decode_transaction(data)
        except InvalidTransaction as exc:
            return _refuse(peer, "invalid_transaction", str(exc))
        if tx.chain_id is not None and tx.chain_id != self.chain.spec.chain_id:
            return _refuse(peer, "invalid_transaction", f"for chain id {tx.chain_id}")
        if self.node.pool.get(tx.hash) is not None:
            return IGNORE
        return ACCEPT

    async def _on_transaction(self, peer: str, data: bytes) -> None:
        tx = decode_transaction(data)
        if self.node.pool.get(tx.hash) is not None:
            return
        try:
            await self.node.submit(tx)
        except InvalidTransaction as exc:
            log.debug("gossiped_tx_not_pooled", tx="0x" + tx.hash.hex(), reason=str(exc))

    # -- consensus -------------------------------------------------------------------

    def _check_consensus(self, peer: str, data: bytes):
        try:
            check_consensus_message(data, self.driver.engine)
        except GossipRefused as exc:
            return _refuse(peer, "invalid_consensus_message", exc.reason)
        return ACCEPT

    def _decoded(self, data: bytes):
        return check_consensus_message(data, self.driver.engine)

    def _check_block(self, peer: str, data: bytes):
        try:
            block = check_block_message(data, self.driver.engine)
        except GossipRefused as exc:
            return _refuse(peer, "invalid_block", exc.reason)
        if block.header.number <= self.chain.finalized.number:
            return IGNORE
        return ACCEPT

    # -- sync ------------------------------------------------------------------------

    async def _serve(self, peer: str, request: bytes) -> bytes:
        try:
            return answer_request(self.chain, request)
        except SyncProtocolError as exc:
            raise PeerMisbehaviour(str(exc)) from None

    async def _request(self, peer: object, data: bytes) -> bytes:
        return await self.net.request(peer, data)

    def request_sync(self, peer: object | None = None) -> None:
        self._wake_sync.set()

    async def _sync_loop(self) -> None:
        while True:
            with trio.move_on_after(SYNC_INTERVAL_S if self.net.peers() else NO_PEER_SYNC_INTERVAL_S):
                await self._wake_sync.wait()
            woken = self._wake_sync.is_set()
            self._wake_sync = trio.Event()
            if woken:  # someone knows we are behind: fresh heads first (status is every 15 s)
                for peer in self.net.peers():
                    try:
                        await self.net.refresh_status(peer.peer_id)
                    except Exception:  # noqa: BLE001 - a peer that went away
                        pass
            head, finalized = self.chain.head.number, self.chain.finalized.number
            ahead = [(p.peer_id, p.head.number, p.finalized.number) for p in self.net.peers()
                     if p.head.number > head or p.finalized.number > finalized]
            if ahead:
                await self.syncer.run(ahead)

    def _on_synced_block(self, block, seal) -> None:
        self.driver.on_synced_block(block, seal)

    def _on_synced_finality(self, number: int, block_hash: bytes, justification: bytes) -> None:
        self.driver.on_synced_finality(number, block_hash, justification)


def _refuse(peer: str, category: str, reason: str):
    """REJECT with a fixed category (a Prometheus label must not carry addresses); the detail is logged."""
    log.info("gossip_refused", peer=peer, category=category, reason=reason)
    return REJECT(category)


__all__ = ["NodeNetwork", "TRANSACTIONS_TOPIC"]
