"""JSON-RPC 2.0 over HTTP/1.1 and WebSocket on one port: h11 + wsproto on plain trio.

`Dispatcher` is the transport-free part: bytes in, bytes out, one call at a time.
`serve` binds a port and runs one task per TCP connection; a connection speaks HTTP with
keep-alive until the client asks to upgrade it to a WebSocket.
"""
from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final, Literal

import h11
import orjson
import structlog
import trio
from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event as WsEvent,
    Ping,
    TextMessage,
)
from wsproto.frame_protocol import CloseReason
from wsproto.utilities import LocalProtocolError as WsLocalProtocolError
from wsproto.utilities import RemoteProtocolError as WsRemoteProtocolError

from node.rpc.errors import (
    INTERNAL_ERROR,
    PARSE_ERROR,
    RpcError,
    invalid_params,
    invalid_request,
    method_not_found,
)

log = structlog.get_logger(__name__)

Method = Callable[..., Awaitable[object]]
Observer = Callable[[str, float, bool], None]

DEFAULT_MAX_BODY_BYTES: Final = 5 * 1024 * 1024
DEFAULT_MAX_BATCH: Final = 1000
RECEIVE_CHUNK_BYTES: Final = 64 * 1024
# An HTTP connection that sends nothing for this long is closed (idle keep-alive, slowloris).
HTTP_IDLE_TIMEOUT_S: Final = 120.0
# After an error response we half-close and read what the client is still sending for at most
# this long, so the client reads our response instead of a TCP reset.
LINGER_TIMEOUT_S: Final = 2.0
UNKNOWN_METHOD_LABEL: Final = "unknown"
CONNECTION_PARAM: Final = "connection"

_CORS_HEADERS: Final = (
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-headers", b"Content-Type, Authorization"),
    (b"access-control-allow-methods", b"POST, GET, OPTIONS"),
)
_PREFLIGHT_HEADERS: Final = ((b"access-control-max-age", b"86400"),)
_JSON: Final = b"application/json"
_TEXT: Final = b"text/plain; charset=utf-8"
_GET_BODY: Final = b"chameleon JSON-RPC 2.0 endpoint: POST requests here, or open a WebSocket\n"


# --- dispatcher ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _MethodSpec:
    """What a method's signature accepts, computed once per method function."""

    func: Method
    min_args: int
    max_args: int | None  # None: the method takes *args
    named: inspect.Signature | None  # signature as seen by clients, for object params
    wants_connection: bool
    is_coroutine: bool


def compute_method_spec(func: Method) -> _MethodSpec:
    """Inspect `func` once: positional arity, named-parameter binding, `connection` injection."""
    is_coroutine = inspect.iscoroutinefunction(func)
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):  # some builtins and C callables: accept anything
        return _MethodSpec(func, 0, None, None, False, is_coroutine)
    min_args = 0
    positional = 0
    varargs = False
    wants_connection = False
    public: list[inspect.Parameter] = []
    for param in signature.parameters.values():
        if param.kind is inspect.Parameter.KEYWORD_ONLY and param.name == CONNECTION_PARAM:
            wants_connection = True
            continue
        public.append(param)
        if param.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
            if param.default is inspect.Parameter.empty:
                min_args = positional
        elif param.kind is inspect.Parameter.VAR_POSITIONAL:
            varargs = True
    return _MethodSpec(
        func=func,
        min_args=min_args,
        max_args=None if varargs else positional,
        named=signature.replace(parameters=public),
        wants_connection=wants_connection,
        is_coroutine=is_coroutine,
    )


def _is_valid_id(value: object) -> bool:
    # JSON-RPC ids are strings, numbers or null; JSON true/false are not numbers.
    return value is None or (type(value) in (str, int, float))


def _error_response(request_id: object, error: RpcError) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}


def _encode_error(request_id: object, error: RpcError) -> bytes:
    return orjson.dumps(_error_response(request_id, error))


_PARSE_ERROR_BYTES: Final = _encode_error(None, RpcError(PARSE_ERROR, "Parse error"))
_EMPTY_BATCH_BYTES: Final = _encode_error(None, invalid_request())
BATCH_TOO_LARGE_MESSAGE: Final = "batch too large"  # geth's words (-32600)


def _encode_response(response: dict[str, object]) -> bytes:
    try:
        return orjson.dumps(response)
    except TypeError as exc:  # a method returned something JSON cannot carry (bytes, int > 64 bit)
        log.error("rpc_result_not_serializable", id=repr(response.get("id")), error=str(exc))
        error = RpcError(INTERNAL_ERROR, f"Internal error: result not serializable: {exc}")
        request_id = response.get("id")
        return _encode_error(request_id if _is_valid_id(request_id) else None, error)


def _batch_too_large(batch: list[object], limit: int) -> bytes:
    """geth's answer to an over-long batch: one -32600 error, in an array, carrying the id of
    the batch's first call (JSON-RPC has no way to fail a whole batch)."""
    request_id = None
    for item in batch:
        if type(item) is dict and "id" in item and _is_valid_id(item["id"]):
            request_id = item["id"]
            break
    message = f"{BATCH_TOO_LARGE_MESSAGE}: {len(batch)} requests, at most {limit} are served"
    return orjson.dumps([_error_response(request_id, invalid_request(message))])


def _encode_batch(responses: list[dict[str, object]]) -> bytes:
    try:
        return orjson.dumps(responses)
    except TypeError:
        return b"[" + b",".join(_encode_response(r) for r in responses) + b"]"


class Dispatcher:
    """Decode JSON-RPC 2.0 requests, call the registered async methods, encode the responses.

    A method is `async def name(*params)`; object params are passed as keyword arguments.
    A method with a keyword-only parameter `connection` also receives the caller's connection:
    a `WebSocketConnection` over WebSocket (which can push messages later), None over HTTP.
    A batch of more than ``max_batch`` requests (0: no limit) is refused as geth refuses it.
    """

    def __init__(
        self,
        methods: Mapping[str, Method],
        *,
        max_batch: int = DEFAULT_MAX_BATCH,
        observe: Observer | None = None,
    ) -> None:
        self._methods = methods
        self._max_batch = max_batch
        self._observe = observe
        self._specs: dict[str, _MethodSpec] = {}

    def _get_spec(self, name: str) -> _MethodSpec | None:
        func = self._methods.get(name)
        if func is None:
            return None
        spec = self._specs.get(name)
        if spec is None or spec.func is not func:  # the mapping may be updated after start
            spec = self._specs[name] = compute_method_spec(func)
        return spec

    async def handle_body(
        self, body: bytes | bytearray | memoryview | str, *, connection: object | None = None
    ) -> bytes | None:
        """Answer one HTTP body or WebSocket message; None when it held only notifications."""
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _PARSE_ERROR_BYTES
        if type(request) is list:
            if not request:
                return _EMPTY_BATCH_BYTES
            if self._max_batch and len(request) > self._max_batch:
                return _batch_too_large(request, self._max_batch)
            responses = []
            for item in request:  # sequentially: a batch of transactions depends on nonce order
                response = await self.handle_request(item, connection=connection)
                if response is not None:
                    responses.append(response)
            return _encode_batch(responses) if responses else None
        response = await self.handle_request(request, connection=connection)
        return None if response is None else _encode_response(response)

    async def handle_request(
        self, request: object, *, connection: object | None = None
    ) -> dict[str, object] | None:
        """Answer one decoded request object; None for a notification (no "id" member)."""
        if type(request) is not dict:
            return _error_response(None, invalid_request())
        is_call = "id" in request
        request_id = request.get("id")
        if is_call and not _is_valid_id(request_id):
            return _error_response(None, invalid_request())
        name = request.get("method")
        params = request.get("params")
        if (
            request.get("jsonrpc") != "2.0"
            or type(name) is not str
            or not (params is None or type(params) is list or type(params) is dict)
        ):
            return _error_response(request_id, invalid_request())

        started = time.perf_counter()
        label = name
        try:
            spec = self._get_spec(name)
            if spec is None:
                label = UNKNOWN_METHOD_LABEL
                raise method_not_found(name)
            result = await self._call(spec, params, connection)
        except RpcError as exc:
            self._report(label, started, ok=False)
            return _error_response(request_id, exc) if is_call else None
        except Exception as exc:
            log.exception("rpc_method_failed", method=name)
            self._report(label, started, ok=False)
            detail = str(exc) or type(exc).__name__
            error = RpcError(INTERNAL_ERROR, f"Internal error: {detail}")
            return _error_response(request_id, error) if is_call else None
        self._report(label, started, ok=True)
        return {"jsonrpc": "2.0", "id": request_id, "result": result} if is_call else None

    @staticmethod
    async def _call(
        spec: _MethodSpec, params: list[object] | dict[str, object] | None, connection: object | None
    ) -> object:
        args: list[object] | tuple[()] = ()
        kwargs: dict[str, object] = {}
        if type(params) is list:
            count = len(params)
            if count < spec.min_args:
                raise invalid_params(f"missing value for required argument {count}")
            if spec.max_args is not None and count > spec.max_args:
                raise invalid_params(f"too many arguments, want at most {spec.max_args}")
            args = params
        elif params is not None:
            assert type(params) is dict
            if spec.named is not None:
                try:
                    spec.named.bind(**params)
                except TypeError as exc:
                    raise invalid_params(str(exc)) from None
            kwargs = params
        elif spec.min_args:
            raise invalid_params("missing value for required argument 0")
        if spec.wants_connection:
            kwargs = {**kwargs, CONNECTION_PARAM: connection}
        result = spec.func(*args, **kwargs)
        if spec.is_coroutine or inspect.isawaitable(result):
            result = await result  # type: ignore[misc]
        return result

    def _report(self, label: str, started: float, *, ok: bool) -> None:
        if self._observe is None:
            return
        try:
            self._observe(label, time.perf_counter() - started, ok)
        except Exception:
            log.exception("rpc_observe_failed", method=label)


# --- websocket --------------------------------------------------------------------------------


class WebSocketConnection:
    """One upgraded WebSocket. Methods that take `connection` get this to push messages.

    `nursery` lives as long as the socket: a later `eth_subscribe` can start its feeder task
    there and it is cancelled when the client goes away.
    """

    def __init__(self, stream: trio.abc.Stream, ws: WSConnection) -> None:
        self._stream = stream
        self._ws = ws
        self._send_lock = trio.Lock()
        self._closed = False
        self.nursery: trio.Nursery | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    async def send_json(self, obj: object) -> bool:
        """Send `obj` as one text message; False (and nothing sent) once the socket is closed."""
        return await self._send(TextMessage(data=orjson.dumps(obj).decode()))

    async def _send(self, event: WsEvent) -> bool:
        async with self._send_lock:  # pushes from other tasks interleave with responses
            if self._closed:
                return False
            try:
                await self._stream.send_all(self._ws.send(event))
            except (trio.BrokenResourceError, trio.ClosedResourceError, WsLocalProtocolError):
                self._closed = True
                return False
        return True

    async def run(self, dispatcher: Dispatcher, max_message_bytes: int) -> None:
        """Answer requests until either side closes; then cancel this connection's tasks."""
        try:
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                await self._serve(dispatcher, max_message_bytes)
                nursery.cancel_scope.cancel()
        finally:
            self._closed = True

    async def _serve(self, dispatcher: Dispatcher, max_message_bytes: int) -> None:
        parts: list[str | bytes | bytearray] = []
        size = 0
        try:
            while True:
                for event in self._ws.events():
                    if isinstance(event, (TextMessage, BytesMessage)):
                        size += len(event.data)
                        if size > max_message_bytes:
                            close = CloseConnection(CloseReason.MESSAGE_TOO_BIG, "message too big")
                            await self._send(close)
                            return
                        parts.append(event.data)
                        if not event.message_finished:
                            continue
                        if len(parts) == 1:
                            body = parts[0]
                        elif isinstance(event, TextMessage):
                            body = "".join(parts)  # type: ignore[arg-type]
                        else:
                            body = b"".join(parts)  # type: ignore[arg-type]
                        parts, size = [], 0
                        response = await dispatcher.handle_body(body, connection=self)
                        if response is not None and not await self._send(
                            TextMessage(data=response.decode())
                        ):
                            return
                    elif isinstance(event, Ping):
                        await self._send(event.response())
                    elif isinstance(event, CloseConnection):
                        if self._ws.state is ConnectionState.REMOTE_CLOSING:
                            await self._send(event.response())
                        elif self._ws.state is ConnectionState.OPEN:  # we found a protocol error
                            await self._send(CloseConnection(event.code, event.reason))
                        return
                if self._closed:
                    return
                data = await self._stream.receive_some(RECEIVE_CHUNK_BYTES)
                if not data:
                    return
                self._ws.receive_data(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            log.debug("rpc_ws_client_disconnected")


# --- http --------------------------------------------------------------------------------------

_Outcome = Literal["keep", "close", "linger"]


@functools.cache
def _get_reason(status: int) -> bytes:
    return HTTPStatus(status).phrase.encode()


def _get_header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes | None:
    for key, value in headers:
        if key == name:
            return value
    return None


class _HttpConnection:
    """One TCP connection: HTTP/1.1 requests with keep-alive, or a WebSocket after upgrade."""

    def __init__(self, stream: trio.SocketStream, dispatcher: Dispatcher, max_body_bytes: int):
        self._stream = stream
        self._dispatcher = dispatcher
        self._max_body_bytes = max_body_bytes
        self._h11 = h11.Connection(h11.SERVER)
        self._peer_closed = False
        self._request_method = b""

    async def run(self) -> None:
        linger = False
        try:
            linger = await self._serve()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            log.debug("rpc_client_disconnected")
        except trio.TooSlowError:
            log.debug("rpc_client_idle_timeout")
        except Exception:
            log.exception("rpc_connection_failed")
        finally:
            try:
                if linger:
                    await self._linger()
            finally:
                await trio.aclose_forcefully(self._stream)

    async def _serve(self) -> bool:
        """Serve requests until the connection should close; True to linger before closing."""
        while True:
            try:
                event = await self._next_event()
                if not isinstance(event, h11.Request):  # ConnectionClosed: client is done
                    return False
                self._request_method = event.method
                outcome = await self._handle_request(event)
            except h11.RemoteProtocolError as exc:
                if self._peer_closed:  # gone mid-request: nobody to answer
                    return False
                await self._respond_bad_request(exc)
                return True
            if outcome != "keep":
                return outcome == "linger"
            if self._h11.our_state is not h11.DONE or self._h11.their_state is not h11.DONE:
                return False  # MUST_CLOSE (Connection: close, HTTP/1.0) or an unread body
            self._h11.start_next_cycle()

    async def _next_event(self) -> object:
        while True:
            event = self._h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            with trio.fail_after(HTTP_IDLE_TIMEOUT_S):
                data = await self._stream.receive_some(RECEIVE_CHUNK_BYTES)
            if not data:
                self._peer_closed = True
            self._h11.receive_data(data)

    async def _handle_request(self, request: h11.Request) -> _Outcome:
        method = request.method
        if method == b"POST":
            return await self._handle_post(request)
        upgrade = _get_header(request.headers, b"upgrade")
        if method == b"GET" and upgrade is not None and b"websocket" in upgrade.lower():
            await self._handle_websocket(request)
            return "close"
        if not await self._discard_body():
            await self._respond_too_large()
            return "linger"
        if method == b"GET" or method == b"HEAD":
            await self._respond(200, _GET_BODY, _TEXT)
        elif method == b"OPTIONS":
            await self._respond(204, b"", None, _PREFLIGHT_HEADERS)
        else:
            await self._respond(405, b"method not allowed\n", _TEXT, ((b"allow", b"GET, POST, OPTIONS"),))
        return "keep"

    async def _handle_post(self, request: h11.Request) -> _Outcome:
        length = _get_header(request.headers, b"content-length")
        if length is not None and int(length) > self._max_body_bytes:
            await self._respond_too_large()
            return "linger"
        if self._h11.they_are_waiting_for_100_continue:  # curl does this for bodies over 1 KiB
            await self._stream.send_all(
                self._h11.send(h11.InformationalResponse(status_code=100, headers=[])) or b""
            )
        body = await self._read_body()
        if body is None:
            await self._respond_too_large()
            return "linger"
        response = await self._dispatcher.handle_body(body)
        await self._respond(200, response or b"", _JSON)
        return "keep"

    async def _read_body(self) -> bytes | None:
        """Return the request body, or None once it grows past max_body_bytes."""
        chunks: list[bytes] = []
        size = 0
        while True:
            event = await self._next_event()
            if type(event) is h11.Data:
                size += len(event.data)
                if size > self._max_body_bytes:
                    return None
                chunks.append(event.data)
            elif type(event) is h11.EndOfMessage:
                return chunks[0] if len(chunks) == 1 else b"".join(chunks)
            else:  # h11 raises for a truncated body; anything else is a bug in this loop
                raise RuntimeError(f"unexpected h11 event {event!r}")

    async def _discard_body(self) -> bool:
        return await self._read_body() is not None

    async def _respond(
        self,
        status: int,
        body: bytes,
        content_type: bytes | None,
        extra: tuple[tuple[bytes, bytes], ...] = (),
        *,
        close: bool = False,
    ) -> None:
        headers = [*_CORS_HEADERS, *extra]
        if content_type is not None:
            headers.append((b"content-type", content_type))
        if status != 204:
            headers.append((b"content-length", b"%d" % len(body)))
        if close:
            headers.append((b"connection", b"close"))
        response = h11.Response(status_code=status, headers=headers, reason=_get_reason(status))
        data = self._h11.send(response) or b""
        if body and self._request_method != b"HEAD":
            data += self._h11.send(h11.Data(data=body)) or b""
        data += self._h11.send(h11.EndOfMessage()) or b""
        await self._stream.send_all(data)

    async def _respond_too_large(self) -> None:
        message = f"request body too large (max {self._max_body_bytes} bytes)"
        body = _encode_error(None, invalid_request(message))
        await self._respond(413, body, _JSON, close=True)

    async def _respond_bad_request(self, exc: h11.RemoteProtocolError) -> None:
        log.debug("rpc_bad_http_request", error=str(exc))
        if self._h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        body = f"bad request: {exc}\n".encode()
        try:
            await self._respond(exc.error_status_hint, body, _TEXT, close=True)
        except h11.LocalProtocolError:
            pass

    async def _handle_websocket(self, request: h11.Request) -> None:
        # Read to the end of the request; h11 then pauses, holding any bytes the client sent
        # after it (the first WebSocket frames) in trailing_data.
        if not await self._discard_body():
            await self._respond_too_large()
            return
        ws = WSConnection(ConnectionType.SERVER)
        try:
            ws.initiate_upgrade_connection(request.headers, request.target)
            for _ in ws.events():  # the wsproto Request; we accept every path and subprotocol
                pass
        except (WsRemoteProtocolError, h11.ProtocolError) as exc:
            log.debug("rpc_bad_ws_upgrade", error=str(exc))
            await self._respond(400, f"bad websocket upgrade: {exc}\n".encode(), _TEXT, close=True)
            return
        trailing, peer_closed = self._h11.trailing_data
        await self._stream.send_all(ws.send(AcceptConnection()))
        if trailing:
            ws.receive_data(trailing)
        if peer_closed:
            ws.receive_data(None)
        await WebSocketConnection(self._stream, ws).run(self._dispatcher, self._max_body_bytes)

    async def _linger(self) -> None:
        """Half-close, then drain the client's unread bytes so it sees our response, not RST."""
        with trio.move_on_after(LINGER_TIMEOUT_S):
            try:
                await self._stream.send_eof()
                while await self._stream.receive_some(RECEIVE_CHUNK_BYTES):
                    pass
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass


# --- server ------------------------------------------------------------------------------------


def _get_listener_port(listener: trio.SocketListener) -> int:
    return int(listener.socket.getsockname()[1])


async def _open_listeners(host: str | None, port: int) -> list[trio.SocketListener]:
    listeners = await trio.open_tcp_listeners(port, host=host)
    if port == 0 and len({_get_listener_port(listener) for listener in listeners}) > 1:
        # Port 0 gave each address family its own random port; rebind all on the first one.
        chosen = _get_listener_port(listeners[0])
        for listener in listeners:
            await listener.aclose()
        listeners = await trio.open_tcp_listeners(chosen, host=host)
    return listeners


async def serve(
    dispatcher: Dispatcher,
    host: str | None,
    port: int,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve JSON-RPC over HTTP and WebSocket on host:port until cancelled.

    Reports the bound port through `task_status.started` (useful with port 0).
    """
    listeners = await _open_listeners(host, port)
    bound_port = _get_listener_port(listeners[0])
    log.info("rpc_server_listening", host=host, port=bound_port)

    async def handle_connection(stream: trio.SocketStream) -> None:
        await _HttpConnection(stream, dispatcher, max_body_bytes).run()

    task_status.started(bound_port)
    await trio.serve_listeners(handle_connection, listeners)
