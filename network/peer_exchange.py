"""Peer exchange (``/chameleon/px/1``): ask a peer which peers it knows.

The asker opens a stream and sends an empty frame; the peer answers with one frame holding
the RLP list of the multiaddrs (``/ip4/…/tcp/…/p2p/<peer id>``) of the peers it has
completed a status handshake with, the asker excluded, at most ``px_max_addrs`` of them.
So a node that knows one bootnode learns the rest of the network from it.
"""
from __future__ import annotations

from typing import Final

import rlp
from libp2p.peer.peerinfo import info_from_p2p_addr
from multiaddr import Multiaddr

from network.errors import PeerMisbehaviour

PROTOCOL_ID: Final = "/chameleon/px/1"
MAX_REQUEST_BYTES: Final = 16
MAX_ADDR_BYTES: Final = 256
MAX_ANSWER_BYTES: Final = 64 * 1024


def encode_addrs(addrs: list[str]) -> bytes:
    return rlp.encode([a.encode() for a in addrs])


def decode_addrs(data: bytes, max_addrs: int) -> list[str]:
    """Decode a peer-exchange answer: only full ``/p2p/<id>`` multiaddrs are kept.

    Raises:
        PeerMisbehaviour: ``malformed_peer_exchange`` for anything else.
    """
    try:
        items = rlp.decode(data, strict=True)
    except rlp.exceptions.DecodingError as exc:
        raise PeerMisbehaviour("malformed_peer_exchange", "not RLP") from exc
    if not isinstance(items, list) or len(items) > max_addrs:
        raise PeerMisbehaviour("malformed_peer_exchange", "not a list of at most max_addrs")
    addrs = []
    for raw in items:
        if not isinstance(raw, bytes) or len(raw) > MAX_ADDR_BYTES:
            raise PeerMisbehaviour("malformed_peer_exchange", "bad address")
        try:
            text = raw.decode()
            info_from_p2p_addr(Multiaddr(text))
        except Exception as exc:  # multiaddr and peer-id parsing raise many types
            raise PeerMisbehaviour("malformed_peer_exchange", "unparseable address") from exc
        addrs.append(text)
    return addrs
