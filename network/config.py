"""Settings of the peer-to-peer layer, with units in the names and the reasons for the numbers."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

KIB: Final = 1024
MIB: Final = 1024 * 1024

# py-libp2p refuses a pubsub RPC over 1 MiB; the message inside also carries the topic,
# the sender's key, a signature and a signed peer record, so payloads stay well under it.
GOSSIP_RPC_MAX_BYTES: Final = 1 * MIB

# Payload limits per topic name, checked before the node's validator sees a byte.
# Blocks are announced (or sent whole while they are small); big ones go over sync.
DEFAULT_TOPIC_MAX_BYTES: Final[Mapping[str, int]] = {
    "transactions": 128 * KIB,
    "blocks": 512 * KIB,
    "consensus": 64 * KIB,
}
FALLBACK_TOPIC_MAX_BYTES: Final = 64 * KIB


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """Everything the network can be told; the defaults suit a small validator network."""

    listen_host: str = "127.0.0.1"
    listen_port: int = 30333  # 0: let the OS pick a free port (tests)
    bootnodes: tuple[str, ...] = ()  # /ip4/…/tcp/…/p2p/<peer id>
    max_peers: int = 25

    # -- dialing and peer exchange --------------------------------------------------
    peer_exchange: bool = True
    px_interval_s: float = 10.0  # ask a peer for more peers this often while below max_peers
    px_max_addrs: int = 16  # addresses in one peer-exchange answer
    dial_backoff_initial_s: float = 0.5
    dial_backoff_max_s: float = 30.0
    dial_timeout_s: float = 10.0

    # -- status handshake ---------------------------------------------------------
    handshake_timeout_s: float = 5.0
    refuse_grace_s: float = 0.5  # a peer on another chain is hung up on this long after its hello
    status_interval_s: float = 15.0  # re-exchange status with every peer this often
    refuse_duration_s: float = 600.0  # a peer of another chain is not redialled for this long

    # -- scoring and bans -----------------------------------------------------------
    ban_threshold: float = -100.0
    ban_duration_s: float = 600.0
    score_half_life_s: float = 300.0  # penalties fade: a peer is forgiven slowly
    penalty_invalid_message: float = 20.0  # the node's validator said REJECT
    penalty_oversized: float = 50.0  # over a size limit (gossip payload, frame)
    penalty_malformed: float = 50.0  # garbage on a protocol (bad frame, status, answer)
    penalty_timeout: float = 5.0  # a request went unanswered
    penalty_rate_limited: float = 1.0  # a gossip message over the per-peer rate

    # -- gossip ---------------------------------------------------------------------
    topic_max_bytes: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_TOPIC_MAX_BYTES))
    gossip_degree: int = 6
    gossip_degree_low: int = 4
    gossip_degree_high: int = 12
    gossip_heartbeat_s: float = 1.0  # py-libp2p's default is 120 s: meshes would heal slowly
    gossip_seen_ttl_s: int = 120  # a message id is remembered this long (no re-forwarding)
    gossip_outbound_queue: int = 4096  # RPCs queued per peer before one is dropped (lib: 32)
    gossip_delivery_queue: int = 4096  # accepted messages waiting for the node's handler
    # Messages per second one peer may send on one topic (burst: as many); far above what
    # an honest peer forwards, it bounds what a flooding peer costs us.
    gossip_rate_per_peer_s: float = 1000.0

    # -- request/response -----------------------------------------------------------
    request_timeout_s: float = 10.0
    max_request_bytes: int = 64 * KIB
    max_response_bytes: int = 16 * MIB
    max_inflight_requests_per_peer: int = 8

    def __post_init__(self) -> None:
        if self.max_peers < 1:
            raise ValueError("max_peers must be at least 1")
        if not self.gossip_degree_low <= self.gossip_degree <= self.gossip_degree_high:
            raise ValueError("gossip degrees must satisfy low <= degree <= high")
        if self.ban_threshold >= 0:
            raise ValueError("ban_threshold must be negative (peers start at 0)")
        for name, limit in self.topic_max_bytes.items():
            if not 0 < limit < GOSSIP_RPC_MAX_BYTES:
                raise ValueError(f"topic {name}: limit must be between 1 and {GOSSIP_RPC_MAX_BYTES - 1} bytes")

    def topic_limit(self, name: str) -> int:
        return self.topic_max_bytes.get(name, FALLBACK_TOPIC_MAX_BYTES)
