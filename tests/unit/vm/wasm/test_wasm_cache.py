"""The compile cache, the persistent backend, and the module boundary of init code."""
from __future__ import annotations

import pytest
from eth_abi import encode as abi_encode

from tests.unit.vm.wasm import wat
from tests.unit.vm.wasm.chain import Chain, compute_calldata, compute_word
from vm.wasm.cache import clear_compiled_cache, get_cache_stats, get_compiled, set_compiled_store
from vm.wasm.validate import compute_init_code_parts, compute_module_boundary


class DictStore:
    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def put(self, key: bytes, value: bytes) -> None:
        self.data[key] = value


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_compiled_cache()
    yield
    set_compiled_store(None)
    clear_compiled_cache()


def test_compiled_once_per_code_hash() -> None:
    chain = Chain()
    counter = chain.deploy_ok(wat.COUNTER, compute_word(1))
    other = chain.deploy_ok(wat.COUNTER, compute_word(2))  # same code, another account
    for _ in range(3):
        assert chain.send(counter, compute_calldata("increment()")).success
        assert chain.send(other, compute_calldata("increment()")).success
    stats = get_cache_stats()
    assert stats.compiled == 1
    assert stats.hits >= 8


def test_persistent_store_round_trip_gives_a_working_module() -> None:
    store = DictStore()
    set_compiled_store(store)
    get_compiled(wat.COUNTER)
    assert get_cache_stats().compiled == 1
    assert get_cache_stats().stored == 1
    (key,) = store.data
    assert b"wasmtime-" in key

    clear_compiled_cache()  # a restarted node: nothing in memory, the blob on disk
    chain = Chain()
    counter = chain.deploy_ok(wat.COUNTER, compute_word(41))
    assert int.from_bytes(chain.send(counter, compute_calldata("increment()")).output, "big") == 42
    stats = get_cache_stats()
    assert stats.compiled == 0
    assert stats.deserialized == 1


def test_corrupted_blob_is_recompiled_not_loaded() -> None:
    store = DictStore()
    set_compiled_store(store)
    get_compiled(wat.INFO)
    (key,) = store.data
    blob = bytearray(store.data[key])
    blob[-100] ^= 0xFF
    store.data[key] = bytes(blob)
    clear_compiled_cache()
    get_compiled(wat.INFO)
    assert get_cache_stats().deserialized == 0
    assert get_cache_stats().compiled == 1


@pytest.mark.parametrize("ctor", [
    b"",
    abi_encode(["uint256"], [0]),
    abi_encode(["uint256"], [5]),
    abi_encode(["uint256"], [2**256 - 1]),
    abi_encode(["address", "uint256"], [b"\x11" * 20, 7]),
    abi_encode(["string"], ["hello"]),
    abi_encode(["bytes32"], [bytes([0, 1, 0]) + b"\x00" * 29]),  # looks like an empty custom section
    abi_encode(["bytes32"], [bytes([11, 1, 0]) + b"\x00" * 29]),  # a data section out of order
])
def test_module_boundary_separates_constructor_arguments(ctor: bytes) -> None:
    module, rest = compute_init_code_parts(wat.COUNTER + ctor)
    assert module == wat.COUNTER
    assert rest == ctor
    assert compute_module_boundary(wat.COUNTER + ctor) == len(wat.COUNTER)


def test_boundary_of_non_wasm_is_zero() -> None:
    assert compute_module_boundary(b"\x60\x00") == 0
    assert compute_module_boundary(b"\x00asm\x02\x00\x00\x00") == 0


def test_boundary_of_raw_constructor_input_is_the_end_of_the_walk() -> None:
    # Not ABI-encoded (not a multiple of 32 bytes): the walk's end decides.
    assert compute_init_code_parts(wat.COUNTER + b"\xff\x01\x02") == (wat.COUNTER, b"\xff\x01\x02")


def test_import_table_matches_host_api_md() -> None:
    import re
    from pathlib import Path

    from vm.wasm.validate import IMPORTS

    text = (Path(__file__).resolve().parents[4] / "vm" / "wasm" / "HOST_API.md").read_text()
    text = text[text.index("## Imports"):]
    text = text[:text.index("\n## ", 1)]
    table = {}
    for row in re.finditer(r"^\|\s*`(\w+)`\s*\|\s*`\(([^)]*)\)(?:\s*->\s*(\w+))?`", text, re.M):
        name, params, result = row.groups()
        types = tuple(p.split(":")[1].strip() if ":" in p else "i32" for p in (x.strip() for x in params.split(",")) if p)
        table[name] = (types, (result,) if result else ())
    assert table == IMPORTS
