"""geth's tracing methods: debug_traceTransaction, debug_traceCall, debug_traceBlockByNumber/ByHash.

A transaction is traced by re-executing its block on the parent's state: the transactions
before it untraced, then it with the tracer watching. Nothing is written to the store
(trie nodes of the replay stay in the ``StateDB``'s pending writes and are dropped).

Options as geth takes them: ``{tracer?, tracerConfig?, disableStorage?, disableStack?,
enableMemory?, enableReturnData?, limit?, timeout?}``; no ``tracer`` gives the struct
logger, ``callTracer`` and ``prestateTracer`` the native tracers of the same names.
``timeout`` is accepted and not enforced (a trace runs to its end).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from node.chain import Block
from node.rpc.encode import d
from node.rpc.errors import EXECUTION_ERROR, RpcError, invalid_params
from node.rpc.eth import EthApi
from node.rpc.params import parse_block_id, parse_call_args, parse_hash, parse_quantity
from runtime.executive import apply_fee_share, apply_transaction, block_context
from runtime.primitives.header import Header
from runtime.state.store import StateDB
from vm import evm, trace
from vm.host import BlockContext

TRACERS = ("callTracer", "prestateTracer")
UNSUPPORTED_TRACER = (
    "tracer {name!r} is not supported: the tracers are " + ", ".join(TRACERS)
    + ", or none for the struct logger (opcode by opcode)"
)


@dataclass(frozen=True, slots=True)
class TraceOptions:
    make_tracer: Callable[[], trace.Tracer]
    tx_index: int | None = None  # debug_traceCall: run on the state before this transaction of the block


def parse_trace_options(value: Any, index: int, *, call: bool = False) -> TraceOptions:
    """geth's TraceConfig (TraceCallConfig when ``call``).

    Raises:
        RpcError: -32602, naming the field, or the tracer that is not supported.
    """
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise invalid_params(f"invalid argument {index}: expected a trace config object")

    def flag(source: dict, name: str) -> bool:
        raw = source.get(name)
        if raw is None:
            return False
        if not isinstance(raw, bool):
            raise invalid_params(f"invalid argument {index}: {name}: expected a boolean")
        return raw

    timeout = value.get("timeout")
    if timeout is not None and not isinstance(timeout, str):
        raise invalid_params(f"invalid argument {index}: timeout: expected a duration such as \"10s\"")
    tx_index = None
    if call:
        for overrides in ("stateOverrides", "blockOverrides"):
            if value.get(overrides):
                raise invalid_params(f"invalid argument {index}: {overrides} are not supported yet")
        if value.get("txIndex") is not None:
            tx_index = parse_quantity(value["txIndex"], index, bits=32)

    name = value.get("tracer")
    if name is not None and not isinstance(name, str):
        raise invalid_params(f"invalid argument {index}: tracer: expected a tracer name")
    config = value.get("tracerConfig")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise invalid_params(f"invalid argument {index}: tracerConfig: expected an object")
    if not name:
        limit = value.get("limit")
        if limit is None:
            limit = 0
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise invalid_params(f"invalid argument {index}: limit: expected a number")
        logger = trace.StructLoggerConfig(
            disable_stack=flag(value, "disableStack"),
            disable_storage=flag(value, "disableStorage"),
            enable_memory=flag(value, "enableMemory"),
            enable_return_data=flag(value, "enableReturnData"),
            limit=limit,
        )
        return TraceOptions(lambda: trace.StructLogger(logger), tx_index)
    if name == "callTracer":
        calls = trace.CallTracerConfig(only_top_call=flag(config, "onlyTopCall"), with_log=flag(config, "withLog"))
        return TraceOptions(lambda: trace.CallTracer(calls), tx_index)
    if name == "prestateTracer":
        prestate = trace.PrestateTracerConfig(
            diff_mode=flag(config, "diffMode"),
            disable_code=flag(config, "disableCode"),
            disable_storage=flag(config, "disableStorage"),
            include_empty=flag(config, "includeEmpty"),
        )
        if prestate.diff_mode and prestate.include_empty:
            raise invalid_params("cannot use diffMode with includeEmpty")
        return TraceOptions(lambda: trace.PrestateTracer(prestate), tx_index)
    raise invalid_params(UNSUPPORTED_TRACER.format(name=name))


class DebugApi:
    def __init__(self, eth: EthApi) -> None:
        self.eth = eth
        self.chain = eth.chain

    def methods(self) -> dict[str, Any]:
        return {
            "debug_traceTransaction": self.debug_traceTransaction,
            "debug_traceCall": self.debug_traceCall,
            "debug_traceBlockByNumber": self.debug_traceBlockByNumber,
            "debug_traceBlockByHash": self.debug_traceBlockByHash,
        }

    async def debug_traceTransaction(self, tx_hash: Any, options: Any = None) -> Any:
        """The trace of a transaction in the chain, re-executed where it ran."""
        wanted = parse_hash(tx_hash, 0)
        make = parse_trace_options(options, 1).make_tracer
        location = self.chain.get_transaction_location(wanted)
        if location is None:
            raise RpcError(EXECUTION_ERROR, "transaction not found")
        block, index = location
        ((_, result),) = self._trace_block(block, make, only=index)
        return result

    async def debug_traceBlockByNumber(self, number: Any, options: Any = None) -> list[dict[str, Any]]:
        """Every transaction of a block traced: ``[{txHash, result}]``."""
        header = self.eth._header(parse_block_id(number, 0, allow_hash=False), 0)
        return self._trace_whole_block(header, parse_trace_options(options, 1).make_tracer)

    async def debug_traceBlockByHash(self, block_hash: Any, options: Any = None) -> list[dict[str, Any]]:
        """Every transaction of a block traced: ``[{txHash, result}]``."""
        header = self.chain.get_header_by_hash(parse_hash(block_hash, 0))
        if header is None:
            raise RpcError(EXECUTION_ERROR, f"block 0x{parse_hash(block_hash, 0).hex()} not found")
        return self._trace_whole_block(header, parse_trace_options(options, 1).make_tracer)

    async def debug_traceCall(self, tx_object: Any, block: Any = "latest", options: Any = None) -> Any:
        """A call traced on a block's state (after the block, or before its ``txIndex``-th transaction)."""
        args = parse_call_args(tx_object, 0)
        block_id = parse_block_id(block, 1)
        if block_id.tag == "pending":
            raise RpcError(EXECUTION_ERROR, "tracing on top of pending is not supported")
        options_ = parse_trace_options(options, 2, call=True)
        header = self.eth._header(block_id, 1)
        fee_given = args.gas_price is not None or args.max_fee_per_gas is not None
        context = BlockContext(
            number=header.number,
            timestamp=header.timestamp,
            gas_limit=header.gas_limit,
            # As geth (and eth_call here): a call that names no fee runs with base fee 0.
            base_fee=header.base_fee_per_gas if fee_given else 0,
            coinbase=header.coinbase,
            chain_id=self.chain.spec.chain_id,
            prev_hashes=self.eth._prev_hashes(header.number),
        )
        db = StateDB(self.chain.store)
        root = header.state_root
        if options_.tx_index is not None:
            root = self._state_root_before(db, header, options_.tx_index)
        state = evm.open_state(db, context, root)
        max_fee = args.max_fee_per_gas if args.max_fee_per_gas is not None else (args.gas_price or 0)
        tip = args.max_priority_fee_per_gas if args.max_priority_fee_per_gas is not None else (args.gas_price or 0)
        if args.max_fee_per_gas is not None and args.max_priority_fee_per_gas is None:
            tip = 0
        tracer = options_.make_tracer()
        try:
            trace.trace_call(
                state, tracer,
                sender=args.sender or b"\x00" * 20,
                to=args.to,
                data=args.data,
                value=args.value,
                gas=args.gas if args.gas is not None else header.gas_limit,
                max_fee_per_gas=max_fee,
                max_priority_fee_per_gas=min(tip, max_fee),
                access_list=args.access_list,
            )
        except evm.ExecutionRejected as exc:
            raise RpcError(EXECUTION_ERROR, f"tracing failed: {_rejection_text(str(exc))}") from None
        return tracer.result()

    # -- replay ----------------------------------------------------------------------

    def _parent_state(self, db: StateDB, header: Header) -> evm.EvmState:
        """The state a block started from, in that block's context."""
        if header.number == 0:
            raise RpcError(EXECUTION_ERROR, "genesis is not traceable")
        parent = self.chain.get_header_by_hash(header.parent_hash)
        if parent is None:
            raise RpcError(EXECUTION_ERROR, f"parent of block #{header.number} not found")
        context = block_context(
            parent,
            timestamp=header.timestamp,
            coinbase=header.coinbase,
            chain_id=self.chain.spec.chain_id,
            prev_hashes=self.chain.ancestor_hashes(parent),
        )
        return evm.open_state(db, context, parent.state_root)

    def _state_root_before(self, db: StateDB, header: Header, tx_index: int) -> bytes:
        block = self.chain.get_block_by_hash(header.hash)
        if tx_index >= len(block.transactions):
            raise RpcError(EXECUTION_ERROR, f"transaction index {tx_index} out of range for block 0x{header.hash.hex()}")
        state = self._parent_state(db, header)
        for tx in block.transactions[:tx_index]:
            _replay(state, tx)
        state.persist()  # into db's pending writes only
        return state.state_root

    def _trace_block(self, block: Block, make: Callable[[], trace.Tracer], *, only: int | None = None) -> list[tuple[bytes, Any]]:
        """(hash, trace) of each transaction of ``block``, or of the ``only``-th alone."""
        state = self._parent_state(StateDB(self.chain.store), block.header)
        results = []
        log_index = 0
        for i, tx in enumerate(block.transactions):
            if only is not None and i < only:
                _replay(state, tx)
            else:
                tracer = make()
                try:
                    outcome = trace.trace_transaction(state, tx.evm, tracer, log_index=log_index)
                    apply_fee_share(state, outcome)  # as the block did, for the transactions after it
                except evm.ExecutionRejected as exc:
                    raise RpcError(EXECUTION_ERROR, f"tracing failed: {exc}") from None
                results.append((tx.hash, tracer.result()))
                if only is not None:
                    break
            log_index += len(block.receipts[i].logs)
        return results

    def _trace_whole_block(self, header: Header, make: Callable[[], trace.Tracer]) -> list[dict[str, Any]]:
        block = self.chain.get_block_by_hash(header.hash)
        return [{"txHash": d(tx_hash), "result": result} for tx_hash, result in self._trace_block(block, make)]


def _replay(state: evm.EvmState, tx: Any) -> None:
    try:
        apply_transaction(state, tx)
    except evm.ExecutionRejected as exc:  # the chain holds it, so it ran: the store is damaged
        raise RpcError(EXECUTION_ERROR, f"re-executing 0x{tx.hash.hex()} failed: {exc}") from None


def _rejection_text(text: str) -> str:
    if "cannot afford" in text or "enough balance" in text:
        return "insufficient funds for gas * price + value"
    if "lower than block's base fee" in text:
        return "max fee per gas less than block base fee"
    return text
