"""Request/response over streams (``/chameleon/sync/1``): what sync uses for blocks.

One stream per request. The requester writes one frame (the request); the responder
answers with one frame whose first byte is a status: ``0`` and the response bytes, or
``1`` and a short UTF-8 error text. Frames are length-prefixed (:mod:`network.frames`) and
size-checked before their body is read. Large responses belong here, never on gossip.

What costs a peer score: a request or response over its size limit or cut short, a
response that is not a frame with a known status byte, no answer in time, and a request
the node's handler rejects by raising :class:`network.errors.PeerMisbehaviour`. A handler
that fails otherwise answers ``internal_error`` and costs nobody anything.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Final

import structlog
import trio
from libp2p.abc import IHost, INetStream
from libp2p.peer.id import ID

from network.config import NetworkConfig
from network.errors import (
    FrameError,
    MessageTooLarge,
    PeerMisbehaviour,
    RemoteError,
    RequestError,
    RequestTimeout,
)
from network.frames import close_stream, encode_frame, read_frame

log = structlog.get_logger(__name__)

PROTOCOL_ID: Final = "/chameleon/sync/1"
STATUS_OK: Final = 0
STATUS_ERROR: Final = 1
MAX_ERROR_TEXT_BYTES: Final = 256

RequestHandler = Callable[[str, bytes], Awaitable[bytes]]
Misbehaviour = Callable[[str, str, float], None]  # (peer id, reason, penalty)


class RequestResponse:
    """Both ends of the sync protocol; run by :class:`network.host.Network`."""

    def __init__(self, host: IHost, config: NetworkConfig, on_misbehaviour: Misbehaviour) -> None:
        self._host = host
        self.config = config
        self._on_misbehaviour = on_misbehaviour
        self.handler: RequestHandler | None = None
        self._inflight: Counter[str] = Counter()

    # -- requester ----------------------------------------------------------------------

    async def request(
        self, peer_id: ID, data: bytes, timeout: float, max_response_bytes: int | None = None
    ) -> bytes:
        """Send ``data`` to the peer and return its response.

        Raises:
            MessageTooLarge: ``data`` is over ``max_request_bytes``.
            RequestTimeout: no whole answer within ``timeout`` seconds (the peer loses score).
            RemoteError: the peer's handler failed.
            RequestError: not connected, the stream broke, or the answer was garbage.
        """
        peer = peer_id.to_base58()
        limit = self.config.max_response_bytes if max_response_bytes is None else max_response_bytes
        frame = encode_frame(data, self.config.max_request_bytes, "request")
        if not self._host.get_network().get_connections(peer_id):
            raise RequestError(peer, "not_connected")
        stream: INetStream | None = None
        try:
            with trio.fail_after(timeout):
                stream = await self._host.new_stream(peer_id, [PROTOCOL_ID])
                await stream.write(frame)
                raw = await read_frame(stream, limit + 1)
        except trio.TooSlowError:
            self._on_misbehaviour(peer, "request_timeout", self.config.penalty_timeout)
            raise RequestTimeout(peer, timeout) from None
        except FrameError as exc:
            self._on_misbehaviour(peer, f"response_{exc.reason}", self._penalty(exc.reason))
            raise RequestError(peer, exc.reason, exc.detail) from exc
        except Exception as exc:  # stream and swarm errors of every kind
            raise RequestError(peer, "stream_failed", repr(exc)) from exc
        finally:
            if stream is not None:
                await close_stream(stream)
        if not raw:
            self._on_misbehaviour(peer, "malformed_response", self.config.penalty_malformed)
            raise RequestError(peer, "malformed_response", "empty frame")
        if raw[0] == STATUS_OK:
            return raw[1:]
        if raw[0] == STATUS_ERROR:
            text = raw[1 : 1 + MAX_ERROR_TEXT_BYTES].decode(errors="replace")
            raise RemoteError(peer, "remote_error", text)
        self._on_misbehaviour(peer, "malformed_response", self.config.penalty_malformed)
        raise RequestError(peer, "malformed_response", f"status byte {raw[0]}")

    # -- responder ----------------------------------------------------------------------

    async def serve(self, stream: INetStream) -> None:
        """Stream handler: never raises (a bad peer must not take anything down with it)."""
        peer = stream.muxed_conn.peer_id.to_base58()
        if self._inflight[peer] >= self.config.max_inflight_requests_per_peer:
            await self._answer(stream, STATUS_ERROR, b"busy")
            return
        self._inflight[peer] += 1
        try:
            await self._serve(stream, peer)
        finally:
            self._inflight[peer] -= 1
            if self._inflight[peer] <= 0:
                del self._inflight[peer]

    async def _serve(self, stream: INetStream, peer: str) -> None:
        try:
            with trio.fail_after(self.config.request_timeout_s):
                request = await read_frame(stream, self.config.max_request_bytes)
        except FrameError as exc:
            self._on_misbehaviour(peer, f"request_{exc.reason}", self._penalty(exc.reason))
            await close_stream(stream, reset=True)
            return
        except trio.TooSlowError:
            self._on_misbehaviour(peer, "request_timeout", self.config.penalty_timeout)
            await close_stream(stream, reset=True)
            return
        except Exception:  # the stream broke: nothing to answer
            await close_stream(stream, reset=True)
            return
        if self.handler is None:
            await self._answer(stream, STATUS_ERROR, b"no_handler")
            return
        try:
            response = await self.handler(peer, request)
        except PeerMisbehaviour as exc:
            self._on_misbehaviour(peer, exc.reason, self.config.penalty_malformed)
            await self._answer(stream, STATUS_ERROR, exc.reason.encode()[:MAX_ERROR_TEXT_BYTES])
            return
        except Exception:
            log.exception("request_handler_failed", peer=peer, request_bytes=len(request))
            await self._answer(stream, STATUS_ERROR, b"internal_error")
            return
        if len(response) + 1 > self.config.max_response_bytes:
            log.error("response_too_large", peer=peer, response_bytes=len(response))
            await self._answer(stream, STATUS_ERROR, b"response_too_large")
            return
        await self._answer(stream, STATUS_OK, response)

    async def _answer(self, stream: INetStream, status: int, body: bytes) -> None:
        try:
            with trio.fail_after(self.config.request_timeout_s):
                await stream.write(encode_frame(bytes([status]) + body, self.config.max_response_bytes + 1))
        except MessageTooLarge:
            raise  # checked by the caller: a bug if it happens
        except Exception:
            await close_stream(stream, reset=True)
            return
        await close_stream(stream)

    def _penalty(self, frame_reason: str) -> float:
        if frame_reason == "oversized_frame":
            return self.config.penalty_oversized
        return self.config.penalty_malformed
