"""Watching the chain as dApps do against Anvil/geth, on a real `chameleon dev`:
polling filters with web3.py over HTTP, and eth_subscribe over WebSocket (web3.py's
AsyncWeb3 + WebSocketProvider, and a raw wsproto client for the exact wire shapes).
"""
from __future__ import annotations

import asyncio
import json
import socket
import time
from collections import deque
from typing import Any

import pytest
from eth_utils import keccak
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

from tests.e2e.nodes import DEV_ADDRESSES, HOST, RpcFailure

pytestmark = pytest.mark.e2e

SUPPLY = 1_000_000 * 10**18
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
HEADER_ONLY = ("transactions", "size", "totalDifficulty", "uncles", "withdrawals")


def as_hex(value: Any) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    return value.lower()


@pytest.fixture(scope="module")
def node(module_node_factory):
    return module_node_factory(name="watch")


@pytest.fixture(scope="module")
def w3(node):
    return node.w3()


@pytest.fixture(scope="module")
def token(w3, contracts):
    art = contracts["Token"]
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    tx_hash = factory.constructor("Watch Token", "WCH", SUPPLY).transact({"from": DEV_ADDRESSES[0]})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    return w3.eth.contract(address=receipt.contractAddress, abi=art.abi)


# -- polling filters over HTTP ----------------------------------------------------------------


def test_block_filter_with_web3(node, w3):
    block_filter = w3.eth.filter("latest")
    assert block_filter.get_new_entries() == []
    hashes = [w3.eth.send_transaction({"from": DEV_ADDRESSES[1], "to": DEV_ADDRESSES[2], "value": 1}) for _ in range(2)]
    receipts = [w3.eth.wait_for_transaction_receipt(h) for h in hashes]
    entries = block_filter.get_new_entries()
    assert [as_hex(e) for e in entries] == [as_hex(r.blockHash) for r in receipts]
    assert block_filter.get_new_entries() == []
    assert w3.eth.uninstall_filter(block_filter.filter_id) is True
    with pytest.raises(RpcFailure, match="filter not found"):
        node.rpc("eth_getFilterChanges", block_filter.filter_id)


def test_pending_transaction_filter_with_web3(w3):
    pending_filter = w3.eth.filter("pending")
    tx_hash = w3.eth.send_transaction({"from": DEV_ADDRESSES[1], "to": DEV_ADDRESSES[2], "value": 1})
    assert [as_hex(e) for e in pending_filter.get_new_entries()] == [as_hex(tx_hash)]
    w3.eth.uninstall_filter(pending_filter.filter_id)


def test_transfer_event_filter_with_web3(node, w3, token):
    me, you, them = DEV_ADDRESSES[0], DEV_ADDRESSES[3], DEV_ADDRESSES[4]
    event_filter = token.events.Transfer.create_filter(from_block="latest")
    to_you = token.events.Transfer.create_filter(from_block="latest", argument_filters={"to": you})
    assert event_filter.get_new_entries() == []
    for receiver, amount in ((you, 10), (them, 20), (you, 30)):
        token.functions.transfer(receiver, amount).transact({"from": me})
    entries = event_filter.get_new_entries()
    assert [(e.args["from"], e.args["to"], e.args["value"]) for e in entries] == [(me, you, 10), (me, them, 20), (me, you, 30)]
    assert all(e.event == "Transfer" and e.address == token.address for e in entries)
    assert event_filter.get_new_entries() == []
    assert [e.args["value"] for e in to_you.get_new_entries()] == [10, 30]
    # eth_getFilterLogs: the filter's whole range, here "latest" (the last transfer's block).
    assert [e.args["value"] for e in event_filter.get_all_entries()] == [30]
    # A filter from an earlier block: the changes are new logs only (as geth), the logs all of them.
    start = entries[0].blockNumber
    raw_id = node.rpc("eth_newFilter", {"fromBlock": hex(start), "address": token.address, "topics": [TRANSFER_TOPIC]})
    assert node.rpc("eth_getFilterChanges", raw_id) == []
    assert len(node.rpc("eth_getFilterLogs", raw_id)) == 3
    token.functions.transfer(them, 40).transact({"from": me})
    [change] = node.rpc("eth_getFilterChanges", raw_id)
    assert int(change["data"], 16) == 40 and change["topics"][0] == TRANSFER_TOPIC
    assert node.rpc("eth_uninstallFilter", raw_id) is True
    assert node.rpc("eth_uninstallFilter", raw_id) is False


def test_filter_errors_over_http(node):
    with pytest.raises(RpcFailure) as info:
        node.rpc("eth_getFilterChanges", "0xdeadbeef")
    assert (info.value.code, info.value.message) == (-32000, "filter not found")
    with pytest.raises(RpcFailure) as info:
        node.rpc("eth_newFilter", {"fromBlock": "0x2", "toBlock": "0x1"})
    assert info.value.code == -32602
    with pytest.raises(RpcFailure) as info:
        node.rpc("eth_subscribe", "newHeads")
    assert (info.value.code, info.value.message) == (-32001, "notifications not supported")


# -- eth_subscribe over WebSocket ---------------------------------------------------------------


class WsClient:
    """A blocking JSON-RPC client over one WebSocket (wsproto on a plain socket)."""

    def __init__(self, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.ws = WSConnection(ConnectionType.CLIENT)
        self.inbox: deque[dict] = deque()
        self.next_id = 0
        self._parts: list[str] = []
        self.sock.sendall(self.ws.send(Request(host=f"{HOST}:{port}", target="/")))
        while True:
            events = self._read()
            if any(isinstance(e, AcceptConnection) for e in events):
                break

    def _read(self) -> list:
        data = self.sock.recv(65536)
        self.ws.receive_data(data or None)
        events = list(self.ws.events())
        for event in events:
            if isinstance(event, TextMessage):
                self._parts.append(event.data)
                if event.message_finished:
                    self.inbox.append(json.loads("".join(self._parts)))
                    self._parts = []
            elif isinstance(event, CloseConnection):
                raise ConnectionError("closed by the server")
        return events

    def receive(self, timeout: float = 10.0) -> dict:
        deadline = time.monotonic() + timeout
        while not self.inbox:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no message")
            self.sock.settimeout(remaining)
            try:
                self._read()
            except socket.timeout:
                raise TimeoutError("no message") from None
        return self.inbox.popleft()

    def send(self, method: str, *params: Any) -> int:
        self.next_id += 1
        body = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": list(params)}
        self.sock.sendall(self.ws.send(TextMessage(data=json.dumps(body))))
        return self.next_id

    def call(self, method: str, *params: Any) -> Any:
        """The result; the response must be the very next message (no notification first)."""
        request_id = self.send(method, *params)
        message = self.receive()
        assert message.get("id") == request_id, message
        if "error" in message:
            raise RpcFailure(message["error"]["code"], message["error"]["message"])
        return message["result"]

    def close(self) -> None:
        try:
            self.sock.sendall(self.ws.send(CloseConnection(code=1000)))
        except Exception:
            pass
        self.sock.close()


def test_subscriptions_on_the_wire(node, token):
    client = WsClient(node.port)
    try:
        heads = client.call("eth_subscribe", "newHeads")
        logs = client.call("eth_subscribe", "logs", {"address": token.address, "topics": [TRANSFER_TOPIC]})
        pending = client.call("eth_subscribe", "newPendingTransactions")
        assert len({heads, logs, pending}) == 3 and all(s.startswith("0x") for s in (heads, logs, pending))
        data = token.encode_abi("transfer", [DEV_ADDRESSES[5], 77])
        tx_hash = node.rpc("eth_sendTransaction", {"from": DEV_ADDRESSES[0], "to": token.address, "data": data})
        messages = [client.receive() for _ in range(3)]
        for message in messages:
            assert set(message) == {"jsonrpc", "method", "params"} and message["method"] == "eth_subscription"
            assert message["jsonrpc"] == "2.0" and set(message["params"]) == {"subscription", "result"}
        results = {m["params"]["subscription"]: m["params"]["result"] for m in messages}
        assert messages[0]["params"] == {"subscription": pending, "result": tx_hash}  # pooled before sealed
        receipt = node.receipt(tx_hash)
        block = node.rpc("eth_getBlockByNumber", receipt["blockNumber"], False)
        assert results[heads] == {k: v for k, v in block.items() if k not in HEADER_ONLY}
        assert results[logs] == node.rpc("eth_getLogs", {"blockHash": block["hash"]})[0]
        assert int(results[logs]["data"], 16) == 77

        # Errors are answered on the socket too; unsubscribing stops the notifications.
        with pytest.raises(RpcFailure) as info:
            client.call("eth_subscribe", "nonsense")
        assert info.value.code == -32601
        assert client.call("eth_unsubscribe", heads) is True
        assert client.call("eth_unsubscribe", heads) is False
        assert client.call("eth_unsubscribe", logs) is True
        node.rpc("eth_sendTransaction", {"from": DEV_ADDRESSES[0], "to": DEV_ADDRESSES[6], "value": 1})
        assert client.receive()["params"]["subscription"] == pending
        assert client.call("eth_unsubscribe", pending) is True
        node.rpc("eth_sendTransaction", {"from": DEV_ADDRESSES[0], "to": DEV_ADDRESSES[6], "value": 1})
        with pytest.raises(TimeoutError):
            client.receive(timeout=0.5)
    finally:
        client.close()


def test_subscriptions_end_with_the_socket(node):
    client = WsClient(node.port)
    client.call("eth_subscribe", "newHeads")
    client.close()
    # The node carries on sealing and answering; nothing is sent to the closed socket.
    for _ in range(3):
        node.rpc("evm_mine")
    other = WsClient(node.port)
    try:
        sub = other.call("eth_subscribe", "newHeads")
        node.rpc("evm_mine")
        message = other.receive()
        assert message["params"]["subscription"] == sub
        assert message["params"]["result"]["number"] == node.rpc("eth_blockNumber")
    finally:
        other.close()


def test_web3_async_websocket_subscriptions(node, token):
    from web3 import AsyncWeb3, WebSocketProvider

    async def scenario() -> dict[str, list]:
        async with AsyncWeb3(WebSocketProvider(f"ws://{HOST}:{node.port}")) as aw3:
            ids = {
                await aw3.eth.subscribe("newHeads"): "heads",
                await aw3.eth.subscribe("logs", {"address": token.address}): "logs",
                await aw3.eth.subscribe("newPendingTransactions", True): "pending",
            }
            async_token = aw3.eth.contract(address=token.address, abi=token.abi)
            tx_hash = await async_token.functions.transfer(DEV_ADDRESSES[7], 5).transact({"from": DEV_ADDRESSES[0]})
            seen: dict[str, list] = {"heads": [], "logs": [], "pending": [], "tx": [tx_hash]}

            async def collect() -> None:
                async for message in aw3.socket.process_subscriptions():
                    seen[ids[message["subscription"]]].append(message["result"])
                    if all(seen[k] for k in ("heads", "logs", "pending")):
                        return

            await asyncio.wait_for(collect(), timeout=15)
            assert await aw3.eth.unsubscribe(next(iter(ids))) is True
            return seen

    seen = asyncio.run(scenario())
    tx_hash = seen["tx"][0]
    receipt = node.receipt(as_hex(tx_hash))
    assert int(seen["heads"][0]["number"]) == int(receipt["blockNumber"], 16)
    assert as_hex(seen["logs"][0]["transactionHash"]) == as_hex(tx_hash)
    assert as_hex(seen["logs"][0]["topics"][0]) == TRANSFER_TOPIC
    assert as_hex(seen["pending"][0]["hash"]) == as_hex(tx_hash)
    assert seen["pending"][0]["from"] == DEV_ADDRESSES[0]
