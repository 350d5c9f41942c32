"""The node's libp2p host: connections, status handshake, peer exchange, bans, and the
gossip and request/response protocols on top (see :mod:`network.gossip`,
:mod:`network.reqresp`).

It moves bytes and judges only sizes, rates and well-formedness; whether a payload is a
good block is for the node's callbacks to say. Use::

    net = Network(config, load_or_create_identity(datadir), status=node_status)
    await net.subscribe("blocks", validate_block, handle_block)
    net.set_request_handler(serve_sync)
    async with trio.open_nursery() as nursery:
        await nursery.start(net.run)
        ...
        nursery.cancel_scope.cancel()  # clean shutdown

Security is noise and the muxer yamux, both passed explicitly: py-libp2p's defaults would
also offer plaintext, TLS and secio.
"""
from __future__ import annotations

import math
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import structlog
import trio
from google.protobuf.message import DecodeError
from libp2p import new_host
from libp2p.abc import INetConn, INetStream, INetwork, INotifee
from libp2p.crypto.x25519 import create_new_key_pair as create_x25519_key_pair
from libp2p.exceptions import ParseError
from libp2p.network.config import ConnectionConfig, RetryConfig
from libp2p.peer.id import ID
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_PROTOCOL_ID
from libp2p.security.noise.transport import Transport as NoiseTransport
from libp2p.stream_muxer.yamux.yamux import PROTOCOL_ID as YAMUX_PROTOCOL_ID
from libp2p.stream_muxer.yamux.yamux import Yamux
from libp2p.tools.anyio_service import background_trio_service
from multiaddr import Multiaddr

from network import metrics, peer_exchange, status as status_protocol
from network.config import NetworkConfig
from network.errors import FrameError, NetworkError, PeerMisbehaviour
from network.frames import close_stream, read_frame, write_frame
from network.gossip import Gossip, Handler, Validator
from network.identity import NodeIdentity
from network.reqresp import PROTOCOL_ID as SYNC_PROTOCOL_ID
from network.reqresp import RequestHandler, RequestResponse
from network.scoring import Block, PeerScores
from network.status import (
    ChainPoint,
    Goodbye,
    Hello,
    Status,
    compute_mismatch,
    decode_answer,
    decode_hello,
    encode_goodbye,
    encode_hello,
)

log = structlog.get_logger(__name__)

MAINTENANCE_INTERVAL_S: Final = 0.25  # ban expiry and cap checks
CONNECTED_POLL_S: Final = 1.0  # how often a bootnode task checks its connection


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """A connected peer that completed the status handshake, as ``Network.peers()`` shows it."""

    peer_id: str
    multiaddr: str  # where it listens (from its hello), else the connection's remote address
    direction: str  # "inbound" | "outbound" (of its first connection)
    head: ChainPoint
    finalized: ChainPoint
    score: float
    status_age_s: float  # seconds since its status was last refreshed


@dataclass(slots=True)
class _Peer:
    peer_id: ID
    direction: str
    remote_addr: str
    hello: Hello
    status_at: float
    listen_multiaddr: str | None = None


class Network:
    """One node's peer-to-peer endpoint. All methods run on the trio thread of ``run``."""

    def __init__(
        self,
        config: NetworkConfig,
        identity: NodeIdentity,
        status: Callable[[], Status],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.identity = identity
        self._status = status
        first = status()
        self.chain_id = first.chain_id
        self.genesis_hash = first.genesis_hash
        self._clock = clock
        self._scores = PeerScores(
            ban_threshold=config.ban_threshold,
            ban_duration_s=config.ban_duration_s,
            half_life_s=config.score_half_life_s,
            clock=clock,
        )
        max_connections = 2 * config.max_peers + 8  # room to accept, handshake and refuse
        self.host = new_host(
            key_pair=identity.key_pair,
            sec_opt={NOISE_PROTOCOL_ID: NoiseTransport(identity.key_pair, noise_privkey=create_x25519_key_pair().private_key)},
            muxer_opt={YAMUX_PROTOCOL_ID: Yamux},  # type: ignore[dict-item]
            listen_addrs=[self._listen_multiaddr()],
            connection_config=ConnectionConfig(
                max_connections=max_connections,
                min_connections=0,
                low_watermark=0,  # no auto-connector: we decide whom to dial
                high_watermark=max_connections,
                max_connections_per_peer=2,
                dial_timeout=config.dial_timeout_s,
            ),
        )
        swarm = self.host.get_network()
        # The swarm retries a failed dial 3 times itself; our own loops back off instead.
        swarm.retry_config = RetryConfig(max_retries=0)
        # The auto-connector dials any peer in the peerstore to keep ~high_watermark/2
        # connections; we decide whom to dial (max_peers, bans, other chains).
        swarm.auto_connector.start = _never_start  # type: ignore[method-assign]
        # An exception in any protocol's stream handler (pubsub parsing garbage, say)
        # would otherwise end the connection's service and, through it, the whole swarm.
        swarm.set_stream_handler(self._guard_stream_handler(self.host._swarm_stream_handler))  # type: ignore[attr-defined]
        self.gossip = Gossip(self.host, config, self.genesis_hash, self._misbehaving, clock=clock)
        self._reqresp = RequestResponse(self.host, config, self._misbehaving)
        self.host.set_stream_handler(status_protocol.PROTOCOL_ID, self._serve_status)  # type: ignore[arg-type]
        self.host.set_stream_handler(peer_exchange.PROTOCOL_ID, self._serve_peer_exchange)  # type: ignore[arg-type]
        self.host.set_stream_handler(SYNC_PROTOCOL_ID, self._reqresp.serve)  # type: ignore[arg-type]
        self.host.get_network().register_notifee(_Notifee(self))
        self._peers: dict[str, _Peer] = {}
        self._pending: set[str] = set()  # connected, status exchange under way
        self._dialing: set[str] = set()
        self._dial_after: dict[str, float] = {}  # peers that said goodbye: not before then
        self._nursery: trio.Nursery | None = None
        self._listen_port: int | None = None
        self._started = False

    # -- identity and addresses ----------------------------------------------------------

    @property
    def peer_id(self) -> str:
        return self.identity.peer_id.to_base58()

    @property
    def listen_port(self) -> int:
        if self._listen_port is None:
            raise NetworkError("the network is not running")
        return self._listen_port

    @property
    def multiaddr(self) -> str:
        """``/ip4/HOST/tcp/PORT/p2p/<peer id>`` with the bound port (after ``run`` started)."""
        return self.identity.multiaddr(self.listen_port, self.config.listen_host)

    def _listen_multiaddr(self, port: int | None = None) -> Multiaddr:
        port = self.config.listen_port if port is None else port
        return Multiaddr(f"/ip4/{self.config.listen_host}/tcp/{port}")

    # -- running -----------------------------------------------------------------------

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        """Listen, dial the bootnodes and serve until cancelled (``await nursery.start(net.run)``).

        Cancelling the caller's scope shuts the host down cleanly. An instance runs once.

        Raises:
            NetworkError: the port is taken, or py-libp2p failed underneath (its services
                raise nested exception groups; their leaves are logged as ``network_failed``).
        """
        if self._started:
            raise NetworkError("a Network runs once; make a new one")
        self._started = True
        _check_port_free(self.config.listen_host, self.config.listen_port)
        try:
            await self._run(task_status)
        except* Exception as group:
            errors = [repr(e) for e in _leaves(group)]
            if trio.current_effective_deadline() == -math.inf:
                # We are being cancelled: libp2p's teardown complaints are not news.
                log.debug("network_shutdown_errors", errors=errors)
            else:
                log.error("network_failed", peer=self.peer_id, errors=errors)
                raise NetworkError(f"libp2p host failed: {'; '.join(errors)}") from group

    async def _run(self, task_status: Any) -> None:
        async with self.host.run([self._listen_multiaddr()]):
            self._listen_port = _bound_port(self.host.get_addrs())
            async with background_trio_service(self.gossip.pubsub), background_trio_service(self.gossip.router):
                await self.gossip.pubsub.wait_until_ready()
                try:
                    async with trio.open_nursery() as nursery:
                        self._nursery = nursery
                        await self.gossip.start(nursery)
                        nursery.start_soon(self._maintain)
                        nursery.start_soon(self._refresh_statuses)
                        if self.config.peer_exchange:
                            nursery.start_soon(self._exchange_peers_periodically)
                        for bootnode in self.config.bootnodes:
                            nursery.start_soon(self._keep_bootnode, bootnode)
                        log.info("network_started", peer=self.peer_id, multiaddr=self.multiaddr,
                                 bootnodes=len(self.config.bootnodes))
                        task_status.started()
                        await trio.sleep_forever()
                finally:
                    self._nursery = None
                    self.gossip.stop()
                    metrics.PEERS.dec(len(self._peers))
                    self._peers.clear()
                    log.info("network_stopped", peer=self.peer_id)

    # -- peers ---------------------------------------------------------------------------

    def peers(self) -> list[PeerInfo]:
        """The handshaked peers, best head first (what sync picks from)."""
        now = self._clock()
        out = [
            PeerInfo(
                peer_id=p,
                multiaddr=state.listen_multiaddr or state.remote_addr,
                direction=state.direction,
                head=state.hello.status.head,
                finalized=state.hello.status.finalized,
                score=self._scores.get(p),
                status_age_s=now - state.status_at,
            )
            for p, state in self._peers.items()
        ]
        out.sort(key=lambda info: (-info.head.number, info.peer_id))
        return out

    def score(self, peer_id: str) -> float:
        return self._scores.get(peer_id)

    def blocked_peers(self) -> dict[str, Block]:
        """Peers banned (low score) or refused (another chain), with reason and end time."""
        return self._scores.blocked_peers()

    @property
    def invalid_counts(self) -> dict[str, int]:
        """Misbehaviour seen by this host, by reason (the Prometheus counter sums all hosts)."""
        return dict(self._scores.invalid)

    async def connect(self, multiaddr: str) -> bool:
        """Dial ``/ip4/…/tcp/…/p2p/<id>`` once; True when connected (handshake runs after)."""
        return await self._dial(multiaddr, why="explicit")

    def report(self, peer_id: str, reason: str, penalty: float | None = None) -> None:
        """Let the node lower a peer's score for something found later (a bad sync answer)."""
        self._misbehaving(peer_id, reason, self.config.penalty_invalid_message if penalty is None else penalty)

    def ban(self, peer_id: str, reason: str, duration_s: float | None = None) -> None:
        """Disconnect the peer and refuse it for ``duration_s`` (default ``ban_duration_s``)."""
        block = self._scores.ban(peer_id, reason, duration_s)
        metrics.BANS.inc()
        log.warning("peer_banned", peer=peer_id, reason=reason,
                    duration_s=round(block.until - self._clock(), 3))
        self._cut_off(peer_id)

    async def refresh_status(self, peer_id: str) -> None:
        """Exchange status with one peer now (its head is otherwise refreshed periodically)."""
        await self._exchange_status(ID.from_base58(peer_id), first=False)

    # -- gossip and request/response -------------------------------------------------------

    async def subscribe(
        self, name: str, validate: Validator, handle: Handler, *, max_bytes: int | None = None
    ) -> None:
        """Subscribe to gossip topic ``name`` (see :mod:`network.gossip`)."""
        await self.gossip.subscribe(name, validate, handle, max_bytes=max_bytes)

    async def publish(self, name: str, data: bytes) -> None:
        await self.gossip.publish(name, data)

    def set_request_handler(self, handler: RequestHandler) -> None:
        """``async handler(peer_id, request) -> response`` answers ``/chameleon/sync/1``."""
        self._reqresp.handler = handler

    async def request(
        self, peer_id: str, data: bytes, timeout: float | None = None, *, max_response_bytes: int | None = None
    ) -> bytes:
        """Ask a peer; see :meth:`network.reqresp.RequestResponse.request` for what it raises."""
        return await self._reqresp.request(
            ID.from_base58(peer_id),
            data,
            self.config.request_timeout_s if timeout is None else timeout,
            max_response_bytes,
        )

    # -- connection events ---------------------------------------------------------------

    def _guard_stream_handler(
        self, handler: Callable[[INetStream], Awaitable[None]]
    ) -> Callable[[INetStream], Awaitable[None]]:
        async def guarded(stream: INetStream) -> None:
            try:
                await handler(stream)
            except Exception as exc:
                peer = stream.muxed_conn.peer_id.to_base58()
                protocol = stream.get_protocol()
                if isinstance(exc, (DecodeError, ParseError)):
                    self._misbehaving(peer, "malformed_stream", self.config.penalty_malformed)
                log.warning("stream_handler_failed", peer=peer, protocol=protocol, error=repr(exc))
                await close_stream(stream, reset=True)

        return guarded

    def _on_connected(self, conn: INetConn) -> None:
        if self._nursery is None:
            return
        peer_id = conn.muxed_conn.peer_id
        self._nursery.start_soon(self._handle_connected, peer_id, _direction(conn), _remote_addr(conn))

    def _on_disconnected(self, conn: INetConn) -> None:
        peer_id = conn.muxed_conn.peer_id
        if any(not c.is_closed for c in self.host.get_network().get_connections(peer_id)):
            return
        peer = peer_id.to_base58()
        self.gossip.forget_peer(peer)
        if self._peers.pop(peer, None) is not None:
            metrics.PEERS.dec()
            log.info("peer_disconnected", peer=peer, peers=len(self._peers))

    async def _handle_connected(self, peer_id: ID, direction: str, remote_addr: str) -> None:
        peer = peer_id.to_base58()
        block = self._scores.blocked(peer)
        if block is not None:
            self._refuse(peer_id, block.reason, banned=block.banned)
            return
        if peer in self._peers or peer in self._pending:
            return  # a second connection to a peer we know or are greeting
        if len(self._peers) >= self.config.max_peers:
            # Its own status request gets a goodbye with other peers to try; then it goes.
            log.info("peer_refused", peer=peer, reason="too_many_peers", banned=False)
            await trio.sleep(self.config.handshake_timeout_s)
            if peer not in self._peers:
                await self._disconnect(peer_id)
            return
        self._pending.add(peer)
        try:
            await self._exchange_status(peer_id, first=True, direction=direction, remote_addr=remote_addr)
        finally:
            self._pending.discard(peer)

    def _refuse(self, peer_id: ID, reason: str, *, banned: bool = False) -> None:
        log.info("peer_refused", peer=peer_id.to_base58(), reason=reason, banned=banned)
        self._disconnect_soon(peer_id)

    def _disconnect_soon(self, peer_id: ID, delay: float = 0.0) -> None:
        if self._nursery is not None:
            self._nursery.start_soon(self._disconnect, peer_id, delay)

    async def _disconnect(self, peer_id: ID, delay: float = 0.0) -> None:
        if delay:
            await trio.sleep(delay)
        with trio.move_on_after(5.0):
            try:
                await self.host.disconnect(peer_id)
            except Exception as exc:
                log.debug("disconnect_failed", peer=peer_id.to_base58(), error=repr(exc))

    # -- status handshake ----------------------------------------------------------------

    def _hello(self) -> Hello:
        try:
            status = self._status()
        except Exception:
            log.exception("status_callback_failed")
            raise
        return Hello(status, (str(self._listen_multiaddr(self._listen_port)),))

    async def _exchange_status(
        self, peer_id: ID, *, first: bool, direction: str = "unknown", remote_addr: str = ""
    ) -> None:
        peer = peer_id.to_base58()
        stream: INetStream | None = None
        try:
            with trio.fail_after(self.config.handshake_timeout_s):
                stream = await self.host.new_stream(peer_id, [status_protocol.PROTOCOL_ID])
                await write_frame(stream, encode_hello(self._hello()), status_protocol.MAX_HELLO_BYTES)
                answer = decode_answer(await read_frame(stream, status_protocol.MAX_HELLO_BYTES))
                if isinstance(answer, Goodbye):
                    addrs = peer_exchange.decode_addrs(answer.peers, self.config.px_max_addrs)
        except PeerMisbehaviour as exc:
            reason = _reason("status", exc)
            self._misbehaving(peer, reason, _penalty(self.config, exc))
            if first:
                self._refuse(peer_id, reason)
            return
        except trio.TooSlowError:
            if first:
                self._misbehaving(peer, "handshake_timeout", self.config.penalty_timeout)
                self._refuse(peer_id, "handshake_timeout")
            else:
                self._misbehaving(peer, "status_timeout", self.config.penalty_timeout)
            return
        except Exception as exc:  # the peer went away or refused us: nothing to score
            log.debug("status_exchange_failed", peer=peer, first=first, error=repr(exc))
            if first:
                self._disconnect_soon(peer_id)
            return
        finally:
            if stream is not None:
                await close_stream(stream)
        if isinstance(answer, Goodbye):
            log.info("peer_said_goodbye", peer=peer, reason=answer.reason, suggested=len(addrs))
            self._dial_after[peer] = self._clock() + self.config.dial_backoff_max_s
            self._dial_some(addrs, "goodbye")
            if peer not in self._peers:
                self._disconnect_soon(peer_id)
            return
        self._accept_hello(peer_id, answer, direction=direction, remote_addr=remote_addr)

    async def _serve_status(self, stream: INetStream) -> None:
        peer_id = stream.muxed_conn.peer_id
        peer = peer_id.to_base58()
        try:
            with trio.fail_after(self.config.handshake_timeout_s):
                hello = decode_hello(await read_frame(stream, status_protocol.MAX_HELLO_BYTES))
                full = peer not in self._peers and len(self._peers) >= self.config.max_peers
                block = self._scores.blocked(peer)
                if block is not None and block.banned:
                    answer = b""  # nothing for a banned peer
                # A peer refused for being on another chain still gets our hello: from it, it
                # learns the mismatch and stops dialling us, instead of retrying a dead end.
                elif full:
                    answer = encode_goodbye(Goodbye("too_many_peers", self._px_answer(exclude=peer)))
                else:
                    answer = encode_hello(self._hello())
                if answer:
                    await write_frame(stream, answer, status_protocol.MAX_HELLO_BYTES)
        except PeerMisbehaviour as exc:
            reason = _reason("status", exc)
            self._misbehaving(peer, reason, _penalty(self.config, exc))
            await close_stream(stream, reset=True)
            if peer not in self._peers:
                self._refuse(peer_id, reason)
            return
        except Exception:  # timeout, or the stream broke
            await close_stream(stream, reset=True)
            return
        await close_stream(stream)
        if full:
            return  # _handle_connected disconnects it
        conns = self.host.get_network().get_connections(peer_id)
        self._accept_hello(
            peer_id, hello,
            direction=_direction(conns[0]) if conns else "unknown",
            remote_addr=_remote_addr(conns[0]) if conns else "",
        )

    def _accept_hello(self, peer_id: ID, hello: Hello, *, direction: str, remote_addr: str) -> None:
        peer = peer_id.to_base58()
        block = self._scores.blocked(peer)
        if block is not None:
            self._refuse(peer_id, block.reason, banned=block.banned)
            return
        mismatch = compute_mismatch(self.chain_id, self.genesis_hash, hello.status)
        if mismatch is not None:
            self._scores.refuse(peer, mismatch, self.config.refuse_duration_s)
            log.warning(
                "peer_refused", peer=peer, reason=mismatch,
                chain_id=hello.status.chain_id, genesis=hello.status.genesis_hash.hex(),
                refused_for_s=self.config.refuse_duration_s,
            )
            # A moment before hanging up, so the peer's own half of the handshake (our hello
            # to it) completes and it refuses us too, rather than losing the stream mid-frame.
            self._disconnect_soon(peer_id, delay=self.config.refuse_grace_s)
            return
        state = self._peers.get(peer)
        if state is not None:
            state.hello = hello
            state.status_at = self._clock()
            state.listen_multiaddr = _listen_multiaddr(hello, peer) or state.listen_multiaddr
            return
        if len(self._peers) >= self.config.max_peers:
            self._refuse(peer_id, "too_many_peers")
            return
        if not self.host.get_network().get_connections(peer_id):
            return  # it left while we talked
        self._peers[peer] = _Peer(
            peer_id, direction, remote_addr, hello, self._clock(), _listen_multiaddr(hello, peer)
        )
        metrics.PEERS.inc()
        log.info(
            "peer_connected", peer=peer, direction=direction, head=hello.status.head.number,
            finalized=hello.status.finalized.number, peers=len(self._peers),
        )
        if self.config.peer_exchange and len(self._peers) < self.config.max_peers and self._nursery is not None:
            self._nursery.start_soon(self._exchange_peers_with, peer_id)

    # -- peer exchange -------------------------------------------------------------------

    async def _serve_peer_exchange(self, stream: INetStream) -> None:
        asker = stream.muxed_conn.peer_id.to_base58()
        try:
            with trio.fail_after(self.config.handshake_timeout_s):
                await read_frame(stream, peer_exchange.MAX_REQUEST_BYTES)
                answer = self._px_answer(exclude=asker)
                await write_frame(stream, answer, peer_exchange.MAX_ANSWER_BYTES)
        except PeerMisbehaviour as exc:
            self._misbehaving(asker, _reason("peer_exchange", exc), _penalty(self.config, exc))
            await close_stream(stream, reset=True)
            return
        except Exception:  # timeout, or the stream broke
            await close_stream(stream, reset=True)
            return
        await close_stream(stream)

    def _px_answer(self, exclude: str) -> bytes:
        addrs = [
            state.listen_multiaddr
            for p, state in self._peers.items()
            if p != exclude and state.listen_multiaddr is not None
        ]
        random.shuffle(addrs)
        return peer_exchange.encode_addrs(addrs[: self.config.px_max_addrs])

    def _dial_some(self, addrs: list[str], why: str) -> None:
        for addr in addrs:
            if self._room_for_dial() and self._nursery is not None:
                self._nursery.start_soon(self._dial, addr, why)

    async def _exchange_peers_with(self, peer_id: ID) -> None:
        peer = peer_id.to_base58()
        stream: INetStream | None = None
        try:
            with trio.fail_after(self.config.handshake_timeout_s):
                stream = await self.host.new_stream(peer_id, [peer_exchange.PROTOCOL_ID])
                await write_frame(stream, b"", peer_exchange.MAX_REQUEST_BYTES)
                raw = await read_frame(stream, peer_exchange.MAX_ANSWER_BYTES)
            addrs = peer_exchange.decode_addrs(raw, self.config.px_max_addrs)
        except PeerMisbehaviour as exc:
            self._misbehaving(peer, _reason("peer_exchange", exc), _penalty(self.config, exc))
            return
        except Exception as exc:
            log.debug("peer_exchange_failed", peer=peer, error=repr(exc))
            return
        finally:
            if stream is not None:
                await close_stream(stream)
        self._dial_some(addrs, "peer_exchange")

    async def _exchange_peers_periodically(self) -> None:
        while True:
            await trio.sleep(self.config.px_interval_s * random.uniform(0.8, 1.2))
            if self._room_for_dial() and self._peers:
                peer = random.choice(list(self._peers.values()))
                await self._exchange_peers_with(peer.peer_id)

    def _room_for_dial(self) -> bool:
        return len(self._peers) + len(self._pending) + len(self._dialing) < self.config.max_peers

    # -- dialing ---------------------------------------------------------------------------

    async def _dial(self, multiaddr: str, why: str) -> bool:
        try:
            info = info_from_p2p_addr(Multiaddr(multiaddr))
        except Exception as exc:
            log.warning("dial_bad_multiaddr", multiaddr=multiaddr, error=repr(exc))
            return False
        peer = info.peer_id.to_base58()
        if peer == self.peer_id:
            return False
        if self.host.get_network().get_connections(info.peer_id):
            return True
        if peer in self._dialing or self._scores.blocked(peer) is not None or not self._room_for_dial():
            return False
        if self._dial_after.get(peer, -math.inf) > self._clock():
            return False
        self._dialing.add(peer)
        try:
            # The swarm refuses to redial a peer for 60 s after one failed dial; our
            # callers back off themselves (a bootnode may simply start later than us).
            cache = getattr(self.host.get_network(), "_negative_peer_cache", None)
            if cache is not None:
                cache.evict(peer)
            with trio.fail_after(self.config.dial_timeout_s):
                await self.host.connect(info)
        except Exception as exc:
            log.debug("dial_failed", peer=peer, multiaddr=multiaddr, why=why, error=repr(exc))
            return False
        finally:
            self._dialing.discard(peer)
        log.debug("dialed", peer=peer, multiaddr=multiaddr, why=why)
        return True

    async def _keep_bootnode(self, multiaddr: str) -> None:
        """Stay connected to a bootnode: redial with exponential backoff while it is away."""
        try:
            peer_id = info_from_p2p_addr(Multiaddr(multiaddr)).peer_id
        except Exception as exc:
            log.error("bootnode_bad_multiaddr", multiaddr=multiaddr, error=repr(exc))
            return
        peer = peer_id.to_base58()
        backoff = self.config.dial_backoff_initial_s
        while True:
            if peer == self.peer_id or self.host.get_network().get_connections(peer_id):
                await trio.sleep(CONNECTED_POLL_S)
                continue
            block = self._scores.blocked(peer)
            if block is not None:
                await trio.sleep(max(0.0, min(block.until - self._clock(), self.config.dial_backoff_max_s)))
                continue
            if await self._dial(multiaddr, "bootnode"):
                backoff = self.config.dial_backoff_initial_s
                continue
            await trio.sleep(backoff * random.uniform(0.8, 1.2))
            backoff = min(backoff * 2, self.config.dial_backoff_max_s)

    # -- scoring and housekeeping ------------------------------------------------------------

    def _misbehaving(self, peer: str, reason: str, penalty: float) -> None:
        metrics.INVALID_MESSAGES.labels(reason).inc()
        crossed = self._scores.penalize(peer, reason, penalty)
        log.info("peer_penalized", peer=peer, reason=reason, penalty=penalty, score=round(self._scores.get(peer), 2))
        if crossed:
            self.ban(peer, reason)

    def _cut_off(self, peer: str) -> None:
        peer_id = ID.from_base58(peer)
        if self._nursery is not None:  # pubsub runs: drop its stream and anything it sends
            self.gossip.pubsub.add_to_blacklist(peer_id)
        self._disconnect_soon(peer_id)

    async def _maintain(self) -> None:
        while True:
            await trio.sleep(MAINTENANCE_INTERVAL_S)
            for peer in self._scores.expire():
                self.gossip.pubsub.remove_from_blacklist(ID.from_base58(peer))
                log.info("peer_block_ended", peer=peer)
            now = self._clock()
            for peer in [p for p, t in self._dial_after.items() if t <= now]:
                del self._dial_after[peer]

    async def _refresh_statuses(self) -> None:
        while True:
            await trio.sleep(self.config.status_interval_s)
            if self._nursery is None:
                return
            for state in list(self._peers.values()):
                self._nursery.start_soon(self._refresh_one, state.peer_id)

    async def _refresh_one(self, peer_id: ID) -> None:
        await self._exchange_status(peer_id, first=False)


async def _never_start() -> None:
    pass


class _Notifee(INotifee):
    """Swarm events: called inline on the connection path, so only schedule work here."""

    def __init__(self, network: Network) -> None:
        self._network = network

    async def connected(self, network: INetwork, conn: INetConn) -> None:
        self._network._on_connected(conn)

    async def disconnected(self, network: INetwork, conn: INetConn) -> None:
        self._network._on_disconnected(conn)

    async def opened_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def closed_stream(self, network: INetwork, stream: INetStream) -> None:
        pass

    async def listen(self, network: INetwork, multiaddr: Multiaddr) -> None:
        pass

    async def listen_close(self, network: INetwork, multiaddr: Multiaddr) -> None:
        pass


def _direction(conn: INetConn) -> str:
    value = getattr(conn, "direction", None)
    name = getattr(value, "name", str(value)).lower()
    return name if name in ("inbound", "outbound") else "unknown"


def _remote_addr(conn: INetConn) -> str:
    try:
        addrs = conn.get_transport_addresses()
        return str(addrs[0]) if addrs else ""
    except Exception:
        return ""


def _listen_multiaddr(hello: Hello, peer: str) -> str | None:
    for addr in hello.listen_addrs:
        if "/tcp/" in addr and "/p2p/" not in addr:
            return f"{addr}/p2p/{peer}"
    return None


def _check_port_free(host: str, port: int) -> None:
    """Fail if another process listens on the port.

    py-libp2p listens with SO_REUSEPORT (for TCP hole punching), so a second node on the
    same port would start without error and silently take half the inbound connections.
    """
    if port == 0:
        return
    probe = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
    except OSError as exc:
        raise NetworkError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    finally:
        probe.close()


def _reason(protocol: str, exc: PeerMisbehaviour) -> str:
    """``oversized_frame`` on the status protocol is ``status_oversized_frame``, and so on."""
    return f"{protocol}_{exc.reason}" if isinstance(exc, FrameError) else exc.reason


def _penalty(config: NetworkConfig, exc: PeerMisbehaviour) -> float:
    return config.penalty_oversized if exc.reason == "oversized_frame" else config.penalty_malformed


def _leaves(group: BaseException) -> list[BaseException]:
    if isinstance(group, BaseExceptionGroup):
        return [leaf for sub in group.exceptions for leaf in _leaves(sub)]
    return [group]


def _bound_port(addrs: list[Multiaddr]) -> int:
    for addr in addrs:
        try:
            return int(addr.value_for_protocol("tcp"))
        except Exception:
            continue
    raise NetworkError(f"no TCP listen address among {addrs}")

