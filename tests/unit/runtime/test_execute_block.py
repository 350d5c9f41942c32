"""Two stores given the same blocks reach the same state, byte for byte; a forged block is refused."""
from __future__ import annotations

import pytest
from eth_account import Account

from node.dev import dev_keys, dev_spec
from node.storage import LevelDBStore
from runtime.errors import InvalidBlock
from runtime.executive import build_block, build_genesis, execute_block
from runtime.primitives.hashing import keccak256
from runtime.primitives.transaction import decode_transaction
from runtime.state.store import MemoryStore

KEY = Account.from_key(dev_keys(1)[0][1])
# Init code deploying a contract that stores calldata[0] at slot 0 and logs it.
DEPLOY = bytes.fromhex("6011600c60003960116000f3") + bytes.fromhex("600035806000556000526020600060a000")


def sign(nonce: int, **extra):
    fields = {"chainId": 31337, "nonce": nonce, "gas": 100000, "to": "0x" + "44" * 20, "value": 7, "type": 2, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
    fields.update(extra)
    return decode_transaction(bytes(KEY.sign_transaction(fields).raw_transaction))


def test_same_blocks_same_roots_on_another_store(tmp_path) -> None:
    spec = dev_spec()
    builder, follower = MemoryStore(), LevelDBStore(tmp_path / "db")
    genesis, writes = build_genesis(spec, builder)
    builder.write(writes)
    follower.write(build_genesis(spec, follower)[1])
    parent, hashes = genesis, [genesis.hash]
    batches = [[sign(0, to=None, value=0, data=DEPLOY, gas=200000)], [sign(1), sign(2)], [], [sign(3)]]
    for i, txs in enumerate(batches):
        built = build_block(builder, parent, txs, timestamp=100 + i, coinbase=b"\x01" * 20, chain_id=31337, prev_hashes=hashes)
        builder.write(built.state_writes)
        again = execute_block(follower, parent, built.header, built.transactions, chain_id=31337, prev_hashes=hashes)
        follower.write(again.state_writes)
        assert again.header.hash == built.header.hash
        assert [r.encode() for r in again.receipts] == [r.encode() for r in built.receipts]
        parent = built.header
        hashes.insert(0, parent.hash)
    follower.close()


def test_forged_state_root_is_refused() -> None:
    store = MemoryStore()
    genesis, writes = build_genesis(dev_spec(), store)
    store.write(writes)
    built = build_block(store, genesis, [sign(0)], timestamp=5, coinbase=b"\x00" * 20, chain_id=31337, prev_hashes=[genesis.hash])
    forged = built.header.copy(state_root=b"\x99" * 32)
    with pytest.raises(InvalidBlock, match="state_root mismatch"):
        execute_block(store, genesis, forged, built.transactions, chain_id=31337, prev_hashes=[genesis.hash])
    with pytest.raises(InvalidBlock, match="is invalid here: "):
        execute_block(store, genesis, built.header, [sign(0), sign(0)], chain_id=31337, prev_hashes=[genesis.hash])


def test_consensus_data_is_bound_into_the_block_hash() -> None:
    store = MemoryStore()
    genesis, writes = build_genesis(dev_spec(), store)
    store.write(writes)
    data = b"\xc2\x80\xc0"  # opaque to the runtime
    built = build_block(store, genesis, [sign(0)], timestamp=5, coinbase=b"\x00" * 20, chain_id=31337,
                        prev_hashes=[genesis.hash], consensus_data=data)
    assert built.header.extra_data == keccak256(data) and built.consensus_data == data
    again = execute_block(store, genesis, built.header, built.transactions, chain_id=31337,
                          prev_hashes=[genesis.hash], consensus_data=data)
    assert again.header.hash == built.header.hash
    with pytest.raises(InvalidBlock, match="does not commit to the block's consensus data"):
        execute_block(store, genesis, built.header, built.transactions, chain_id=31337,
                      prev_hashes=[genesis.hash], consensus_data=b"\xc2\x80\xc1")
