"""Log criteria: what eth_getLogs, log filters and `logs` subscriptions match, parsed once."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from node.chain import Block
from node.rpc.errors import INVALID_PARAMS, RpcError
from node.rpc.params import parse_address, parse_block_id, parse_hash
from node.service import Node

LOG_FILTER_FIELDS: Final = frozenset({"fromBlock", "toBlock", "address", "topics", "blockHash"})

# Limits on one eth_getLogs (and eth_getFilterLogs) query; 0 turns a limit off.
DEFAULT_MAX_LOGS_BLOCK_RANGE: Final = 100_000  # reth's default
DEFAULT_MAX_LOGS_RESULTS: Final = 10_000  # Infura's
LIMIT_EXCEEDED: Final = -32005  # EIP-1474 "limit exceeded", as Infura answers a too-big log query


def logs_range_too_large(limit: int) -> RpcError:
    """A block range wider than ``limit`` blocks, in reth's code and words."""
    return RpcError(INVALID_PARAMS, f"query exceeds max block range {limit}")


def too_many_logs(limit: int, fits: tuple[int, int] | None) -> RpcError:
    """More than ``limit`` matching logs, in Infura's code and words; ``fits`` is a block range
    whose logs are known to fit, suggested in Infura's form (tools such as ponder parse it)."""
    message = f"query returned more than {limit} results"
    if fits is not None:
        message += f". Try with this block range [0x{fits[0]:x}, 0x{fits[1]:x}]."
    return RpcError(LIMIT_EXCEEDED, message)


@dataclass(frozen=True, slots=True)
class LogCriteria:
    """What a log filter or a `logs` subscription matches.

    ``from_number``/``to_number`` are inclusive bounds on the block number, None where the
    filter said a tag (``latest``, ``pending``...): open-ended, as geth's live filters.
    """

    addresses: list[bytes] = field(default_factory=list)
    topics: list[list[bytes] | None] = field(default_factory=list)
    from_number: int | None = None
    to_number: int | None = None
    block_hash: bytes | None = None

    def admits_block(self, block: Block) -> bool:
        if self.block_hash is not None:
            return block.hash == self.block_hash
        number = block.header.number
        if self.from_number is not None and number < self.from_number:
            return False
        return self.to_number is None or number <= self.to_number

    def matches(self, entry: Any) -> bool:
        return log_matches(entry, self.addresses, self.topics)


def parse_log_criteria(filter_object: Any, node: Node, index: int = 0) -> LogCriteria:
    """Validate a filter object as ``eth_getLogs`` does (same checks, same messages).

    Raises:
        RpcError: -32602 for a malformed object, -32001 for an unknown ``blockHash``.
    """
    if not isinstance(filter_object, dict):
        raise RpcError(INVALID_PARAMS, f"invalid argument {index}: expected a filter object")
    unknown = sorted(set(filter_object) - LOG_FILTER_FIELDS)
    if unknown:
        raise RpcError(INVALID_PARAMS, f"invalid argument {index}: unknown field {unknown[0]!r}")
    addresses = [parse_address(a, index) for a in _as_list(filter_object.get("address"))]
    topics_param = filter_object.get("topics") or []
    if not isinstance(topics_param, list) or len(topics_param) > 4:
        raise RpcError(INVALID_PARAMS, f"invalid argument {index}: topics must be a list of at most 4 entries")
    topics: list[list[bytes] | None] = []
    for entry in topics_param:
        if entry is None:
            topics.append(None)
        else:
            alternatives = [parse_hash(t, index) for t in _as_list(entry) if t is not None]
            topics.append(alternatives or None)
    from_param, to_param = filter_object.get("fromBlock"), filter_object.get("toBlock")
    if filter_object.get("blockHash") is not None:
        if from_param is not None or to_param is not None:
            raise RpcError(INVALID_PARAMS, f"invalid argument {index}: cannot specify both blockHash and fromBlock/toBlock")
        block_hash = parse_hash(filter_object["blockHash"], index)
        if node.chain.get_header_by_hash(block_hash) is None:
            raise RpcError(-32001, "unknown block")
        return LogCriteria(addresses, topics, block_hash=block_hash)
    from_number = _bound(from_param, index)
    to_number = _bound(to_param, index)
    # As eth_getLogs, with a tag read as the head now: a range that ends before it starts.
    start = from_number if from_number is not None else node.chain.head.number
    if to_number is not None and start > to_number:
        raise RpcError(INVALID_PARAMS, "invalid block range params")
    return LogCriteria(addresses, topics, from_number, to_number)


def _bound(value: Any, index: int) -> int | None:
    block = parse_block_id(value, index, allow_hash=False)
    if block.number is not None:
        return block.number
    return 0 if block.tag == "earliest" else None


def log_matches(entry: Any, addresses: list[bytes], topics: list[list[bytes] | None]) -> bool:
    if addresses and entry.address not in addresses:
        return False
    for position, alternatives in enumerate(topics):
        if alternatives is None:
            continue
        if position >= len(entry.topics) or entry.topics[position] not in alternatives:
            return False
    return True


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
