"""Compiled modules by code hash: an in-process LRU, then an optional persistent store.

Compiling is the expensive step (milliseconds), instantiating is cheap (tens of µs), so a
module is compiled once per code hash and process. The node may inject a persistent store
(``set_compiled_store``) so a restart deserializes machine code instead of recompiling.
Only blobs this module wrote are ever deserialized: the key carries the engine
fingerprint (wasmtime version and configuration) and the value carries its own digest.
"""
from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Protocol

import wasmtime
from eth_hash.auto import keccak

from vm.wasm.config import COMPILED_CACHE_SIZE
from vm.wasm.engine import ENGINE_FINGERPRINT, get_engine
from vm.wasm.host import get_linker
from vm.wasm.validate import ModuleRejected, validate_module, validate_sections

STORE_KEY_PREFIX = b"wasm-compiled/"
DIGEST_BYTES = 32

# wasmtime's words -> the stable reason in revert data (wasmtime's own text may change
# between versions; revert data is consensus).
DISABLED_FEATURES = (
    ("simd", "simd"),
    ("threads", "threads"),
    ("shared", "threads"),
    ("atomic", "threads"),
    ("memory64", "memory64"),
    ("multi-memory", "multi-memory"),
    ("multiple memories", "multi-memory"),
    ("exceptions", "exceptions"),
    ("gc", "gc"),
    ("reference", "reference-types"),
    ("tail call", "tail-call"),
)


class CompiledStore(Protocol):
    """A persistent key-value store for compiled modules (the node passes its LevelDB)."""

    def get(self, key: bytes) -> bytes | None: ...
    def put(self, key: bytes, value: bytes) -> None: ...


@dataclass(slots=True)
class CompiledModule:
    module: wasmtime.Module
    has_deploy: bool
    instance_pre: wasmtime.InstancePre


@dataclass(slots=True)
class CacheStats:
    compiled: int = 0
    deserialized: int = 0
    hits: int = 0
    stored: int = 0


@dataclass(slots=True)
class _Cache:
    entries: OrderedDict[bytes, CompiledModule | ModuleRejected] = field(default_factory=OrderedDict)
    store: CompiledStore | None = None
    stats: CacheStats = field(default_factory=CacheStats)


_cache = _Cache()


def set_compiled_store(store: CompiledStore | None) -> None:
    """Use ``store`` for compiled modules from now on (None: memory only)."""
    _cache.store = store


def get_cache_stats() -> CacheStats:
    return _cache.stats


def clear_compiled_cache() -> None:
    """Forget the in-process entries (tests; the persistent store is kept)."""
    _cache.entries.clear()
    _cache.stats = CacheStats()


def compute_store_key(code_hash: bytes) -> bytes:
    return STORE_KEY_PREFIX + ENGINE_FINGERPRINT.encode() + b"/" + code_hash


def compute_rejection(error: wasmtime.WasmtimeError) -> ModuleRejected:
    """The stable reason for a module wasmtime refused to compile."""
    text = str(error).lower()
    if "not enabled" in text or "must be enabled" in text or "proposal" in text:
        for needle, feature in DISABLED_FEATURES:
            if needle in text:
                return ModuleRejected(f"disabled proposal ({feature})")
        return ModuleRejected("disabled proposal")
    return ModuleRejected("malformed module")


def _load_module(code: bytes, code_hash: bytes) -> wasmtime.Module:
    engine = get_engine()
    store = _cache.store
    key = compute_store_key(code_hash)
    if store is not None:
        blob = store.get(key)
        if blob is not None and hashlib.sha256(blob[DIGEST_BYTES:]).digest() == blob[:DIGEST_BYTES]:
            try:
                module = wasmtime.Module.deserialize(engine, blob[DIGEST_BYTES:])
            except wasmtime.WasmtimeError:
                pass
            else:
                _cache.stats.deserialized += 1
                return module
    try:
        module = wasmtime.Module(engine, code)
    except wasmtime.WasmtimeError as exc:
        raise compute_rejection(exc) from None
    _cache.stats.compiled += 1
    if store is not None:
        serialized = bytes(module.serialize())
        store.put(key, hashlib.sha256(serialized).digest() + serialized)
        _cache.stats.stored += 1
    return module


def get_compiled(code: bytes) -> CompiledModule:
    """The validated, compiled module for ``code``.

    Raises:
        ModuleRejected: the module breaks the host API (the rejection is cached too).
    """
    # Keyed by the code itself: a dict lookup hashes 4 KB in ~1 µs, keccak takes ~9 µs, and
    # every WASM message asks (the persistent store, reached on a miss, is keyed by keccak).
    entries = _cache.entries
    entry = entries.get(code)
    if entry is None:
        try:
            validate_sections(code)
            module = _load_module(code, keccak(code))
            has_deploy = validate_module(module)
            entry = CompiledModule(module, has_deploy, get_linker().instantiate_pre(module))
        except ModuleRejected as exc:
            entry = exc
        if len(entries) >= COMPILED_CACHE_SIZE:
            entries.popitem(last=False)
        entries[code] = entry
    else:
        entries.move_to_end(code)
        _cache.stats.hits += 1
    if isinstance(entry, ModuleRejected):
        raise ModuleRejected(entry.reason)
    return entry
