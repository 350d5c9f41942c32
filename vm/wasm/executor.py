"""Running one message's WASM code inside py-evm's computation.

``run_wasm`` is called from ``EvmComputation.apply_computation`` within the computation's
``with`` block, so a raised ``VMError`` is py-evm's: an exceptional halt burns the
frame's gas, ``Revert`` keeps it, and the message's journal snapshot undoes the writes.
"""
from __future__ import annotations

from typing import Any

import ctypes

import wasmtime
from eth.exceptions import OutOfGas, Revert, VMError
from eth_abi import encode as abi_encode
from wasmtime import _bindings, _ffi
from wasmtime import _func as _wasmtime_func

from vm.wasm import config
from vm.wasm.cache import CompiledModule, get_compiled
from vm.wasm.engine import get_engine
from vm.wasm.host import Frame, WasmTrap, get_frames
from vm.wasm.stack import is_wasm_thread, run_on_wasm_stack
from vm.wasm.validate import ModuleRejected, compute_init_code_parts

ERROR_SELECTOR = bytes.fromhex("08c379a0")
_export_get = _bindings._wasmtime_instance_export_get
_func_call_unchecked = _bindings._wasmtime_func_call_unchecked
STATUS_RETURN = 0


class InvalidWasmCode(VMError):
    """The account's code starts with ``\\0asm`` but is not a valid contract module."""


def compute_error_data(reason: str) -> bytes:
    """``Error(string)`` revert data, as Solidity's ``require(false, reason)``."""
    return ERROR_SELECTOR + abi_encode(["string"], [reason])


def is_wasm(code: bytes) -> bool:
    return code[:4] == config.WASM_MAGIC


def validate_wasm_code(code: bytes) -> None:
    """Check code about to be stored at an account (any create, EVM init code included).

    Raises:
        InvalidWasmCode: it is not a valid contract module.
    """
    try:
        get_compiled(code)
    except ModuleRejected as exc:
        raise InvalidWasmCode(f"wasm: {exc.reason}") from None


def run_wasm(computation: Any) -> None:
    """Run the message's WASM code: ``call``, or for a create the validation and ``deploy``.

    Raises:
        VMError: the message failed (``Revert`` keeps the gas left, the others burn it).
    """
    # The first WASM message of a thread runs where it is (one WASM budget on that stack);
    # one nested in it moves to the deep-stack thread, where all deeper ones stay.
    if get_frames() and not is_wasm_thread():
        run_on_wasm_stack(_run_message, computation)
    else:
        _run_message(computation)


def _run_message(computation: Any) -> None:
    message = computation.msg
    if message.is_create:
        module_code, ctor_input = compute_init_code_parts(bytes(message.code))
        try:
            compiled = get_compiled(module_code)
        except ModuleRejected as exc:
            data = compute_error_data(f"wasm: {exc.reason}")
            computation.output = data
            raise Revert(data) from None
        if compiled.has_deploy:
            _run_entry(computation, compiled, "deploy", ctor_input)
        computation.output = module_code
        return
    try:
        compiled = get_compiled(bytes(message.code))
    except ModuleRejected as exc:
        raise InvalidWasmCode(f"wasm: {exc.reason}") from None
    _run_entry(computation, compiled, "call", bytes(message.data))


def _get_export(store: wasmtime.Store, instance: wasmtime.Instance, name: bytes) -> Any:
    # One export by name: wasmtime-py's instance.exports() wraps every export (~25 µs).
    item = _ffi.wasmtime_extern_t()
    if not _export_get(store._context(), ctypes.byref(instance._instance), name, len(name), ctypes.byref(item)):
        raise WasmTrap(f"wasm: no export {name.decode()}")  # validated at deploy: cannot happen
    return item


def _call_entry(store: wasmtime.Store, func: Any) -> int:
    """Call an entry point, ``() -> i32`` (validated at deploy), through the raw C call.

    wasmtime-py's ``Func.__call__`` reads the function's type and boxes every value first;
    the entry's type is known. ``enter_wasm`` turns a trap, or an exception a host
    function raised, back into a Python exception, as ``Func.__call__`` does.
    """
    values = (_ffi.wasmtime_val_raw_t * 1)()
    with _wasmtime_func.enter_wasm(store) as trap:
        error = _func_call_unchecked(store._context(), ctypes.byref(func), values, 1, trap)
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)
    return values[0].i32


def _run_entry(computation: Any, compiled: CompiledModule, entry: str, input_data: bytes) -> None:
    store = wasmtime.Store(get_engine())
    store.set_limits(
        memory_size=config.MAX_MEMORY_PAGES * config.WASM_PAGE_BYTES,
        table_elements=config.MAX_TABLE_ELEMENTS,
        instances=1,
        memories=1,
    )
    frame = Frame(computation, store, input_data)
    frames = get_frames()
    frames.append(frame)
    try:
        frame.apply_fuel(store._context())
        instance = compiled.instance_pre.instantiate(store)
        frame.memory = wasmtime.Memory._from_raw(_get_export(store, instance, b"memory").of.memory)
        frame.pages_charged = frame.memory.size(store)
        status = _call_entry(store, _get_export(store, instance, entry.encode()).of.func)
        frame.apply_charge(store._context(), 0, "wasm instructions", final=True)
    except wasmtime.Trap as trap:
        if trap.trap_code == wasmtime.TrapCode.OUT_OF_FUEL:
            raise OutOfGas("wasm: out of fuel") from None
        code = trap.trap_code
        raise WasmTrap(f"wasm trap: {code.name.lower() if code else 'host'}") from None
    except wasmtime.WasmtimeError as exc:
        raise WasmTrap(f"wasm: {exc}") from None
    finally:
        frames.pop()
    computation.output = frame.output
    if status != STATUS_RETURN:
        raise Revert(frame.output)
