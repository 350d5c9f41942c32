"""The one wasmtime engine: fuel metering and a deterministic feature set.

Every node must run a module the same way, so the configuration is part of consensus:
fuel on (gas), NaN canonicalization on (floats give one bit pattern everywhere), and the
proposals that bring non-determinism or extra surface (threads, SIMD, relaxed SIMD,
multi-memory, memory64, GC, exceptions, stack switching, custom page sizes) off.
"""
from __future__ import annotations

import importlib.metadata
from functools import cache

import wasmtime

from vm.wasm.config import MAX_WASM_STACK_BYTES

WASMTIME_VERSION = importlib.metadata.version("wasmtime")
# Part of every compiled-module cache key: a change here must not reuse old machine code.
ENGINE_FINGERPRINT = f"wasmtime-{WASMTIME_VERSION}/fuel/nan-canon/no-threads-simd-mm-m64/stack-{MAX_WASM_STACK_BYTES}"


def compute_config() -> wasmtime.Config:
    """The engine configuration (HOST_API.md, "Determinism")."""
    config = wasmtime.Config()
    config.consume_fuel = True
    config.cranelift_nan_canonicalization = True
    config.wasm_threads = False
    config.shared_memory = False
    config.wasm_simd = False
    config.wasm_relaxed_simd = False
    config.wasm_multi_memory = False
    config.wasm_memory64 = False
    config.wasm_gc = False
    config.wasm_function_references = False
    config.wasm_exceptions = False
    config.wasm_stack_switching = False
    config.wasm_custom_page_sizes = False
    config.wasm_wide_arithmetic = False
    config.wasm_component_model = False
    config.max_wasm_stack = MAX_WASM_STACK_BYTES
    return config


@cache
def get_engine() -> wasmtime.Engine:
    """The process-wide engine (compiled modules are tied to the engine that made them)."""
    return wasmtime.Engine(compute_config())
