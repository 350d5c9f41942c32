"""The JSON-RPC 2.0 transport: Dispatcher semantics, then HTTP and WebSocket over real sockets."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import h11
import orjson
import pytest
import trio
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    Request,
    TextMessage,
)

from node.rpc.errors import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    RpcError,
    invalid_params,
)
from node.rpc.server import Dispatcher, WebSocketConnection, serve

HOST = "127.0.0.1"


# --- the methods under test --------------------------------------------------------------------


class Methods:
    """A method table that records what it was called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.observed: list[tuple[str, bool]] = []

    def table(self) -> dict[str, object]:
        return {
            "echo": self.echo,
            "add": self.add,
            "greet": self.greet,
            "record": self.record,
            "revert": self.revert,
            "boom": self.boom,
            "varargs": self.varargs,
            "bad_result": self.bad_result,
            "whoami": self.whoami,
            "push_then_answer": self.push_then_answer,
            "sync_sum": lambda a, b: a + b,
            "slow": self.slow,
        }

    def observe(self, method: str, seconds: float, ok: bool) -> None:
        assert seconds >= 0
        self.observed.append((method, ok))

    async def echo(self, value: object) -> object:
        return value

    async def add(self, a: int, b: int = 0) -> int:
        return a + b

    async def greet(self, name: str, punctuation: str = "!") -> str:
        return f"hello {name}{punctuation}"

    async def record(self, value: object) -> None:
        self.calls.append(("record", value))

    async def revert(self) -> None:
        raise RpcError(3, "execution reverted: nope", "0x08c379a0")

    async def boom(self) -> None:
        raise ValueError("kaboom")

    async def varargs(self, *values: object) -> int:
        return len(values)

    async def bad_result(self) -> bytes:
        return b"\x00raw bytes are not JSON"

    async def whoami(self, *, connection: WebSocketConnection | None) -> str:
        return "http" if connection is None else "ws"

    async def push_then_answer(self, tag: str, *, connection: WebSocketConnection | None) -> str:
        assert connection is not None
        await connection.send_json({"jsonrpc": "2.0", "method": "pushed", "params": [tag]})
        return "answered"

    async def slow(self, seconds: float) -> str:
        await trio.sleep(seconds)
        return "done"


@pytest.fixture
def methods() -> Methods:
    return Methods()


@pytest.fixture
def dispatcher(methods: Methods) -> Dispatcher:
    return Dispatcher(methods.table(), max_batch=5, observe=methods.observe)


async def call(dispatcher: Dispatcher, request: object) -> object:
    """Send one decoded request (or batch) through handle_body; decode the answer."""
    body = request if isinstance(request, bytes) else orjson.dumps(request)
    response = await dispatcher.handle_body(body)
    return None if response is None else orjson.loads(response)


def req(method: str, params: object = None, id: object = 1) -> dict[str, object]:
    message: dict[str, object] = {"jsonrpc": "2.0", "method": method, "id": id}
    if params is not None:
        message["params"] = params
    return message


# --- dispatcher --------------------------------------------------------------------------------


async def test_single_call_echoes_id_and_result(dispatcher: Dispatcher) -> None:
    assert await call(dispatcher, req("add", [2, 3], id=7)) == {"jsonrpc": "2.0", "id": 7, "result": 5}


@pytest.mark.parametrize("request_id", [0, 7, "abc", "", None, 1.5, 2**62])
async def test_id_keeps_its_value_and_type(dispatcher: Dispatcher, request_id: object) -> None:
    response = await call(dispatcher, req("echo", ["x"], id=request_id))
    assert response == {"jsonrpc": "2.0", "id": request_id, "result": "x"}
    assert type(response["id"]) is type(request_id)  # type: ignore[index]


async def test_named_params_are_keyword_arguments(dispatcher: Dispatcher) -> None:
    response = await call(dispatcher, req("greet", {"name": "ada", "punctuation": "?"}))
    assert response["result"] == "hello ada?"  # type: ignore[index]
    response = await call(dispatcher, req("greet", {"name": "ada"}))
    assert response["result"] == "hello ada!"  # type: ignore[index]


async def test_named_params_that_do_not_fit_are_invalid_params(dispatcher: Dispatcher) -> None:
    missing = await call(dispatcher, req("greet", {"punctuation": "?"}))
    assert missing["error"]["code"] == INVALID_PARAMS  # type: ignore[index]
    assert "name" in missing["error"]["message"]  # type: ignore[index]
    unknown = await call(dispatcher, req("greet", {"name": "a", "colour": "red"}))
    assert unknown["error"]["code"] == INVALID_PARAMS  # type: ignore[index]
    assert "colour" in unknown["error"]["message"]  # type: ignore[index]


@pytest.mark.parametrize("extra", [{}, {"params": None}, {"params": []}])
async def test_params_may_be_omitted_or_null(dispatcher: Dispatcher, extra: dict) -> None:
    message = {"jsonrpc": "2.0", "method": "varargs", "id": 1, **extra}
    assert await call(dispatcher, message) == {"jsonrpc": "2.0", "id": 1, "result": 0}


async def test_missing_params_for_a_required_argument(dispatcher: Dispatcher) -> None:
    response = await call(dispatcher, {"jsonrpc": "2.0", "method": "add", "id": 1})
    assert response["error"] == {  # type: ignore[index]
        "code": INVALID_PARAMS,
        "message": "missing value for required argument 0",
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([], "missing value for required argument 0"),
        ([1, 2, 3], "too many arguments, want at most 2"),
    ],
)
async def test_wrong_argument_count_is_invalid_params(
    dispatcher: Dispatcher, params: list[int], message: str
) -> None:
    response = await call(dispatcher, req("add", params, id=4))
    assert response == {
        "jsonrpc": "2.0",
        "id": 4,
        "error": {"code": INVALID_PARAMS, "message": message},
    }


async def test_optional_and_variadic_arguments(dispatcher: Dispatcher) -> None:
    assert (await call(dispatcher, req("add", [5])))["result"] == 5  # type: ignore[index]
    assert (await call(dispatcher, req("varargs", list(range(9)))))["result"] == 9  # type: ignore[index]


async def test_sync_method_is_called_too(dispatcher: Dispatcher) -> None:
    assert (await call(dispatcher, req("sync_sum", [1, 2])))["result"] == 3  # type: ignore[index]


async def test_unknown_method_uses_geth_wording(dispatcher: Dispatcher, methods: Methods) -> None:
    response = await call(dispatcher, req("foo_bar", [], id="q"))
    assert response == {
        "jsonrpc": "2.0",
        "id": "q",
        "error": {
            "code": METHOD_NOT_FOUND,
            "message": "the method foo_bar does not exist/is not available",
        },
    }
    assert methods.observed == [("unknown", False)]


async def test_parse_error_has_null_id(dispatcher: Dispatcher) -> None:
    for body in (b'{"jsonrpc": "2.0", "method"', b"", b"\xff\xfe", b"NaN"):
        assert await call(dispatcher, body) == {
            "jsonrpc": "2.0",
            "id": None,
            "error": {"code": PARSE_ERROR, "message": "Parse error"},
        }


@pytest.mark.parametrize(
    ("message", "expected_id"),
    [
        (1, None),
        ("echo", None),
        (None, None),
        (True, None),
        ({}, None),
        ({"jsonrpc": "2.0", "id": 1}, 1),  # no method
        ({"jsonrpc": "2.0", "method": 5, "id": 2}, 2),  # method not a string
        ({"jsonrpc": "1.0", "method": "echo", "params": [1], "id": 3}, 3),
        ({"method": "echo", "params": [1], "id": "4"}, "4"),  # no jsonrpc member
        ({"jsonrpc": "2.0", "method": "echo", "params": "x", "id": 5}, 5),  # params not list/object
        ({"jsonrpc": "2.0", "method": "echo", "params": 5, "id": 6}, 6),
        ({"jsonrpc": "2.0", "method": "echo", "params": [1], "id": {"a": 1}}, None),  # bad ids
        ({"jsonrpc": "2.0", "method": "echo", "params": [1], "id": [1]}, None),
        ({"jsonrpc": "2.0", "method": "echo", "params": [1], "id": True}, None),
        ({"jsonrpc": "2.0", "method": "echo", "params": "x"}, None),  # invalid: not a notification
    ],
)
async def test_invalid_request_shapes(
    dispatcher: Dispatcher, methods: Methods, message: object, expected_id: object
) -> None:
    assert await call(dispatcher, message) == {
        "jsonrpc": "2.0",
        "id": expected_id,
        "error": {"code": INVALID_REQUEST, "message": "Invalid Request"},
    }
    assert methods.observed == []  # nothing was called


async def test_rpc_error_is_returned_with_data(dispatcher: Dispatcher) -> None:
    response = await call(dispatcher, req("revert", [], id=2))
    assert response == {
        "jsonrpc": "2.0",
        "id": 2,
        "error": {"code": 3, "message": "execution reverted: nope", "data": "0x08c379a0"},
    }


async def test_rpc_error_without_data_omits_the_member() -> None:
    async def nonce_too_low() -> None:
        raise RpcError(-32000, "nonce too low")

    dispatcher = Dispatcher({"eth_sendRawTransaction": nonce_too_low})
    response = await call(dispatcher, req("eth_sendRawTransaction"))
    assert response["error"] == {"code": -32000, "message": "nonce too low"}  # type: ignore[index]


def test_invalid_params_helper() -> None:
    error = invalid_params("bad address")
    assert (error.code, error.message, error.data) == (INVALID_PARAMS, "bad address", None)
    assert isinstance(error, Exception)


async def test_other_exception_is_internal_error(dispatcher: Dispatcher, methods: Methods) -> None:
    response = await call(dispatcher, req("boom", [], id=9))
    assert response == {
        "jsonrpc": "2.0",
        "id": 9,
        "error": {"code": INTERNAL_ERROR, "message": "Internal error: kaboom"},
    }
    assert (await call(dispatcher, req("echo", [1])))["result"] == 1  # type: ignore[index]
    assert methods.observed == [("boom", False), ("echo", True)]


async def test_unserializable_result_is_internal_error(dispatcher: Dispatcher) -> None:
    response = await call(dispatcher, req("bad_result", [], id=3))
    assert response["id"] == 3  # type: ignore[index]
    assert response["error"]["code"] == INTERNAL_ERROR  # type: ignore[index]
    batch = await call(dispatcher, [req("bad_result", [], id=1), req("echo", ["ok"], id=2)])
    assert batch[0]["error"]["code"] == INTERNAL_ERROR  # type: ignore[index]
    assert batch[1] == {"jsonrpc": "2.0", "id": 2, "result": "ok"}  # type: ignore[index]


async def test_notification_gets_no_response_but_runs(
    dispatcher: Dispatcher, methods: Methods
) -> None:
    message = {"jsonrpc": "2.0", "method": "record", "params": ["n"]}
    assert await call(dispatcher, message) is None
    assert methods.calls == [("record", "n")]
    # errors of notifications are not reported either
    assert await call(dispatcher, {"jsonrpc": "2.0", "method": "nope"}) is None
    assert await call(dispatcher, {"jsonrpc": "2.0", "method": "boom"}) is None


async def test_batch_keeps_order_and_drops_notifications(
    dispatcher: Dispatcher, methods: Methods
) -> None:
    batch = [
        req("add", [1, 1], id="a"),
        {"jsonrpc": "2.0", "method": "record", "params": ["note"]},
        req("nope", [], id="b"),
        5,
        req("echo", [None], id="c"),
    ]
    response = await call(dispatcher, batch)
    assert response == [
        {"jsonrpc": "2.0", "id": "a", "result": 2},
        {
            "jsonrpc": "2.0",
            "id": "b",
            "error": {"code": METHOD_NOT_FOUND, "message": "the method nope does not exist/is not available"},
        },
        {"jsonrpc": "2.0", "id": None, "error": {"code": INVALID_REQUEST, "message": "Invalid Request"}},
        {"jsonrpc": "2.0", "id": "c", "result": None},
    ]
    assert methods.calls == [("record", "note")]
    assert methods.observed == [("add", True), ("record", True), ("unknown", False), ("echo", True)]


async def test_batch_runs_sequentially(methods: Methods) -> None:
    order: list[str] = []

    async def step(name: str, delay: float) -> str:
        order.append(f"start {name}")
        await trio.sleep(delay)
        order.append(f"end {name}")
        return name

    dispatcher = Dispatcher({"step": step})
    response = await call(dispatcher, [req("step", ["a", 0.02], id=1), req("step", ["b", 0], id=2)])
    assert [r["result"] for r in response] == ["a", "b"]  # type: ignore[union-attr, index]
    assert order == ["start a", "end a", "start b", "end b"]


async def test_batch_of_notifications_only_gets_no_response(dispatcher: Dispatcher) -> None:
    batch = [{"jsonrpc": "2.0", "method": "record", "params": [i]} for i in range(3)]
    assert await call(dispatcher, batch) is None


async def test_empty_batch_is_one_invalid_request(dispatcher: Dispatcher) -> None:
    assert await call(dispatcher, []) == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": INVALID_REQUEST, "message": "Invalid Request"},
    }


async def test_batch_too_large(dispatcher: Dispatcher, methods: Methods) -> None:
    assert len(await call(dispatcher, [req("echo", [i], id=i) for i in range(5)])) == 5  # type: ignore[arg-type]
    # As geth: one error in an array, carrying the id of the batch's first call.
    response = await call(dispatcher, [{"jsonrpc": "2.0", "method": "record", "params": [0]}]
                          + [req("echo", [i], id=i + 10) for i in range(5)])
    assert response == [{
        "jsonrpc": "2.0",
        "id": 10,
        "error": {"code": INVALID_REQUEST, "message": "batch too large: 6 requests, at most 5 are served"},
    }]
    assert methods.calls == []  # nothing of it ran
    assert len(await call(Dispatcher(methods.table(), max_batch=0), [req("echo", [i], id=i) for i in range(50)])) == 50  # type: ignore[arg-type]


async def test_signature_is_inspected_once_per_method(monkeypatch: pytest.MonkeyPatch) -> None:
    import inspect

    seen: list[object] = []
    real = inspect.signature

    def counting_signature(obj: object, *args: object, **kwargs: object) -> inspect.Signature:
        seen.append(obj)
        return real(obj, *args, **kwargs)  # type: ignore[arg-type]

    async def one(x: int) -> int:
        return x

    async def two(x: int) -> int:
        return 2 * x

    table = {"m": one}
    dispatcher = Dispatcher(table)
    monkeypatch.setattr(inspect, "signature", counting_signature)
    for _ in range(3):
        await call(dispatcher, req("m", [1]))
    assert seen == [one]
    table["m"] = two  # a replaced method is inspected afresh
    assert (await call(dispatcher, req("m", [4])))["result"] == 8  # type: ignore[index]
    assert seen == [one, two]


async def test_connection_is_none_over_plain_dispatch(dispatcher: Dispatcher) -> None:
    assert (await call(dispatcher, req("whoami")))["result"] == "http"  # type: ignore[index]
    response = await call(dispatcher, req("whoami", {"connection": "spoof"}))
    assert response["error"]["code"] == INVALID_PARAMS  # type: ignore[index]


async def test_failing_observer_does_not_fail_the_call() -> None:
    def observe(method: str, seconds: float, ok: bool) -> None:
        raise RuntimeError("metrics down")

    async def echo(value: object) -> object:
        return value

    dispatcher = Dispatcher({"echo": echo}, observe=observe)
    assert (await call(dispatcher, req("echo", [1])))["result"] == 1  # type: ignore[index]


# --- a tiny HTTP client ------------------------------------------------------------------------


class HttpResponse:
    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.headers = {name.lower(): value for name, value in headers}
        self.body = body

    def json(self) -> object:
        return orjson.loads(self.body)


class HttpClient:
    """Speaks HTTP/1.1 with keep-alive over one trio TCP stream, using h11's client side."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.conn = h11.Connection(h11.CLIENT)

    async def request(
        self,
        method: str = "POST",
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        target: str = "/",
    ) -> HttpResponse:
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        all_headers = [("host", "localhost"), *(headers or [])]
        if method in ("POST", "PUT") and not any(k.lower() == "content-length" for k, _ in all_headers):
            all_headers.append(("content-length", str(len(body))))
        data = self.conn.send(h11.Request(method=method, target=target, headers=all_headers))
        if body:
            data += self.conn.send(h11.Data(data=body))
        data += self.conn.send(h11.EndOfMessage())
        await self.stream.send_all(data)
        return await self.read_response()

    def pretend_sent(self, method: str) -> None:
        """Move h11's client side past a request that was written as raw bytes."""
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        self.conn.send(h11.Request(method=method, target="/", headers=[("host", "x"), ("content-length", "0")]))
        self.conn.send(h11.EndOfMessage())

    async def read_response(self) -> HttpResponse:
        response = None
        chunks = []
        while True:
            event = self.conn.next_event()
            if event is h11.NEED_DATA:
                self.conn.receive_data(await self.stream.receive_some(65536))
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                chunks.append(event.data)
            elif isinstance(event, h11.EndOfMessage):
                assert response is not None
                return HttpResponse(response.status_code, list(response.headers), b"".join(chunks))
            elif isinstance(event, h11.InformationalResponse):
                continue
            else:
                raise AssertionError(f"unexpected {event!r}")

    async def rpc(self, message: object) -> object:
        response = await self.request(body=orjson.dumps(message), headers=[("content-type", "application/json")])
        assert response.status == 200
        assert response.headers[b"content-type"] == b"application/json"
        return response.json()


async def read_until_closed(stream: trio.SocketStream) -> bytes:
    data = b""
    with trio.fail_after(5):
        while chunk := await stream.receive_some(65536):
            data += chunk
    return data


@asynccontextmanager
async def running_server(methods: Methods, **kwargs: object) -> AsyncIterator[int]:
    dispatcher = Dispatcher(methods.table(), max_batch=5, observe=methods.observe)
    async with trio.open_nursery() as nursery:
        port = await nursery.start(lambda task_status: serve(dispatcher, HOST, 0, task_status=task_status, **kwargs))
        yield port
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def http_client(port: int) -> AsyncIterator[HttpClient]:
    stream = await trio.open_tcp_stream(HOST, port)
    try:
        yield HttpClient(stream)
    finally:
        await stream.aclose()


# --- http --------------------------------------------------------------------------------------


async def test_serve_reports_the_real_port(methods: Methods) -> None:
    async with running_server(methods) as port:
        assert port > 0


async def test_http_single_call(methods: Methods) -> None:
    async with running_server(methods) as port, http_client(port) as client:
        response = await client.request(body=orjson.dumps(req("add", [20, 22], id=1)))
        assert response.status == 200
        assert response.headers[b"content-type"] == b"application/json"
        assert response.headers[b"access-control-allow-origin"] == b"*"
        assert response.json() == {"jsonrpc": "2.0", "id": 1, "result": 42}


async def test_http_named_params_and_connection_is_none(methods: Methods) -> None:
    async with running_server(methods) as port, http_client(port) as client:
        assert (await client.rpc(req("greet", {"name": "bob"})))["result"] == "hello bob!"  # type: ignore[index]
        assert (await client.rpc(req("whoami")))["result"] == "http"  # type: ignore[index]


async def test_http_batch_with_notification(methods: Methods) -> None:
    async with running_server(methods) as port, http_client(port) as client:
        batch = [
            req("echo", ["a"], id=1),
            {"jsonrpc": "2.0", "method": "record", "params": ["quiet"]},
            req("echo", ["b"], id=2),
        ]
        assert await client.rpc(batch) == [
            {"jsonrpc": "2.0", "id": 1, "result": "a"},
            {"jsonrpc": "2.0", "id": 2, "result": "b"},
        ]
        assert methods.calls == [("record", "quiet")]


async def test_http_notification_only_gets_empty_200(methods: Methods) -> None:
    async with running_server(methods) as port, http_client(port) as client:
        response = await client.request(body=orjson.dumps({"jsonrpc": "2.0", "method": "record", "params": [1]}))
        assert (response.status, response.body) == (200, b"")
        assert (await client.rpc(req("echo", [2])))["result"] == 2  # type: ignore[index]


async def test_http_error_cases(methods: Methods) -> None:
    async with running_server(methods) as port, http_client(port) as client:
        assert (await client.rpc([]))["error"]["code"] == INVALID_REQUEST  # type: ignore[index]
        too_many = await client.rpc([req("echo", [i], id=i) for i in range(6)])
        assert too_many[0]["error"]["code"] == INVALID_REQUEST  # type: ignore[index]
        assert too_many[0]["error"]["message"].startswith("batch too large")  # type: ignore[index]
        parse = await client.request(body=b"{not json")
        assert parse.status == 200
        assert parse.json()["error"]["code"] == PARSE_ERROR  # type: ignore[index]
        assert (await client.rpc({"jsonrpc": "2.0", "id": 1}))["error"]["code"] == INVALID_REQUEST  # type: ignore[index]
        assert (await client.rpc(req("nope")))["error"]["code"] == METHOD_NOT_FOUND  # type: ignore[index]
        assert (await client.rpc(req("add", [1, 2, 3])))["error"]["code"] == INVALID_PARAMS  # type: ignore[index]
        reverted = await client.rpc(req("revert", id=5))
        assert reverted["error"] == {"code": 3, "message": "execution reverted: nope", "data": "0x08c379a0"}  # type: ignore[index]


async def test_http_internal_error_then_next_request_is_served(methods: Methods) -> None:
    async with running_server(methods) as port:
        async with http_client(port) as client:
            response = await client.rpc(req("boom", id=1))
            assert response["error"] == {"code": INTERNAL_ERROR, "message": "Internal error: kaboom"}  # type: ignore[index]
            assert (await client.rpc(req("echo", ["still here"])))["result"] == "still here"  # type: ignore[index]
        async with http_client(port) as client:
            assert (await client.rpc(req("echo", ["new connection"])))["result"] == "new connection"  # type: ignore[index]


async def test_http_keep_alive_serves_many_requests_on_one_connection(methods: Methods) -> None:
    async with running_server(methods) as port, http_client(port) as client:
        for i in range(5):
            assert (await client.rpc(req("echo", [i], id=i)))["result"] == i  # type: ignore[index]


async def test_http_two_pipelined_requests_in_one_write(methods: Methods) -> None:
    async with running_server(methods) as port, http_client(port) as client:
        raw = b""
        for i in (1, 2):
            body = orjson.dumps(req("echo", [i], id=i))
            raw += b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        await client.stream.send_all(raw)
        responses = []
        for _ in (1, 2):
            client.pretend_sent("POST")  # the raw bytes above were the real requests
            responses.append(await client.read_response())
        first, second = responses
        assert [first.json()["id"], second.json()["id"]] == [1, 2]  # type: ignore[index]


async def test_http_connection_close_is_honoured(methods: Methods) -> None:
    async with running_server(methods) as port, http_client(port) as client:
        response = await client.request(body=orjson.dumps(req("echo", [1])), headers=[("connection", "close")])
        assert response.status == 200
        assert await read_until_closed(client.stream) == b""


async def test_http_wrong_or_missing_content_type_is_tolerated(methods: Methods) -> None:
    async with running_server(methods) as port, http_client(port) as client:
        body = orjson.dumps(req("echo", ["x"]))
        for headers in ([], [("content-type", "text/plain")], [("content-type", "application/x-www-form-urlencoded")]):
            response = await client.request(body=body, headers=headers)
            assert response.json()["result"] == "x"  # type: ignore[index]


async def test_http_chunked_body_and_expect_continue(methods: Methods) -> None:
    async with running_server(methods) as port, http_client(port) as client:
        body = orjson.dumps(req("echo", ["y" * 5000]))
        await client.stream.send_all(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
        )
        continue_line = await client.stream.receive_some(1024)
        assert continue_line.startswith(b"HTTP/1.1 100 ")
        await client.stream.send_all(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        response = await client.read_response()
        assert response.json()["result"] == "y" * 5000  # type: ignore[index]


async def test_http_oversized_body_is_413_and_closed(methods: Methods) -> None:
    async with running_server(methods, max_body_bytes=1000) as port:
        async with http_client(port) as client:
            response = await client.request(body=b"[" + b"1," * 5000 + b"1]")
            assert response.status == 413
            assert response.headers[b"connection"] == b"close"
            assert response.headers[b"access-control-allow-origin"] == b"*"
            error = response.json()["error"]  # type: ignore[index]
            assert error["code"] == INVALID_REQUEST
            assert error["message"].startswith("request body too large")
            assert await read_until_closed(client.stream) == b""
        async with http_client(port) as client:  # chunked, so no Content-Length to check up front
            await client.stream.send_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(3):
                await client.stream.send_all(b"200\r\n" + b" " * 0x200 + b"\r\n")
            response = await client.read_response()
            assert response.status == 413
        async with http_client(port) as client:
            assert (await client.rpc(req("echo", [1])))["result"] == 1  # type: ignore[index]


async def test_malformed_http_is_400_and_server_survives(methods: Methods) -> None:
    async with running_server(methods) as port:
        for garbage in (b"this is not http\r\n\r\n", b"POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n", b"\x16\x03\x01\x02\x00"):
            stream = await trio.open_tcp_stream(HOST, port)
            await stream.send_all(garbage)
            if not garbage.endswith(b"\r\n\r\n"):
                await stream.send_eof()
            raw = await read_until_closed(stream)
            await stream.aclose()
            assert raw.startswith(b"HTTP/1.1 400 "), raw
            assert b"access-control-allow-origin: *" in raw.lower()
        async with http_client(port) as client:
            assert (await client.rpc(req("echo", ["ok"])))["result"] == "ok"  # type: ignore[index]


async def test_http_1_0_request_is_answered_then_closed(methods: Methods) -> None:
    async with running_server(methods) as port:
        stream = await trio.open_tcp_stream(HOST, port)
        body = orjson.dumps(req("echo", ["old"], id=1))
        await stream.send_all(b"POST / HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        raw = await read_until_closed(stream)
        await stream.aclose()
        assert raw.startswith(b"HTTP/1.1 200 ")
        assert orjson.loads(raw.split(b"\r\n\r\n", 1)[1]) == {"jsonrpc": "2.0", "id": 1, "result": "old"}


async def test_idle_keep_alive_connection_is_closed(
    methods: Methods, monkeypatch: pytest.MonkeyPatch
) -> None:
    from node.rpc import server

    monkeypatch.setattr(server, "HTTP_IDLE_TIMEOUT_S", 0.1)
    async with running_server(methods) as port, http_client(port) as client:
        assert (await client.rpc(req("echo", [1])))["result"] == 1  # type: ignore[index]
        assert await read_until_closed(client.stream) == b""


async def test_client_disconnect_mid_request_is_quiet(methods: Methods) -> None:
    async with running_server(methods) as port:
        stream = await trio.open_tcp_stream(HOST, port)
        await stream.send_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\"")
        await stream.aclose()
        # and one that disconnects while its slow call is running
        stream = await trio.open_tcp_stream(HOST, port)
        client = HttpClient(stream)
        with trio.move_on_after(0.05):
            await client.request(body=orjson.dumps(req("slow", [0.2])))
        await stream.aclose()
        await trio.sleep(0.3)
        async with http_client(port) as client:
            assert (await client.rpc(req("echo", [3])))["result"] == 3  # type: ignore[index]


async def test_cors_preflight(methods: Methods) -> None:
    async with running_server(methods) as port, http_client(port) as client:
        response = await client.request(
            "OPTIONS",
            headers=[
                ("origin", "https://app.example"),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "content-type, authorization"),
            ],
        )
        assert response.status == 204
        assert response.headers[b"access-control-allow-origin"] == b"*"
        allowed_headers = response.headers[b"access-control-allow-headers"].lower()
        assert b"content-type" in allowed_headers and b"authorization" in allowed_headers
        assert b"POST" in response.headers[b"access-control-allow-methods"]
        assert (await client.rpc(req("echo", [1])))["result"] == 1  # type: ignore[index]


async def test_get_and_other_http_methods(methods: Methods) -> None:
    async with running_server(methods) as port, http_client(port) as client:
        get = await client.request("GET")
        assert get.status == 200
        assert get.headers[b"content-type"].startswith(b"text/plain")
        assert get.headers[b"access-control-allow-origin"] == b"*"
        head = await client.request("HEAD")
        assert (head.status, head.body) == (200, b"")
        put = await client.request("PUT", body=b"{}")
        assert put.status == 405
        assert put.headers[b"access-control-allow-origin"] == b"*"
        assert (await client.rpc(req("echo", [1])))["result"] == 1  # type: ignore[index]


async def test_many_concurrent_connections(methods: Methods) -> None:
    async with running_server(methods) as port:
        results: dict[int, object] = {}

        async def one_client(i: int) -> None:
            async with http_client(port) as client:
                results[i] = (await client.rpc(req("slow", [0.05], id=i)))["result"]  # type: ignore[index]

        with trio.fail_after(5):
            async with trio.open_nursery() as nursery:
                for i in range(50):
                    nursery.start_soon(one_client, i)
        assert results == {i: "done" for i in range(50)}


# --- websocket ---------------------------------------------------------------------------------


class WsClient:
    def __init__(self, stream: trio.SocketStream, ws: WSConnection) -> None:
        self.stream = stream
        self.ws = ws
        self.pending: list[object] = []

    async def send(self, event: object) -> None:
        await self.stream.send_all(self.ws.send(event))  # type: ignore[arg-type]

    async def next_event(self) -> object:
        with trio.fail_after(5):
            while not self.pending:
                self.pending.extend(self.ws.events())
                if not self.pending:
                    data = await self.stream.receive_some(65536)
                    self.ws.receive_data(data or None)
        return self.pending.pop(0)

    async def rpc(self, message: object) -> object:
        await self.send(TextMessage(data=orjson.dumps(message).decode()))
        event = await self.next_event()
        assert isinstance(event, TextMessage), event
        return orjson.loads(event.data)


@asynccontextmanager
async def ws_client(port: int) -> AsyncIterator[WsClient]:
    stream = await trio.open_tcp_stream(HOST, port)
    ws = WSConnection(ConnectionType.CLIENT)
    await stream.send_all(ws.send(Request(host="localhost", target="/")))
    client = WsClient(stream, ws)
    assert isinstance(await client.next_event(), AcceptConnection)
    try:
        yield client
    finally:
        await stream.aclose()


async def test_websocket_round_trip(methods: Methods) -> None:
    async with running_server(methods) as port, ws_client(port) as client:
        assert await client.rpc(req("add", [1, 2], id=1)) == {"jsonrpc": "2.0", "id": 1, "result": 3}
        assert await client.rpc([req("echo", ["a"], id=1), req("nope", id=2)]) == [
            {"jsonrpc": "2.0", "id": 1, "result": "a"},
            {
                "jsonrpc": "2.0",
                "id": 2,
                "error": {"code": METHOD_NOT_FOUND, "message": "the method nope does not exist/is not available"},
            },
        ]
        # binary frames work too, answered as text
        await client.send(BytesMessage(data=orjson.dumps(req("echo", ["bin"], id=3))))
        event = await client.next_event()
        assert isinstance(event, TextMessage)
        assert orjson.loads(event.data)["result"] == "bin"


async def test_websocket_fragmented_message_and_order(methods: Methods) -> None:
    async with running_server(methods) as port, ws_client(port) as client:
        text = orjson.dumps(req("echo", ["frag"], id=4)).decode()
        await client.send(TextMessage(data=text[:10], message_finished=False))
        await client.send(TextMessage(data=text[10:], message_finished=True))
        await client.send(TextMessage(data=orjson.dumps(req("echo", ["next"], id=5)).decode()))
        first, second = await client.next_event(), await client.next_event()
        assert orjson.loads(first.data) == {"jsonrpc": "2.0", "id": 4, "result": "frag"}  # type: ignore[attr-defined]
        assert orjson.loads(second.data) == {"jsonrpc": "2.0", "id": 5, "result": "next"}  # type: ignore[attr-defined]


async def test_websocket_errors_and_notifications(methods: Methods) -> None:
    async with running_server(methods) as port, ws_client(port) as client:
        await client.send(TextMessage(data="{oops"))
        assert orjson.loads((await client.next_event()).data)["error"]["code"] == PARSE_ERROR  # type: ignore[attr-defined]
        await client.send(TextMessage(data=orjson.dumps({"jsonrpc": "2.0", "method": "record", "params": [1]}).decode()))
        response = await client.rpc(req("boom", id=8))
        assert response["error"]["code"] == INTERNAL_ERROR  # type: ignore[index]
        assert methods.calls == [("record", 1)]  # the notification got no answer, and ran first


async def test_websocket_connection_can_push(methods: Methods) -> None:
    async with running_server(methods) as port, ws_client(port) as client:
        assert (await client.rpc(req("whoami", id=1)))["result"] == "ws"  # type: ignore[index]
        await client.send(TextMessage(data=orjson.dumps(req("push_then_answer", ["t1"], id=2)).decode()))
        pushed, answer = await client.next_event(), await client.next_event()
        assert orjson.loads(pushed.data) == {"jsonrpc": "2.0", "method": "pushed", "params": ["t1"]}  # type: ignore[attr-defined]
        assert orjson.loads(answer.data) == {"jsonrpc": "2.0", "id": 2, "result": "answered"}  # type: ignore[attr-defined]


async def test_websocket_ping_and_close(methods: Methods) -> None:
    async with running_server(methods) as port, ws_client(port) as client:
        await client.send(Ping(payload=b"hi"))
        pong = await client.next_event()
        assert isinstance(pong, Pong) and pong.payload == b"hi"
        await client.send(CloseConnection(code=1000, reason="bye"))
        close = await client.next_event()
        assert isinstance(close, CloseConnection) and close.code == 1000
        assert await read_until_closed(client.stream) == b""


async def test_websocket_frames_sent_with_the_upgrade_are_not_lost(methods: Methods) -> None:
    # The client writes its first frame in the same TCP write as the upgrade request; h11
    # hands those bytes over as trailing_data.
    async with running_server(methods) as port:
        stream = await trio.open_tcp_stream(HOST, port)
        ws = WSConnection(ConnectionType.CLIENT)
        handshake = ws.send(Request(host="localhost", target="/"))
        # A bare frame-level connection starts OPEN, so it can build the frame up front.
        early = TextMessage(data=orjson.dumps(req("echo", ["early"], id=1)).decode())
        frame = Connection(ConnectionType.CLIENT).send(early)
        await stream.send_all(handshake + frame)
        client = WsClient(stream, ws)
        assert isinstance(await client.next_event(), AcceptConnection)
        event = await client.next_event()
        assert orjson.loads(event.data) == {"jsonrpc": "2.0", "id": 1, "result": "early"}  # type: ignore[attr-defined]
        await stream.aclose()


async def test_websocket_message_too_big_closes(methods: Methods) -> None:
    async with running_server(methods, max_body_bytes=1000) as port, ws_client(port) as client:
        await client.send(TextMessage(data="[" + "1," * 1000 + "1]"))
        close = await client.next_event()
        assert isinstance(close, CloseConnection) and close.code == 1009
    async with running_server(methods) as port, ws_client(port) as client:
        assert (await client.rpc(req("echo", [1])))["result"] == 1  # type: ignore[index]


async def test_bad_websocket_upgrade_is_400(methods: Methods) -> None:
    async with running_server(methods) as port:
        stream = await trio.open_tcp_stream(HOST, port)
        await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        raw = await read_until_closed(stream)
        assert raw.startswith(b"HTTP/1.1 400 ")
        await stream.aclose()
        async with ws_client(port) as client:
            assert (await client.rpc(req("echo", [1])))["result"] == 1  # type: ignore[index]


async def test_websocket_and_http_on_the_same_port_at_once(methods: Methods) -> None:
    async with running_server(methods) as port, ws_client(port) as ws, http_client(port) as http:
        assert (await ws.rpc(req("echo", ["w"])))["result"] == "w"  # type: ignore[index]
        assert (await http.rpc(req("echo", ["h"])))["result"] == "h"  # type: ignore[index]
        assert (await ws.rpc(req("echo", ["w2"])))["result"] == "w2"  # type: ignore[index]
