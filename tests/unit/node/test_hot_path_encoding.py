"""The per-transaction shortcuts of the sealing path give exactly what the slow paths gave:
hand-encoded receipts (= rlp.encode) and blooms (= eth_bloom), the signing message cut from a typed transaction's
bytes (= py-evm's get_message_for_signing), and blocks built on accounts cached from the
block before (= blocks built on a cold state)."""
from __future__ import annotations

import random

import rlp
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_account import Account
from eth_utils import to_checksum_address

from node.chain import Chain
from node.dev import dev_keys, dev_spec
from runtime.executive import build_block, build_genesis
from runtime.primitives.receipt import Log, Receipt, compute_bloom, compute_contract_address, encode_receipt_list
from runtime.primitives.transaction import decode_transaction, typed_signing_message
from runtime.state.store import MemoryStore, StateDB

KEY = Account.from_key(dev_keys(1)[0][1])
OTHER = Account.from_key(b"\x22" * 32)
# Init code deploying a contract that stores calldata[0] at slot 0 and logs it.
DEPLOY = bytes.fromhex("6011600c60003960116000f3") + bytes.fromhex("600035806000556000526020600060a000")


def _rlp_receipt(receipt: Receipt) -> bytes:
    payload = rlp.encode([
        b"\x01" if receipt.success else b"",
        receipt.cumulative_gas_used,
        receipt.bloom,
        [[log.address, list(log.topics), log.data] for log in receipt.logs],
    ])
    return payload if receipt.tx_type == 0 else bytes((receipt.tx_type,)) + payload


def test_receipt_encoding_is_rlp() -> None:
    rng = random.Random(5)
    sizes = [0, 1, 1, 2, 31, 32, 55, 56, 57, 300, 70_000]
    for _ in range(1500):
        logs = tuple(
            Log(rng.randbytes(20), tuple(rng.randbytes(32) for _ in range(rng.randint(0, 4))), rng.randbytes(rng.choice(sizes)))
            for _ in range(rng.choice([0, 0, 1, 2, 5, 40]))
        )
        gas = rng.choice([0, 1, 127, 128, 255, 256, 21_000, 2**40, rng.randint(0, 2**63)])
        receipt = Receipt(rng.choice([0, 1, 2]), rng.random() < 0.5, gas, logs, compute_bloom(logs))
        assert receipt.encode() == _rlp_receipt(receipt)
        encoded = [receipt.encode()] * rng.randint(0, 5)
        assert encode_receipt_list(encoded) == rlp.encode(encoded)
    for data in (b"", b"\x00", b"\x7f", b"\x80", b"\xff"):
        receipt = Receipt(2, True, 5, (Log(b"\x00" * 20, (), data),), b"\x00" * 256)
        assert receipt.encode() == _rlp_receipt(receipt)


def test_typed_signing_message_is_pyevms() -> None:
    rng = random.Random(7)
    for _ in range(300):
        tx_type = rng.choice([1, 2])
        fields = {
            "type": tx_type,
            "chainId": rng.choice([1, 31337, 2**40]),
            "nonce": rng.choice([0, 1, 127, 128, 2**20]),
            "gas": rng.choice([21_000, 10**6]),
            "value": rng.choice([0, 1, 10**18]),
            "data": rng.randbytes(rng.choice([0, 1, 1, 2, 55, 56, 60, 300, 5000])),
        }
        if rng.random() < 0.8:
            fields["to"] = to_checksum_address(rng.randbytes(20))
        if tx_type == 1:
            fields["gasPrice"] = rng.choice([0, 1, 10**9])
        else:
            fields["maxFeePerGas"] = rng.choice([1, 10**9, 10**12])
            fields["maxPriorityFeePerGas"] = rng.choice([0, 1, 10**9])
        if rng.random() < 0.5:
            fields["accessList"] = [
                {"address": to_checksum_address(rng.randbytes(20)),
                 "storageKeys": ["0x" + rng.randbytes(32).hex() for _ in range(rng.randint(0, 3))]}
                for _ in range(rng.randint(0, 3))
            ]
        raw = bytes(KEY.sign_transaction(fields).raw_transaction)
        assert typed_signing_message(raw) == PragueTransactionBuilder.decode(raw).get_message_for_signing()
        assert decode_transaction(raw).sender == bytes.fromhex(KEY.address[2:])


def _sign(account, nonce: int, **extra):
    fields = {"chainId": 31337, "nonce": nonce, "gas": 100_000, "to": "0x" + "44" * 20, "value": 7, "type": 2,
              "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
    fields.update(extra)
    return decode_transaction(bytes(account.sign_transaction(fields).raw_transaction))


def _blocks():
    """Batches touching new and known accounts, contract storage, a failed call and a refused transaction."""
    contract = to_checksum_address(compute_contract_address(bytes.fromhex(KEY.address[2:]), 0))
    return [
        [_sign(KEY, 0, to=None, value=0, data=DEPLOY, gas=200_000), _sign(KEY, 1, to=OTHER.address, value=10**18)],
        [_sign(KEY, 2, to=contract, value=0, data=(5).to_bytes(32, "big")), _sign(OTHER, 0, value=3)],
        [_sign(KEY, 3, to=contract, value=0, data=(6).to_bytes(32, "big"), gas=22_000)],  # out of gas: reverted
        [_sign(OTHER, 1, to=KEY.address, value=1), _sign(OTHER, 1, value=2)],  # the second is refused (nonce)
        [],
        [_sign(KEY, 4, to=contract, value=0, data=(7).to_bytes(32, "big")), _sign(OTHER, 2, to=contract, value=0)],
    ]


def test_blocks_built_on_warm_accounts_equal_cold_ones() -> None:
    spec = dev_spec()
    cold_store, warm_store = MemoryStore(), MemoryStore()
    genesis, writes = build_genesis(spec, cold_store)
    cold_store.write(writes)
    warm_store.write(build_genesis(spec, warm_store)[1])
    parent, hashes, warm = genesis, [genesis.hash], None
    for i, txs in enumerate(_blocks()):
        kwargs = dict(timestamp=100 + i, coinbase=b"\x01" * 20, chain_id=31337, prev_hashes=hashes)
        cold = build_block(cold_store, parent, txs, **kwargs)
        hot = build_block(warm_store, parent, txs, warm_accounts=warm, **kwargs)
        assert hot.header.hash == cold.header.hash
        assert [r.encode() for r in hot.receipts] == [r.encode() for r in cold.receipts]
        assert [(tx.hash, why) for tx, why in hot.rejected] == [(tx.hash, why) for tx, why in cold.rejected]
        assert hot.state_writes == cold.state_writes
        cold_store.write(cold.state_writes)
        warm_store.write(hot.state_writes)
        # Every cached account is the account the trie holds at the new root.
        fresh = AccountDB(AtomicDB(StateDB(warm_store)), hot.header.state_root)
        for address, account in hot.accounts.items():
            assert fresh._get_account(address) == account
        parent, warm = hot.header, hot.accounts
        hashes.insert(0, parent.hash)
    assert warm  # the cache was used


def test_chain_head_state_reads_match_a_cold_state() -> None:
    chain = Chain(MemoryStore(), dev_spec())
    for i, txs in enumerate(_blocks()):
        chain.commit(chain.build(txs, timestamp=100 + i))
        head = chain.state_at(chain.head)
        cold = AccountDB(AtomicDB(StateDB(chain.store)), chain.head.state_root)
        for address in (bytes.fromhex(KEY.address[2:]), bytes.fromhex(OTHER.address[2:]), b"\x44" * 20, b"\x00" * 20):
            assert (head.get_nonce(address), head.get_balance(address), head.get_code_hash(address)) == (
                cold.get_nonce(address), cold.get_balance(address), cold.get_code_hash(address))


def test_bloom_is_eth_blooms() -> None:
    from eth_bloom import BloomFilter

    rng = random.Random(3)
    for _ in range(1000):
        logs = tuple(Log(rng.randbytes(20), tuple(rng.randbytes(32) for _ in range(rng.randint(0, 4))), b"")
                     for _ in range(rng.choice([0, 1, 2, 5])))
        expected = BloomFilter()
        for log in logs:
            expected.add(log.address)
            for topic in log.topics:
                expected.add(topic)
        assert compute_bloom(logs) == int(expected).to_bytes(256, "big")


def test_a_dev_edit_of_the_head_state_is_not_hidden_by_cached_accounts() -> None:
    from node.dev_state import apply_account_edit

    chain = Chain(MemoryStore(), dev_spec())
    other = bytes.fromhex(OTHER.address[2:])
    chain.commit(chain.build([_sign(KEY, 0, to=OTHER.address, value=5)], timestamp=100))
    assert chain.state_at(chain.head).get_balance(other) == 5  # read through the cache
    root, writes = apply_account_edit(chain.store, chain.head.state_root, lambda state: state.set_balance(other, 1000))
    chain.set_head_state(root, writes)
    assert chain.state_at(chain.head).get_balance(other) == 1000
    chain.commit(chain.build([_sign(KEY, 1, to=OTHER.address, value=5)], timestamp=101))
    assert chain.state_at(chain.head).get_balance(other) == 1005
    assert AccountDB(AtomicDB(StateDB(chain.store)), chain.head.state_root).get_balance(other) == 1005
