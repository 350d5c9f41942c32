"""WASM contracts on a real `chameleon dev`, used as dApps use contracts: web3.py deploys a
WAT counter (module ‖ ABI constructor arguments), calls it with an ABI, reads its logs,
estimates gas, decodes a revert, and survives an infinite loop.
"""
from __future__ import annotations

import pytest
from eth_abi import encode as abi_encode
from web3.exceptions import ContractLogicError

from tests.e2e.nodes import DEV_ADDRESSES
from tests.unit.vm.wasm import wat

pytestmark = pytest.mark.e2e

COUNTER_ABI = [
    {"type": "function", "name": "increment", "inputs": [], "stateMutability": "nonpayable",
     "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "function", "name": "add", "inputs": [{"name": "by", "type": "uint256"}], "stateMutability": "nonpayable",
     "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "function", "name": "get", "inputs": [], "stateMutability": "view",
     "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "function", "name": "fail", "inputs": [], "stateMutability": "nonpayable", "outputs": []},
    {"type": "function", "name": "spin", "inputs": [], "stateMutability": "nonpayable", "outputs": []},
    {"type": "event", "name": "Incremented", "anonymous": False, "inputs": [
        {"name": "by", "type": "address", "indexed": True},
        {"name": "value", "type": "uint256", "indexed": False}]},
]


@pytest.fixture(scope="module")
def node(module_node_factory):
    return module_node_factory(name="wasm")


@pytest.fixture(scope="module")
def w3(node):
    return node.w3()


@pytest.fixture(scope="module")
def counter(w3):
    tx = w3.eth.send_transaction({"from": DEV_ADDRESSES[0], "data": wat.COUNTER + abi_encode(["uint256"], [41]),
                                  "gas": 3_000_000})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 1
    assert bytes(w3.eth.get_code(receipt["contractAddress"])) == wat.COUNTER
    return w3.eth.contract(address=receipt["contractAddress"], abi=COUNTER_ABI)


def test_deploy_and_call_with_an_abi(w3, counter):
    assert counter.functions.get().call() == 41
    receipt = w3.eth.wait_for_transaction_receipt(counter.functions.increment().transact({"from": DEV_ADDRESSES[1]}))
    assert receipt["status"] == 1
    assert counter.functions.get().call() == 42
    (event,) = counter.events.Incremented().process_receipt(receipt)
    assert event["args"]["by"] == DEV_ADDRESSES[1]
    assert event["args"]["value"] == 42


def test_logs_through_eth_get_logs(w3, counter):
    receipt = w3.eth.wait_for_transaction_receipt(counter.functions.add(8).transact({"from": DEV_ADDRESSES[2]}))
    logs = w3.eth.get_logs({"address": counter.address, "fromBlock": receipt["blockNumber"],
                            "toBlock": receipt["blockNumber"],
                            "topics": [None, "0x" + bytes(12).hex() + DEV_ADDRESSES[2][2:].lower()]})
    (log,) = logs
    assert log["topics"][0] == wat.INCREMENTED_TOPIC.to_bytes(32, "big")
    assert int.from_bytes(log["data"], "big") == counter.functions.get().call()


def test_estimate_gas_on_a_wasm_call(w3, counter):
    estimate = counter.functions.increment().estimate_gas({"from": DEV_ADDRESSES[3]})
    assert 21_000 < estimate < 100_000
    receipt = w3.eth.wait_for_transaction_receipt(
        counter.functions.increment().transact({"from": DEV_ADDRESSES[3], "gas": estimate}))
    assert receipt["status"] == 1


def test_revert_carries_error_data(node, w3, counter):
    with pytest.raises(ContractLogicError) as info:
        counter.functions.fail().call({"from": DEV_ADDRESSES[0]})
    assert "nope" in str(info.value)
    response = node.request("eth_call", {"from": DEV_ADDRESSES[0], "to": counter.address,
                                         "data": counter.encode_abi("fail", [])}, "latest")
    data = response["error"]["data"]
    assert data.startswith("0x08c379a0")
    assert bytes.fromhex(data[2:])[4 + 64:4 + 64 + 4] == b"nope"


def test_infinite_loop_fails_and_the_node_keeps_serving(w3, counter):
    before = counter.functions.get().call()
    tx = counter.functions.spin().transact({"from": DEV_ADDRESSES[4], "gas": 1_000_000})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 0
    assert receipt["gasUsed"] == 1_000_000
    receipt = w3.eth.wait_for_transaction_receipt(counter.functions.increment().transact({"from": DEV_ADDRESSES[4]}))
    assert receipt["status"] == 1
    assert counter.functions.get().call() == before + 1


def test_invalid_module_is_refused_with_a_reason(node, w3):
    bad = bytes(wat.COUNTER).replace(b"storage_load", b"storage_lord")
    response = node.request("eth_call", {"from": DEV_ADDRESSES[0], "data": "0x" + bad.hex()}, "latest")
    assert "error" in response
    from eth_abi import decode as abi_decode
    data = bytes.fromhex(response["error"]["data"][2:])
    assert abi_decode(["string"], data[4:])[0] == "wasm: unknown import env.storage_lord"


def test_compiled_modules_persist_across_a_restart(node_factory):
    """The node keeps compiled machine code in its LevelDB (keyed by code hash and engine); after
    a restart the contract answers from it, and what a trace shows of a WASM call is its result."""
    from node.storage import CompiledModules, LevelDBStore

    node = node_factory(name="wasm-restart")
    w3 = node.w3()
    tx = w3.eth.send_transaction({"from": DEV_ADDRESSES[0], "data": wat.COUNTER + abi_encode(["uint256"], [7]),
                                  "gas": 3_000_000})
    address = w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
    counter = w3.eth.contract(address=address, abi=COUNTER_ABI)
    tx = counter.functions.increment().transact({"from": DEV_ADDRESSES[1]})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    trace = node.rpc("debug_traceTransaction", "0x" + bytes(tx).hex(), {"tracer": "callTracer"})
    assert trace["to"].lower() == address.lower() and "error" not in trace
    assert int(trace["output"], 16) == 8

    assert node.stop() == 0
    store = LevelDBStore(node.datadir / "chaindata")
    try:
        assert any(True for _ in store.iterate(CompiledModules.PREFIX))
    finally:
        store.close()
    node.start()
    w3 = node.w3()
    assert w3.eth.contract(address=address, abi=COUNTER_ABI).functions.get().call() == 8
