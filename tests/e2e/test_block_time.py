"""`chameleon dev --block-time 1`: blocks on an interval, with or without transactions."""
from __future__ import annotations

import time

import pytest

from tests.e2e.nodes import DEV_ADDRESSES, DEV_KEYS, RpcFailure, sign_transfer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def node(module_node_factory):
    return module_node_factory("--block-time", "1", name="interval")


def wait_for_new_block(node, after: int, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        number = node.block_number()
        if number > after:
            return number
        time.sleep(0.02)
    raise AssertionError(f"no block after #{after} within {timeout}s")


def test_empty_blocks_appear_about_once_a_second(node):
    start = wait_for_new_block(node, node.block_number())
    t0 = time.monotonic()
    time.sleep(3.2)
    advanced = node.block_number() - start
    elapsed = time.monotonic() - t0
    assert 2 <= advanced <= elapsed + 1, (advanced, elapsed)
    blocks = [node.rpc("eth_getBlockByNumber", hex(n), False) for n in range(start, start + advanced + 1)]
    for parent, child in zip(blocks, blocks[1:]):
        assert child["parentHash"] == parent["hash"]
        assert child["transactions"] == [] and child["gasUsed"] == "0x0"
        assert int(child["timestamp"], 16) >= int(parent["timestamp"], 16)
    span = int(blocks[-1]["timestamp"], 16) - int(blocks[0]["timestamp"], 16)
    assert advanced - 1 <= span <= advanced + 1


def test_tx_waits_in_the_pool_then_is_included_within_3s(node):
    key, sender = DEV_KEYS[1], DEV_ADDRESSES[1]
    for attempt in range(3):
        # Send right after a block is sealed, so the tx waits most of an interval.
        head = wait_for_new_block(node, node.block_number())
        nonce = node.nonce(sender)
        signed = sign_transfer(key, nonce, DEV_ADDRESSES[2], value=12345)
        t0 = time.monotonic()
        tx_hash = node.send_raw(signed.raw_transaction)
        answered = time.monotonic() - t0
        assert answered < 0.5, "with a block time, eth_sendRawTransaction answers without waiting for a block"
        # While it waits: pending nonce is one ahead of latest, the tx is known but not mined.
        latest = node.nonce(sender, "latest")
        pending = node.nonce(sender, "pending")
        pooled = node.rpc("eth_getTransactionByHash", tx_hash)
        if node.receipt(tx_hash) is None and pooled["blockNumber"] is None:
            break
        node.wait_receipt(tx_hash, timeout=3.0)  # a block came within the window (slow machine): again
    else:
        pytest.fail("a block was sealed right after every send; expected one per ~1s")
    assert (latest, pending) == (nonce, nonce + 1)
    assert pooled["blockHash"] is None and pooled["transactionIndex"] is None
    assert int(pooled["nonce"], 16) == nonce and pooled["from"] == sender.lower()
    receipt = node.wait_receipt(tx_hash, timeout=3.0)
    included = time.monotonic() - t0
    assert receipt["status"] == "0x1"
    assert included <= 3.0
    assert int(receipt["blockNumber"], 16) > head
    assert node.nonce(sender, "latest") == node.nonce(sender, "pending") == nonce + 1


def test_several_pooled_txs_share_a_block(node):
    key, sender = DEV_KEYS[2], DEV_ADDRESSES[2]
    wait_for_new_block(node, node.block_number())
    nonce = node.nonce(sender)
    hashes = [node.send_raw(sign_transfer(key, nonce + i, DEV_ADDRESSES[3]).raw_transaction) for i in range(3)]
    assert node.nonce(sender, "pending") == nonce + 3
    receipts = [node.wait_receipt(h, timeout=3.0) for h in hashes]
    assert len({r["blockNumber"] for r in receipts}) == 1
    assert [int(r["transactionIndex"], 16) for r in receipts] == [0, 1, 2]


# --- dev time methods (automine node) ------------------------------------------------------


@pytest.fixture(scope="module")
def automine(module_node_factory):
    return module_node_factory(name="timewarp")


def head_timestamp(node) -> int:
    return int(node.rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16)


def test_evm_increase_time_and_set_next_block_timestamp(automine):
    node = automine
    node.rpc("evm_mine")
    before = head_timestamp(node)
    node.rpc("evm_increaseTime", 3600)
    node.rpc("evm_mine")
    assert head_timestamp(node) >= before + 3600
    target = head_timestamp(node) + 10_000
    node.rpc("evm_setNextBlockTimestamp", hex(target))
    # The timestamp applies to the next block, whether a tx or evm_mine makes it.
    tx_hash = node.send_raw(sign_transfer(DEV_KEYS[4], node.nonce(DEV_ADDRESSES[4]), DEV_ADDRESSES[5]).raw_transaction)
    block = node.rpc("eth_getBlockByNumber", node.receipt(tx_hash)["blockNumber"], False)
    assert int(block["timestamp"], 16) == target
    node.rpc("evm_mine")
    assert head_timestamp(node) >= target  # never goes back


def test_time_moves_on_from_set_next_block_timestamp(automine):
    node = automine
    node.rpc("evm_mine")
    target = head_timestamp(node) + 50_000
    node.rpc("evm_setNextBlockTimestamp", hex(target))
    node.rpc("evm_mine")
    assert head_timestamp(node) == target
    node.rpc("evm_increaseTime", 100)
    node.rpc("evm_mine")
    assert head_timestamp(node) >= target + 100


def test_set_next_block_timestamp_in_the_past_is_refused(automine):
    node = automine
    node.rpc("evm_mine")
    with pytest.raises(RpcFailure):
        node.rpc("evm_setNextBlockTimestamp", hex(head_timestamp(node) - 10))
