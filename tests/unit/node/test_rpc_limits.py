"""The RPC limits, each refused with a clear JSON-RPC error by a whole node (run_node, as the CLI
starts it, in this process) that goes on serving afterwards: request body size, batch length,
eth_getLogs block range and result count, WebSocket subscriptions per connection."""
from __future__ import annotations

import functools
import http.client
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from eth_account import Account
from eth_utils import to_checksum_address
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from node import cli
from node.app import NodeConfig, run_node
from node.dev import dev_keys, dev_spec
from runtime.primitives.receipt import compute_contract_address

HOST = "127.0.0.1"
KEY = dev_keys(1)[0][1]
SENDER = Account.from_key(KEY)
# Runtime: LOG2 with topic0 = calldata[0:32], topic1 = calldata[32:64], empty data.
LOGGER = bytes.fromhex("602035600035600060" "00a200")
LOGGER_INIT = bytes([0x60, len(LOGGER), 0x80, 0x60, 0x09, 0x3D, 0x39, 0x3D, 0xF3]) + LOGGER
LOGGER_ADDRESS = to_checksum_address(compute_contract_address(bytes.fromhex(SENDER.address[2:]), 0))
TOPIC = "0x" + "ab" * 32

LIMITS = {"max_request_bytes": 2000, "max_batch_requests": 3, "max_logs_block_range": 10,
          "max_logs_results": 3, "max_subscriptions": 2}


@asynccontextmanager
async def running_node(**limits: int) -> AsyncIterator[Client]:
    config = NodeConfig(spec=dev_spec(), datadir=None, host=HOST, port=0, **limits)
    ready = trio.Event()
    ports: list[int] = []

    def on_ready(chain: object, port: int) -> None:
        ports.append(port)
        ready.set()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(functools.partial(run_node, config, on_ready=on_ready))
        with trio.fail_after(30):
            await ready.wait()
        yield Client(ports[0])
        nursery.cancel_scope.cancel()


class Client:
    """Blocking HTTP and WebSocket calls, run in a worker thread so the node keeps running."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.nonce = 0

    async def post(self, body: bytes) -> tuple[int, Any]:
        def send() -> tuple[int, Any]:
            conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            try:
                try:
                    conn.request("POST", "/", body=body, headers={"Content-Type": "application/json"})
                except (BrokenPipeError, ConnectionResetError):
                    pass
                response = conn.getresponse()
                data = response.read()
                return response.status, json.loads(data) if data else None
            finally:
                conn.close()

        return await trio.to_thread.run_sync(send)

    async def request(self, method: str, *params: Any) -> dict:
        status, response = await self.post(json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode())
        assert status == 200, response
        return response

    async def rpc(self, method: str, *params: Any) -> Any:
        response = await self.request(method, *params)
        assert "error" not in response, response
        return response["result"]

    async def error(self, method: str, *params: Any) -> dict:
        response = await self.request(method, *params)
        assert "error" in response, response
        return response["error"]

    async def send(self, **fields: Any) -> dict:
        tx = {"chainId": 31337, "nonce": self.nonce, "gas": 200_000, "value": 0, "type": 2,
              "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9, "data": b""}
        tx.update(fields)
        self.nonce += 1
        raw = "0x" + bytes(SENDER.sign_transaction(tx).raw_transaction).hex()
        return await self.rpc("eth_getTransactionReceipt", await self.rpc("eth_sendRawTransaction", raw))

    async def websocket(self, script) -> Any:
        """Run ``script(ws)`` on a fresh WebSocket connection (in a thread)."""
        def run() -> Any:
            with connect(f"ws://{HOST}:{self.port}", max_size=None, open_timeout=10) as ws:
                return script(ws)

        return await trio.to_thread.run_sync(run)

    async def still_serving(self) -> None:
        assert int(await self.rpc("eth_blockNumber"), 16) >= 0
        assert await self.websocket(lambda ws: ws_call(ws, "eth_chainId")) == {"jsonrpc": "2.0", "id": 1, "result": "0x7a69"}


def ws_call(ws, method: str, *params: Any, id: int = 1) -> dict:
    ws.send(json.dumps({"jsonrpc": "2.0", "id": id, "method": method, "params": list(params)}))
    while True:  # skip subscription notifications
        message = json.loads(ws.recv(timeout=10))
        if message.get("method") != "eth_subscription":
            return message


def batch(size: int, first_id: int = 1) -> bytes:
    return json.dumps([{"jsonrpc": "2.0", "id": first_id + i, "method": "eth_chainId", "params": []} for i in range(size)]).encode()


# --- request body size -------------------------------------------------------------------------


async def test_request_body_over_the_limit_is_413_and_the_node_goes_on() -> None:
    async with running_node(**LIMITS) as client:
        padded = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]' + b" " * 2000 + b"}"
        status, response = await client.post(padded)
        assert status == 413
        assert response["error"] == {"code": -32600, "message": "request body too large (max 2000 bytes)"}
        status, response = await client.post(padded[:1990] + b"}")  # at the limit: served
        assert status == 200 and response["result"] == "0x7a69"

        def too_big(ws) -> int:
            ws.send(padded.decode())
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            return closed.value.rcvd.code

        assert await client.websocket(too_big) == 1009  # "message too big"
        await client.still_serving()


# --- batch length ------------------------------------------------------------------------------


async def test_batch_over_the_limit_gets_geths_one_error_and_the_node_goes_on() -> None:
    async with running_node(**LIMITS) as client:
        status, response = await client.post(batch(4, first_id=7))
        assert status == 200
        assert response == [{"jsonrpc": "2.0", "id": 7, "error": {
            "code": -32600, "message": "batch too large: 4 requests, at most 3 are served"}}]
        status, response = await client.post(batch(3))
        assert [r["result"] for r in response] == ["0x7a69"] * 3

        def over_websocket(ws) -> list:
            ws.send(batch(4).decode())
            return json.loads(ws.recv(timeout=10))

        assert (await client.websocket(over_websocket))[0]["error"]["message"].startswith("batch too large")
        await client.still_serving()


# --- eth_getLogs -------------------------------------------------------------------------------


async def test_logs_block_range_over_the_limit_is_refused() -> None:
    async with running_node(**LIMITS) as client:
        await client.rpc("anvil_mine", "0x14")
        assert await client.rpc("eth_getLogs", {"fromBlock": "0x0", "toBlock": "0x9"}) == []  # 10 blocks
        for query in ({"fromBlock": "0x0", "toBlock": "0xa"}, {"fromBlock": "earliest"},
                      {"fromBlock": "0x5", "toBlock": "latest"}, {"fromBlock": "0x0", "toBlock": "0x1000"}):
            assert await client.error("eth_getLogs", query) == {"code": -32602, "message": "query exceeds max block range 10"}
        # The head is the end of an open range; beyond the head counts as the head.
        assert await client.rpc("eth_getLogs", {"fromBlock": "0xb", "toBlock": "0x100"}) == []
        head = await client.rpc("eth_getBlockByNumber", "latest", False)
        assert await client.rpc("eth_getLogs", {"blockHash": head["hash"]}) == []
        filter_id = await client.rpc("eth_newFilter", {"fromBlock": "0x0"})
        assert (await client.error("eth_getFilterLogs", filter_id))["message"] == "query exceeds max block range 10"
        assert await client.rpc("eth_getFilterChanges", filter_id) == []
        await client.still_serving()


async def test_logs_result_count_over_the_limit_is_refused_with_a_range_that_fits() -> None:
    async with running_node(**LIMITS) as client:
        assert (await client.send(data=LOGGER_INIT))["contractAddress"] == LOGGER_ADDRESS.lower()
        numbers = []
        for i in range(5):
            receipt = await client.send(to=LOGGER_ADDRESS, data=bytes.fromhex(TOPIC[2:]) + i.to_bytes(32, "big"))
            numbers.append(int(receipt["blockNumber"], 16))
        query = {"fromBlock": hex(numbers[0]), "toBlock": hex(numbers[-1]), "address": LOGGER_ADDRESS}
        error = await client.error("eth_getLogs", query)
        assert error["code"] == -32005
        assert error["message"] == (f"query returned more than 3 results. "
                                    f"Try with this block range [{hex(numbers[0])}, {hex(numbers[2])}].")
        fits = await client.rpc("eth_getLogs", {**query, "toBlock": hex(numbers[2])})
        assert len(fits) == 3 and all(log["topics"][0] == TOPIC for log in fits)
        filter_id = await client.rpc("eth_newFilter", query)
        assert (await client.error("eth_getFilterLogs", filter_id))["code"] == -32005
        # The limit counts matches, not logs scanned.
        narrow = await client.rpc("eth_getLogs", {**query, "topics": [TOPIC, "0x" + (4).to_bytes(32, "big").hex()]})
        assert len(narrow) == 1
        await client.still_serving()


# --- subscriptions per WebSocket connection ----------------------------------------------------


async def test_subscriptions_per_connection_over_the_limit_are_refused() -> None:
    async with running_node(**LIMITS) as client:
        def script(ws) -> None:
            first = ws_call(ws, "eth_subscribe", "newHeads", id=1)["result"]
            ws_call(ws, "eth_subscribe", "logs", {}, id=2)["result"]
            refused = ws_call(ws, "eth_subscribe", "newPendingTransactions", id=3)
            assert refused["error"] == {"code": -32005, "message": "too many subscriptions on this connection: "
                                        "at most 2, eth_unsubscribe some first"}
            with connect(f"ws://{HOST}:{client.port}", open_timeout=10) as other:  # its own count
                assert "result" in ws_call(other, "eth_subscribe", "newHeads")
                assert "result" in ws_call(other, "eth_subscribe", "newHeads", id=2)
            assert ws_call(ws, "eth_unsubscribe", first, id=4)["result"] is True
            assert "result" in ws_call(ws, "eth_subscribe", "newHeads", id=5)
            assert "error" in ws_call(ws, "eth_subscribe", "newHeads", id=6)

        await client.websocket(script)
        # A closed connection's subscriptions no longer count against anyone.
        await client.websocket(lambda ws: [ws_call(ws, "eth_subscribe", "newHeads", id=i)["result"] for i in (1, 2)])
        await client.still_serving()


# --- 0 turns a limit off -----------------------------------------------------------------------


async def test_zero_turns_each_limit_off() -> None:
    async with running_node(max_batch_requests=0, max_logs_block_range=0, max_logs_results=0, max_subscriptions=0) as client:
        status, response = await client.post(batch(1500))
        assert status == 200 and len(response) == 1500
        await client.rpc("anvil_mine", "0x5")
        assert await client.rpc("eth_getLogs", {"fromBlock": "earliest", "toBlock": "latest"}) == []
        ids = await client.websocket(lambda ws: [ws_call(ws, "eth_subscribe", "newHeads", id=i).get("result") for i in range(5)])
        assert all(ids)


# --- the flags ---------------------------------------------------------------------------------


def test_flags_reach_the_node_config(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[NodeConfig] = []

    async def fake_run_node(config: NodeConfig, *, on_ready: object = None) -> None:
        seen.append(config)

    monkeypatch.setattr("node.app.run_node", fake_run_node)
    monkeypatch.setattr("node.logs.configure_logging", lambda *args: None)
    assert cli.main(["dev", "--tmp", "--rpc-max-request-size", "1234", "--rpc-max-batch-size", "5",
                     "--rpc-max-logs-range", "0", "--rpc-max-logs-results", "7", "--rpc-max-subscriptions", "9"]) == 0
    assert cli.main(["dev", "--tmp"]) == 0
    custom, default = seen
    assert (custom.max_request_bytes, custom.max_batch_requests, custom.max_logs_block_range,
            custom.max_logs_results, custom.max_subscriptions) == (1234, 5, 0, 7, 9)
    assert (default.max_request_bytes, default.max_batch_requests, default.max_logs_block_range,
            default.max_logs_results, default.max_subscriptions) == (5 * 1024 * 1024, 1000, 100_000, 10_000, 1000)


@pytest.mark.parametrize("flag, value", [("--rpc-max-batch-size", "-1"), ("--rpc-max-logs-range", "lots"),
                                         ("--rpc-max-request-size", "0")])
def test_bad_limit_values_are_refused(flag: str, value: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as raised:
        cli.build_parser().parse_args(["dev", flag, value])
    assert raised.value.code == 2
    assert flag in capsys.readouterr().err
