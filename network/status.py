"""The status handshake (``/chameleon/status/1``): who is on which chain, and how far.

Each side of a new connection opens a status stream, sends its own :class:`Hello` and reads
the peer's in reply, so both learn the other's chain id, genesis hash, head, finalized block
and listen addresses. The same exchange runs again every ``status_interval_s`` to keep each
peer's head fresh. Wire format: one frame holding the RLP list
``[version, chain_id, genesis_hash, head_number, head_hash, finalized_number,
finalized_hash, [listen_addr, ...]]``.

A node that has no room for a new peer answers with a :class:`Goodbye` instead,
``[version, reason, peer_exchange_answer]``: the newcomer learns whom else to dial.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import rlp
from multiaddr import Multiaddr

from network.errors import PeerMisbehaviour

PROTOCOL_ID: Final = "/chameleon/status/1"
VERSION: Final = 1
MAX_HELLO_BYTES: Final = 4096
MAX_LISTEN_ADDRS: Final = 4
MAX_ADDR_BYTES: Final = 256
HASH_BYTES: Final = 32
MAX_NUMBER: Final = 2**64 - 1


@dataclass(frozen=True, slots=True)
class ChainPoint:
    """A block by number and hash (a head, a finalized block)."""

    number: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class Status:
    """What the node reports about its chain; the node supplies it through a callback."""

    chain_id: int
    genesis_hash: bytes
    head: ChainPoint
    finalized: ChainPoint


@dataclass(frozen=True, slots=True)
class Hello:
    status: Status
    listen_addrs: tuple[str, ...]  # where the sender accepts connections (/ip4/…/tcp/…)


@dataclass(frozen=True, slots=True)
class Goodbye:
    reason: str
    peers: bytes  # a peer-exchange answer (network.peer_exchange.encode_addrs)


MAX_REASON_BYTES: Final = 64


def encode_goodbye(goodbye: Goodbye) -> bytes:
    return rlp.encode([VERSION, goodbye.reason.encode()[:MAX_REASON_BYTES], goodbye.peers])


def decode_answer(data: bytes) -> Hello | Goodbye:
    """Decode the answer to our hello: the peer's hello, or a goodbye.

    Raises:
        PeerMisbehaviour: ``malformed_status``.
    """
    try:
        items = rlp.decode(data, strict=True)
    except rlp.exceptions.DecodingError as exc:
        raise PeerMisbehaviour("malformed_status", "not RLP") from exc
    if isinstance(items, list) and len(items) == 3:
        version, reason, peers = items
        if _uint(version) != VERSION or not isinstance(reason, bytes) or not isinstance(peers, bytes):
            raise PeerMisbehaviour("malformed_status", "bad goodbye")
        if len(reason) > MAX_REASON_BYTES:
            raise PeerMisbehaviour("malformed_status", "goodbye reason too long")
        return Goodbye(reason.decode(errors="replace"), peers)
    return decode_hello(data)


def encode_hello(hello: Hello) -> bytes:
    s = hello.status
    return rlp.encode([
        VERSION,
        s.chain_id,
        s.genesis_hash,
        s.head.number,
        s.head.hash,
        s.finalized.number,
        s.finalized.hash,
        [a.encode() for a in hello.listen_addrs[:MAX_LISTEN_ADDRS]],
    ])


def decode_hello(data: bytes) -> Hello:
    """Decode and check a peer's hello.

    Raises:
        PeerMisbehaviour: ``malformed_status`` for anything that is not a well-formed hello.
    """
    try:
        items = rlp.decode(data, strict=True)
    except rlp.exceptions.DecodingError as exc:
        raise PeerMisbehaviour("malformed_status", "not RLP") from exc
    if not isinstance(items, list) or len(items) != 8:
        raise PeerMisbehaviour("malformed_status", "expected an 8-item list")
    version, chain_id, genesis, head_n, head_h, fin_n, fin_h, addrs = items
    if _uint(version) != VERSION:
        raise PeerMisbehaviour("malformed_status", "unknown version")
    if not isinstance(addrs, list) or len(addrs) > MAX_LISTEN_ADDRS:
        raise PeerMisbehaviour("malformed_status", "bad listen address list")
    listen: list[str] = []
    for raw in addrs:
        if not isinstance(raw, bytes) or len(raw) > MAX_ADDR_BYTES:
            raise PeerMisbehaviour("malformed_status", "bad listen address")
        try:
            text = raw.decode()
            Multiaddr(text)
        except Exception as exc:  # multiaddr raises a zoo of exception types
            raise PeerMisbehaviour("malformed_status", "unparseable listen address") from exc
        listen.append(text)
    status = Status(
        chain_id=_uint(chain_id),
        genesis_hash=_hash(genesis),
        head=ChainPoint(_uint(head_n), _hash(head_h)),
        finalized=ChainPoint(_uint(fin_n), _hash(fin_h)),
    )
    return Hello(status, tuple(listen))


def _uint(item: object) -> int:
    if not isinstance(item, bytes) or len(item) > 8 or item[:1] == b"\x00":
        raise PeerMisbehaviour("malformed_status", "bad integer")
    return int.from_bytes(item, "big")


def _hash(item: object) -> bytes:
    if not isinstance(item, bytes) or len(item) != HASH_BYTES:
        raise PeerMisbehaviour("malformed_status", "bad hash")
    return item


def compute_mismatch(chain_id: int, genesis_hash: bytes, theirs: Status) -> str | None:
    """Why a peer cannot be on our network (``None`` when it can)."""
    if theirs.chain_id != chain_id:
        return "chain_id_mismatch"
    if theirs.genesis_hash != genesis_hash:
        return "genesis_mismatch"
    return None
