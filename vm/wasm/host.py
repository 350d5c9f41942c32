"""The ``env`` imports: what a WASM contract may ask of the chain (HOST_API.md).

Each import runs in Python against py-evm's computation of the message. Where the table
says "as SLOAD/SSTORE/BALANCE/LOG/CALL/CREATE", the import pushes the operands on the
computation's (otherwise unused) stack and runs the fork's own opcode, so warm/cold
access, refunds, the 63/64 rule, stipends and static-call protection are py-evm's, exactly.
Operands in memory go through the computation's EVM memory at offset 0, grown without
charge first (the contract already paid for its own WASM memory); copying a call's or a
create's data costs 3 gas per word instead, as CALLDATACOPY does.

Gas: wasmtime fuel is turned into gas at every host call (``Frame.apply_charge``) and
after the host call the fuel is reset from the gas left, so ``gas_left``, SSTORE's 2300
check and a callee's 63/64 share all see the exact amount.
"""
from __future__ import annotations

import ctypes
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

import wasmtime
from wasmtime import _bindings
from wasmtime import _ffi as ffi
from wasmtime import _func as _wasmtime_func
from eth.exceptions import OutOfBoundsRead, Revert, VMError
from eth_hash.auto import keccak

from vm.wasm import config
from vm.wasm.engine import get_engine
from vm.wasm.validate import IMPORTS

U32_MASK = 0xFFFFFFFF
U64_MASK = 0xFFFFFFFFFFFFFFFF
WORD_BYTES = 32
MAX_TOPICS = 4

SLOAD, SSTORE, BALANCE = 0x54, 0x55, 0x31
LOG0 = 0xA0
CALL, DELEGATECALL, STATICCALL = 0xF1, 0xF4, 0xFA
CREATE, CREATE2 = 0xF0, 0xF5
# CALL's gas operand when the contract passes 0: more than any frame has, so py-evm's
# 63/64 rule picks "all but one 64th".
ALL_GAS = 2**256 - 1

GAS_BASE = 2
GAS_VERYLOW = 3
GAS_COPY_WORD = 3
GAS_KECCAK = 30
GAS_KECCAK_WORD = 6


class WasmTrap(VMError):
    """The contract trapped (bad memory access, unreachable, stack exhaustion, ...)."""


# The C functions themselves, without wasmtime-py's Python wrappers around each: a host
# call makes five of these crossings.
_get_fuel = _bindings._wasmtime_context_get_fuel
_set_fuel = _bindings._wasmtime_context_set_fuel
_memory_data = _bindings._wasmtime_memory_data
_memory_data_size = _bindings._wasmtime_memory_data_size
_caller_context = _bindings._wasmtime_caller_context


class Frame:
    """One running message: its computation, wasmtime store and instance memory."""

    __slots__ = ("computation", "store", "memory", "input", "output", "fuel_set", "fuel_carry", "pages_charged",
                 "base", "length")

    def __init__(self, computation: Any, store: wasmtime.Store, input_data: bytes) -> None:
        self.computation = computation
        self.store = store
        self.memory: wasmtime.Memory | None = None
        self.input = input_data
        self.output = b""
        self.fuel_set = 0
        # Fuel used but not yet charged: less than one gas.
        self.fuel_carry = 0
        self.pages_charged = 0
        # The instance memory's address and size, read once per host call: the contract is
        # paused meanwhile and nothing else can grow (and so move) its memory.
        self.base = 0
        self.length = 0

    def load_memory(self, context: Any) -> None:
        raw = ctypes.byref(self.memory._memory)
        self.base = ctypes.cast(_memory_data(context, raw), ctypes.c_void_p).value or 0
        self.length = _memory_data_size(context, raw)

    def apply_fuel(self, context: Any) -> None:
        """Give the instance fuel for the gas left, less the fuel used and not yet charged."""
        fuel = max(0, self.computation.get_gas_remaining() * config.FUEL_PER_GAS - self.fuel_carry)
        err = _set_fuel(context, fuel)
        if err:
            raise wasmtime.WasmtimeError._from_ptr(err)
        self.fuel_set = fuel

    def apply_charge(self, context: Any, gas: int, reason: str, final: bool = False) -> None:
        """Charge the fuel burnt since the last call, memory growth and ``gas``."""
        remaining = ctypes.c_uint64(0)
        err = _get_fuel(context, ctypes.byref(remaining))
        if err:
            raise wasmtime.WasmtimeError._from_ptr(err)
        used = self.fuel_carry + max(0, self.fuel_set - remaining.value)
        fuel_gas, self.fuel_carry = divmod(used, config.FUEL_PER_GAS)
        if final and self.fuel_carry:
            fuel_gas += 1
            self.fuel_carry = 0
        self.fuel_set = remaining.value
        if self.memory is not None:
            if final:
                self.load_memory(context)
            pages = self.length // config.WASM_PAGE_BYTES
            if pages > self.pages_charged:
                gas += (pages - self.pages_charged) * config.MEMORY_PAGE_GAS
                self.pages_charged = pages
        self.computation.consume_gas(fuel_gas + gas, reason=reason)

    def get_bytes(self, context: Any, ptr: int, size: int) -> bytes:
        ptr &= U32_MASK
        size &= U32_MASK
        if ptr + size > self.length:
            raise WasmTrap(f"memory read out of bounds ({ptr}+{size} > {self.length})")
        return ctypes.string_at(self.base + ptr, size) if size else b""

    def set_bytes(self, context: Any, ptr: int, data: bytes) -> None:
        ptr &= U32_MASK
        if ptr + len(data) > self.length:
            raise WasmTrap(f"memory write out of bounds ({ptr}+{len(data)} > {self.length})")
        ctypes.memmove(self.base + ptr, data, len(data))


_local = threading.local()


def get_frames() -> list[Frame]:
    """The running messages of this thread, innermost last (A -> B -> A nests)."""
    frames = getattr(_local, "frames", None)
    if frames is None:
        frames = _local.frames = []
    return frames


def compute_words(size: int) -> int:
    return (size + WORD_BYTES - 1) // WORD_BYTES


def _enter(context: Any, gas: int, reason: str) -> tuple[Frame, Any]:
    frame = get_frames()[-1]
    frame.load_memory(context)
    frame.apply_charge(context, config.HOST_CALL_GAS + gas, reason)
    return frame, context


def _run_opcode(frame: Frame, context: Any, opcode: int, operands: tuple[int, ...]) -> int | bytes | None:
    # Operands are pushed last-first so the opcode pops them in its own order.
    computation = frame.computation
    for operand in reversed(operands):
        computation.stack_push_int(operand)
    computation.opcodes[opcode](computation=computation)
    result = computation._stack.pop_any(1)[0] if computation._stack.values else None
    frame.apply_fuel(context)
    return result


def _put_scratch(frame: Frame, data: bytes) -> None:
    # EVM memory at offset 0 holds a call's or log's data; grown here without gas, so the
    # opcode's own memory expansion charge is zero.
    memory = frame.computation._memory
    if len(memory) < len(data):
        memory.extend(0, (len(data) + WORD_BYTES - 1) // WORD_BYTES * WORD_BYTES)
    if data:
        memory.write(0, len(data), data)


def _to_int(value: int | bytes | None) -> int:
    if isinstance(value, bytes):
        return int.from_bytes(value, "big")
    return value or 0


def input_size(context: Any) -> int:
    frame, context = _enter(context, GAS_BASE, "input_size")
    frame.apply_fuel(context)
    return len(frame.input)


def input_copy(context: Any, dest: int, offset: int, size: int) -> None:
    size &= U32_MASK
    offset &= U32_MASK
    frame, context = _enter(context, GAS_VERYLOW + GAS_COPY_WORD * compute_words(size), "input_copy")
    data = frame.input[offset:offset + size]
    frame.set_bytes(context, dest, data.ljust(size, b"\x00"))
    frame.apply_fuel(context)


def set_output(context: Any, ptr: int, size: int) -> None:
    frame, context = _enter(context, GAS_COPY_WORD * compute_words(size & U32_MASK), "set_output")
    frame.output = frame.get_bytes(context, ptr, size)
    frame.apply_fuel(context)


def revert(context: Any, ptr: int, size: int) -> None:
    # Ends the message at once with this revert data, as REVERT does: no status to pass up.
    frame, context = _enter(context, GAS_COPY_WORD * compute_words(size & U32_MASK), "revert")
    frame.output = frame.get_bytes(context, ptr, size)
    frame.computation.output = frame.output
    raise Revert(frame.output)


def storage_load(context: Any, key_ptr: int, out_ptr: int) -> None:
    frame, context = _enter(context, 0, "storage_load")
    key = int.from_bytes(frame.get_bytes(context, key_ptr, WORD_BYTES), "big")
    value = _to_int(_run_opcode(frame, context, SLOAD, (key,)))
    frame.set_bytes(context, out_ptr, value.to_bytes(WORD_BYTES, "big"))


def storage_store(context: Any, key_ptr: int, value_ptr: int) -> None:
    frame, context = _enter(context, 0, "storage_store")
    key = int.from_bytes(frame.get_bytes(context, key_ptr, WORD_BYTES), "big")
    value = int.from_bytes(frame.get_bytes(context, value_ptr, WORD_BYTES), "big")
    _run_opcode(frame, context, SSTORE, (key, value))


def _make_address_getter(name: str, get: Callable[[Any], bytes]) -> Callable[..., None]:
    def getter(context: Any, out_ptr: int) -> None:
        frame, context = _enter(context, GAS_BASE, name)
        frame.set_bytes(context, out_ptr, bytes(get(frame.computation)))
        frame.apply_fuel(context)
    getter.__name__ = name
    return getter


def _make_word_getter(name: str, get: Callable[[Any], int]) -> Callable[..., None]:
    def getter(context: Any, out_ptr: int) -> None:
        frame, context = _enter(context, GAS_BASE, name)
        frame.set_bytes(context, out_ptr, get(frame.computation).to_bytes(WORD_BYTES, "big"))
        frame.apply_fuel(context)
    getter.__name__ = name
    return getter


def _make_i64_getter(name: str, get: Callable[[Any], int]) -> Callable[..., int]:
    def getter(context: Any) -> int:
        frame, context = _enter(context, GAS_BASE, name)
        value = get(frame.computation)
        frame.apply_fuel(context)
        # i64 results are signed in wasmtime's API; the contract reads them as u64.
        value &= U64_MASK
        return value - (1 << 64) if value >= 1 << 63 else value
    getter.__name__ = name
    return getter


def balance(context: Any, addr_ptr: int, out_ptr: int) -> None:
    frame, context = _enter(context, 0, "balance")
    address = int.from_bytes(frame.get_bytes(context, addr_ptr, 20), "big")
    value = _to_int(_run_opcode(frame, context, BALANCE, (address,)))
    frame.set_bytes(context, out_ptr, value.to_bytes(WORD_BYTES, "big"))


def keccak256(context: Any, ptr: int, size: int, out_ptr: int) -> None:
    frame, context = _enter(context, GAS_KECCAK + GAS_KECCAK_WORD * compute_words(size & U32_MASK), "keccak256")
    frame.set_bytes(context, out_ptr, keccak(frame.get_bytes(context, ptr, size)))
    frame.apply_fuel(context)


def emit_log(context: Any, data_ptr: int, data_len: int, topics_ptr: int, topic_count: int) -> None:
    frame, context = _enter(context, 0, "emit_log")
    topic_count &= U32_MASK
    if topic_count > MAX_TOPICS:
        raise WasmTrap(f"emit_log with {topic_count} topics")
    data = frame.get_bytes(context, data_ptr, data_len)
    raw_topics = frame.get_bytes(context, topics_ptr, WORD_BYTES * topic_count)
    topics = tuple(int.from_bytes(raw_topics[i:i + WORD_BYTES], "big") for i in range(0, len(raw_topics), WORD_BYTES))
    _put_scratch(frame, data)
    _run_opcode(frame, context, LOG0 + topic_count, (0, len(data), *topics))


def _call(frame: Frame, context: Any, opcode: int, address: int, value: int | None, data: bytes, gas: int) -> int:
    _put_scratch(frame, data)
    gas &= U64_MASK
    head = (gas or ALL_GAS, address) if value is None else (gas or ALL_GAS, address, value)
    ok = _to_int(_run_opcode(frame, context, opcode, (*head, 0, len(data), 0, 0)))
    return 0 if ok else 1


def call_contract(context: Any, addr_ptr: int, value_ptr: int, data_ptr: int, data_len: int, gas: int) -> int:
    frame, context = _enter(context, GAS_COPY_WORD * compute_words(data_len & U32_MASK), "call_contract")
    address = int.from_bytes(frame.get_bytes(context, addr_ptr, 20), "big")
    value = int.from_bytes(frame.get_bytes(context, value_ptr, WORD_BYTES), "big")
    return _call(frame, context, CALL, address, value, frame.get_bytes(context, data_ptr, data_len), gas)


def static_call(context: Any, addr_ptr: int, data_ptr: int, data_len: int, gas: int) -> int:
    frame, context = _enter(context, GAS_COPY_WORD * compute_words(data_len & U32_MASK), "static_call")
    address = int.from_bytes(frame.get_bytes(context, addr_ptr, 20), "big")
    return _call(frame, context, STATICCALL, address, None, frame.get_bytes(context, data_ptr, data_len), gas)


def delegate_call(context: Any, addr_ptr: int, data_ptr: int, data_len: int, gas: int) -> int:
    frame, context = _enter(context, GAS_COPY_WORD * compute_words(data_len & U32_MASK), "delegate_call")
    address = int.from_bytes(frame.get_bytes(context, addr_ptr, 20), "big")
    return _call(frame, context, DELEGATECALL, address, None, frame.get_bytes(context, data_ptr, data_len), gas)


def returndata_size(context: Any) -> int:
    frame, context = _enter(context, GAS_BASE, "returndata_size")
    frame.apply_fuel(context)
    return len(frame.computation.return_data)


def returndata_copy(context: Any, dest: int, offset: int, size: int) -> None:
    size &= U32_MASK
    offset &= U32_MASK
    frame, context = _enter(context, GAS_VERYLOW + GAS_COPY_WORD * compute_words(size), "returndata_copy")
    data = frame.computation.return_data
    if offset + size > len(data):
        raise OutOfBoundsRead(f"returndata_copy {offset}+{size} > {len(data)}")
    frame.set_bytes(context, dest, bytes(data[offset:offset + size]))
    frame.apply_fuel(context)


def create(context: Any, code_ptr: int, code_len: int, value_ptr: int, salt_ptr: int, out_addr_ptr: int) -> int:
    frame, context = _enter(context, GAS_COPY_WORD * compute_words(code_len & U32_MASK), "create")
    code = frame.get_bytes(context, code_ptr, code_len)
    value = int.from_bytes(frame.get_bytes(context, value_ptr, WORD_BYTES), "big")
    _put_scratch(frame, code)
    if salt_ptr & U32_MASK:
        salt = int.from_bytes(frame.get_bytes(context, salt_ptr, WORD_BYTES), "big")
        address = _to_int(_run_opcode(frame, context, CREATE2, (value, 0, len(code), salt)))
    else:
        address = _to_int(_run_opcode(frame, context, CREATE, (value, 0, len(code))))
    if not address:
        return 1
    frame.set_bytes(context, out_addr_ptr, address.to_bytes(20, "big"))
    return 0


def abort(context: Any, msg: int, file: int, line: int, col: int) -> None:
    frame, context = _enter(context, 0, "abort")
    frame.output = b""
    raise Revert(b"")


HOST_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "input_size": input_size,
    "input_copy": input_copy,
    "set_output": set_output,
    "revert": revert,
    "storage_load": storage_load,
    "storage_store": storage_store,
    "caller": _make_address_getter("caller", lambda c: c.msg.sender),
    "origin": _make_address_getter("origin", lambda c: c.transaction_context.origin),
    "address": _make_address_getter("address", lambda c: c.msg.storage_address),
    "callvalue": _make_word_getter("callvalue", lambda c: c.msg.value),
    "balance": balance,
    "block_number": _make_i64_getter("block_number", lambda c: c.state.block_number),
    "block_timestamp": _make_i64_getter("block_timestamp", lambda c: c.state.timestamp),
    "chain_id": _make_i64_getter("chain_id", lambda c: c.state.execution_context.chain_id),
    "basefee": _make_word_getter("basefee", lambda c: c.state.base_fee),
    "gas_left": _make_i64_getter("gas_left", lambda c: c.get_gas_remaining()),
    "keccak256": keccak256,
    "emit_log": emit_log,
    "call_contract": call_contract,
    "static_call": static_call,
    "delegate_call": delegate_call,
    "returndata_size": returndata_size,
    "returndata_copy": returndata_copy,
    "create": create,
    "abort": abort,
}
assert HOST_FUNCTIONS.keys() == IMPORTS.keys()

_VALTYPES = {"i32": wasmtime.ValType.i32(), "i64": wasmtime.ValType.i64()}


# The C callbacks must outlive the linker that holds pointers to them.
_TRAMPOLINES: list[Any] = []
_NO_FINALIZER = ctypes.CFUNCTYPE(None, ctypes.c_void_p)()  # a NULL function pointer


def _make_trampoline(func: Callable[..., Any], params: tuple[str, ...], results: tuple[str, ...]) -> Any:
    """A raw ("unchecked") wasmtime callback for ``func(context, *args)``.

    wasmtime-py's own trampoline builds a Caller and a Val per argument and result, about
    13 µs a call; an ERC-20 transfer makes ~15 host calls. This one reads the raw argument
    slots and writes the result in place. A Python exception becomes a trap carrying it, the
    way wasmtime-py's trampoline does, so the executor sees the same exceptions either way.
    """
    kinds = tuple(p == "i64" for p in params)
    result_i64 = bool(results) and results[0] == "i64"
    has_result = bool(results)

    @ffi.wasmtime_func_unchecked_callback_t
    def trampoline(env: Any, caller: Any, values: Any, count: int) -> int:
        try:
            context = _caller_context(caller)
            args = [values[i].i64 if wide else values[i].i32 for i, wide in enumerate(kinds)]
            result = func(context, *args)
            if has_result:
                if result_i64:
                    values[0].i64 = result
                else:
                    values[0].i32 = result
            return 0
        except BaseException as exc:  # noqa: BLE001 - handed back to the executor through the trap
            _wasmtime_func.LAST_EXCEPTION = exc
            trap = wasmtime.Trap("python exception")._consume()
            return ctypes.cast(trap, ctypes.c_void_p).value

    _TRAMPOLINES.append(trampoline)
    return trampoline


@cache
def get_linker() -> wasmtime.Linker:
    """The linker with every ``env`` import, shared by all stores of the engine."""
    linker = wasmtime.Linker(get_engine())
    for name, (params, results) in IMPORTS.items():
        ty = wasmtime.FuncType([_VALTYPES[p] for p in params], [_VALTYPES[r] for r in results])
        module, field = b"env", name.encode()
        error = ffi.wasmtime_linker_define_func_unchecked(
            linker.ptr(), ctypes.create_string_buffer(module), len(module), ctypes.create_string_buffer(field),
            len(field), ty.ptr(), _make_trampoline(HOST_FUNCTIONS[name], tuple(params), tuple(results)), None,
            _NO_FINALIZER,
        )
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)
    return linker
