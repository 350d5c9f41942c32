"""The peer-to-peer network on py-libp2p: gossip topics, a request/response protocol for
sync, a status handshake, peer exchange, and peer scoring with bans.

It moves bytes between peers and judges only sizes, rates and well-formedness; what a
payload means is for the callbacks the node supplies. See :class:`network.host.Network`.
"""
from network.config import NetworkConfig
from network.errors import (
    MessageTooLarge,
    NetworkError,
    PeerMisbehaviour,
    RemoteError,
    RequestError,
    RequestTimeout,
)
from network.gossip import ACCEPT, IGNORE, REJECT, Validation
from network.host import Network, PeerInfo
from network.identity import NodeIdentity, load_or_create_identity
from network.status import ChainPoint, Status

__all__ = [
    "ACCEPT",
    "IGNORE",
    "REJECT",
    "ChainPoint",
    "MessageTooLarge",
    "Network",
    "NetworkConfig",
    "NetworkError",
    "NodeIdentity",
    "PeerInfo",
    "PeerMisbehaviour",
    "RemoteError",
    "RequestError",
    "RequestTimeout",
    "Status",
    "Validation",
    "load_or_create_identity",
]
