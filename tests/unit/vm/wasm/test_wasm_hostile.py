"""Hostile and broken modules: refused at deploy with a reason, or failed cleanly at call."""
from __future__ import annotations

import struct

import pytest
import wasmtime

from tests.unit.vm.wasm import wat
from tests.unit.vm.wasm.chain import Chain, compute_calldata, compute_error_reason, compute_word
from vm.wasm import config

INCREMENT = compute_calldata("increment()")
CALL_OK = '(func (export "call") (result i32) (i32.const 0))'


@pytest.fixture(scope="module")
def chain() -> Chain:
    return Chain()


@pytest.fixture(scope="module")
def counter(chain: Chain) -> bytes:
    return chain.deploy_ok(wat.COUNTER, compute_word(0))


def _assert_still_works(chain: Chain, counter: bytes) -> None:
    before = chain.storage(counter, 0)
    outcome = chain.send(counter, INCREMENT)
    assert outcome.success, outcome
    assert chain.storage(counter, 0) == before + 1


def _bare(text: str) -> bytes:
    return bytes(wasmtime.wat2wasm(text))


def _big_module() -> bytes:
    payload = "\\00" * (config.MAX_CODE_BYTES + 10)
    return _bare(f'(module (memory (export "memory") 3) (data (i32.const 0) "{payload}") {CALL_OK})')


REFUSED = {
    "malformed module": b"\x00asm\x01\x00\x00\x00\x01\x04\x01\x61\x00\x00",
    "malformed module ": b"\x00asm\x02\x00\x00\x00",
    "unknown import env.read_file": _bare(
        f'(module (import "env" "read_file" (func (param i32))) (memory (export "memory") 1) {CALL_OK})'),
    "unknown import wasi_snapshot_preview1.fd_write": _bare(
        '(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))'
        f' (memory (export "memory") 1) {CALL_OK})'),
    "wrong signature for import env.storage_load": _bare(
        f'(module (import "env" "storage_load" (func (param i32))) (memory (export "memory") 1) {CALL_OK})'),
    "no call export": _bare('(module (memory (export "memory") 1) (func (export "main") (result i32) (i32.const 0)))'),
    "wrong signature for export call": _bare('(module (memory (export "memory") 1) (func (export "call")))'),
    "no memory export": _bare(f"(module (memory 1) {CALL_OK})"),
    f"memory too large (65 > {config.MAX_MEMORY_PAGES} pages)": _bare(f'(module (memory (export "memory") 65) {CALL_OK})'),
    "start function not allowed": _bare(
        f'(module (memory (export "memory") 1) (func $s) (start $s) {CALL_OK})'),
    "more than one memory": _bare(f'(module (memory (export "memory") 1) (memory 1) {CALL_OK})'),
    "disabled proposal (simd)": _bare(
        '(module (memory (export "memory") 1) (func (export "call") (result i32)'
        ' (i32x4.extract_lane 0 (v128.const i32x4 0 0 0 0))))'),
    "disabled proposal (threads)": _bare(f'(module (memory (export "memory") 1 1 shared) {CALL_OK})'),
    "disabled proposal (threads) ": _bare(
        '(module (memory (export "memory") 1) (func (export "call") (result i32)'
        ' (i32.atomic.load (i32.const 0))))'),
    "module too large": _big_module(),
}


@pytest.mark.parametrize("reason", sorted(REFUSED))
def test_refused_at_deploy_with_reason(chain: Chain, counter: bytes, reason: str) -> None:
    outcome = chain.deploy(REFUSED[reason], gas=8_000_000)
    assert not outcome.success
    assert outcome.error == "execution reverted"
    got = compute_error_reason(outcome.output)
    assert got is not None and got.startswith("wasm: " + reason.strip()), got
    _assert_still_works(chain, counter)


def test_infinite_loop_runs_out_of_gas(chain: Chain, counter: bytes) -> None:
    outcome = chain.send(counter, compute_calldata("spin()"), gas=2_000_000)
    assert not outcome.success
    assert outcome.error == "out of gas"
    assert outcome.gas_used == 2_000_000
    _assert_still_works(chain, counter)


def test_memory_growth_stops_at_the_cap_and_pays_per_page(chain: Chain, counter: bytes) -> None:
    bomb = chain.deploy_ok(wat.compute_module("""
  (func (export "call") (result i32) (local $pages i32)
    (block $full (loop $grow
      (br_if $full (i32.eq (memory.grow (i32.const 1)) (i32.const -1)))
      (br $grow)))
    (call $store_word (i32.const 0) (i64.extend_i32_u (memory.size)))
    (call $set_output (i32.const 0) (i32.const 32))
    (i32.const 0))
"""))
    outcome = chain.send(bomb, b"", gas=2_000_000)
    assert outcome.success, outcome
    assert int.from_bytes(outcome.output, "big") == config.MAX_MEMORY_PAGES
    assert outcome.gas_used > 21_000 + (config.MAX_MEMORY_PAGES - 1) * config.MEMORY_PAGE_GAS
    starved = chain.send(bomb, b"", gas=21_000 + 10 * config.MEMORY_PAGE_GAS)
    assert not starved.success
    assert starved.error == "out of gas"
    _assert_still_works(chain, counter)


def test_unbounded_recursion_traps(chain: Chain, counter: bytes) -> None:
    recurse = chain.deploy_ok(wat.compute_module("""
  (func $down (param i64) (result i64) (i64.add (call $down (i64.add (local.get 0) (i64.const 1))) (i64.const 1)))
  (func (export "call") (result i32) (drop (call $down (i64.const 0))) (i32.const 0))
"""))
    outcome = chain.send(recurse, b"", gas=5_000_000)
    assert not outcome.success
    assert outcome.error == "wasm trap: stack_overflow"
    assert outcome.gas_used == 5_000_000
    _assert_still_works(chain, counter)


@pytest.mark.parametrize("body", [
    "(unreachable)",
    "(i32.div_u (i32.const 1) (i32.const 0))",
    "(i32.load (i32.const 70000))",
    "(call $set_output (i32.const 65530) (i32.const 100)) (i32.const 0)",  # host read out of bounds
    "(call $emit_log (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 5)) (i32.const 0)",
    "(call $returndata_copy (i32.const 0) (i32.const 0) (i32.const 1)) (i32.const 0)",
])
def test_traps_fail_the_call_and_burn_its_gas(chain: Chain, counter: bytes, body: str) -> None:
    address = chain.deploy_ok(wat.compute_module(f'(func (export "call") (result i32) {body})'))
    outcome = chain.send(address, b"", gas=300_000)
    assert not outcome.success
    assert outcome.gas_used == 300_000
    _assert_still_works(chain, counter)


def test_deploy_returning_nonzero_reverts_with_its_output(chain: Chain) -> None:
    refusing = wat.compute_module("""
  (data (i32.const 2048) "no deploy")
  (func (export "deploy") (result i32) (call $revert_error (i32.const 2048) (i32.const 9)))
  (func (export "call") (result i32) (i32.const 0))
""")
    outcome = chain.deploy(refusing)
    assert not outcome.success
    assert compute_error_reason(outcome.output) == "no deploy"


def test_evm_init_code_cannot_store_an_invalid_module(chain: Chain) -> None:
    bad = REFUSED["no call export"]
    outcome = chain.deploy(wat.compute_evm_deployer(bad))
    assert not outcome.success
    good = chain.deploy(wat.compute_evm_deployer(wat.INFO))
    assert good.success
    assert chain.state.get_code(good.contract_address) == wat.INFO


def test_floats_are_deterministic_nan_canonicalized(chain: Chain) -> None:
    address = chain.deploy_ok(wat.compute_module("""
  (func (export "call") (result i32)
    (f32.store (i32.const 0) (f32.div (f32.const 0) (f32.const 0)))
    (f64.store (i32.const 4) (f64.sqrt (f64.const -1)))
    (call $set_output (i32.const 0) (i32.const 12))
    (i32.const 0))
"""))
    outcome = chain.send(address, b"")
    assert outcome.success, outcome
    f32_bits, f64_bits = struct.unpack("<IQ", outcome.output)
    assert f32_bits == 0x7FC00000
    assert f64_bits == 0x7FF8000000000000


def test_wasm_code_runs_from_ordinary_state(chain: Chain) -> None:
    # Code set directly (genesis alloc) that is not a valid contract fails the call cleanly.
    broken = b"\xbb" * 20
    chain.state.set_code(broken, b"\x00asm\x01\x00\x00\x00garbage")
    chain._reopen()
    outcome = chain.send(broken, b"", gas=100_000)
    assert not outcome.success
    assert outcome.gas_used == 100_000


def test_deep_nesting_of_stack_hungry_messages_does_not_crash_the_process(chain: Chain, counter: bytes) -> None:
    # Each level recurses ~2000 WASM frames deep (most of its stack budget), then calls
    # itself; ~400 levels fit the gas. Each nested instance gets its own stack budget, so
    # this needs the deep-stack WASM thread (on an 8 MiB main thread it would segfault).
    recurse = chain.deploy_ok(wat.compute_module("""
  (func $down (param $n i32) (param $d i64) (result i64) (local $a i64) (local $b i64) (local $c i64)
    (if (result i64) (i32.eqz (local.get $n))
      (then
        (call $address (i32.const 76))
        (call $store_word (i32.const 96) (i64.add (local.get $d) (i64.const 1)))
        (memory.fill (i32.const 128) (i32.const 0) (i32.const 32))
        (drop (call $call_contract (i32.const 76) (i32.const 128) (i32.const 96) (i32.const 32) (i64.const 0)))
        (i64.const 0))
      (else (i64.add (call $down (i32.sub (local.get $n) (i32.const 1)) (local.get $d)) (i64.const 1)))))
  (func (export "call") (result i32) (local $d i64)
    (drop (call $load_input))
    (local.set $d (call $load_be64 (i32.const 4120)))
    (call $store_word (i32.const 0) (i64.const 0))
    (call $store_word (i32.const 32) (local.get $d))
    (call $storage_store (i32.const 0) (i32.const 32))
    (drop (call $down (i32.const 2000) (local.get $d)))
    (i32.const 0))
"""))
    outcome = chain.send(recurse, compute_word(0), gas=30_000_000)
    assert outcome.success, outcome
    assert chain.storage(recurse, 0) > 300  # the depth reached before the gas ran short
    _assert_still_works(chain, counter)
