"""Gas: WASM storage writes cost what EVM SSTOREs cost; both end in the same storage."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.vm.wasm import wat
from tests.unit.vm.wasm.chain import Chain, compute_word
from vm.wasm import config

# What the two contracts spend besides SSTORE, per (slot, value) pair: the EVM loop 60 gas
# of opcodes; the WASM loop one host call (HOST_CALL_GAS = 40), 6 gas to copy the pair's two
# input words and < 1 gas of fuel. Once per call, WASM spends ~100 more (input_size twice,
# input_copy). Documented bound: |difference| <= PER_PAIR_BOUND * pairs + FIXED_BOUND.
EVM_LOOP_GAS_PER_PAIR = 60
WASM_COPY_GAS_PER_PAIR = 6
PER_PAIR_BOUND = 15
FIXED_BOUND = 200


def _pairs_data(pairs: list[tuple[int, int]]) -> bytes:
    return b"".join(compute_word(slot) + compute_word(value) for slot, value in pairs)


def _deploy_both(chain: Chain) -> tuple[bytes, bytes]:
    evm_address = chain.deploy_ok(wat.compute_evm_deployer(wat.EVM_SSTORE_LOOP))
    wasm_address = chain.deploy_ok(wat.SSTORE_LOOP)
    return evm_address, wasm_address


def _compute_gas_difference(chain: Chain, evm_address: bytes, wasm_address: bytes, pairs: list[tuple[int, int]]) -> int:
    data = _pairs_data(pairs)
    evm_outcome = chain.send(evm_address, data)
    wasm_outcome = chain.send(wasm_address, data)
    assert evm_outcome.success, evm_outcome
    assert wasm_outcome.success, wasm_outcome
    return wasm_outcome.gas_used - evm_outcome.gas_used


def test_same_sstores_cost_the_same_gas() -> None:
    chain = Chain()
    evm_address, wasm_address = _deploy_both(chain)
    cases = [
        [(1, 5)],                                 # cold zero -> non-zero: 22,100
        [(1, 6), (1, 7), (2, 0)],                 # non-zero -> non-zero, dirty, zero -> zero
        [(1, 0)],                                 # non-zero -> zero: refund
        [(3, 1), (3, 0), (4, 9), (4, 9)],         # set and reset within the transaction
    ]
    for pairs in cases:
        difference = _compute_gas_difference(chain, evm_address, wasm_address, pairs)
        assert abs(difference) <= PER_PAIR_BOUND * len(pairs) + FIXED_BOUND, (pairs, difference)
        for slot, _ in pairs:
            assert chain.storage(evm_address, slot) == chain.storage(wasm_address, slot)


def test_host_call_overhead_is_the_documented_constant() -> None:
    chain = Chain()
    evm_address, wasm_address = _deploy_both(chain)
    one = _compute_gas_difference(chain, evm_address, wasm_address, [(10, 1)])
    eleven = _compute_gas_difference(chain, evm_address, wasm_address, [(20 + i, 1) for i in range(11)])
    # Ten more pairs: ten more host calls and word copies on WASM, ten more EVM iterations.
    per_pair = (eleven - one) / 10
    assert abs(per_pair - (config.HOST_CALL_GAS + WASM_COPY_GAS_PER_PAIR - EVM_LOOP_GAS_PER_PAIR)) <= 1, per_pair


slot_values = st.lists(st.tuples(st.integers(0, 5), st.sampled_from([0, 1, 2, 2**255, 2**256 - 1])), max_size=12)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=slot_values, second=slot_values)
def test_random_writes_give_the_same_storage(first: list[tuple[int, int]], second: list[tuple[int, int]]) -> None:
    chain = Chain()
    evm_address, wasm_address = _deploy_both(chain)
    for pairs in (first, second):
        difference = _compute_gas_difference(chain, evm_address, wasm_address, pairs)
        assert abs(difference) <= PER_PAIR_BOUND * len(pairs) + FIXED_BOUND, (pairs, difference)
    for slot in range(6):
        assert chain.storage(evm_address, slot) == chain.storage(wasm_address, slot)
