"""The dApp developer's user story, with web3.py against a real `chameleon dev`:
deploy an OpenZeppelin ERC-20, transfer, read balances and events, see reverts decoded,
and send raw signed transactions of every type, as they would against Anvil.
"""
from __future__ import annotations

import eth_abi
import pytest
from eth_account import Account
from eth_utils import keccak, to_checksum_address
from web3.exceptions import ContractCustomError, ContractLogicError

from tests.e2e.nodes import DEV_ADDRESSES, DEV_CHAIN_ID

pytestmark = pytest.mark.e2e

ANVIL_FIRST_CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
SUPPLY = 1_000_000 * 10**18
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
ZERO_ADDRESS = "0x" + "00" * 20


def topic_of(address: str) -> str:
    return "0x" + "00" * 12 + address[2:].lower()


def error_string_data(reason: str) -> str:
    return "0x08c379a0" + eth_abi.encode(["string"], [reason]).hex()


def as_hex(value) -> str:
    """web3 values (HexBytes, bytes, str) as a 0x-prefixed lowercase hex string."""
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    return value.lower() if value.startswith("0x") else "0x" + value.lower()


@pytest.fixture(scope="module")
def node(module_node_factory):
    return module_node_factory(name="erc20")


@pytest.fixture(scope="module")
def w3(node):
    return node.w3()


@pytest.fixture(scope="module")
def deployment(node, w3, contracts):
    """The Token deployed by dev account 0 as the chain's very first transaction."""
    art = contracts["Token"]
    assert node.nonce(DEV_ADDRESSES[0]) == 0, "the deployment must be account 0's first transaction"
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    tx_hash = factory.constructor("Chameleon Token", "CHT", SUPPLY).transact({"from": DEV_ADDRESSES[0]})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    return receipt


@pytest.fixture(scope="module")
def token(w3, contracts, deployment):
    return w3.eth.contract(address=deployment["contractAddress"], abi=contracts["Token"].abi)


def transfer(w3, token, sender: str, to: str, amount: int, **tx):
    tx_hash = token.functions.transfer(to, amount).transact({"from": sender, **tx})
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)


# --- deployment -------------------------------------------------------------------------


def test_deploy_address_matches_anvil(node, w3, contracts, deployment, token):
    assert deployment["status"] == 1
    assert deployment["contractAddress"] == ANVIL_FIRST_CONTRACT
    assert deployment["to"] is None
    assert deployment["from"] == DEV_ADDRESSES[0]
    assert bytes(w3.eth.get_code(ANVIL_FIRST_CONTRACT)) == contracts["Token"].deployed_bytecode
    assert w3.eth.chain_id == DEV_CHAIN_ID
    assert token.functions.name().call() == "Chameleon Token"
    assert token.functions.symbol().call() == "CHT"
    assert token.functions.decimals().call() == 18
    assert token.functions.totalSupply().call() == SUPPLY
    # The mint is a Transfer from 0x0 in the deployment receipt.
    (minted,) = token.events.Transfer().process_receipt(deployment)
    assert minted["args"]["from"] == ZERO_ADDRESS
    assert minted["args"]["to"] == DEV_ADDRESSES[0]
    assert minted["args"]["value"] == SUPPLY


# --- transfers and balances ----------------------------------------------------------------


def test_transfer_and_balances(w3, token):
    a0, a1 = DEV_ADDRESSES[0], DEV_ADDRESSES[1]
    before0 = token.functions.balanceOf(a0).call()
    before1 = token.functions.balanceOf(a1).call()
    receipt = transfer(w3, token, a0, a1, 1234 * 10**18)
    assert receipt["status"] == 1
    assert token.functions.balanceOf(a0).call() == before0 - 1234 * 10**18
    assert token.functions.balanceOf(a1).call() == before1 + 1234 * 10**18
    assert token.functions.totalSupply().call() == SUPPLY
    # The balance at the block before the transfer is still readable.
    at_parent = token.functions.balanceOf(a1).call(block_identifier=receipt["blockNumber"] - 1)
    assert at_parent == before1
    # Account 1 spends some: its own transfer back.
    back = transfer(w3, token, a1, a0, 34 * 10**18)
    assert back["status"] == 1
    assert token.functions.balanceOf(a1).call() == before1 + 1200 * 10**18


def test_transfer_events_via_get_logs(node, w3, token, deployment):
    a0, a2, a3 = DEV_ADDRESSES[0], DEV_ADDRESSES[2], DEV_ADDRESSES[3]
    r1 = transfer(w3, token, a0, a2, 11)
    r2 = transfer(w3, token, a0, a3, 22)
    assert r2["blockNumber"] > r1["blockNumber"]
    event = token.events.Transfer()

    # By address, over the whole chain: the mint first, then every transfer in order.
    by_address = node.rpc("eth_getLogs", {"address": token.address, "fromBlock": "0x0", "toBlock": "latest"})
    decoded = [event.process_log(log) for log in w3.eth.get_logs({"address": token.address, "fromBlock": 0})]
    assert len(decoded) == len(by_address) >= 3
    assert decoded[0]["args"]["from"] == ZERO_ADDRESS and decoded[0]["args"]["value"] == SUPPLY
    assert decoded[0]["blockNumber"] == deployment["blockNumber"]
    assert [(d["args"]["to"], d["args"]["value"]) for d in decoded[-2:]] == [(a2, 11), (a3, 22)]
    keys = [(int(log["blockNumber"], 16), int(log["logIndex"], 16)) for log in by_address]
    assert keys == sorted(keys)
    for log in by_address:
        assert log["address"].lower() == token.address.lower()
        assert log["topics"][0] == TRANSFER_TOPIC
        assert log["removed"] is False

    # By topic: Transfers *to* account 3 only (topic 2 = indexed `to`), from any address.
    to_a3 = node.rpc("eth_getLogs", {"fromBlock": "0x0", "topics": [TRANSFER_TOPIC, None, topic_of(a3)]})
    assert len(to_a3) == 1
    d = event.process_log(w3.eth.get_logs({"fromBlock": 0, "topics": [TRANSFER_TOPIC, None, topic_of(a3)]})[0])
    assert (d["args"]["from"], d["args"]["to"], d["args"]["value"]) == (a0, a3, 22)
    assert as_hex(d["transactionHash"]) == as_hex(r2["transactionHash"])
    # Alternatives in one position (to a2 OR to a3).
    either = node.rpc("eth_getLogs", {"fromBlock": "0x0", "topics": [TRANSFER_TOPIC, None, [topic_of(a2), topic_of(a3)]]})
    assert {int(log["data"], 16) for log in either} == {11, 22}
    # A topic nobody emitted.
    assert node.rpc("eth_getLogs", {"fromBlock": "0x0", "topics": ["0x" + "ab" * 32]}) == []

    # By block range: exactly the block of the first transfer.
    n1 = r1["blockNumber"]
    ranged = node.rpc("eth_getLogs", {"address": token.address, "fromBlock": hex(n1), "toBlock": hex(n1)})
    assert len(ranged) == 1
    log = ranged[0]
    assert int(log["blockNumber"], 16) == n1
    assert log["transactionHash"] == as_hex(r1["transactionHash"])
    assert log["blockHash"] == as_hex(r1["blockHash"])
    assert int(log["transactionIndex"], 16) == r1["transactionIndex"]
    assert log["logIndex"] == "0x0"
    assert event.process_log(w3.eth.get_logs({"address": token.address, "fromBlock": n1, "toBlock": n1})[0])["args"]["value"] == 11
    # Two blocks: both transfers.
    span = node.rpc("eth_getLogs", {"address": token.address, "fromBlock": hex(n1), "toBlock": hex(r2["blockNumber"])})
    assert [int(x["data"], 16) for x in span] == [11, 22]

    # By block hash.
    by_hash = node.rpc("eth_getLogs", {"blockHash": as_hex(r2["blockHash"])})
    assert len(by_hash) == 1 and int(by_hash[0]["data"], 16) == 22
    assert by_hash == node.rpc("eth_getLogs", {"address": token.address, "fromBlock": hex(r2["blockNumber"]), "toBlock": hex(r2["blockNumber"])})
    assert event.process_log(w3.eth.get_logs({"blockHash": r2["blockHash"]})[0])["args"]["to"] == a3
    # The receipt's logs are the same logs.
    assert [event.process_log(x)["args"]["value"] for x in r2["logs"]] == [22]
    # web3's event helper with an argument filter.
    got = token.events.Transfer().get_logs(from_block=0, argument_filters={"to": a2})
    assert [g["args"]["value"] for g in got] == [11]


# --- reverts -----------------------------------------------------------------------------


def test_revert_reason_via_call(node, token):
    with pytest.raises(ContractLogicError) as info:
        token.functions.failWith("boom").call({"from": DEV_ADDRESSES[0]})
    assert not isinstance(info.value, ContractCustomError)
    assert "boom" in info.value.message
    assert as_hex(info.value.data) == error_string_data("boom")
    # The same over raw JSON-RPC: code 3, message with the reason, data the payload.
    data = token.functions.failWith("boom")._encode_transaction_data()
    response = node.request("eth_call", {"to": token.address, "data": data}, "latest")
    assert response["error"]["code"] == 3
    assert response["error"]["message"] == "execution reverted: boom"
    assert response["error"]["data"] == error_string_data("boom")


def test_custom_error_via_call(token):
    selector = keccak(text="NotAllowed(address)")[:4]
    with pytest.raises(ContractCustomError) as info:
        token.functions.guarded().call({"from": DEV_ADDRESSES[4]})
    data = bytes.fromhex(as_hex(info.value.data)[2:])
    assert data[:4] == selector
    (who,) = eth_abi.decode(["address"], data[4:])
    assert to_checksum_address(who) == DEV_ADDRESSES[4]


def test_failing_transact_with_explicit_gas_is_mined_with_status_0(node, w3, token):
    sender = DEV_ADDRESSES[5]
    nonce = node.nonce(sender)
    balance = node.balance(sender)
    tx_hash = token.functions.failWith("mined anyway").transact({"from": sender, "gas": 100_000})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 0
    assert 21_000 < receipt["gasUsed"] < 100_000
    assert receipt["logs"] == []
    assert node.nonce(sender) == nonce + 1
    assert node.balance(sender) == balance - receipt["gasUsed"] * receipt["effectiveGasPrice"]
    block = w3.eth.get_block(receipt["blockNumber"])
    assert as_hex(tx_hash) in [as_hex(h) for h in block["transactions"]]


def test_estimate_gas_is_close_to_gas_used(w3, token):
    recipient = Account.create().address  # fresh: the transfer writes a zero slot
    estimate = token.functions.transfer(recipient, 5).estimate_gas({"from": DEV_ADDRESSES[0]})
    receipt = transfer(w3, token, DEV_ADDRESSES[0], recipient, 5, gas=estimate)
    assert receipt["status"] == 1
    used = receipt["gasUsed"]
    assert used <= estimate <= used * 1.1, (used, estimate)
    # A plain ETH transfer: enough, and close.
    plain = w3.eth.estimate_gas({"from": DEV_ADDRESSES[0], "to": recipient, "value": 1})
    assert 21_000 <= plain <= 21_000 * 1.1


def test_estimate_gas_of_a_plain_transfer_is_exactly_21000(w3):
    recipient = Account.create().address
    assert w3.eth.estimate_gas({"from": DEV_ADDRESSES[0], "to": recipient, "value": 1}) == 21_000


# --- receipts ------------------------------------------------------------------------------


def next_base_fee(node) -> int:
    return int(node.rpc("eth_feeHistory", "0x1", "latest", [])["baseFeePerGas"][-1], 16)


@pytest.mark.parametrize("capped", [False, True], ids=["base+tip", "maxFee-capped"])
def test_receipt_fields(node, w3, token, capped):
    from eth_bloom import BloomFilter

    sender = DEV_ADDRESSES[6]
    transfer(w3, token, DEV_ADDRESSES[0], sender, 10**18)
    base = next_base_fee(node)
    if capped:  # max_fee < base + tip: the price is max_fee
        tip, max_fee = 2 * base, base * 5 // 2
    else:  # max_fee > base + tip: the price is base + tip
        tip, max_fee = 10**9, 2 * base + 10**9
    tx_hash = token.functions.transfer(DEV_ADDRESSES[7], 10**17).transact(
        {"from": sender, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    raw = node.rpc("eth_getTransactionReceipt", as_hex(tx_hash))
    block = node.rpc("eth_getBlockByNumber", raw["blockNumber"], False)
    tx = node.rpc("eth_getTransactionByHash", as_hex(tx_hash))

    assert raw["status"] == "0x1"
    assert raw["transactionHash"] == as_hex(tx_hash)
    assert raw["from"] == sender.lower()
    assert raw["to"] == token.address.lower()
    assert raw["contractAddress"] is None
    assert raw["type"] == "0x2" == tx["type"]
    assert raw["blockHash"] == block["hash"] == tx["blockHash"]
    assert raw["transactionIndex"] == tx["transactionIndex"]
    base_fee = int(block["baseFeePerGas"], 16)
    assert base_fee == base
    price = int(raw["effectiveGasPrice"], 16)
    assert price == min(max_fee, base_fee + tip)
    assert price == (max_fee if capped else base_fee + tip)
    # cumulativeGasUsed: running sum over the block's receipts.
    receipts = node.rpc("eth_getBlockReceipts", block["hash"])
    assert [r["transactionHash"] for r in receipts] == block["transactions"]
    running = 0
    for r in receipts:
        running += int(r["gasUsed"], 16)
        assert int(r["cumulativeGasUsed"], 16) == running
    assert running == int(block["gasUsed"], 16)
    assert receipts[int(raw["transactionIndex"], 16)] == raw
    # logsBloom: non-zero, and holds the token address and the Transfer topic.
    bloom = int(raw["logsBloom"], 16)
    assert bloom != 0 and len(raw["logsBloom"]) == 2 + 512
    assert bytes.fromhex(token.address[2:]) in BloomFilter(bloom)
    assert bytes.fromhex(TRANSFER_TOPIC[2:]) in BloomFilter(bloom)
    assert int(block["logsBloom"], 16) & bloom == bloom
    assert receipt["effectiveGasPrice"] == price
    assert receipt["from"] == sender


# --- raw signed transactions of every type -------------------------------------------------


def test_raw_signed_transactions_of_each_type(node, w3):
    # A fresh eth_account key, funded by dev account 0.
    account = Account.create()
    fund = w3.eth.send_transaction({"from": DEV_ADDRESSES[0], "to": account.address, "value": 10**18})
    assert w3.eth.wait_for_transaction_receipt(fund)["status"] == 1
    recipient = Account.create().address
    gas_price = node.base_fee() * 2 + 10**9
    access_list = [{"address": DEV_ADDRESSES[9], "storageKeys": ["0x" + "00" * 31 + "01"]}]
    txs = [
        {"nonce": 0, "to": recipient, "value": 1000, "gas": 21_000, "gasPrice": gas_price, "chainId": DEV_CHAIN_ID},
        {"type": 1, "nonce": 1, "to": recipient, "value": 2000, "gas": 30_000, "gasPrice": gas_price,
         "chainId": DEV_CHAIN_ID, "accessList": access_list},
        {"type": 2, "nonce": 2, "to": recipient, "value": 3000, "gas": 21_000, "maxFeePerGas": gas_price,
         "maxPriorityFeePerGas": 10**9, "chainId": DEV_CHAIN_ID},
    ]
    spent = 0
    for expected_type, fields in enumerate(txs):
        signed = account.sign_transaction(fields)
        tx_hash = node.send_raw(signed.raw_transaction)
        assert tx_hash == as_hex(signed.hash)
        receipt = node.wait_receipt(tx_hash)
        assert receipt["status"] == "0x1", receipt
        assert int(receipt["type"], 16) == expected_type
        spent += fields["value"] + int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)

        tx = node.rpc("eth_getTransactionByHash", tx_hash)
        assert int(tx["type"], 16) == expected_type
        assert tx["hash"] == tx_hash
        assert tx["from"] == account.address.lower()
        assert tx["to"] == recipient.lower()
        assert int(tx["nonce"], 16) == fields["nonce"]
        assert int(tx["value"], 16) == fields["value"]
        assert int(tx["gas"], 16) == fields["gas"]
        assert tx["input"] == "0x"
        assert tx["blockHash"] == receipt["blockHash"]
        assert tx["blockNumber"] == receipt["blockNumber"]
        assert tx["transactionIndex"] == receipt["transactionIndex"]
        assert int(tx["r"], 16) == signed.r and int(tx["s"], 16) == signed.s
        if expected_type == 0:
            assert int(tx["gasPrice"], 16) == gas_price
            assert int(tx["v"], 16) == signed.v
            assert signed.v in (DEV_CHAIN_ID * 2 + 35, DEV_CHAIN_ID * 2 + 36)  # EIP-155
            assert int(tx.get("chainId", hex(DEV_CHAIN_ID)), 16) == DEV_CHAIN_ID
            assert "accessList" not in tx and "maxFeePerGas" not in tx
        else:
            assert int(tx["chainId"], 16) == DEV_CHAIN_ID
            assert int(tx["v"], 16) == signed.v in (0, 1)
            assert int(tx.get("yParity", tx["v"]), 16) == signed.v
        if expected_type in (0, 1):
            assert int(receipt["effectiveGasPrice"], 16) == gas_price
        if expected_type == 1:
            assert int(tx["gasPrice"], 16) == gas_price
            assert [(e["address"].lower(), e["storageKeys"]) for e in tx["accessList"]] == \
                [(e["address"].lower(), e["storageKeys"]) for e in access_list]
        if expected_type == 2:
            assert int(tx["maxFeePerGas"], 16) == gas_price
            assert int(tx["maxPriorityFeePerGas"], 16) == 10**9
            assert tx["accessList"] == []
            block = node.rpc("eth_getBlockByNumber", receipt["blockNumber"], False)
            assert int(tx["gasPrice"], 16) == int(receipt["effectiveGasPrice"], 16) == \
                min(gas_price, int(block["baseFeePerGas"], 16) + 10**9)
    assert node.balance(recipient) == 6000
    assert node.balance(account.address) == 10**18 - spent
    assert node.nonce(account.address) == 3


# --- fees ------------------------------------------------------------------------------------


def expected_child_base_fee(parent: dict) -> int:
    """EIP-1559: the base fee of the block after `parent` (elasticity 2, denominator 8)."""
    base = int(parent["baseFeePerGas"], 16)
    used = int(parent["gasUsed"], 16)
    target = int(parent["gasLimit"], 16) // 2
    if used == target:
        return base
    if used > target:
        return base + max(1, base * (used - target) // target // 8)
    return base - base * (target - used) // target // 8


# Init code that touches memory at 0x2B0000 (2.7 MiB): ~15.4M gas of memory expansion,
# more than half the 30M block gas limit, so the next base fee goes up.
BIG_MEMORY_INIT = "0x600063002b00005200"  # PUSH1 0; PUSH4 0x002b0000; MSTORE; STOP


def test_base_fee_follows_eip1559(node, w3, token):
    # Blocks below, at zero and above the gas target in the history.
    transfer(w3, token, DEV_ADDRESSES[0], DEV_ADDRESSES[1], 1)
    node.rpc("evm_mine")
    big = node.rpc("eth_sendTransaction", {"from": DEV_ADDRESSES[8], "data": BIG_MEMORY_INIT, "gas": hex(16_000_000)})
    big_receipt = node.wait_receipt(big)
    assert big_receipt["status"] == "0x1"
    transfer(w3, token, DEV_ADDRESSES[0], DEV_ADDRESSES[1], 1)
    head = node.block_number()
    blocks = [node.rpc("eth_getBlockByNumber", hex(n), False) for n in range(head + 1)]
    assert int(blocks[0]["baseFeePerGas"], 16) == 10**9  # genesis/dev.json
    assert any(int(b["gasUsed"], 16) == 0 for b in blocks[1:])
    assert any(0 < int(b["gasUsed"], 16) < int(b["gasLimit"], 16) // 2 for b in blocks[1:])
    big_block = blocks[int(big_receipt["blockNumber"], 16)]
    assert int(big_block["gasUsed"], 16) > int(big_block["gasLimit"], 16) // 2
    after_big = blocks[int(big_block["number"], 16) + 1]
    assert int(after_big["baseFeePerGas"], 16) > int(big_block["baseFeePerGas"], 16)
    for parent, child in zip(blocks, blocks[1:]):
        assert child["parentHash"] == parent["hash"]
        assert int(child["baseFeePerGas"], 16) == expected_child_base_fee(parent), child["number"]
    # The node's prediction for the next block agrees too.
    history = node.rpc("eth_feeHistory", "0x2", "latest", [])
    assert int(history["baseFeePerGas"][-1], 16) == expected_child_base_fee(blocks[-1])
    assert int(history["baseFeePerGas"][-2], 16) == int(blocks[-1]["baseFeePerGas"], 16)
    assert int(node.rpc("eth_gasPrice"), 16) >= expected_child_base_fee(blocks[-1])
