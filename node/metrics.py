"""Prometheus metrics of the node (``--metrics-port``): chameleon_<area>_<thing>_<unit>."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HEAD = Gauge("chameleon_chain_head_block", "Number of the head block")
FINALIZED = Gauge("chameleon_chain_finalized_block", "Number of the newest final block")
TXPOOL_SIZE = Gauge("chameleon_txpool_transactions", "Transactions in the pool")
TRANSACTIONS = Counter("chameleon_chain_transactions", "Transactions included in sealed blocks")
BLOCK_IMPORT_SECONDS = Histogram(
    "chameleon_chain_block_import_seconds",
    "Time to build, execute and commit one block",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
RPC_SECONDS = Histogram(
    "chameleon_rpc_request_duration_seconds",
    "JSON-RPC call latency by method",
    ["method"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1),
)
RPC_ERRORS = Counter("chameleon_rpc_errors", "JSON-RPC calls answered with an error", ["method"])


_rpc_children: dict[str, object] = {}  # labels() takes a lock and builds a key: once per method


def observe_rpc(method: str, seconds: float, ok: bool) -> None:
    child = _rpc_children.get(method)
    if child is None:
        child = _rpc_children[method] = RPC_SECONDS.labels(method)
    child.observe(seconds)
    if not ok:
        RPC_ERRORS.labels(method).inc()


CONSENSUS_HEIGHT = Gauge("chameleon_consensus_height", "Height the consensus engine is deciding")
CONSENSUS_ROUND = Gauge("chameleon_consensus_round", "Round of the height being decided (bft)")
TIME_TO_FINALITY = Histogram(
    "chameleon_consensus_time_to_finality_seconds",
    "From a block's timestamp to this node seeing it final",
    buckets=(0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30, 60),
)
SYNC_TARGET = Gauge("chameleon_sync_target_block", "Highest head announced by a peer while syncing")
EVIDENCE_PENDING = Gauge("chameleon_consensus_evidence_pending", "Evidence waiting for a block")
