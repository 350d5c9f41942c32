"""WASM contracts on the EVM state: deploy, storage, logs, context, calls both ways, pallets."""
from __future__ import annotations

import pytest
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak

from runtime.pallets.vesting import VESTING_ADDRESS, Vesting
from tests.unit.vm.wasm import wat
from tests.unit.vm.wasm.chain import (
    Chain,
    compute_address_word,
    compute_calldata,
    compute_error_reason,
    compute_word,
)

INCREMENT = compute_calldata("increment()")
GET = compute_calldata("get()")
FAIL = compute_calldata("fail()")


@pytest.fixture
def chain() -> Chain:
    return Chain()


def test_counter_deploys_with_constructor_argument_and_counts(chain: Chain) -> None:
    counter = chain.deploy_ok(wat.COUNTER, compute_word(41))
    assert chain.state.get_code(counter) == wat.COUNTER
    assert chain.storage(counter, 0) == 41
    for expected in (42, 43, 44):
        outcome = chain.send(counter, INCREMENT)
        assert outcome.success, outcome
        assert int.from_bytes(outcome.output, "big") == expected
    assert chain.storage(counter, 0) == 44
    assert int.from_bytes(chain.send(counter, GET).output, "big") == 44
    added = chain.send(counter, compute_calldata("add(uint256)", ["uint256"], [1000]))
    assert int.from_bytes(added.output, "big") == 1044


def test_module_without_deploy_export_stores_the_module(chain: Chain) -> None:
    address = chain.deploy_ok(wat.INFO)
    assert chain.state.get_code(address) == wat.INFO
    assert chain.state.get_nonce(address) == 1


def test_storage_is_the_accounts_evm_storage(chain: Chain) -> None:
    counter = chain.deploy_ok(wat.COUNTER, compute_word(7))
    chain.state.set_storage(counter, 0, 100)
    chain._reopen()
    assert int.from_bytes(chain.send(counter, INCREMENT).output, "big") == 101
    assert chain.storage(counter, 0) == 101


def test_increment_logs_with_topics(chain: Chain) -> None:
    counter = chain.deploy_ok(wat.COUNTER, compute_word(0))
    outcome = chain.send(counter, INCREMENT, sender=chain.accounts[1])
    (log,) = outcome.logs
    assert log.address == counter
    assert log.topics == (wat.INCREMENTED_TOPIC.to_bytes(32, "big"), compute_address_word(chain.accounts[1]))
    assert log.data == compute_word(1)


def test_revert_returns_error_data_and_undoes_writes(chain: Chain) -> None:
    counter = chain.deploy_ok(wat.COUNTER, compute_word(5))
    outcome = chain.send(counter, FAIL, gas=200_000)
    assert not outcome.success
    assert outcome.error == "execution reverted"
    assert compute_error_reason(outcome.output) == "nope"
    assert outcome.gas_used < 200_000  # a revert keeps the gas left
    assert chain.storage(counter, 0) == 5


def test_context_imports(chain: Chain) -> None:
    info = chain.deploy_ok(wat.INFO)
    chain.state.set_balance(info, 12345)
    chain._reopen()
    payload = b"hello wasm"
    outcome = chain.send(info, payload, value=7, sender=chain.accounts[2])
    assert outcome.success, outcome
    words = [outcome.output[i:i + 32] for i in range(0, len(outcome.output), 32)]
    assert len(words) == 11
    assert words[0] == compute_address_word(chain.accounts[2])
    assert words[1] == compute_address_word(chain.accounts[2])  # origin
    assert words[2] == compute_address_word(info)
    assert int.from_bytes(words[3], "big") == 7
    assert int.from_bytes(words[4], "big") == 12345 + 7
    assert int.from_bytes(words[5], "big") == chain.number
    assert int.from_bytes(words[6], "big") == chain.timestamp
    assert int.from_bytes(words[7], "big") == 31337
    assert int.from_bytes(words[8], "big") == 0  # base fee of the harness
    assert 0 < int.from_bytes(words[9], "big") < 10_000_000
    assert words[10] == keccak(payload)


def _caller_input(target: bytes, flag: int, payload: bytes) -> bytes:
    return compute_address_word(target) + compute_word(flag) + payload


@pytest.mark.parametrize("caller_kind", ["wasm", "evm"])
@pytest.mark.parametrize("callee_kind", ["wasm", "evm"])
def test_calls_between_wasm_and_evm_roll_back_like_evm(chain: Chain, caller_kind: str, callee_kind: str) -> None:
    caller = chain.deploy_ok(wat.CALLER if caller_kind == "wasm" else wat.compute_evm_deployer(wat.EVM_CALLER))
    if callee_kind == "wasm":
        callee = chain.deploy_ok(wat.COUNTER, compute_word(10))
        ok_payload, failing_payload, callee_slot, before, after = INCREMENT, FAIL, 0, 10, 11
    else:
        callee = chain.deploy_ok(wat.compute_evm_deployer(wat.EVM_WRITER))
        ok_payload, failing_payload, callee_slot, before, after = compute_word(0), compute_word(1), 5, 0, 0x55

    # Inner revert: only the callee's writes are undone; the caller records the failure.
    outcome = chain.send(caller, _caller_input(callee, 0, failing_payload))
    assert outcome.success, outcome
    assert chain.storage(callee, callee_slot) == before
    assert chain.storage(caller, 1) == 0x77
    assert chain.storage(caller, 2) == 0

    # Outer revert after a successful inner call: both are undone.
    outcome = chain.send(caller, _caller_input(callee, 1, ok_payload))
    assert not outcome.success
    assert chain.storage(callee, callee_slot) == before
    assert chain.storage(caller, 2) == 0

    # Both succeed.
    outcome = chain.send(caller, _caller_input(callee, 0, ok_payload))
    assert outcome.success, outcome
    assert chain.storage(callee, callee_slot) == after
    assert chain.storage(caller, 2) == 1
    if caller_kind == "wasm" and callee_kind == "wasm":
        assert outcome.output == compute_word(11)  # the callee's return data, via returndata_copy
        assert [log.address for log in outcome.logs] == [callee]


def test_reentrancy_wasm_to_evm_to_wasm(chain: Chain) -> None:
    wasm_caller = chain.deploy_ok(wat.CALLER)
    evm_caller = chain.deploy_ok(wat.compute_evm_deployer(wat.EVM_CALLER))
    counter = chain.deploy_ok(wat.COUNTER, compute_word(0))
    # WASM caller -> EVM caller -> WASM counter.increment()
    inner = _caller_input(counter, 0, INCREMENT)
    outcome = chain.send(wasm_caller, _caller_input(evm_caller, 0, inner))
    assert outcome.success, outcome
    assert chain.storage(counter, 0) == 1
    assert chain.storage(evm_caller, 2) == 1
    assert chain.storage(wasm_caller, 2) == 1
    # WASM caller -> WASM caller (itself) -> counter: A -> A -> B
    outcome = chain.send(wasm_caller, _caller_input(wasm_caller, 0, _caller_input(counter, 0, INCREMENT)))
    assert outcome.success, outcome
    assert chain.storage(counter, 0) == 2


def test_wasm_calls_a_pallet_with_value(chain: Chain) -> None:
    caller = chain.deploy_ok(wat.CALLER)
    beneficiary = chain.accounts[1]
    spec = next(c for c in Vesting.calls if c.name == "createSchedule")
    data = spec.selector + abi_encode([a.type for a in spec.inputs], [beneficiary, chain.timestamp, 0, 1000, True])
    outcome = chain.send(caller, _caller_input(VESTING_ADDRESS, 0, data), value=10**18)
    assert outcome.success, outcome
    assert chain.storage(caller, 2) == 1
    (schedule_id,) = abi_decode(["uint256"], outcome.output)
    schedule = chain.view(Vesting, "schedule", schedule_id)
    assert schedule[0].lower() == "0x" + caller.hex()  # the WASM contract is the creator
    assert schedule[7] == 10**18
    assert chain.balance(VESTING_ADDRESS) >= 10**18
    # A failing pallet call (zero value) is a failed call for the WASM contract, not a halt.
    outcome = chain.send(caller, _caller_input(VESTING_ADDRESS, 0, data))
    assert outcome.success
    assert chain.storage(caller, 2) == 0


def test_static_call_refuses_writes(chain: Chain) -> None:
    counter = chain.deploy_ok(wat.COUNTER, compute_word(3))
    static_caller = chain.deploy_ok(wat.compute_module("""
  (func (export "call") (result i32) (local $n i32) (local $status i32)
    (local.set $n (call $load_input))
    (local.set $status (call $static_call (i32.const 4108) (i32.const 4128) (i32.sub (local.get $n) (i32.const 32))
                                          (i64.const 0)))
    (call $store_word (i32.const 0) (i64.extend_i32_u (local.get $status)))
    (call $set_output (i32.const 0) (i32.const 32))
    (i32.const 0))
"""))
    read = chain.send(static_caller, compute_address_word(counter) + GET)
    assert read.output == compute_word(0)
    write = chain.send(static_caller, compute_address_word(counter) + INCREMENT)
    assert write.success
    assert write.output == compute_word(1)
    assert chain.storage(counter, 0) == 3


def test_create_from_wasm_deploys_wasm(chain: Chain) -> None:
    factory = chain.deploy_ok(wat.compute_module("""
  (func (export "call") (result i32) (local $n i32)
    (local.set $n (call $load_input))
    (memory.fill (i32.const 0) (i32.const 0) (i32.const 64))
    (if (i32.ne (call $create (i32.const 4096) (local.get $n) (i32.const 0) (i32.const 0) (i32.const 76)) (i32.const 0))
      (then (return (i32.const 1))))
    (call $set_output (i32.const 64) (i32.const 32))
    (i32.const 0))
""", memory='(memory (export "memory") 2)'))
    outcome = chain.send(factory, wat.COUNTER + compute_word(9))
    assert outcome.success, outcome
    child = outcome.output[12:]
    assert chain.state.get_code(child) == wat.COUNTER
    assert chain.storage(child, 0) == 9
    bad = chain.send(factory, wat.COUNTER[:20] + b"\x07\x05")
    assert not bad.success


def test_create2_from_wasm_uses_the_salt(chain: Chain) -> None:
    factory = chain.deploy_ok(wat.compute_module("""
  (func (export "call") (result i32) (local $n i32)
    (local.set $n (call $load_input))
    (memory.fill (i32.const 0) (i32.const 0) (i32.const 64))
    (call $store_word (i32.const 32) (i64.const 7))
    (if (i32.ne (call $create (i32.const 4096) (local.get $n) (i32.const 0) (i32.const 32) (i32.const 76)) (i32.const 0))
      (then (return (i32.const 1))))
    (call $set_output (i32.const 64) (i32.const 32))
    (i32.const 0))
""", memory='(memory (export "memory") 2)'))
    init_code = wat.COUNTER + compute_word(3)
    outcome = chain.send(factory, init_code)
    assert outcome.success, outcome
    expected = keccak(b"\xff" + factory + compute_word(7) + keccak(init_code))[12:]
    assert outcome.output[12:] == expected
    assert chain.storage(expected, 0) == 3
    again = chain.send(factory, init_code)  # same salt, same address: the creation fails
    assert not again.success


def test_revert_import_ends_the_message_at_once(chain: Chain) -> None:
    """`revert(ptr, len)` stops the contract where it stands (deep in a call stack, no status to
    pass up), with those bytes as revert data, its writes undone and the gas left kept."""
    module = wat.compute_module('''
  (func $deep (param $n i32)
    (if (i32.eqz (local.get $n))
      (then (call $revert (i32.const 100) (i32.const 5))))
    (call $deep (i32.sub (local.get $n) (i32.const 1))))
  (data (i32.const 100) "oops!")
  (func (export "call") (result i32)
    (call $store_word (i32.const 0) (i64.const 1))
    (call $store_word (i32.const 32) (i64.const 7))
    (call $storage_store (i32.const 0) (i32.const 32))
    (call $deep (i32.const 20))
    (unreachable))''')
    address = chain.deploy_ok(module)
    outcome = chain.send(address, b"", gas=200_000)
    assert not outcome.success and outcome.error == "execution reverted"
    assert outcome.output == b"oops!"
    assert outcome.gas_used < 200_000
    assert chain.storage(address, 1) == 0
