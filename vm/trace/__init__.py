"""Tracing EVM execution as geth's debug_trace* methods show it.

    tracer = CallTracer(CallTracerConfig(with_log=True))
    outcome = trace_transaction(state, tx.evm, tracer)   # state: vm.evm.open_state(...)
    tracer.result()                                      # geth's JSON

Three tracers: ``StructLogger`` (geth's default: one entry per opcode), ``CallTracer``
(``callTracer``) and ``PrestateTracer`` (``prestateTracer``). A transaction runs traced
through the same ``vm.evm.execute`` (or ``call``) as always, with the computation class of
that one state swapped for one that reports to the tracer (see ``hooks``); nothing else
changes, so blocks built and imported never pay for tracing.
"""
from __future__ import annotations

from typing import Any

from eth._utils.address import generate_contract_address

from vm import evm
from vm.trace.call_tracer import CallTracer, CallTracerConfig
from vm.trace.hooks import Frame, FrameResult, Tracer, TxInfo, make_computation_class
from vm.trace.prestate import PrestateTracer, PrestateTracerConfig
from vm.trace.struct_logger import StructLogger, StructLoggerConfig


def _run_traced(state: evm.EvmState, tracer: Tracer, tx: TxInfo, run: Any) -> evm.Outcome:
    tracer.start(state, tx)
    state.computation_class = make_computation_class(tracer)  # this state object only
    try:
        outcome = run()
    finally:
        del state.computation_class
    tracer.end(state, outcome)
    return outcome


def _tx_info(state: evm.EvmState, sender: bytes, to: bytes | None, value: int, data: bytes, gas: int,
             log_index: int) -> TxInfo:
    is_create = not to
    if is_create:
        to = bytes(generate_contract_address(sender, state.get_nonce(sender)))
    return TxInfo(sender, to, is_create, value, data, gas, bytes(state.coinbase), log_index)


def trace_transaction(state: evm.EvmState, evm_tx: Any, tracer: Tracer, *, log_index: int = 0) -> evm.Outcome:
    """``vm.evm.execute`` with ``tracer`` watching; ``log_index``: logs earlier in the block.

    Raises:
        vm.evm.ExecutionRejected: as ``execute``.
    """
    sender = bytes(evm_tx.sender)
    tx = _tx_info(state, sender, bytes(evm_tx.to), evm_tx.value, bytes(evm_tx.data), evm_tx.gas, log_index)
    return _run_traced(state, tracer, tx, lambda: evm.execute(state, evm_tx))


def trace_call(state: evm.EvmState, tracer: Tracer, *, sender: bytes, to: bytes | None, data: bytes,
               value: int, gas: int, **fees: Any) -> evm.Outcome:
    """``vm.evm.call`` with ``tracer`` watching (``fees``: its fee and access-list arguments).

    Raises:
        vm.evm.ExecutionRejected: as ``call``.
    """
    tx = _tx_info(state, sender, to, value, data, gas, 0)
    return _run_traced(state, tracer, tx, lambda: evm.call(state, sender=sender, to=to, data=data, value=value, gas=gas, **fees))


__all__ = [
    "CallTracer",
    "CallTracerConfig",
    "Frame",
    "FrameResult",
    "PrestateTracer",
    "PrestateTracerConfig",
    "StructLogger",
    "StructLoggerConfig",
    "Tracer",
    "TxInfo",
    "trace_call",
    "trace_transaction",
]
