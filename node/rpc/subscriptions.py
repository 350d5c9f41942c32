"""eth_subscribe / eth_unsubscribe over WebSocket: newHeads, logs, newPendingTransactions.

Notifications have geth's shape::

    {"jsonrpc": "2.0", "method": "eth_subscription",
     "params": {"subscription": "0x…", "result": …}}

The node's listeners are synchronous and run on the sealer's task, so they never send: they
put items on the subscription's bounded trio memory channel, and a task in the connection's
nursery drains it onto the socket. A client too slow to keep up (``MAX_QUEUED`` items
waiting) loses the subscription, logged; the sealer never waits for a socket. A
subscription ends with ``eth_unsubscribe`` or when its socket closes. One socket holds at most
``max_per_connection`` subscriptions (``--rpc-max-subscriptions``); one more is refused with
-32005 and the socket goes on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

import structlog
import trio

from node.chain import Block
from node.rpc import encode
from node.rpc.encode import d
from node.rpc.errors import INVALID_PARAMS, METHOD_NOT_FOUND, RpcError
from node.rpc.filters import BlockLogs, LogCriteria, guarded, new_id, parse_log_criteria
from node.rpc.logs import LIMIT_EXCEEDED
from node.rpc.params import parse_bool
from node.service import Node
from runtime.primitives.transaction import Transaction

log = structlog.get_logger(__name__)

MAX_QUEUED: Final = 10_000  # notifications waiting for one subscription before it is dropped
MAX_PER_CONNECTION: Final = 1_000  # subscriptions open on one WebSocket; 0: no limit
NOTIFICATIONS_NOT_SUPPORTED: Final = -32001  # geth's code and words over HTTP

SubscriptionKind = Literal["newHeads", "logs", "newPendingTransactions"]
KINDS: Final = ("newHeads", "logs", "newPendingTransactions")


def notifications_not_supported() -> RpcError:
    return RpcError(NOTIFICATIONS_NOT_SUPPORTED, "notifications not supported")


@dataclass(slots=True, eq=False)
class _Subscription:
    id: str
    kind: SubscriptionKind
    connection: Any  # node.rpc.server.WebSocketConnection
    send: trio.MemorySendChannel
    receive: trio.MemoryReceiveChannel
    criteria: LogCriteria | None = None
    full: bool = False  # newPendingTransactions with full transaction objects
    ended: bool = field(default=False)


class SubscriptionApi:
    def __init__(self, node: Node, *, max_queued: int = MAX_QUEUED, max_per_connection: int = MAX_PER_CONNECTION) -> None:
        self.node = node
        self._max_queued = max_queued
        self._max_per_connection = max_per_connection
        self._subscriptions: dict[str, _Subscription] = {}
        self._per_connection: dict[Any, int] = {}  # open subscriptions by connection
        self._by_kind: dict[str, dict[str, _Subscription]] = {kind: {} for kind in KINDS}
        node.new_block_listeners.append(guarded(self._on_block, "subscriptions.block"))
        node.new_transaction_listeners.append(guarded(self._on_transaction, "subscriptions.transaction"))
        node.removed_block_listeners.append(guarded(self._on_removed_block, "subscriptions.removed_block"))

    def methods(self) -> dict[str, Any]:
        return {"eth_subscribe": self.eth_subscribe, "eth_unsubscribe": self.eth_unsubscribe}

    def __len__(self) -> int:
        return len(self._subscriptions)

    # -- methods -----------------------------------------------------------------------------

    async def eth_subscribe(self, kind: Any, options: Any = None, *, connection: Any = None) -> str:
        if connection is None or getattr(connection, "nursery", None) is None:
            raise notifications_not_supported()
        if kind not in KINDS:
            # geth: code -32601, "no \"x\" subscription in eth namespace"
            raise RpcError(METHOD_NOT_FOUND, f'no "{kind}" subscription in eth namespace')
        criteria, full = None, False
        if kind == "logs":
            criteria = parse_log_criteria({} if options is None else options, self.node, 1)
        elif kind == "newPendingTransactions":
            full = parse_bool(options, 1)
        elif options is not None:
            raise RpcError(INVALID_PARAMS, "too many arguments, want at most 1")
        if connection.closed:
            raise notifications_not_supported()
        limit = self._max_per_connection
        if limit and self._per_connection.get(connection, 0) >= limit:
            raise RpcError(LIMIT_EXCEEDED, f"too many subscriptions on this connection: at most {limit}, "
                           "eth_unsubscribe some first")
        send, receive = trio.open_memory_channel(self._max_queued)
        sub = _Subscription(new_id(self._subscriptions.__contains__), kind, connection, send, receive, criteria, full)
        self._subscriptions[sub.id] = sub
        self._by_kind[kind][sub.id] = sub
        self._per_connection[connection] = self._per_connection.get(connection, 0) + 1
        # The task runs after this method returns. The transport sends the response with no
        # checkpoint in between and sends notifications under the same lock, so the id reaches
        # the client before the first notification (unless a later call of the same batch
        # seals a block first).
        connection.nursery.start_soon(self._deliver, sub)
        return sub.id

    async def eth_unsubscribe(self, subscription_id: Any, *, connection: Any = None) -> bool:
        if connection is None:
            raise notifications_not_supported()
        sub = self._subscriptions.get(subscription_id.lower()) if isinstance(subscription_id, str) else None
        if sub is None or sub.connection is not connection:  # only the subscriber's own
            return False
        self._end(sub)
        return True

    # -- delivery ----------------------------------------------------------------------------

    async def _deliver(self, sub: _Subscription) -> None:
        """Drain ``sub``'s channel onto its socket until it ends or the socket closes."""
        try:
            async with sub.receive:
                async for item in sub.receive:
                    if sub.ended:  # unsubscribed or dropped: what is still queued is discarded
                        break
                    message = {
                        "jsonrpc": "2.0",
                        "method": "eth_subscription",
                        "params": {"subscription": sub.id, "result": self._result(sub, item)},
                    }
                    if not await sub.connection.send_json(message):
                        break
        finally:
            self._end(sub)

    @staticmethod
    def _result(sub: _Subscription, item: Any) -> Any:
        if sub.kind == "newHeads":
            return encode.encode_header_fields(item)
        if sub.kind == "newPendingTransactions":
            return encode.encode_transaction(item) if sub.full else d(item.hash)
        return item  # a log, encoded once per block for every subscriber

    def _end(self, sub: _Subscription) -> None:
        """Forget ``sub``. Its task finishes what it is sending (a send is never cancelled
        half-way: that would corrupt the socket for every other message) and then stops."""
        if self._subscriptions.get(sub.id) is sub:
            del self._subscriptions[sub.id]
            del self._by_kind[sub.kind][sub.id]
            left = self._per_connection.pop(sub.connection) - 1
            if left:
                self._per_connection[sub.connection] = left
        sub.ended = True
        sub.send.close()

    def _push(self, sub: _Subscription, item: Any) -> None:
        if sub.connection.closed:
            self._end(sub)
            return
        try:
            sub.send.send_nowait(item)
        except trio.WouldBlock:
            log.warning(
                "subscription_dropped",
                id=sub.id,
                kind=sub.kind,
                reason=f"client too slow: {self._max_queued} notifications waiting",
            )
            self._end(sub)
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            self._end(sub)

    # -- listeners (synchronous, on the sealer's task) ---------------------------------------

    def _on_block(self, block: Block) -> None:
        for sub in list(self._by_kind["newHeads"].values()):
            self._push(sub, block.header)
        log_subs = self._by_kind["logs"]
        if log_subs and any(block.header.logs_bloom):
            logs = BlockLogs(block)
            for sub in list(log_subs.values()):
                for encoded in logs.matching(sub.criteria):
                    self._push(sub, encoded)
                    if sub.ended:
                        break

    def _on_removed_block(self, block: Block) -> None:
        log_subs = self._by_kind["logs"]
        if log_subs and any(block.header.logs_bloom):
            logs = BlockLogs(block)
            for sub in list(log_subs.values()):
                for encoded in logs.matching(sub.criteria):
                    self._push(sub, {**encoded, "removed": True})
                    if sub.ended:
                        break

    def _on_transaction(self, tx: Transaction) -> None:
        for sub in list(self._by_kind["newPendingTransactions"].values()):
            self._push(sub, tx)

