"""Polling filters: eth_newFilter, eth_newBlockFilter, eth_newPendingTransactionFilter,
eth_getFilterChanges, eth_getFilterLogs, eth_uninstallFilter, as geth and Anvil serve them.

A filter buffers what happened since its last poll: the logs of newly sealed blocks that
match it (a log filter), the hashes of new blocks (a block filter) or of transactions
entering the pool (a pending-transaction filter). The node's listeners feed the buffers
synchronously after each sealed block and each pooled transaction, so they only match and
append; the JSON is built once per block and only for logs some filter wants.

As geth: ``eth_getFilterChanges`` on a log filter returns only logs of blocks sealed after
the filter was made (not the history from ``fromBlock``; ``eth_getFilterLogs`` gives that),
within the filter's numeric ``fromBlock``/``toBlock``. A filter not polled for five
minutes is removed. Memory is bounded: ``MAX_FILTERS`` filters, each holding at most
``MAX_BUFFERED`` items (the oldest are dropped).
"""
from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import structlog

from node.chain import Block
from node.rpc import encode
from node.rpc.encode import d, q
from node.rpc.errors import EXECUTION_ERROR, RpcError
from node.rpc.eth import EthApi
from node.rpc.logs import LogCriteria, parse_log_criteria
from node.rpc.params import parse_bool
from node.service import Node
from runtime.primitives.transaction import Transaction

log = structlog.get_logger(__name__)

FILTER_TIMEOUT_S: Final = 300.0  # geth's: a filter not polled for 5 minutes is removed
MAX_FILTERS: Final = 1_000
MAX_BUFFERED: Final = 10_000

FilterKind = Literal["logs", "blocks", "pending"]


def filter_not_found() -> RpcError:
    return RpcError(EXECUTION_ERROR, "filter not found")


def new_id(taken: Callable[[str], bool]) -> str:
    """A fresh random 128-bit id as a hex quantity (geth's form), not in use yet."""
    while True:
        candidate = q(secrets.randbits(128))
        if not taken(candidate):
            return candidate


def guarded(listener: Callable[[Any], None], name: str) -> Callable[[Any], None]:
    """``listener``, logging its own failure instead of raising into the sealer."""

    def call(arg: Any) -> None:
        try:
            listener(arg)
        except Exception:
            log.exception("listener_failed", listener=name)

    return call


class BlockLogs:
    """The logs of one sealed block, each encoded (as eth_getLogs encodes it) at most once."""

    __slots__ = ("block", "_entries", "_encoded")

    def __init__(self, block: Block) -> None:
        self.block = block
        self._entries: list[tuple[Any, int, int]] | None = None  # (log, tx index, log index)
        self._encoded: dict[int, dict[str, Any]] = {}

    def matching(self, criteria: LogCriteria) -> Iterator[dict[str, Any]]:
        if not criteria.admits_block(self.block):
            return
        if self._entries is None:
            entries = []
            log_index = 0
            for tx_index, receipt in enumerate(self.block.receipts):
                for entry in receipt.logs:
                    entries.append((entry, tx_index, log_index))
                    log_index += 1
            self._entries = entries
        for entry, tx_index, log_index in self._entries:
            if criteria.matches(entry):
                encoded = self._encoded.get(log_index)
                if encoded is None:
                    encoded = self._encode(entry, tx_index, log_index)
                yield encoded

    def _encode(self, entry: Any, tx_index: int, log_index: int) -> dict[str, Any]:
        block = self.block
        first = encode.first_log_index(block, tx_index)
        for offset, encoded in enumerate(encode.encode_logs_of(block, tx_index, first)):
            self._encoded[first + offset] = encoded
        return self._encoded[log_index]


# -- filters ---------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class _Filter:
    kind: FilterKind
    last_poll: float
    criteria: LogCriteria | None = None
    filter_object: dict[str, Any] | None = None  # as given, for eth_getFilterLogs
    items: deque = field(default_factory=lambda: deque(maxlen=MAX_BUFFERED))
    full: bool = False  # a pending filter that returns transaction objects
    dropped: int = 0


class FilterApi:
    """The filter methods; ``clock`` (seconds, monotonic) decides when a filter expires."""

    def __init__(
        self,
        node: Node,
        eth_api: EthApi,
        *,
        clock: Callable[[], float] = time.monotonic,
        timeout: float = FILTER_TIMEOUT_S,
        max_filters: int = MAX_FILTERS,
        max_buffered: int = MAX_BUFFERED,
    ) -> None:
        self.node = node
        self.eth_api = eth_api
        self._clock = clock
        self._timeout = timeout
        self._max_filters = max_filters
        self._max_buffered = max_buffered
        self._filters: dict[str, _Filter] = {}
        # By kind, so each listener walks only the filters it feeds.
        self._by_kind: dict[FilterKind, dict[str, _Filter]] = {"logs": {}, "blocks": {}, "pending": {}}
        node.new_block_listeners.append(guarded(self._on_block, "filters.block"))
        node.new_transaction_listeners.append(guarded(self._on_transaction, "filters.transaction"))
        node.removed_block_listeners.append(guarded(self._on_removed_block, "filters.removed_block"))

    def methods(self) -> dict[str, Any]:
        return {
            "eth_newFilter": self.eth_newFilter,
            "eth_newBlockFilter": self.eth_newBlockFilter,
            "eth_newPendingTransactionFilter": self.eth_newPendingTransactionFilter,
            "eth_getFilterChanges": self.eth_getFilterChanges,
            "eth_getFilterLogs": self.eth_getFilterLogs,
            "eth_uninstallFilter": self.eth_uninstallFilter,
        }

    def __len__(self) -> int:
        return len(self._filters)

    # -- methods -----------------------------------------------------------------------------

    async def eth_newFilter(self, filter_object: Any) -> str:
        criteria = parse_log_criteria(filter_object, self.node)
        return self._install(_Filter("logs", self._clock(), criteria, dict(filter_object), self._buffer()))

    async def eth_newBlockFilter(self) -> str:
        return self._install(_Filter("blocks", self._clock(), items=self._buffer()))

    async def eth_newPendingTransactionFilter(self, full: Any = None) -> str:
        # geth's optional fullTx flag: changes are then transaction objects, not hashes.
        return self._install(_Filter("pending", self._clock(), items=self._buffer(), full=parse_bool(full, 0)))

    async def eth_getFilterChanges(self, filter_id: Any) -> list[Any]:
        found = self._get(filter_id)
        changes = list(found.items)
        found.items.clear()
        if found.full:
            changes = [encode.encode_transaction(tx) for tx in changes]
        if found.dropped:
            log.info("filter_items_dropped", id=filter_id, kind=found.kind, dropped=found.dropped)
            found.dropped = 0
        return changes

    async def eth_getFilterLogs(self, filter_id: Any) -> list[dict[str, Any]]:
        found = self._get(filter_id)
        if found.kind != "logs":
            raise filter_not_found()  # geth's answer for a block or pending filter
        # The whole range, resolved now: exactly what eth_getLogs answers for the object.
        return await self.eth_api.eth_getLogs(found.filter_object)

    async def eth_uninstallFilter(self, filter_id: Any) -> bool:
        self._expire()
        if not isinstance(filter_id, str):
            return False
        return self._remove(filter_id.lower())

    # -- bookkeeping -------------------------------------------------------------------------

    def _buffer(self) -> deque:
        return deque(maxlen=self._max_buffered)

    def _install(self, new: _Filter) -> str:
        self._expire()
        if len(self._filters) >= self._max_filters:
            raise RpcError(EXECUTION_ERROR, f"too many filters (at most {self._max_filters}): uninstall some with eth_uninstallFilter")
        filter_id = new_id(self._filters.__contains__)
        self._filters[filter_id] = new
        self._by_kind[new.kind][filter_id] = new
        return filter_id

    def _get(self, filter_id: Any) -> _Filter:
        self._expire()
        found = self._filters.get(filter_id.lower()) if isinstance(filter_id, str) else None
        if found is None:
            raise filter_not_found()
        found.last_poll = self._clock()
        return found

    def _remove(self, filter_id: str) -> bool:
        found = self._filters.pop(filter_id, None)
        if found is None:
            return False
        del self._by_kind[found.kind][filter_id]
        return True

    def _expire(self) -> None:
        deadline = self._clock() - self._timeout
        for filter_id in [i for i, f in self._filters.items() if f.last_poll <= deadline]:
            self._remove(filter_id)
            log.debug("filter_expired", id=filter_id)

    # -- listeners (synchronous, on the sealer's task) ---------------------------------------

    def _on_block(self, block: Block) -> None:
        self._expire()
        if self._by_kind["blocks"]:
            block_hash = d(block.hash)
            for found in self._by_kind["blocks"].values():
                _append(found, block_hash)
        log_filters = self._by_kind["logs"]
        if log_filters and any(block.header.logs_bloom):
            logs = BlockLogs(block)
            for found in log_filters.values():
                for encoded in logs.matching(found.criteria):
                    _append(found, encoded)

    def _on_removed_block(self, block: Block) -> None:
        # As geth on a reorg: log filters see the block's logs again, marked removed.
        log_filters = self._by_kind["logs"]
        if log_filters and any(block.header.logs_bloom):
            logs = BlockLogs(block)
            for found in log_filters.values():
                for encoded in logs.matching(found.criteria):
                    _append(found, {**encoded, "removed": True})

    def _on_transaction(self, tx: Transaction) -> None:
        pending = self._by_kind["pending"]
        if pending:
            tx_hash = d(tx.hash)
            for found in pending.values():
                _append(found, tx if found.full else tx_hash)


def _append(found: _Filter, item: Any) -> None:
    items = found.items
    if len(items) == items.maxlen:
        found.dropped += 1
    items.append(item)
