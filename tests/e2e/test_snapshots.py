"""evm_snapshot / evm_revert, as Hardhat's loadFixture and Foundry-style test suites use them."""
from __future__ import annotations

import pytest

from tests.e2e.nodes import DEV_ADDRESSES, DEV_KEYS, raw_hex, sign_transfer

pytestmark = pytest.mark.e2e


def test_revert_returns_to_the_snapshot_and_the_chain_goes_on(node_factory):
    node = node_factory()
    node.rpc("evm_mine")
    snap = node.rpc("evm_snapshot")
    head = node.rpc("eth_getBlockByNumber", "latest", False)
    before = node.balance(DEV_ADDRESSES[1])
    sent = [node.send_raw(raw_hex(sign_transfer(DEV_KEYS[0], n, DEV_ADDRESSES[1], 10**18))) for n in range(3)]
    assert node.balance(DEV_ADDRESSES[1]) == before + 3 * 10**18

    assert node.rpc("evm_revert", snap) is True
    assert node.rpc("eth_getBlockByNumber", "latest", False) == head
    assert node.balance(DEV_ADDRESSES[1]) == before
    assert node.nonce(DEV_ADDRESSES[0]) == 0
    assert all(node.receipt(h) is None for h in sent)
    assert node.rpc("eth_getLogs", {"fromBlock": "0x0"}) == []
    # A snapshot is used up by its revert, as in Hardhat and Anvil.
    assert node.rpc("evm_revert", snap) is False

    again = node.send_raw(raw_hex(sign_transfer(DEV_KEYS[0], 0, DEV_ADDRESSES[1], 5)))
    receipt = node.wait_receipt(again)
    assert int(receipt["blockNumber"], 16) == int(head["number"], 16) + 1

    # The rewound chain is what a restart finds.
    node.restart()
    assert node.block_number() == int(head["number"], 16) + 1
    assert node.receipt(sent[0]) is None and node.receipt(again)["status"] == "0x1"


def test_nested_snapshots(node_factory):
    node = node_factory()
    first = node.rpc("evm_snapshot")
    node.rpc("evm_mine")
    second = node.rpc("evm_snapshot")
    node.rpc("evm_mine")
    assert node.block_number() == 2
    assert node.rpc("evm_revert", second) is True
    assert node.block_number() == 1
    assert node.rpc("evm_revert", first) is True
    assert node.block_number() == 0
    assert node.rpc("evm_revert", "0x99") is False


def test_revert_tells_log_filters_which_logs_were_removed(node_factory, contracts):
    node = node_factory()
    w3 = node.w3()
    me, you = w3.eth.accounts[:2]
    token = contracts["Token"]
    deployed = w3.eth.get_transaction_receipt(
        w3.eth.contract(abi=token.abi, bytecode=token.bytecode).constructor("T", "T", 10**24).transact({"from": me})
    )
    erc20 = w3.eth.contract(address=deployed.contractAddress, abi=token.abi)
    snap = node.rpc("evm_snapshot")
    watch = node.rpc("eth_newFilter", {"address": deployed.contractAddress})
    tx = erc20.functions.transfer(you, 5).transact({"from": me})
    (seen,) = node.rpc("eth_getFilterChanges", watch)
    assert seen["removed"] is False and seen["transactionHash"] == "0x" + bytes(tx).hex()

    assert node.rpc("evm_revert", snap) is True
    (gone,) = node.rpc("eth_getFilterChanges", watch)
    assert gone == {**seen, "removed": True}
