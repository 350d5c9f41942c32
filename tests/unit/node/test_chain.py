"""The chain over LevelDB (and the in-memory store): seal, reopen, find, index."""
from __future__ import annotations

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from node.chain import Chain, ChainMismatch
from node.dev import dev_keys, dev_spec
from node.storage import LevelDBStore, StorageError
from runtime.primitives.transaction import decode_transaction
from runtime.state.store import MemoryStore

KEY = dev_keys(1)[0][1]
SENDER = Account.from_key(KEY)
TO = "0x" + "22" * 20
# Runtime code: LOG1 with topic = calldata[0:32], empty data.
LOGGER = bytes.fromhex("60003560006000a100")


def transfer(nonce: int, **extra) -> object:
    fields = {"chainId": 31337, "nonce": nonce, "gas": 60000, "to": TO, "value": 1, "type": 2, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
    fields.update(extra)
    return decode_transaction(bytes(SENDER.sign_transaction(fields).raw_transaction))


@pytest.fixture(params=["leveldb", "memory"])
def store(request, tmp_path):
    s = LevelDBStore(tmp_path / "db") if request.param == "leveldb" else MemoryStore()
    yield s
    s.close()


def test_seal_and_read_back(store) -> None:
    chain = Chain(store, dev_spec())
    genesis = chain.head
    assert genesis.number == 0
    built = chain.build([transfer(0), transfer(1)], timestamp=100)
    block = chain.commit(built)
    assert chain.head == block.header and block.header.number == 1
    assert chain.get_block_by_number(1).transactions[1].hash == built.transactions[1].hash
    found, index = chain.get_transaction_location(built.transactions[1].hash)
    assert (found.hash, index) == (block.hash, 1)
    assert chain.state_at(chain.head).get_nonce(SENDER.address and bytes.fromhex(SENDER.address[2:])) == 2
    assert chain.state_at(genesis).get_balance(bytes.fromhex(TO[2:])) == 0
    assert chain.state_at(chain.head).get_balance(bytes.fromhex(TO[2:])) == 2


def test_reopen_leveldb_finds_same_head_and_state(tmp_path) -> None:
    store = LevelDBStore(tmp_path / "db")
    chain = Chain(store, dev_spec())
    for nonce in range(3):
        chain.commit(chain.build([transfer(nonce)], timestamp=10 + nonce))
    head = chain.head
    tx_hash = chain.get_block_by_number(2).transactions[0].hash
    store.close()

    reopened = Chain(LevelDBStore(tmp_path / "db"), dev_spec())
    assert reopened.head == head
    block, index = reopened.get_transaction_location(tx_hash)
    assert block.header.number == 2 and index == 0
    assert block.transactions[0].sender == bytes.fromhex(SENDER.address[2:])
    assert reopened.state_at(reopened.head).get_balance(bytes.fromhex(TO[2:])) == 3
    reopened.store.close()


def test_other_chain_in_datadir_is_refused(tmp_path) -> None:
    store = LevelDBStore(tmp_path / "db")
    Chain(store, dev_spec())
    with pytest.raises(ChainMismatch, match="another --datadir"):
        Chain(store, dev_spec(chain_id=5))
    store.close()


def test_second_open_of_a_datadir_fails_clearly(tmp_path) -> None:
    store = LevelDBStore(tmp_path / "db")
    with pytest.raises(StorageError, match="cannot open database"):
        LevelDBStore(tmp_path / "db")
    store.close()


def test_failed_batch_writes_nothing(tmp_path) -> None:
    store = LevelDBStore(tmp_path / "db")
    chain = Chain(store, dev_spec())
    built = chain.build([transfer(0)], timestamp=5)

    class Boom(dict):
        def items(self):
            yield from list(super().items())[:3]
            raise RuntimeError("disk on fire")

    built.state_writes = Boom(built.state_writes)
    with pytest.raises(RuntimeError):
        chain.commit(built)
    store.close()
    reopened = Chain(LevelDBStore(tmp_path / "db"), dev_spec())
    assert reopened.head.number == 0
    assert reopened.get_block_by_number(1) is None
    reopened.store.close()


def test_log_index_finds_blocks_by_address_and_topic(store) -> None:
    chain = Chain(store, dev_spec())
    deploy = transfer(0, to=None, value=0, gas=200000, data=bytes.fromhex("6009600c60003960096000f3") + LOGGER)
    chain.commit(chain.build([deploy], timestamp=1))
    contract = chain.get_block_by_number(1).receipts[0]
    assert contract.success
    from runtime.primitives.receipt import compute_contract_address

    address = compute_contract_address(deploy.sender, 0)
    topic_a, topic_b = b"\xaa" * 32, b"\xbb" * 32
    chain.commit(chain.build([transfer(1, to=to_checksum_address(address), value=0, data=topic_a)], timestamp=2))
    chain.commit(chain.build([transfer(2)], timestamp=3))
    chain.commit(chain.build([transfer(3, to=to_checksum_address(address), value=0, data=topic_b)], timestamp=4))
    assert chain.get_block_by_number(2).receipts[0].logs[0].topics == (topic_a,)
    assert list(chain.blocks_with_logs(0, 4, [address], [])) == [2, 4]
    assert list(chain.blocks_with_logs(0, 4, [], [[topic_b]])) == [4]
    assert list(chain.blocks_with_logs(0, 4, [address], [[topic_a, topic_b]])) == [2, 4]
    assert list(chain.blocks_with_logs(3, 3, [address], [])) == []
    assert list(chain.blocks_with_logs(0, 4, [b"\x01" * 20], [])) == []
    # Unfiltered: only the blocks that hold a log (not a walk over every header).
    assert list(chain.blocks_with_logs(0, 4, [], [])) == [2, 4]


def test_rewind_forgets_later_blocks_atomically(tmp_path) -> None:
    store = LevelDBStore(tmp_path / "db")
    chain = Chain(store, dev_spec())
    deploy = transfer(0, to=None, value=0, gas=200000, data=bytes.fromhex("6009600c60003960096000f3") + LOGGER)
    chain.commit(chain.build([deploy], timestamp=1))
    from runtime.primitives.receipt import compute_contract_address

    address = compute_contract_address(deploy.sender, 0)
    kept = chain.head
    logged = chain.build([transfer(1, to=to_checksum_address(address), value=0, data=b"\xaa" * 32)], timestamp=2)
    chain.commit(logged)
    chain.commit(chain.build([transfer(2)], timestamp=3))
    gone = logged.transactions[0].hash

    chain.rewind(1)
    assert chain.head == kept
    assert chain.get_block_by_number(2) is None and chain.get_transaction_location(gone) is None
    assert list(chain.blocks_with_logs(0, 3, [address], [])) == []
    assert chain.state_at(chain.head).get_nonce(deploy.sender) == 1
    # The chain goes on from the rewound head, and a reopen agrees.
    chain.commit(chain.build([transfer(1)], timestamp=4))
    head = chain.head
    store.close()
    reopened = Chain(LevelDBStore(tmp_path / "db"), dev_spec())
    assert reopened.head == head and reopened.head.number == 2
    assert reopened.get_transaction_location(gone) is None
    reopened.store.close()


def build_on(chain: Chain, parent, txs, timestamp: int, coinbase: bytes = b"\x00" * 20):
    from runtime.executive import build_block
    return build_block(chain.store, parent, txs, timestamp=timestamp, coinbase=coinbase,
                       chain_id=chain.spec.chain_id, prev_hashes=chain.ancestor_hashes(parent))


def poa_spec():
    from node.dev import dev_spec_json
    from runtime.chainspec import parse_chain_spec
    data = dev_spec_json()
    data["consensus"] = {"engine": "poa", "authorities": ["0x" + "11" * 20]}
    return parse_chain_spec(data)


def test_a_side_fork_becomes_canonical_and_back(store) -> None:
    # Under the dev sealer every block is final at once; forks live under an engine.
    chain = Chain(store, poa_spec())
    b1 = chain.commit(chain.build([transfer(0)], timestamp=10)).header
    a_tx = transfer(1, value=5)
    a2 = chain.commit(chain.build([a_tx], timestamp=11)).header
    a3 = chain.commit(chain.build([], timestamp=12)).header
    # Another author's fork from block 1: different transactions, one block longer.
    b_tx = transfer(1, value=9, to=to_checksum_address("0x" + "33" * 20))
    fork, parent = [], b1
    for i, txs in enumerate([[b_tx], [transfer(2)], []]):
        built = build_on(chain, parent, txs, 20 + i, coinbase=b"\x07" * 20)
        fork.append(chain.store_side(built))
        parent = built.header
    assert chain.head == a3 and not chain.is_canonical(fork[0].header)
    assert chain.get_block_by_hash(fork[2].hash).header == fork[2].header  # stored, readable by hash

    removed, added = chain.reorg(fork[2].hash)
    assert [b.hash for b in removed] == [a3.hash, a2.hash]
    assert [b.hash for b in added] == [b.hash for b in fork]
    assert chain.head == fork[2].header and chain.get_canonical_hash(2) == fork[0].hash
    assert chain.get_transaction_location(a_tx.hash) is None
    assert chain.get_transaction_location(b_tx.hash)[0].hash == fork[0].hash
    assert chain.prev_hashes[:4] == (fork[2].hash, fork[1].hash, fork[0].hash, b1.hash)
    state = chain.state_at(chain.head)
    assert state.get_balance(bytes.fromhex("33" * 20)) == 9
    # The old fork is still stored; switching back restores it, and reopening keeps the choice.
    chain.reorg(a3.hash)
    assert chain.head == a3 and chain.get_transaction_location(a_tx.hash)[0].hash == a2.hash
    assert chain.get_canonical_hash(4) is None
    chain.reorg(fork[2].hash)
    again = Chain(store, poa_spec())
    assert again.head == fork[2].header and again.get_canonical_hash(2) == fork[0].hash


def test_a_reorg_never_drops_a_finalized_block() -> None:
    chain = Chain(MemoryStore(), poa_spec())
    b1 = chain.commit(chain.build([transfer(0)], timestamp=10)).header
    b2 = chain.commit(chain.build([], timestamp=11)).header
    chain.set_finalized(b2.hash)
    side = chain.store_side(build_on(chain, b1, [], 30))
    with pytest.raises(ValueError, match="would drop finalized block 2"):
        chain.reorg(side.hash)
    assert chain.head == b2
