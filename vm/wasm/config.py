"""The numbers of the WASM contract VM (host API v1): gas, size and memory limits.

Every value here is consensus: changing one changes gas used and what deploys, so it
needs a fork. HOST_API.md documents the same numbers and why.
"""
from __future__ import annotations

from typing import Final

WASM_MAGIC: Final = b"\x00asm"
WASM_VERSION: Final = b"\x01\x00\x00\x00"
HOST_API_VERSION: Final = 1

# One gas buys 100 wasmtime fuel units (~one instruction each, ~1 ns compiled). Worst case a
# gas of WASM costs ~0.1 µs of wall time (a plain loop measures ~0.01 µs), below what py-evm
# spends per gas of EVM opcodes (~0.2-0.4 µs),
# so a block full of WASM never runs longer than a block full of EVM; it is also close to
# Arbitrum Stylus' price (~140 simple instructions per gas).
FUEL_PER_GAS: Final = 100

# Each host call goes through ctypes (measured 8-17 µs here), ~20x a py-evm opcode. This
# base charge, on top of the table in HOST_API.md, keeps a loop of cheap host calls
# (`caller()` at 2 gas) at the wall time per gas of EVM code in py-evm (~0.2-0.4 µs/gas;
# 42 gas per `caller()` measures the same).
HOST_CALL_GAS: Final = 40

# Stylus' uncompressed limit. Deposit at 200 gas/byte makes the largest module cost ~26M gas,
# which still fits a 30M block. Compiling one takes 50-80 ms (measured), less wall time
# than the calldata gas of the init code buys in EVM.
MAX_CODE_BYTES: Final = 128 * 1024
# Init code = module + constructor input; twice the module limit, as EIP-3860 is to EIP-170.
MAX_INITCODE_BYTES: Final = 2 * MAX_CODE_BYTES

WASM_PAGE_BYTES: Final = 64 * 1024
# 4 MiB per instance. Nested calls each hold an instance, so the worst case of a 1024-deep
# call chain is bounded by gas (63/64 rule) long before 1024 * 4 MiB.
MAX_MEMORY_PAGES: Final = 64
# EVM's linear memory term (3 gas per 32-byte word = 6144 per 64 KiB). The quadratic term is
# left out because MAX_MEMORY_PAGES bounds memory already.
MEMORY_PAGE_GAS: Final = 6144

# Tables hold function references for call_indirect; bounded so instantiation stays cheap.
MAX_TABLE_ELEMENTS: Final = 65_536

# Native stack for the WASM frames of one message. wasmtime measures it from where each
# instance is entered, so every nested message gets its own budget: deep recursion traps
# (stack_overflow) the same way on every node of one architecture and wasmtime version.
MAX_WASM_STACK_BYTES: Final = 256 * 1024
# WASM runs on one worker thread with a stack for the worst case, 1024 nested messages
# (EVM's depth limit), each with its WASM budget plus the Python/ctypes frames between
# (measured under 10 KiB per level; 128 KiB leaves room). The main thread's 8 MiB would be
# gone after ~16 levels, and overflowing it kills the process instead of trapping.
# Reserved address space only; pages are committed as they are touched.
CALL_DEPTH_LIMIT: Final = 1024
WASM_THREAD_STACK_BYTES: Final = CALL_DEPTH_LIMIT * (MAX_WASM_STACK_BYTES + 128 * 1024)

# Compiled modules kept in memory (by code hash).
COMPILED_CACHE_SIZE: Final = 256
