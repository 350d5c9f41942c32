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


def test_pallets_wasm_and_the_fee_share_replay_to_the_same_roots(tmp_path) -> None:
    """Blocks with pallet calls (value locked, escrow opened and split, a store minted), a WASM
    deploy and calls into it, and the treasury's fee share, re-executed on a fresh LevelDB
    store (and a fresh WASM compile cache), reach the same headers and receipts byte for byte."""
    from eth._utils.address import generate_contract_address
    from eth_abi import encode as abi_encode
    from eth_utils import function_signature_to_4byte_selector as selector
    from eth_utils import to_checksum_address

    from runtime.pallets.governance import GOVERNANCE_ADDRESS
    from tests.unit.vm.wasm import wat
    from vm.wasm.cache import clear_compiled_cache

    def call(signature: str, types: list[str], args: list) -> bytes:
        return selector(signature) + abi_encode(types, args)

    me, other = KEY.address, to_checksum_address("0x" + "44" * 20)
    vest = call("createSchedule(address,uint64,uint64,uint64,bool)", ["address", "uint64", "uint64", "uint64", "bool"],
                [other, 100, 0, 50, True])
    escrow_open = call("open(address,address,uint64,bytes32)", ["address", "address", "uint64", "bytes32"],
                       [other, "0x" + "55" * 20, 10**6, b"\x07" * 32])
    store = call("createStore(string,string)", ["string", "string"], ["A store with a long name", "ipfs://" + "c" * 70])
    wasm_address = bytes(generate_contract_address(bytes.fromhex(me[2:]), 3))
    batches = [
        [sign(0, to="0x0000000000000000000000000000000000000801", value=10**6, data=vest, gas=400_000),
         sign(1, to="0x0000000000000000000000000000000000000802", value=10**6, data=escrow_open, gas=400_000),
         sign(2, to="0x0000000000000000000000000000000000000803", value=0, data=store, gas=600_000)],
        [sign(3, to=None, value=0, data=wat.COUNTER + abi_encode(["uint256"], [5]), gas=2_000_000)],
        [sign(4, to=to_checksum_address(wasm_address), value=0, data=call("increment()", [], []), gas=200_000),
         sign(5, to="0x0000000000000000000000000000000000000802", value=0,
              data=call("dispute(uint256)", ["uint256"], [1]), gas=200_000),
         sign(6, to="0x0000000000000000000000000000000000000801", value=0,
              data=call("release(uint256)", ["uint256"], [1]), gas=200_000)],
    ]
    spec = dev_spec()
    builder, follower = MemoryStore(), LevelDBStore(tmp_path / "db")
    genesis, writes = build_genesis(spec, builder)
    builder.write(writes)
    follower.write(build_genesis(spec, follower)[1])
    parent, hashes, statuses = genesis, [genesis.hash], []
    for i, txs in enumerate(batches):
        built = build_block(builder, parent, txs, timestamp=120 + 10 * i, coinbase=b"\x01" * 20, chain_id=31337,
                            prev_hashes=hashes)
        assert not built.rejected, built.rejected
        builder.write(built.state_writes)
        clear_compiled_cache()  # the follower compiles the module itself
        again = execute_block(follower, parent, built.header, built.transactions, chain_id=31337, prev_hashes=hashes)
        follower.write(again.state_writes)
        assert again.header.hash == built.header.hash
        assert [r.encode() for r in again.receipts] == [r.encode() for r in built.receipts]
        statuses += [r.success for r in built.receipts]
        parent = built.header
        hashes.insert(0, parent.hash)
    assert statuses == [True] * 7  # every call did its work, so the roots compare real state
    from eth.db.account import AccountDB
    from eth.db.atomic import AtomicDB

    from runtime.state.store import StateDB
    state = AccountDB(AtomicDB(StateDB(follower)), parent.state_root)
    assert state.get_balance(GOVERNANCE_ADDRESS) > 0  # the fee share reached the treasury
    assert state.get_storage(wasm_address, 0) == 6  # the WASM counter counted
    follower.close()
