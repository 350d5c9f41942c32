"""Prometheus metrics of the peer-to-peer layer: chameleon_p2p_<thing>[_<unit>]."""
from __future__ import annotations

from prometheus_client import Counter, Gauge

PEERS = Gauge("chameleon_p2p_peers", "Connected peers that completed the status handshake")
MESSAGES = Counter(
    "chameleon_p2p_messages",  # exposed as chameleon_p2p_messages_total
    "Gossip messages by topic name and direction (in: first copies received, out: published)",
    ["topic", "direction"],
)
INVALID_MESSAGES = Counter(
    "chameleon_p2p_invalid_messages",  # exposed as chameleon_p2p_invalid_messages_total
    "Misbehaviour seen from peers, by reason (REJECT reasons, oversized, malformed, timeout)",
    ["reason"],
)
BANS = Counter("chameleon_p2p_bans", "Peers banned for a low score")
DROPPED = Counter(
    "chameleon_p2p_dropped",  # exposed as chameleon_p2p_dropped_total
    "Messages dropped by a full queue (outbound RPC queue, delivery to the node)",
    ["queue"],
)
