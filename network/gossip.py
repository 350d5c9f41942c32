"""Gossip on gossipsub topics, one set of topics per chain.

A topic is named ``/chameleon/<first 4 bytes of the genesis hash, hex>/<name>/1``, so two
chains never share a mesh. The node subscribes with ``validate`` and ``handle`` callbacks:

- ``validate(peer_id, data) -> ACCEPT | IGNORE | REJECT(reason)`` runs inside py-libp2p's
  topic validator, before the message is forwarded to anyone. Only ACCEPTed messages are
  marked seen, forwarded, and delivered. REJECT costs the sender score; IGNORE does not.
  It must be synchronous (and quick): it runs between the seen-cache check and marking
  the message seen, which is what makes each message reach the node once.
- ``handle(peer_id, data)`` (plain or async) then runs in one task per topic, in the
  order messages were accepted. ``peer_id`` is the peer that forwarded the message.

Checked before ``validate`` sees a byte: the payload size limit of the topic, a
single-topic message, and a per-peer, per-topic rate limit.

How py-libp2p 0.8.1 is configured here, and why (its defaults drop messages silently):

- gossipsub's spam protection (10 messages/s per peer and topic) is off: at our rates it
  would drop blocks and votes; our own rate limit is far above what an honest peer sends.
- eclipse protection (mesh IP diversity) is off: every peer of a loopback network has the
  same IP; adaptive gossip is off so the mesh degree is the configured one.
- the heartbeat runs every second (default 120 s) so meshes heal quickly.
- the per-peer outbound RPC queue (32, bound at construction) is enlarged to
  ``gossip_outbound_queue`` as each queue is created; a drop is counted and logged.
- delivery does not go through the subscription channel (32 messages, dropped with a
  warning when full): the validator hands accepted messages to our own queue
  (``gossip_delivery_queue``), and the library's channel is replaced by a sink.
- message ids are content addresses (sha256 of topic and data), so the same transaction
  published by two nodes is one message; the seen cache keeps ids ``gossip_seen_ttl_s``.
- validation results are not cached by message id: an IGNOREd message (say, a block whose
  parent is still unknown) is validated again when it comes back.
- equivocation tracking is off: it keeps a copy of the last thousand messages, and with
  content-addressed ids there is nothing for it to find.
- only ``/meshsub/1.1.0`` is offered: 1.2's IDONTWANT doubles the RPCs for small messages.
- messages queued for a peer that has not (yet) subscribed expire after 5 s, up to 1000.
- ``push_msg`` (one service task per message) and the stream handlers (see host) are
  wrapped: in py-libp2p an exception there, e.g. from a message with a garbage key,
  stops pubsub or the whole swarm; here it costs the sender ``malformed_gossip``.
"""
from __future__ import annotations

import hashlib
import inspect
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import structlog
import trio
from libp2p.abc import IHost
from libp2p.peer.id import ID
from libp2p.pubsub.gossipsub import PROTOCOL_ID_V11, GossipSub
from libp2p.pubsub.pb import rpc_pb2
from libp2p.pubsub.pubsub import Pubsub

from network import metrics
from network.config import GOSSIP_RPC_MAX_BYTES, NetworkConfig
from network.errors import MessageTooLarge, NetworkError

log = structlog.get_logger(__name__)

TOPIC_PREFIX: Final = "/chameleon"
TOPIC_VERSION: Final = 1
DROP_LOG_INTERVAL_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class Validation:
    """The node's verdict on a gossip payload."""

    outcome: Literal["accept", "ignore", "reject"]
    reason: str = ""


ACCEPT: Final = Validation("accept")
IGNORE: Final = Validation("ignore")


def REJECT(reason: str) -> Validation:  # noqa: N802 - reads like the other two verdicts
    """The payload is invalid: no honest peer sends it; ``reason`` labels the counter."""
    return Validation("reject", reason)


Validator = Callable[[str, bytes], Validation]
Handler = Callable[[str, bytes], Awaitable[None] | None]
Misbehaviour = Callable[[str, str, float], None]  # (peer id, reason, penalty)


def compute_topic(genesis_hash: bytes, name: str) -> str:
    return f"{TOPIC_PREFIX}/{genesis_hash[:4].hex()}/{name}/{TOPIC_VERSION}"


def compute_message_id(msg: rpc_pb2.Message) -> bytes:
    """Content address of a gossip message: the same bytes on the same topic are one message."""
    h = hashlib.sha256()
    for topic in msg.topicIDs:
        h.update(topic.encode())
        h.update(b"\x00")
    h.update(msg.data)
    return h.digest()[:20]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


@dataclass(slots=True)
class _Topic:
    name: str
    topic_id: str
    max_bytes: int
    validate: Validator
    handle: Handler
    send: trio.MemorySendChannel[tuple[str, bytes]]
    recv: trio.MemoryReceiveChannel[tuple[str, bytes]]
    joined: bool = False
    buckets: dict[str, _Bucket] = field(default_factory=dict)
    counted_in: Any = None  # Prometheus children, looked up once
    counted_out: Any = None


class _ChameleonGossipSub(GossipSub):
    """GossipSub with visible drops and without the equivocation store."""

    on_dropped_rpc: Callable[[ID, str], None] | None = None

    def _handle_dropped_rpc(self, peer_id: ID, rpc: rpc_pb2.RPC, reason: str) -> None:
        super()._handle_dropped_rpc(peer_id, rpc, reason)
        if self.on_dropped_rpc is not None:
            self.on_dropped_rpc(peer_id, reason)

    def _check_equivocation(self, msg: rpc_pb2.Message) -> bool:
        return True


class _ChameleonPubsub(Pubsub):
    """Pubsub whose per-message tasks cannot take the service down.

    py-libp2p runs ``push_msg`` as a service task: an exception there (a message with a
    garbage key makes its signature check raise) would stop pubsub for everyone.
    """

    on_malformed: Callable[[ID, Exception], None] | None = None

    async def push_msg(self, msg_forwarder: ID, msg: rpc_pb2.Message) -> None:
        try:
            await super().push_msg(msg_forwarder, msg)
        except Exception as exc:
            if self.on_malformed is not None:
                self.on_malformed(msg_forwarder, exc)


class _NoValidationCache:
    """Stands in for pubsub's ValidationCache: a verdict may change (IGNORE now, ACCEPT later)."""

    def get(self, msg_id: bytes) -> None:
        return None

    def put(self, msg_id: bytes, result: object) -> None:
        pass

    def clear_expired(self) -> None:
        pass


class _NullSink:
    """Takes the place of a subscription's send channel: accepted messages go elsewhere."""

    def send_nowait(self, msg: object) -> None:
        pass

    async def aclose(self) -> None:
        pass


class _SizedQueues(dict):  # type: ignore[type-arg]
    """``Pubsub.peer_queues`` whose queues get our bound as they are registered.

    ``RpcQueue()`` is built with its default size (32) inside ``Pubsub._handle_new_peer``;
    this is the one place we can reach each queue before anything is pushed to it.
    """

    def __init__(self, max_size: int) -> None:
        super().__init__()
        self.max_size = max_size

    def __setitem__(self, key: Any, queue: Any) -> None:
        queue._queue.max_size = self.max_size
        super().__setitem__(key, queue)


class Gossip:
    """The node's topics on one py-libp2p pubsub; run by :class:`network.host.Network`."""

    def __init__(
        self,
        host: IHost,
        config: NetworkConfig,
        genesis_hash: bytes,
        on_misbehaviour: Misbehaviour,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.genesis_hash = genesis_hash
        self._on_misbehaviour = on_misbehaviour
        self._clock = clock
        self._local = host.get_id()
        self.router = _ChameleonGossipSub(
            protocols=[PROTOCOL_ID_V11],
            degree=config.gossip_degree,
            degree_low=config.gossip_degree_low,
            degree_high=config.gossip_degree_high,
            heartbeat_interval=config.gossip_heartbeat_s,  # type: ignore[arg-type]
            heartbeat_initial_delay=0.1,
            spam_protection_enabled=False,
            eclipse_protection_enabled=False,
            adaptive_gossip_enabled=False,
            # Messages for a connected peer whose subscription has not arrived yet wait
            # here; a peer that never subscribes to a topic collects them until they
            # expire (with a warning per message past the cap, at the defaults 100 / 30 s).
            max_pending_messages_per_peer=1000,
            pending_messages_ttl=5.0,
        )
        self.router.on_dropped_rpc = self._on_dropped_rpc
        self.pubsub = _ChameleonPubsub(
            host,
            self.router,
            seen_ttl=config.gossip_seen_ttl_s,
            strict_signing=True,
            msg_id_constructor=compute_message_id,
            max_inbound_rpc_size=GOSSIP_RPC_MAX_BYTES,
        )
        self.pubsub.on_malformed = self._on_malformed
        self.pubsub.validation_cache = _NoValidationCache()  # type: ignore[assignment]
        self.pubsub.peer_queues = _SizedQueues(config.gossip_outbound_queue)
        self._topics: dict[str, _Topic] = {}
        self._by_id: dict[str, _Topic] = {}
        self._nursery: trio.Nursery | None = None
        self._last_drop_log: dict[str, float] = {}

    # -- the node's API -------------------------------------------------------------

    def topic_id(self, name: str) -> str:
        return compute_topic(self.genesis_hash, name)

    async def subscribe(
        self, name: str, validate: Validator, handle: Handler, *, max_bytes: int | None = None
    ) -> None:
        """Join topic ``name``; before the network runs, the topic is joined at start."""
        if name in self._topics:
            raise NetworkError(f"already subscribed to gossip topic {name!r}")
        if inspect.iscoroutinefunction(validate):
            raise TypeError("validate must be synchronous: it runs inside py-libp2p's forwarding path")
        limit = self.config.topic_limit(name) if max_bytes is None else max_bytes
        if not 0 < limit < GOSSIP_RPC_MAX_BYTES:
            raise ValueError(f"topic {name}: limit must be under {GOSSIP_RPC_MAX_BYTES} bytes")
        send, recv = trio.open_memory_channel[tuple[str, bytes]](self.config.gossip_delivery_queue)
        topic = _Topic(name, self.topic_id(name), limit, validate, handle, send, recv)
        topic.counted_in = metrics.MESSAGES.labels(name, "in")
        topic.counted_out = metrics.MESSAGES.labels(name, "out")
        self._topics[name] = topic
        self._by_id[topic.topic_id] = topic
        self.pubsub.set_topic_validator(topic.topic_id, self._validator, False)
        if self._nursery is not None:
            await self._join(topic)

    async def publish(self, name: str, data: bytes) -> None:
        """Publish ``data`` to every peer of topic ``name``.

        The same bytes published again while their id is in the seen cache
        (``gossip_seen_ttl_s``) are not sent again: a message is its content.

        Raises:
            MessageTooLarge: ``data`` is over the topic's limit (peers would reject it).
            NetworkError: the network is not running.
        """
        if self._nursery is None:
            raise NetworkError("the network is not running")
        topic = self._topics.get(name)
        limit = topic.max_bytes if topic else self.config.topic_limit(name)
        if len(data) > limit:
            raise MessageTooLarge(f"gossip {name}", len(data), limit)
        await self._wait_for_queue_room()
        await self.pubsub.publish(self.topic_id(name), data)
        (topic.counted_out if topic else metrics.MESSAGES.labels(name, "out")).inc()

    # -- lifecycle (called by Network) -------------------------------------------------

    async def start(self, nursery: trio.Nursery) -> None:
        self._nursery = nursery
        for topic in list(self._topics.values()):
            await self._join(topic)

    def stop(self) -> None:
        self._nursery = None

    def forget_peer(self, peer: str) -> None:
        for topic in self._topics.values():
            topic.buckets.pop(peer, None)
        self._last_drop_log.pop(peer, None)

    # -- internals ----------------------------------------------------------------------

    async def _join(self, topic: _Topic) -> None:
        assert self._nursery is not None
        if topic.joined:
            return
        topic.joined = True
        subscription = await self.pubsub.subscribe(topic.topic_id)
        # Delivery happens from the validator. The library's own channel (32 messages,
        # overflow dropped with a warning) is swapped for a sink; what reached it while
        # we subscribed is drained and discarded.
        channel = self.pubsub.subscribed_topics_send.get(topic.topic_id)
        if channel is not None:
            self.pubsub.subscribed_topics_send[topic.topic_id] = _NullSink()  # type: ignore[assignment]
            await channel.aclose()
        self._nursery.start_soon(self._drain, subscription)
        self._nursery.start_soon(self._deliver, topic)

    @staticmethod
    async def _drain(subscription: Any) -> None:
        async for _ in subscription:
            pass

    async def _deliver(self, topic: _Topic) -> None:
        async for peer, data in topic.recv:
            try:
                result = topic.handle(peer, data)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("gossip_handler_failed", topic=topic.name, peer=peer)

    def _validator(self, forwarder: ID, msg: rpc_pb2.Message) -> bool:
        """py-libp2p topic validator: True forwards and delivers, False drops.

        Runs synchronously between the seen-cache check and marking the message seen, so a
        message is handed to the node at most once.
        """
        if forwarder == self._local:
            return True  # our own publish: the node already knows what it published
        peer = forwarder.to_base58()
        if len(msg.topicIDs) != 1:
            self._on_misbehaviour(peer, "multi_topic_message", self.config.penalty_malformed)
            return False
        topic = self._by_id.get(msg.topicIDs[0])
        if topic is None:
            return False
        topic.counted_in.inc()
        if len(msg.data) > topic.max_bytes:
            self._on_misbehaviour(peer, "oversized", self.config.penalty_oversized)
            return False
        if not self._take_token(topic, peer):
            self._on_misbehaviour(peer, "rate_limited", self.config.penalty_rate_limited)
            return False
        try:
            verdict = topic.validate(peer, msg.data)
        except Exception:
            log.exception("gossip_validator_failed", topic=topic.name, peer=peer)
            return False  # our bug, not the peer's: IGNORE
        if verdict.outcome == "accept":
            try:
                topic.send.send_nowait((peer, msg.data))
            except trio.WouldBlock:
                metrics.DROPPED.labels("delivery").inc()
                log.warning("gossip_delivery_queue_full", topic=topic.name, peer=peer)
            return True
        if verdict.outcome == "reject":
            self._on_misbehaviour(peer, verdict.reason or "invalid_message", self.config.penalty_invalid_message)
        return False

    def _take_token(self, topic: _Topic, peer: str) -> bool:
        rate = self.config.gossip_rate_per_peer_s
        if math.isinf(rate):
            return True
        now = self._clock()
        bucket = topic.buckets.get(peer)
        if bucket is None:
            bucket = topic.buckets[peer] = _Bucket(rate, now)
        else:
            bucket.tokens = min(rate, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
        if bucket.tokens < 1.0:
            return False
        bucket.tokens -= 1.0
        return True

    async def _wait_for_queue_room(self) -> None:
        """Back-pressure for our own publishing: let the send loops drain before queues fill."""
        high_water = self.config.gossip_outbound_queue // 2
        while any(len(q) > high_water for q in self.pubsub.peer_queues.values()):
            await trio.sleep(0.001)

    def _on_malformed(self, forwarder: ID, exc: Exception) -> None:
        peer = forwarder.to_base58()
        log.info("gossip_message_malformed", peer=peer, error=repr(exc))
        self._on_misbehaviour(peer, "malformed_gossip", self.config.penalty_malformed)

    def _on_dropped_rpc(self, peer_id: ID, reason: str) -> None:
        metrics.DROPPED.labels("outbound").inc()
        peer = peer_id.to_base58()
        now = self._clock()
        if now - self._last_drop_log.get(peer, -math.inf) >= DROP_LOG_INTERVAL_S:
            self._last_drop_log[peer] = now
            log.warning("gossip_rpc_dropped", peer=peer, reason=reason)
