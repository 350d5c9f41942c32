"""The executive must reach the state root py-evm's own chain reaches for the same transactions."""
from __future__ import annotations

from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.tools.builder.chain import build, chain_id, disable_pow_check, genesis
from eth.tools.builder.chain.builders import prague_at
from eth_account import Account
from eth_utils import to_checksum_address

from runtime.chainspec import parse_chain_spec
from runtime.executive import build_block, build_genesis
from runtime.pallets import PALLETS
from runtime.primitives.receipt import compute_contract_address
from runtime.primitives.transaction import decode_transaction
from runtime.state.store import MemoryStore

CHAIN_ID = 31337
KEYS = [bytes([i + 1]) * 32 for i in range(3)]
ACCOUNTS = [Account.from_key(k) for k in KEYS]
# A tiny contract: stores CALLDATALOAD(0) at slot 0, logs it, returns nothing.
#   PUSH1 0 CALLDATALOAD DUP1 PUSH1 0 SSTORE PUSH1 0 MSTORE PUSH1 32 PUSH1 0 LOG0 STOP
RUNTIME = bytes.fromhex("600035806000556000526020600060a000")
INIT = bytes.fromhex("6011600c60003960116000f3") + RUNTIME  # copy runtime and return it


def _signed(account, **fields):
    return decode_transaction(bytes(account.sign_transaction({"chainId": CHAIN_ID, **fields}).raw_transaction))


def _workload():
    a, b, c = ACCOUNTS
    txs = [
        _signed(a, nonce=0, gasPrice=2 * 10**9, gas=21000, to=b.address, value=10**18),
        _signed(b, type=1, nonce=0, gasPrice=2 * 10**9, gas=30000, to=c.address, value=5, accessList=[]),
        _signed(a, type=2, nonce=1, maxFeePerGas=3 * 10**9, maxPriorityFeePerGas=10**9, gas=200000, data=INIT, value=0),
    ]
    contract = to_checksum_address(compute_contract_address(txs[0].sender, 1))
    txs.append(_signed(c, type=2, nonce=0, maxFeePerGas=3 * 10**9, maxPriorityFeePerGas=2 * 10**9, gas=100000, to=contract, data=(7).to_bytes(32, "big")))
    txs.append(_signed(a, type=2, nonce=2, maxFeePerGas=3 * 10**9, maxPriorityFeePerGas=10**9, gas=100000, to=contract, data=(0).to_bytes(32, "big")))
    return txs


def test_state_root_equals_pyevm_chain() -> None:
    balance = 100 * 10**18
    alloc = {acct.address: {"balance": hex(balance)} for acct in ACCOUNTS}
    spec = parse_chain_spec({"name": "t", "chainId": CHAIN_ID, "gasLimit": 30_000_000, "baseFeePerGas": 10**9, "alloc": alloc, "pallets": {"governance": {"feeShareBps": 0}}})
    store = MemoryStore()
    our_genesis, writes = build_genesis(spec, store)
    store.write(writes)

    state = {bytes.fromhex(a.address[2:]): {"balance": balance, "nonce": 0, "code": b"", "storage": {}} for a in ACCOUNTS}
    for pallet in PALLETS:  # every genesis holds the pallet accounts (their placeholder code)
        for address, code in pallet.genesis_accounts():
            state[address] = {"balance": 0, "nonce": 0, "code": code, "storage": {}}
    from runtime.pallets.framework import _parameter_slot
    from runtime.pallets.governance import GOVERNANCE_ADDRESS
    state[GOVERNANCE_ADDRESS]["storage"] = {_parameter_slot("governance", "feeShareBps"): 1}  # feeShareBps = 0
    params = {"gas_limit": 30_000_000, "base_fee_per_gas": 10**9, "timestamp": 0, "difficulty": 0, "nonce": b"\x00" * 8}
    chain = build(MiningChain, prague_at(0), disable_pow_check(), chain_id(CHAIN_ID), genesis(db=AtomicDB(), params=params, state=state))
    assert chain.get_canonical_head().state_root == our_genesis.state_root

    txs = _workload()
    coinbase = b"\x42" * 20
    ours = build_block(store, our_genesis, txs, timestamp=12, coinbase=coinbase, chain_id=CHAIN_ID, prev_hashes=[our_genesis.hash])
    assert not ours.rejected
    assert all(o.success for o in ours.outcomes)

    chain.header = chain.header.copy(timestamp=12, coinbase=coinbase)
    receipts = []
    for tx in txs:
        _, receipt, _ = chain.apply_transaction(tx.evm)
        receipts.append(receipt)
    theirs = chain.mine_block(timestamp=12, coinbase=coinbase)

    assert ours.header.state_root == theirs.header.state_root
    assert ours.header.transactions_root == theirs.header.transaction_root
    assert ours.header.receipts_root == theirs.header.receipt_root
    assert ours.header.gas_used == theirs.header.gas_used
    assert int.from_bytes(ours.header.logs_bloom, "big") == theirs.header.bloom
    assert [r.cumulative_gas_used for r in ours.receipts] == [r.gas_used for r in receipts]
