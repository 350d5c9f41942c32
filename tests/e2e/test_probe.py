"""The runtime seen through a contract: block context, creation, value, reverts, gas."""
from __future__ import annotations

import pytest
from eth_utils import keccak, to_checksum_address

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def probe(module_node_factory, contracts):
    node = module_node_factory(name="probe")
    w3 = node.w3()
    me = w3.eth.accounts[0]
    art = contracts["Probe"]
    tx = w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor().transact({"from": me})
    address = w3.eth.get_transaction_receipt(tx).contractAddress
    return node, w3, w3.eth.contract(address=address, abi=art.abi), me


def test_block_context_in_call_and_blockhash(probe):
    node, w3, contract, me = probe
    contract.functions.set(1).transact({"from": me})
    head = w3.eth.get_block("latest")
    priced = {"from": me, "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 0}
    number, timestamp, basefee, chainid, coinbase, parent_hash = contract.functions.blockInfo().call(priced)
    assert (number, timestamp, basefee, chainid) == (head.number, head.timestamp, head.baseFeePerGas, 31337)
    # A call that names no fee runs with base fee 0, as geth does (so it needs no balance).
    assert contract.functions.blockInfo().call()[2] == 0
    assert coinbase == head.miner
    assert parent_hash == head.parentHash


def test_storage_and_event(probe):
    node, w3, contract, me = probe
    receipt = w3.eth.get_transaction_receipt(contract.functions.set(42).transact({"from": me}))
    assert contract.functions.get().call() == 42
    (event,) = contract.events.Stored().process_receipt(receipt)
    assert event.args.who == me and event.args.value == 42
    slot0 = w3.eth.get_storage_at(contract.address, 0)
    assert int.from_bytes(slot0, "big") == 42


def test_create_and_create2_addresses(probe):
    node, w3, contract, me = probe
    nonce_before = w3.eth.get_transaction_count(contract.address)
    receipt = w3.eth.get_transaction_receipt(contract.functions.create(7).transact({"from": me}))
    (created,) = contract.events.Created().process_receipt(receipt)
    import rlp

    expected = keccak(rlp.encode([bytes.fromhex(contract.address[2:]), nonce_before]))[12:]
    assert created.args.child == to_checksum_address(expected)
    salt = b"\x11" * 32
    predicted = contract.functions.predictCreate2(salt, 9).call()
    receipt = w3.eth.get_transaction_receipt(contract.functions.create2(salt, 9).transact({"from": me}))
    (created2,) = contract.events.Created().process_receipt(receipt)
    assert created2.args.child == predicted and created2.args.create2
    assert len(w3.eth.get_code(predicted)) > 0


def test_value_transfer_into_a_contract(probe):
    node, w3, contract, me = probe
    before = w3.eth.get_balance(me)
    receipt = w3.eth.get_transaction_receipt(contract.functions.deposit().transact({"from": me, "value": 12345}))
    assert contract.functions.selfBalance().call() >= 12345
    fee = receipt.gasUsed * receipt.effectiveGasPrice
    assert w3.eth.get_balance(me) == before - 12345 - fee


def test_revert_reason_and_gas_estimate_for_loops(probe):
    node, w3, contract, me = probe
    from web3.exceptions import ContractLogicError

    with pytest.raises(ContractLogicError, match="probe: nope"):
        contract.functions.fail().call()
    estimate = contract.functions.burn(300).estimate_gas({"from": me})
    receipt = w3.eth.get_transaction_receipt(contract.functions.burn(300).transact({"from": me, "gas": estimate}))
    assert receipt.status == 1
    assert receipt.gasUsed <= estimate <= receipt.gasUsed * 1.1
