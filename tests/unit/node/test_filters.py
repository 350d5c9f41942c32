"""Polling filters and subscriptions, driven directly on a real Node over the in-memory store."""
from __future__ import annotations

import pytest
import trio
import trio.testing
from eth_account import Account
from eth_utils import to_checksum_address

from node.chain import Chain
from node.dev import dev_keys, dev_spec
from node.rpc.eth import EthApi
from node.rpc.filters import FilterApi
from node.rpc.errors import RpcError
from node.rpc.server import Dispatcher
from node.rpc.subscriptions import SubscriptionApi
from node.service import Node
from node.txpool import TxPool
from runtime.primitives.receipt import compute_contract_address
from runtime.primitives.transaction import decode_transaction
from runtime.state.store import MemoryStore

KEY = dev_keys(1)[0][1]
SENDER = Account.from_key(KEY)
TO = "0x" + "22" * 20
# Runtime code: LOG2 with topic0 = calldata[0:32], topic1 = calldata[32:64], empty data.
LOGGER = bytes.fromhex("602035600035600060" "00a200")
INIT = bytes.fromhex("600c600c600039600c6000f3") + LOGGER
A, B, C = b"\xaa" * 32, b"\xbb" * 32, b"\xcc" * 32


def hx(data: bytes) -> str:
    return "0x" + data.hex()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Env:
    """A Node without automine: `send` pools a transaction, `seal` seals the next block."""

    def __init__(self, **filter_kw) -> None:
        self.chain = Chain(MemoryStore(), dev_spec())
        self.node = Node(self.chain, TxPool(), automine=False)
        self.eth = EthApi(self.node)
        self.clock = Clock()
        self.filters = FilterApi(self.node, self.eth, clock=self.clock, **filter_kw)
        self.nonce = 0
        self.loggers: list[bytes] = []

    async def send(self, **fields) -> bytes:
        tx = {"chainId": 31337, "nonce": self.nonce, "gas": 200_000, "to": TO, "value": 1, "type": 2,
              "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
        tx.update(fields)
        self.nonce += 1
        return await self.node.submit(decode_transaction(bytes(SENDER.sign_transaction(tx).raw_transaction)))

    async def deploy_logger(self) -> bytes:
        address = compute_contract_address(bytes.fromhex(SENDER.address[2:]), self.nonce)
        await self.send(to=None, value=0, data=INIT)
        self.seal()
        self.loggers.append(address)
        return address

    async def emit(self, contract: bytes, topic0: bytes, topic1: bytes = b"\x00" * 32) -> bytes:
        return await self.send(to=to_checksum_address(contract), value=0, data=topic0 + topic1)

    def seal(self):
        return self.node.seal()


def topics_of(logs: list[dict]) -> list[list[str]]:
    return [entry["topics"] for entry in logs]


async def test_block_filter_returns_new_block_hashes_once() -> None:
    env = Env()
    fid = await env.filters.eth_newBlockFilter()
    assert fid.startswith("0x") and int(fid, 16) > 0
    assert await env.filters.eth_getFilterChanges(fid) == []
    first, second = env.seal(), env.seal()
    assert await env.filters.eth_getFilterChanges(fid) == [hx(first.hash), hx(second.hash)]
    assert await env.filters.eth_getFilterChanges(fid) == []
    third = env.seal()
    assert await env.filters.eth_getFilterChanges(fid.upper().replace("0X", "0x")) == [hx(third.hash)]


async def test_pending_filter_returns_tx_hashes_or_objects() -> None:
    env = Env()
    hashes = await env.filters.eth_newPendingTransactionFilter()
    full = await env.filters.eth_newPendingTransactionFilter(True)
    tx1 = await env.send()
    tx2 = await env.send()
    assert await env.filters.eth_getFilterChanges(hashes) == [hx(tx1), hx(tx2)]
    objects = await env.filters.eth_getFilterChanges(full)
    assert [o["hash"] for o in objects] == [hx(tx1), hx(tx2)]
    assert objects[0]["from"] == SENDER.address.lower() and objects[0]["blockHash"] is None
    env.seal()  # sealing is not a new pending transaction
    assert await env.filters.eth_getFilterChanges(hashes) == []
    with pytest.raises(RpcError) as info:
        await env.filters.eth_newPendingTransactionFilter("yes")
    assert info.value.code == -32602


async def test_log_filter_sees_logs_of_blocks_sealed_since_creation() -> None:
    env = Env()
    logger = await env.deploy_logger()
    await env.emit(logger, A)
    env.seal()  # before the filter: not a change, but part of eth_getFilterLogs from 0
    fid = await env.filters.eth_newFilter({"fromBlock": "0x0", "address": hx(logger)})
    assert await env.filters.eth_getFilterChanges(fid) == []
    tx_b = await env.emit(logger, B)
    tx_c = await env.emit(logger, C)
    block = env.seal()
    changes = await env.filters.eth_getFilterChanges(fid)
    assert topics_of(changes) == [[hx(B), hx(b"\x00" * 32)], [hx(C), hx(b"\x00" * 32)]]
    assert [c["transactionHash"] for c in changes] == [hx(tx_b), hx(tx_c)]
    assert changes[1]["logIndex"] == "0x1" and changes[1]["transactionIndex"] == "0x1"
    assert changes[0]["blockHash"] == hx(block.hash) and changes[0]["removed"] is False
    # The same logs as eth_getLogs encodes them.
    assert changes == await env.eth.eth_getLogs({"blockHash": hx(block.hash)})
    assert await env.filters.eth_getFilterChanges(fid) == []
    everything = await env.filters.eth_getFilterLogs(fid)
    assert [t[0] for t in topics_of(everything)] == [hx(A), hx(B), hx(C)]


async def test_log_filter_matches_addresses_and_topic_positions() -> None:
    env = Env()
    one, two = await env.deploy_logger(), await env.deploy_logger()
    by_address = await env.filters.eth_newFilter({"address": [hx(two)]})
    by_topic0 = await env.filters.eth_newFilter({"topics": [[hx(A), hx(C)]]})
    by_topic1 = await env.filters.eth_newFilter({"topics": [None, hx(B)]})
    both = await env.filters.eth_newFilter({"address": hx(one), "topics": [hx(A), hx(B)]})
    everything = await env.filters.eth_newFilter({})
    await env.emit(one, A, B)
    await env.emit(two, A, C)
    await env.emit(one, C, B)
    await env.emit(two, B, B)
    env.seal()
    await env.send()  # a plain transfer: no log
    env.seal()

    async def pairs(fid: str) -> list[tuple[str, str, str]]:
        return [(c["address"], c["topics"][0], c["topics"][1]) for c in await env.filters.eth_getFilterChanges(fid)]

    o, t = hx(one), hx(two)
    assert await pairs(by_address) == [(t, hx(A), hx(C)), (t, hx(B), hx(B))]
    assert await pairs(by_topic0) == [(o, hx(A), hx(B)), (t, hx(A), hx(C)), (o, hx(C), hx(B))]
    assert await pairs(by_topic1) == [(o, hx(A), hx(B)), (o, hx(C), hx(B)), (t, hx(B), hx(B))]
    assert await pairs(both) == [(o, hx(A), hx(B))]
    assert len(await pairs(everything)) == 4


async def test_log_filter_respects_from_and_to_block() -> None:
    env = Env()
    logger = await env.deploy_logger()  # block 1
    head = env.chain.head.number
    window = await env.filters.eth_newFilter({"fromBlock": hex(head + 2), "toBlock": hex(head + 3)})
    until_now = await env.filters.eth_newFilter({"fromBlock": "earliest", "toBlock": hex(head + 1)})
    for topic in (A, B, C):  # blocks head+1, head+2, head+3
        await env.emit(logger, topic)
        env.seal()
    await env.emit(logger, A)  # head+4: after both ranges
    env.seal()
    assert [t[0] for t in topics_of(await env.filters.eth_getFilterChanges(window))] == [hx(B), hx(C)]
    assert [t[0] for t in topics_of(await env.filters.eth_getFilterChanges(until_now))] == [hx(A)]
    # eth_getFilterLogs answers the whole range, as eth_getLogs does.
    assert [t[0] for t in topics_of(await env.filters.eth_getFilterLogs(window))] == [hx(B), hx(C)]


async def test_new_filter_validates_as_get_logs() -> None:
    env = Env()
    env.seal()
    env.seal()
    cases = [
        ("not an object", -32602, "expected a filter object"),
        ({"fromBlock": "0x2", "toBlock": "0x1"}, -32602, "invalid block range params"),
        ({"toBlock": "0x1"}, -32602, "invalid block range params"),  # latest (2) > 1
        ({"address": "0x1234"}, -32602, "invalid argument 0"),
        ({"topics": [hx(A)] * 5}, -32602, "at most 4"),
        ({"topics": ["0xzz"]}, -32602, "invalid argument 0"),
        ({"bogus": 1}, -32602, "unknown field 'bogus'"),
        ({"blockHash": hx(A)}, -32001, "unknown block"),
        ({"blockHash": hx(env.chain.head.hash), "fromBlock": "0x1"}, -32602, "cannot specify both"),
    ]
    for filter_object, code, words in cases:
        with pytest.raises(RpcError) as info:
            await env.filters.eth_newFilter(filter_object)
        assert info.value.code == code and words in info.value.message, filter_object
        if isinstance(filter_object, dict):  # eth_getLogs says the same
            with pytest.raises(RpcError) as same:
                await env.eth.eth_getLogs(filter_object)
            assert (same.value.code, same.value.message) == (info.value.code, info.value.message)
    assert len(env.filters) == 0
    # A range ending in the future is a valid filter (eth_getLogs would say "not found").
    await env.filters.eth_newFilter({"fromBlock": "0x1", "toBlock": "0x100"})


async def test_block_hash_filter_gets_no_changes_but_its_logs() -> None:
    env = Env()
    logger = await env.deploy_logger()
    await env.emit(logger, A)
    block = env.seal()
    fid = await env.filters.eth_newFilter({"blockHash": hx(block.hash)})
    await env.emit(logger, B)
    env.seal()
    assert await env.filters.eth_getFilterChanges(fid) == []
    assert [t[0] for t in topics_of(await env.filters.eth_getFilterLogs(fid))] == [hx(A)]


async def test_unknown_and_uninstalled_ids() -> None:
    env = Env()
    fid = await env.filters.eth_newBlockFilter()
    for bad in ("0x1234", "nonsense", 7, None):
        with pytest.raises(RpcError) as info:
            await env.filters.eth_getFilterChanges(bad)
        assert (info.value.code, info.value.message) == (-32000, "filter not found")
    with pytest.raises(RpcError, match="filter not found"):
        await env.filters.eth_getFilterLogs(fid)  # a block filter has no logs
    assert await env.filters.eth_uninstallFilter(fid) is True
    assert await env.filters.eth_uninstallFilter(fid) is False
    assert await env.filters.eth_uninstallFilter(12) is False
    with pytest.raises(RpcError, match="filter not found"):
        await env.filters.eth_getFilterChanges(fid)
    env.seal()  # nothing is fed to a removed filter
    assert len(env.filters) == 0


async def test_ids_are_unique_hex_quantities() -> None:
    env = Env()
    ids = [await env.filters.eth_newBlockFilter() for _ in range(200)]
    assert len(set(ids)) == 200
    assert all(i.startswith("0x") and (i == "0x0" or i[2] != "0") for i in ids)


async def test_filters_expire_after_five_minutes_without_a_poll() -> None:
    env = Env()
    polled = await env.filters.eth_newBlockFilter()
    idle = await env.filters.eth_newFilter({})
    read_by_logs = await env.filters.eth_newFilter({})
    env.clock.now += 200
    await env.filters.eth_getFilterChanges(polled)
    await env.filters.eth_getFilterLogs(read_by_logs)  # reading it counts too
    env.clock.now += 150  # idle: 350 s without a poll; the others 150 s
    env.seal()  # a block sweeps too
    assert len(env.filters) == 2
    with pytest.raises(RpcError, match="filter not found"):
        await env.filters.eth_getFilterChanges(idle)
    assert len(await env.filters.eth_getFilterChanges(polled)) == 1
    env.clock.now += 299
    assert await env.filters.eth_getFilterChanges(polled) == []
    env.clock.now += 301
    with pytest.raises(RpcError, match="filter not found"):
        await env.filters.eth_getFilterChanges(polled)
    assert len(env.filters) == 0


async def test_buffer_keeps_the_newest_items() -> None:
    env = Env(max_buffered=3)
    fid = await env.filters.eth_newBlockFilter()
    blocks = [env.seal() for _ in range(5)]
    assert await env.filters.eth_getFilterChanges(fid) == [hx(b.hash) for b in blocks[-3:]]


async def test_default_limits_are_geths_scale() -> None:
    from node.rpc import filters

    assert (filters.MAX_FILTERS, filters.MAX_BUFFERED, filters.FILTER_TIMEOUT_S) == (1000, 10_000, 300.0)


async def test_at_most_max_filters() -> None:
    env = Env(max_filters=3)
    ids = [await env.filters.eth_newBlockFilter() for _ in range(3)]
    with pytest.raises(RpcError) as info:
        await env.filters.eth_newPendingTransactionFilter()
    assert info.value.code == -32000 and "too many filters" in info.value.message
    await env.filters.eth_uninstallFilter(ids[0])
    await env.filters.eth_newFilter({})
    env.clock.now += 301  # expired ones make room
    await env.filters.eth_newBlockFilter()
    assert len(env.filters) == 1


async def test_methods_through_the_dispatcher() -> None:
    env = Env()
    methods = env.filters.methods()
    assert sorted(methods) == [
        "eth_getFilterChanges", "eth_getFilterLogs", "eth_newBlockFilter", "eth_newFilter",
        "eth_newPendingTransactionFilter", "eth_uninstallFilter",
    ]
    dispatcher = Dispatcher({**methods, **SubscriptionApi(env.node).methods()})
    answer = await dispatcher.handle_request({"jsonrpc": "2.0", "id": 1, "method": "eth_newBlockFilter", "params": []})
    fid = answer["result"]
    env.seal()
    answer = await dispatcher.handle_request({"jsonrpc": "2.0", "id": 2, "method": "eth_getFilterChanges", "params": [fid]})
    assert answer["result"] == [hx(env.chain.head.hash)]
    answer = await dispatcher.handle_request({"jsonrpc": "2.0", "id": 3, "method": "eth_getFilterChanges", "params": ["0x99"]})
    assert answer["error"] == {"code": -32000, "message": "filter not found"}
    # Over HTTP (no connection) subscriptions are refused with geth's code and words.
    answer = await dispatcher.handle_request({"jsonrpc": "2.0", "id": 4, "method": "eth_subscribe", "params": ["newHeads"]})
    assert answer["error"] == {"code": -32001, "message": "notifications not supported"}


# -- subscriptions, with a stand-in for the WebSocket connection -----------------------------


class FakeConnection:
    def __init__(self, nursery: trio.Nursery) -> None:
        self.nursery = nursery
        self.closed = False
        self.sent: list[dict] = []
        self.gate: trio.Event | None = None  # set: sends wait for it (a stalled client)
        self.arrived = trio.Condition()

    async def send_json(self, obj) -> bool:
        if self.gate is not None:
            await self.gate.wait()
        if self.closed:
            return False
        self.sent.append(obj)
        async with self.arrived:
            self.arrived.notify_all()
        return True

    async def wait_for(self, count: int) -> list[dict]:
        with trio.fail_after(5):
            async with self.arrived:
                while len(self.sent) < count:
                    await self.arrived.wait()
        return self.sent


async def test_subscriptions_deliver_heads_logs_and_pending_transactions() -> None:
    env = Env()
    subs = SubscriptionApi(env.node)
    logger = await env.deploy_logger()
    async with trio.open_nursery() as nursery:
        conn = FakeConnection(nursery)
        heads = await subs.eth_subscribe("newHeads", connection=conn)
        logs = await subs.eth_subscribe("logs", {"address": hx(logger), "topics": [[hx(A), hx(B)]]}, connection=conn)
        pending = await subs.eth_subscribe("newPendingTransactions", connection=conn)
        full = await subs.eth_subscribe("newPendingTransactions", True, connection=conn)
        assert len({heads, logs, pending, full}) == 4
        tx1 = await env.emit(logger, A)
        await env.emit(logger, C)
        tx3 = await env.emit(logger, B)
        block = env.seal()
        sent = await conn.wait_for(3 + 3 + 1 + 2)
        assert all(m["jsonrpc"] == "2.0" and m["method"] == "eth_subscription" for m in sent)
        by_sub: dict[str, list] = {}
        for message in sent:
            by_sub.setdefault(message["params"]["subscription"], []).append(message["params"]["result"])
        assert by_sub[pending][0] == hx(tx1) and len(by_sub[pending]) == 3
        assert by_sub[full][2]["hash"] == hx(tx3) and by_sub[full][2]["input"].startswith("0x" + B.hex())
        [head] = by_sub[heads]
        expected = await env.eth.eth_getBlockByNumber(hex(block.header.number))
        assert head == {k: v for k, v in expected.items() if k not in ("transactions", "size", "totalDifficulty", "uncles", "withdrawals")}
        assert [entry["transactionHash"] for entry in by_sub[logs]] == [hx(tx1), hx(tx3)]
        assert by_sub[logs][1]["logIndex"] == "0x2"

        assert await subs.eth_unsubscribe(heads, connection=conn) is True
        assert await subs.eth_unsubscribe(heads, connection=conn) is False
        assert await subs.eth_unsubscribe(logs, connection=FakeConnection(nursery)) is False  # not its own
        env.seal()
        await trio.testing.wait_all_tasks_blocked()
        assert len(conn.sent) == 9 and len(subs) == 3
        conn.closed = True  # the socket went away: the next event for a subscription forgets it
        await env.send()
        assert list(subs._subscriptions) == [logs]
        nursery.cancel_scope.cancel()  # as the transport does when the socket closes
    assert len(subs) == 0


async def test_subscribe_validates_its_arguments() -> None:
    env = Env()
    subs = SubscriptionApi(env.node)
    async with trio.open_nursery() as nursery:
        conn = FakeConnection(nursery)
        cases = [
            (("newBlocks",), -32601, 'no "newBlocks" subscription in eth namespace'),
            (("logs", {"address": "0x12"}), -32602, "invalid argument 1"),
            (("logs", {"fromBlock": "0x5", "toBlock": "0x1"}), -32602, "invalid block range params"),
            (("newPendingTransactions", "full"), -32602, "invalid argument 1"),
            (("newHeads", {"x": 1}), -32602, "too many arguments"),
        ]
        for args, code, words in cases:
            with pytest.raises(RpcError) as info:
                await subs.eth_subscribe(*args, connection=conn)
            assert info.value.code == code and words in info.value.message
        with pytest.raises(RpcError) as info:
            await subs.eth_subscribe("newHeads", connection=None)
        assert (info.value.code, info.value.message) == (-32001, "notifications not supported")
        with pytest.raises(RpcError):
            await subs.eth_unsubscribe("0x1", connection=None)
        assert len(subs) == 0
        nursery.cancel_scope.cancel()


async def test_a_slow_subscriber_is_dropped_without_blocking_the_sealer() -> None:
    env = Env()
    subs = SubscriptionApi(env.node, max_queued=5)
    async with trio.open_nursery() as nursery:
        slow, fast = FakeConnection(nursery), FakeConnection(nursery)
        slow.gate = trio.Event()
        dropped = await subs.eth_subscribe("newHeads", connection=slow)
        kept = await subs.eth_subscribe("newHeads", connection=fast)
        for _ in range(8):  # 1 in flight + 5 queued, then the queue is full
            env.seal()
            await trio.testing.wait_all_tasks_blocked()
        assert list(subs._subscriptions) == [kept]
        assert len(fast.sent) == 8
        slow.gate.set()
        await trio.testing.wait_all_tasks_blocked()
        # What was in flight finished (a send is never cut in half); nothing after it.
        assert len(slow.sent) == 1 and slow.sent[0]["params"]["subscription"] == dropped
        nursery.cancel_scope.cancel()


async def test_subscriptions_end_when_the_connection_task_group_ends() -> None:
    env = Env()
    subs = SubscriptionApi(env.node)
    async with trio.open_nursery() as nursery:
        conn = FakeConnection(nursery)
        await subs.eth_subscribe("newHeads", connection=conn)
        await subs.eth_subscribe("logs", connection=conn)
        await trio.testing.wait_all_tasks_blocked()
        nursery.cancel_scope.cancel()
    assert len(subs) == 0


def test_a_failing_listener_is_logged_not_raised_into_the_sealer() -> None:
    from node.rpc.filters import guarded

    calls = []

    def broken(arg) -> None:
        calls.append(arg)
        raise RuntimeError("a bug")

    guarded(broken, "test")(7)
    assert calls == [7]


async def test_log_subscription_hears_removed_logs_after_a_revert() -> None:
    env = Env()
    subs = SubscriptionApi(env.node)
    logger = await env.deploy_logger()
    snap = env.node.snapshot()
    async with trio.open_nursery() as nursery:
        conn = FakeConnection(nursery)
        await subs.eth_subscribe("logs", {"address": hx(logger)}, connection=conn)
        tx = await env.emit(logger, A)
        env.seal()
        (live,) = [m["params"]["result"] for m in await conn.wait_for(1)]
        assert live["removed"] is False and live["transactionHash"] == hx(tx)
        assert env.node.revert(snap)
        removed = (await conn.wait_for(2))[1]["params"]["result"]
        assert removed == {**live, "removed": True}
        nursery.cancel_scope.cancel()
