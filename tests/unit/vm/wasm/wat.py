"""WAT contracts for the WASM VM tests, written against vm/wasm/HOST_API.md (no SDK).

Memory map used by all of them: 0..4096 scratch words, 4096.. the call's input.
"""
from __future__ import annotations

import wasmtime
from eth_utils import function_signature_to_4byte_selector, keccak

from vm.wasm.validate import IMPORTS


def compute_selector(signature: str) -> int:
    return int.from_bytes(function_signature_to_4byte_selector(signature), "big")


def _imports(names: tuple[str, ...] | None = None) -> str:
    lines = []
    for name, (params, results) in IMPORTS.items():
        if names is not None and name not in names:
            continue
        p = f" (param {' '.join(params)})" if params else ""
        r = f" (result {' '.join(results)})" if results else ""
        lines.append(f'  (import "env" "{name}" (func ${name}{p}{r}))')
    return "\n".join(lines)


# Helpers: big-endian u64 in the last 8 bytes of a word; the selector of the input.
HELPERS = """
  (func $load_be64 (param $p i32) (result i64) (local $i i32) (local $r i64)
    (loop $l
      (local.set $r (i64.or (i64.shl (local.get $r) (i64.const 8))
                            (i64.load8_u (i32.add (local.get $p) (local.get $i)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 8))))
    (local.get $r))
  (func $store_word (param $p i32) (param $v i64) (local $i i32)
    (memory.fill (local.get $p) (i32.const 0) (i32.const 24))
    (local.set $i (i32.const 31))
    (loop $l
      (i64.store8 (i32.add (local.get $p) (local.get $i)) (local.get $v))
      (local.set $v (i64.shr_u (local.get $v) (i64.const 8)))
      (local.set $i (i32.sub (local.get $i) (i32.const 1)))
      (br_if $l (i32.ge_s (local.get $i) (i32.const 24)))))
  (func $load_input (result i32)
    (call $input_copy (i32.const 4096) (i32.const 0) (call $input_size))
    (call $input_size))
  (func $selector (result i32)
    (i32.wrap_i64 (i64.shr_u (call $load_be64 (i32.const 4096)) (i64.const 32))))
  (func $revert_error (param $msg i32) (param $len i32) (result i32)
    ;; Error(string) at 0: selector, offset 0x20, length, bytes
    (i32.store (i32.const 0) (i32.const 0xa079c308))
    (call $store_word (i32.const 4) (i64.const 32))
    (call $store_word (i32.const 36) (i64.extend_i32_u (local.get $len)))
    (memory.fill (i32.const 68) (i32.const 0) (i32.const 32))
    (memory.copy (i32.const 68) (local.get $msg) (local.get $len))
    (call $set_output (i32.const 0) (i32.const 100))
    (i32.const 1))
"""


def compute_module(body: str, memory: str = "(memory (export \"memory\") 1)", imports: tuple[str, ...] | None = None,
                   helpers: bool = True) -> bytes:
    """A module with the env imports, the helpers, a memory and ``body``."""
    text = f"(module\n{_imports(imports)}\n  {memory}\n{HELPERS if helpers else ''}\n{body}\n)"
    return bytes(wasmtime.wat2wasm(text))


INCREMENTED_TOPIC = int.from_bytes(keccak(text="Incremented(address,uint256)"), "big")
_TOPIC_WAT = "".join(f"\\{b:02x}" for b in INCREMENTED_TOPIC.to_bytes(32, "big"))

# slot 0 = the counter; deploy(uint256 start); increment() -> uint256 (logs Incremented(caller
# indexed, value)); get() -> uint256; fail() writes 999 then reverts Error("nope");
# spin() loops forever; add(uint256) adds its argument.
COUNTER = compute_module(f"""
  (data (i32.const 2048) "nope")
  (func (export "deploy") (result i32)
    (call $input_copy (i32.const 32) (i32.const 0) (i32.const 32))
    (call $storage_store (i32.const 0) (i32.const 32))
    (i32.const 0))
  (func $bump (param $by i64) (result i32)
    (call $storage_load (i32.const 0) (i32.const 32))
    (call $store_word (i32.const 32) (i64.add (call $load_be64 (i32.const 56)) (local.get $by)))
    (call $storage_store (i32.const 0) (i32.const 32))
    ;; topics at 256: [Incremented, caller]
    (memory.fill (i32.const 256) (i32.const 0) (i32.const 12))
    (call $caller (i32.const 268))
    (call $emit_log (i32.const 32) (i32.const 32) (i32.const 224) (i32.const 2))
    (call $set_output (i32.const 32) (i32.const 32))
    (i32.const 0))
  (func (export "call") (result i32) (local $sel i32)
    (drop (call $load_input))
    (local.set $sel (call $selector))
    (memory.copy (i32.const 224) (i32.const 3072) (i32.const 32))
    (if (i32.eq (local.get $sel) (i32.const {compute_selector("increment()")}))
      (then (return (call $bump (i64.const 1)))))
    (if (i32.eq (local.get $sel) (i32.const {compute_selector("add(uint256)")}))
      (then (return (call $bump (call $load_be64 (i32.const {4096 + 4 + 24}))))))
    (if (i32.eq (local.get $sel) (i32.const {compute_selector("get()")}))
      (then
        (call $storage_load (i32.const 0) (i32.const 32))
        (call $set_output (i32.const 32) (i32.const 32))
        (return (i32.const 0))))
    (if (i32.eq (local.get $sel) (i32.const {compute_selector("fail()")}))
      (then
        (call $store_word (i32.const 32) (i64.const 999))
        (call $storage_store (i32.const 0) (i32.const 32))
        (return (call $revert_error (i32.const 2048) (i32.const 4)))))
    (if (i32.eq (local.get $sel) (i32.const {compute_selector("spin()")}))
      (then (loop $forever (br $forever))))
    (call $revert_error (i32.const 2048) (i32.const 4)))
  (data (i32.const 3072) "{_TOPIC_WAT}")
""")

# Writes every (slot, value) pair of its input: the WASM twin of EVM_SSTORE_LOOP.
SSTORE_LOOP = compute_module("""
  (func (export "call") (result i32) (local $n i32) (local $i i32)
    (local.set $n (call $load_input))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $storage_store (i32.add (i32.const 4096) (local.get $i))
                             (i32.add (i32.const 4128) (local.get $i)))
        (local.set $i (i32.add (local.get $i) (i32.const 64)))
        (br $next)))
    (i32.const 0))
""", memory='(memory (export "memory") 4)')

# Input: target (word) ‖ flag (word) ‖ payload. Writes slot 1 = 0x77, calls target with the
# payload and its own call value, stores the result (1 ok / 0 failed) at slot 2, returns the
# callee's return data, and reverts afterwards if flag is non-zero. The WASM twin of EVM_CALLER.
CALLER = compute_module("""
  (func (export "call") (result i32) (local $n i32) (local $status i32) (local $rd i32)
    (local.set $n (call $load_input))
    (call $store_word (i32.const 32) (i64.const 0x77))
    (call $store_word (i32.const 0) (i64.const 1))
    (call $storage_store (i32.const 0) (i32.const 32))
    (call $callvalue (i32.const 64))
    (local.set $status (call $call_contract (i32.const 4108) (i32.const 64) (i32.const 4160)
                                            (i32.sub (local.get $n) (i32.const 64)) (i64.const 0)))
    (call $store_word (i32.const 0) (i64.const 2))
    (call $store_word (i32.const 32) (i64.extend_i32_u (i32.eqz (local.get $status))))
    (call $storage_store (i32.const 0) (i32.const 32))
    (local.set $rd (call $returndata_size))
    (call $returndata_copy (i32.const 8192) (i32.const 0) (local.get $rd))
    (call $set_output (i32.const 8192) (local.get $rd))
    (i64.ne (call $load_be64 (i32.const 4152)) (i64.const 0)))
""", memory='(memory (export "memory") 2)')

# Returns caller, origin, address, callvalue, balance(self), number, timestamp, chain id,
# basefee, gas_left, keccak256(input) as 11 words.
INFO = compute_module("""
  (func (export "call") (result i32) (local $n i32)
    (local.set $n (call $load_input))
    (memory.fill (i32.const 0) (i32.const 0) (i32.const 352))
    (call $caller (i32.const 12))
    (call $origin (i32.const 44))
    (call $address (i32.const 76))
    (call $callvalue (i32.const 96))
    (call $balance (i32.const 76) (i32.const 128))
    (call $store_word (i32.const 160) (call $block_number))
    (call $store_word (i32.const 192) (call $block_timestamp))
    (call $store_word (i32.const 224) (call $chain_id))
    (call $basefee (i32.const 256))
    (call $store_word (i32.const 288) (call $gas_left))
    (call $keccak256 (i32.const 4096) (local.get $n) (i32.const 320))
    (call $set_output (i32.const 0) (i32.const 352))
    (i32.const 0))
""")


def compute_evm_deployer(runtime: bytes) -> bytes:
    """EVM init code that returns ``runtime`` as the contract's code."""
    n = len(runtime)
    return bytes([0x61, n >> 8, n & 0xFF, 0x80, 0x61, 0, 13, 0x60, 0, 0x39, 0x60, 0, 0xF3]) + runtime


# Stores each (slot, value) pair of the calldata.
EVM_SSTORE_LOOP = bytes.fromhex("6000" "5b" "36" "81" "10" "15" "6018" "57" "80" "6020" "01" "35" "81" "35" "55"
                                "6040" "01" "6002" "56" "5b" "00")
# Calldata target ‖ flag ‖ payload: SSTORE(1, 0x77); CALL(target, payload); SSTORE(2, ok);
# revert if flag.
EVM_CALLER = bytes.fromhex(
    "6077600155" "6040" "36" "03" "80" "6040" "6000" "37" "6000" "6000" "82" "6000" "6000" "600035" "5a" "f1"
    "600255" "602035" "15" "602b" "57" "600080fd" "5b" "00")
# SSTORE(5, 0x55); revert if the first calldata word is non-zero.
EVM_WRITER = bytes.fromhex("6055600555" "600035" "15" "6010" "57" "600080fd" "5b" "00")
