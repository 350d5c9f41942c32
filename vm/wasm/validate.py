"""What a WASM module must look like to be deployed: the section walk and the checks.

``compute_module_boundary`` splits init code into module and constructor input;
``validate_module`` checks a compiled module against the host API (imports, exports,
memory); ``validate_sections`` checks what wasmtime does not report (start function,
memory count and size). Failures raise ``ModuleRejected`` with the reason that goes into
the creation's ``Error(string)`` revert data.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import wasmtime

from vm.wasm.config import MAX_CODE_BYTES, MAX_MEMORY_PAGES, WASM_MAGIC, WASM_VERSION

I32 = wasmtime.ValType.i32()
I64 = wasmtime.ValType.i64()

# name -> (params, results) of every `env` import a contract may use (HOST_API.md).
IMPORTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "input_size": ((), ("i32",)),
    "input_copy": (("i32", "i32", "i32"), ()),
    "set_output": (("i32", "i32"), ()),
    "revert": (("i32", "i32"), ()),
    "storage_load": (("i32", "i32"), ()),
    "storage_store": (("i32", "i32"), ()),
    "caller": (("i32",), ()),
    "origin": (("i32",), ()),
    "address": (("i32",), ()),
    "callvalue": (("i32",), ()),
    "balance": (("i32", "i32"), ()),
    "block_number": ((), ("i64",)),
    "block_timestamp": ((), ("i64",)),
    "chain_id": ((), ("i64",)),
    "basefee": (("i32",), ()),
    "gas_left": ((), ("i64",)),
    "keccak256": (("i32", "i32", "i32"), ()),
    "emit_log": (("i32", "i32", "i32", "i32"), ()),
    "call_contract": (("i32", "i32", "i32", "i32", "i64"), ("i32",)),
    "static_call": (("i32", "i32", "i32", "i64"), ("i32",)),
    "delegate_call": (("i32", "i32", "i32", "i64"), ("i32",)),
    "returndata_size": ((), ("i32",)),
    "returndata_copy": (("i32", "i32", "i32"), ()),
    "create": (("i32", "i32", "i32", "i32", "i32"), ("i32",)),
    "abort": (("i32", "i32", "i32", "i32"), ()),
}

ENTRY_SIGNATURE = ((), ("i32",))

# Section ids in the order the binary format requires them (custom sections, id 0, may
# appear anywhere). 13 is the exception proposal's tag section, placed after memory.
SECTION_ORDER = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}
CUSTOM_SECTION = 0
MEMORY_SECTION = 5
START_SECTION = 8


class ModuleRejected(Exception):
    """The module cannot be deployed; ``reason`` goes into the revert data."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Section:
    id: int
    start: int  # first byte of the body
    end: int


def compute_leb128(data: bytes, pos: int, max_bytes: int = 5) -> tuple[int, int] | None:
    """Decode an unsigned LEB128 at ``pos``: (value, next position), or None if malformed."""
    value = 0
    for i in range(max_bytes):
        if pos + i >= len(data):
            return None
        byte = data[pos + i]
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return value, pos + i + 1
    return None


def _iter_sections(code: bytes) -> Iterator[Section]:
    # A section counts only if its id is known, in order, its size well-formed and its
    # body present; a custom section must also hold its name. The first position that
    # fails ends the module, so ABI words (which mostly start 0x00 0x00: an empty custom
    # section, refused) are not taken for sections.
    pos = len(WASM_MAGIC) + len(WASM_VERSION)
    last_rank = 0
    while pos < len(code):
        section_id = code[pos]
        rank = SECTION_ORDER.get(section_id)
        if section_id != CUSTOM_SECTION and (rank is None or rank <= last_rank):
            return
        size = compute_leb128(code, pos + 1)
        if size is None:
            return
        length, body = size
        end = body + length
        if end > len(code):
            return
        if section_id == CUSTOM_SECTION:
            name = compute_leb128(code, body)
            if length == 0 or name is None or name[1] + name[0] > end:
                return
        else:
            last_rank = rank
        yield Section(section_id, body, end)
        pos = end


def compute_module_boundary(init_code: bytes) -> int:
    """Where the module ends in ``init_code`` (module ‖ constructor input).

    The candidates are the ends of the walked sections; the last one that leaves a multiple
    of 32 bytes wins (ABI-encoded arguments always are one), else the end of the walk. A
    word of the arguments that happens to parse as a section is then taken for one only if
    it spans a multiple of 32 bytes itself.
    """
    if init_code[:4] != WASM_MAGIC or init_code[4:8] != WASM_VERSION:
        return 0
    ends = [len(WASM_MAGIC) + len(WASM_VERSION)]
    ends.extend(section.end for section in _iter_sections(init_code))
    for end in reversed(ends):
        if (len(init_code) - end) % 32 == 0:
            return end
    return ends[-1]


def compute_init_code_parts(init_code: bytes) -> tuple[bytes, bytes]:
    """Split init code into (module, constructor input)."""
    boundary = compute_module_boundary(init_code)
    return init_code[:boundary], init_code[boundary:]


def validate_sections(module: bytes) -> None:
    """Check what wasmtime accepts but the host API refuses: size, start, memories.

    Raises:
        ModuleRejected: with the reason.
    """
    if len(module) > MAX_CODE_BYTES:
        raise ModuleRejected(f"module too large ({len(module)} > {MAX_CODE_BYTES} bytes)")
    if module[:4] != WASM_MAGIC or module[4:8] != WASM_VERSION:
        raise ModuleRejected("malformed module")
    sections = list(_iter_sections(module))
    if (sections[-1].end if sections else 8) != len(module):
        raise ModuleRejected("malformed module")
    for section in sections:
        if section.id == START_SECTION:
            raise ModuleRejected("start function not allowed")
        if section.id == MEMORY_SECTION:
            count = compute_leb128(module, section.start)
            if count is not None and count[0] > 1:
                raise ModuleRejected("more than one memory")


def _type_names(types: list[wasmtime.ValType]) -> tuple[str, ...]:
    return tuple(str(t) for t in types)


def validate_module(module: wasmtime.Module) -> bool:
    """Check imports and exports against the host API; True if it exports ``deploy``.

    Raises:
        ModuleRejected: with the reason.
    """
    for item in module.imports:
        name = f"{item.module}.{item.name}"
        ty = item.type
        if item.module != "env" or item.name not in IMPORTS or not isinstance(ty, wasmtime.FuncType):
            raise ModuleRejected(f"unknown import {name}")
        if (_type_names(ty.params), _type_names(ty.results)) != IMPORTS[item.name]:
            raise ModuleRejected(f"wrong signature for import {name}")
    exports = {item.name: item.type for item in module.exports}
    memory = exports.get("memory")
    if not isinstance(memory, wasmtime.MemoryType):
        raise ModuleRejected("no memory export")
    if memory.limits.min > MAX_MEMORY_PAGES:
        raise ModuleRejected(f"memory too large ({memory.limits.min} > {MAX_MEMORY_PAGES} pages)")
    for entry in ("call", "deploy"):
        ty = exports.get(entry)
        if ty is None:
            if entry == "call":
                raise ModuleRejected("no call export")
            continue
        if not isinstance(ty, wasmtime.FuncType) or (_type_names(ty.params), _type_names(ty.results)) != ENTRY_SIGNATURE:
            raise ModuleRejected(f"wrong signature for export {entry}")
    return "deploy" in exports
