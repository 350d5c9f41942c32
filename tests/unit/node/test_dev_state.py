"""Dev-chain state edits (anvil_setBalance & co.), snapshots of them, dump/load, reset,
impersonated sends, interval mining, and signing with the dev keys.

The expected hashes and signatures below were taken from Anvil 1.7.1 for the same inputs
(tests/e2e/test_anvil_methods.py checks them live against a running Anvil)."""
from __future__ import annotations

import dataclasses
import gzip
import json

import pytest
import trio
from eth_account import Account

from node.chain import Chain, compute_impersonated_hash
from node.dev import dev_keys, dev_spec
from node.dev_state import StateDumpError
from node.rpc.dev import DevApi
from node.rpc.errors import RpcError
from node.rpc.eth import EthApi
from node.rpc.signing import SigningApi
from node.service import Node
from node.storage import Keys
from node.txpool import TxPool
from runtime.executive import execute_block
from runtime.primitives.header import encode_header
from runtime.primitives.transaction import decode_transaction
from runtime.state.store import MemoryStore

DEV0, KEY0 = dev_keys()[0]
DEV0_HEX = "0x" + DEV0.hex()
OTHER = "0x" + "55" * 20
IMPERSONATED = "0x" + "33" * 20
WORD_42 = "0x" + "00" * 31 + "42"
RETURN_SELFBALANCE = "0x4760005260206000f3"  # SELFBALANCE; MSTORE at 0; RETURN 32 bytes


class Dev:
    """A dev node on a memory store with its eth, dev and signing APIs (no sealer task)."""

    def __init__(self, store: MemoryStore | None = None) -> None:
        self.store = store if store is not None else MemoryStore()
        self.node = Node(Chain(self.store, dev_spec()), TxPool(), automine=False)
        self.eth = EthApi(self.node, dict(dev_keys()))
        self.dev = DevApi(self.node)
        self.signing = SigningApi(self.eth)

    @property
    def chain(self) -> Chain:
        return self.node.chain

    async def balance(self, address: str, block: str = "latest") -> int:
        return int(await self.eth.eth_getBalance(address, block), 16)


def transfer(nonce: int, value: int = 1, to: str = OTHER) -> object:
    fields = {"chainId": 31337, "nonce": nonce, "gas": 21000, "to": to, "value": value, "type": 2,
              "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
    return decode_transaction(bytes(Account.sign_transaction(fields, KEY0).raw_transaction))


# -- edits at the head -------------------------------------------------------------------


async def test_edits_are_read_at_the_head_at_once_without_a_block() -> None:
    d = Dev()
    sealed_root = d.chain.head.state_root
    await d.dev.anvil_setBalance(OTHER, "0x77")
    await d.dev.anvil_setCode(OTHER, RETURN_SELFBALANCE)
    await d.dev.anvil_setNonce(OTHER, "0x5")
    assert await d.dev.anvil_setStorageAt(OTHER, "0x1", WORD_42) is True

    assert d.chain.head.number == 0
    for block in ("latest", "pending", "0x0", {"blockHash": "0x" + d.chain.head.hash.hex()}):
        assert await d.balance(OTHER, block) == 0x77
    assert await d.eth.eth_getCode(OTHER) == RETURN_SELFBALANCE
    assert await d.eth.eth_getTransactionCount(OTHER) == "0x5"
    assert await d.eth.eth_getStorageAt(OTHER, "0x1") == WORD_42
    # eth_call runs on the edited state too, at the head's tag, number or hash.
    assert int(await d.eth.eth_call({"to": OTHER}, "latest"), 16) == 0x77
    assert int(await d.eth.eth_call({"to": OTHER}, "0x0"), 16) == 0x77
    # The stored block keeps the root it was sealed with (as Anvil shows it), and its hash.
    block = await d.eth.eth_getBlockByNumber("latest")
    assert block["stateRoot"] == "0x" + sealed_root.hex() != "0x" + d.chain.head.state_root.hex()
    assert block["hash"] == "0x" + d.chain.head.hash.hex()
    assert encode_header(d.chain.head) == encode_header(d.chain.get_block_by_number(0).header)


async def test_the_next_block_is_built_on_the_edited_state() -> None:
    d = Dev()
    await d.dev.anvil_setBalance(DEV0_HEX, hex(5 * 10**18))
    await d.dev.anvil_setStorageAt(OTHER, "0x0000000000000000000000000000000000000000000000000000000000000007", WORD_42)
    edited_root = d.chain.head.state_root
    tx = transfer(0, value=10**18)
    block = d.node.seal([tx])
    assert block.header.number == 1 and [t.hash for t in block.transactions] == [tx.hash]
    cost = 21000 * tx.effective_gas_price(block.header.base_fee_per_gas)
    assert await d.balance(DEV0_HEX) == 4 * 10**18 - cost
    assert await d.eth.eth_getStorageAt(OTHER, "0x7") == WORD_42
    # Sealing ends the edit: the new head's own root is the state, the record is gone.
    assert d.chain.dev_state_root is None and d.store.get(Keys.DEV_HEAD_STATE) is None
    # Block 0 is no longer the head: it reads the state it was sealed with (as Anvil's history).
    assert await d.balance(DEV0_HEX, "0x0") == 10_000 * 10**18
    assert edited_root != d.chain.genesis.state_root


async def test_a_restart_keeps_the_edited_head_state() -> None:
    d = Dev()
    d.node.seal([])
    await d.dev.anvil_setBalance(OTHER, "0x1234")
    again = Dev(d.store)
    assert again.chain.head.hash == d.chain.head.hash
    assert await again.balance(OTHER) == 0x1234
    again.node.seal([])
    assert await again.balance(OTHER) == 0x1234


async def test_setting_the_sealed_value_back_drops_the_record() -> None:
    d = Dev()
    before = await d.balance(OTHER)
    await d.dev.anvil_setBalance(OTHER, "0x1")
    assert d.store.get(Keys.DEV_HEAD_STATE) is not None
    await d.dev.anvil_setBalance(OTHER, hex(before))
    # py-evm stores a touched empty account, so the root may differ; the balance does not.
    assert await d.balance(OTHER) == before


async def test_params_as_anvil_takes_them() -> None:
    d = Dev()
    await d.dev.anvil_setBalance(OTHER, "256")  # decimal string
    assert await d.balance(OTHER) == 256
    await d.dev.anvil_setBalance(OTHER, "0x0100")  # leading zeros
    assert await d.balance(OTHER) == 256
    await d.dev.anvil_setBalance(OTHER, "0x")
    assert await d.balance(OTHER) == 0
    await d.dev.anvil_setNonce(OTHER, "0x10000000000000000")  # saturates to u64::MAX
    assert await d.eth.eth_getTransactionCount(OTHER) == "0xffffffffffffffff"
    await d.dev.anvil_setCode(OTHER, "6001")  # hex without 0x
    assert await d.eth.eth_getCode(OTHER) == "0x6001"
    with pytest.raises(RpcError) as bad_word:
        await d.dev.anvil_setStorageAt(OTHER, "0x1", "0x42")
    assert bad_word.value.code == -32602 and "32 bytes" in bad_word.value.message
    with pytest.raises(RpcError) as bad_address:
        await d.dev.anvil_setBalance("0x11", "0x1")
    assert bad_address.value.code == -32602
    with pytest.raises(RpcError) as too_big:
        await d.dev.anvil_setBalance(OTHER, "0x1" + "0" * 64)
    assert too_big.value.code == -32602


async def test_pooled_transactions_a_raised_nonce_makes_stale_are_dropped() -> None:
    d = Dev()
    await d.node.submit(transfer(0))
    assert len(d.node.pool) == 1
    await d.dev.anvil_setNonce(DEV0_HEX, "0x1")
    assert len(d.node.pool) == 0


# -- snapshots ---------------------------------------------------------------------------


async def test_revert_restores_the_state_before_an_edit() -> None:
    d = Dev()
    snap = await d.dev.evm_snapshot()
    await d.dev.anvil_setBalance(OTHER, "0x99")
    await d.dev.anvil_setCode(OTHER, "0x60")
    assert await d.dev.evm_revert(snap) is True
    assert await d.balance(OTHER) == 0 and await d.eth.eth_getCode(OTHER) == "0x"
    assert d.chain.dev_state_root is None and d.store.get(Keys.DEV_HEAD_STATE) is None
    assert d.chain.head.state_root == d.chain.genesis.state_root


async def test_a_snapshot_remembers_the_edited_head_and_blocks_after_it_go() -> None:
    d = Dev()
    await d.dev.anvil_setBalance(OTHER, "0x99")
    snap = await d.dev.evm_snapshot()
    d.node.seal([transfer(0)])
    await d.dev.anvil_setBalance(OTHER, "0x5")
    d.node.seal([])
    assert d.chain.head.number == 2
    assert await d.dev.evm_revert(snap) is True
    assert d.chain.head.number == 0
    assert await d.balance(OTHER) == 0x99
    # ...and a restart finds the same edited head.
    assert await Dev(d.store).balance(OTHER) == 0x99
    # The next block is built on it.
    d.node.seal([transfer(0, value=7)])
    assert await d.balance(OTHER) == 0x99 + 7


# -- dump, load, reset -------------------------------------------------------------------


async def test_dump_then_load_into_a_fresh_chain_gives_the_same_state() -> None:
    d = Dev()
    await d.dev.anvil_setBalance(OTHER, "0x77")
    await d.dev.anvil_setCode(OTHER, RETURN_SELFBALANCE)
    await d.dev.anvil_setNonce(OTHER, "0x3")
    await d.dev.anvil_setStorageAt(OTHER, "0x1", WORD_42)
    d.node.seal([transfer(0, value=10**18, to=IMPERSONATED)])
    blob = await d.dev.anvil_dumpState()
    assert blob.startswith("0x1f8b")  # gzip, as Anvil's
    dump = json.loads(gzip.decompress(bytes.fromhex(blob[2:])))
    assert dump["format"] == "chameleon-state/1" and len(dump["accounts"]) >= 12

    fresh = Dev()
    assert await fresh.dev.anvil_loadState(blob) is True
    assert fresh.chain.head.number == 0
    assert fresh.chain.head.state_root == d.chain.head.state_root
    assert await fresh.balance(OTHER) == 0x77 and await fresh.balance(IMPERSONATED) == 10**18
    assert await fresh.eth.eth_getCode(OTHER) == RETURN_SELFBALANCE
    assert await fresh.eth.eth_getStorageAt(OTHER, "0x1") == WORD_42
    assert await fresh.dev.anvil_dumpState() == blob


async def test_load_merges_as_anvil_does() -> None:
    source = Dev()
    await source.dev.anvil_setBalance(OTHER, "0x10")
    await source.dev.anvil_setNonce(OTHER, "0x2")
    await source.dev.anvil_setStorageAt(OTHER, "0x1", WORD_42)
    blob = await source.dev.anvil_dumpState()

    target = Dev()
    await target.dev.anvil_setNonce(OTHER, "0x9")
    await target.dev.anvil_setCode(OTHER, "0x6001")
    await target.dev.anvil_setStorageAt(OTHER, "0x2", WORD_42)
    await target.dev.anvil_loadState(blob)
    assert await target.balance(OTHER) == 0x10  # the dump's balance
    assert await target.eth.eth_getTransactionCount(OTHER) == "0x9"  # the higher nonce
    assert await target.eth.eth_getCode(OTHER) == "0x"  # the dump's code (none)
    assert await target.eth.eth_getStorageAt(OTHER, "0x1") == WORD_42  # the dump's slots...
    assert await target.eth.eth_getStorageAt(OTHER, "0x2") == WORD_42  # ...and its own


async def test_load_takes_anvil_dumps() -> None:
    anvil_dump = {
        "block": {"number": "0x10"},
        "accounts": {
            OTHER: {"nonce": 4, "balance": "0x200", "code": "0x6001",
                    "storage": {"0x" + "00" * 31 + "02": "0x" + "00" * 31 + "43"}},
        },
        "best_block_number": 16, "blocks": [], "transactions": [],
    }
    d = Dev()
    await d.dev.anvil_loadState("0x" + gzip.compress(json.dumps(anvil_dump).encode()).hex())
    assert await d.balance(OTHER) == 0x200
    assert await d.eth.eth_getTransactionCount(OTHER) == "0x4"
    assert await d.eth.eth_getCode(OTHER) == "0x6001"
    assert int(await d.eth.eth_getStorageAt(OTHER, "0x2"), 16) == 0x43
    assert d.chain.head.number == 0  # blocks in a dump are not loaded


@pytest.mark.parametrize("blob", ["0x1234", "0x" + gzip.compress(b"[1]").hex(), "0x" + b'{"accounts": {"0x12": {}}}'.hex()])
async def test_load_refuses_what_is_not_a_dump(blob) -> None:
    d = Dev()
    root = d.chain.head.state_root
    with pytest.raises(RpcError) as failure:
        await d.dev.anvil_loadState(blob)
    assert (failure.value.code, failure.value.message) == (-32602, "Failed to decode state dump")  # Anvil's words
    assert failure.value.data  # and why
    assert d.chain.head.state_root == root


def test_decode_dump_names_the_bad_account() -> None:
    from node.dev_state import decode_dump

    with pytest.raises(StateDumpError, match="0x" + "55" * 20):
        decode_dump(json.dumps({"accounts": {OTHER: {"balance": "lots"}}}).encode())


async def test_reset_goes_back_to_genesis_and_keeps_mining_mode_and_impersonation() -> None:
    d = Dev()
    await d.dev.anvil_impersonateAccount(IMPERSONATED)
    d.node.seal([transfer(0)])
    await d.dev.anvil_setBalance(OTHER, "0x99")
    snap = await d.dev.evm_snapshot()
    await d.dev.evm_increaseTime(1000)
    await d.node.submit(transfer(1))
    await d.dev.anvil_reset()
    assert d.chain.head.number == 0 and d.chain.head.hash == d.chain.genesis.hash
    assert d.chain.head.state_root == d.chain.genesis.state_root and d.chain.dev_state_root is None
    assert len(d.node.pool) == 0
    assert await d.dev.evm_revert(snap) is False
    assert d.node.is_impersonated(bytes.fromhex(IMPERSONATED[2:]))
    assert await d.dev.anvil_getAutomine() is False
    assert await Dev(d.store).balance(OTHER) == 0  # what a restart finds too


async def test_reset_refuses_forking() -> None:
    d = Dev()
    d.node.seal([])
    for options in ({"forking": {"jsonRpcUrl": "http://127.0.0.1:1"}}, {"jsonRpcUrl": "http://x"}, "mainnet"):
        with pytest.raises(RpcError) as failure:
            await d.dev.anvil_reset(options)
        assert failure.value.code == -32602
    assert "forking is not supported" in failure.value.message or "options object" in failure.value.message
    assert d.chain.head.number == 1
    await d.dev.anvil_reset({})  # no forking params: a plain reset
    assert d.chain.head.number == 0


# -- impersonation ------------------------------------------------------------------------


def test_impersonated_hash_is_anvils() -> None:
    sender = bytes.fromhex("33" * 20)
    typed = bytes.fromhex("02ec827a6980843b9aca0084773594008252089411111111111111111111111111111111111111110180c0808080")
    legacy = bytes.fromhex("e5018477359400825208944444444444444444444444444444444444444444018082f4f58080")
    assert compute_impersonated_hash(typed, sender).hex() == "d861fa672bea71df1b998b12be94c1263e87f939f0dba37ba222acc568566fbe"
    assert compute_impersonated_hash(legacy, sender).hex() == "9b6d8302a3269291d707278b840671a8346a2b15882013fa5e6d78de1e6095f4"


async def test_impersonated_sends_are_mined_with_anvils_hash_and_survive_a_reload(nursery) -> None:
    d = Dev()
    d.node.automine = True
    await nursery.start(d.node.run)
    await d.dev.anvil_setBalance(IMPERSONATED, hex(10**18))
    unsigned = {"from": IMPERSONATED, "to": "0x" + "11" * 20, "value": "0x1", "gas": "0x5208",
                "maxFeePerGas": "0x77359400", "maxPriorityFeePerGas": "0x3b9aca00", "nonce": "0x0"}
    with pytest.raises(RpcError) as refused:
        await d.signing.eth_sendTransaction(unsigned)
    assert (refused.value.code, refused.value.message) == (-32602, "No Signer available")

    await d.dev.anvil_impersonateAccount(IMPERSONATED)
    assert IMPERSONATED in await d.signing.eth_accounts()
    typed = await d.signing.eth_sendTransaction(unsigned)
    assert typed == "0xd861fa672bea71df1b998b12be94c1263e87f939f0dba37ba222acc568566fbe"
    legacy = await d.signing.eth_sendTransaction({"from": IMPERSONATED, "to": "0x" + "44" * 20, "value": "0x1",
                                                  "gas": "0x5208", "gasPrice": "0x77359400", "nonce": "0x1"})
    assert legacy == "0x9b6d8302a3269291d707278b840671a8346a2b15882013fa5e6d78de1e6095f4"
    for tx_hash in (typed, legacy):
        receipt = await d.eth.eth_getTransactionReceipt(tx_hash)
        assert receipt["status"] == "0x1" and receipt["from"] == IMPERSONATED
        tx = await d.eth.eth_getTransactionByHash(tx_hash)
        assert (tx["r"], tx["s"]) == ("0x0", "0x0")
    assert await d.eth.eth_getTransactionCount(IMPERSONATED) == "0x2"
    # From the store (a restart), the hashes are the same, and the block executes again
    # to the same header (as a tracer would re-run it).
    reloaded = Chain(d.store, dev_spec())
    assert reloaded.get_transaction_location(bytes.fromhex(legacy[2:])) is not None
    block = reloaded.get_block_by_number(2)
    assert block.transactions[0].hash.hex() == legacy[2:]
    parent = reloaded.get_header_by_number(1)
    execute_block(d.store, parent, block.header, block.transactions, chain_id=31337,
                  prev_hashes=reloaded.ancestor_hashes(parent))

    await d.dev.anvil_stopImpersonatingAccount(IMPERSONATED)
    assert IMPERSONATED not in await d.signing.eth_accounts()
    with pytest.raises(RpcError):
        await d.signing.eth_sendTransaction({**unsigned, "nonce": "0x2"})
    await d.dev.anvil_autoImpersonateAccount(True)
    assert (await d.eth.eth_getTransactionReceipt(await d.signing.eth_sendTransaction({**unsigned, "nonce": "0x2"})))["status"] == "0x1"
    assert IMPERSONATED not in await d.signing.eth_accounts()  # auto: not listed, as in Anvil


# -- mining modes ----------------------------------------------------------------------------


async def test_interval_mining_alone_and_together_with_automine(nursery, autojump_clock) -> None:
    d = Dev()
    d.node.automine = True
    await nursery.start(d.node.run)
    await d.dev.evm_setIntervalMining(10)
    assert await d.dev.anvil_getAutomine() is False  # as Anvil: interval mining replaces automine
    assert await d.dev.anvil_getIntervalMining() == 10
    await d.node.submit(transfer(0))
    assert d.chain.head.number == 0 and len(d.node.pool) == 1  # waits for the interval
    await trio.sleep(10.5)
    assert d.chain.head.number == 1 and len(d.node.pool) == 0

    await d.dev.evm_setAutomine(True)  # both on (Anvil would stop the interval here)
    assert await d.dev.anvil_getIntervalMining() == 10
    await d.node.submit(transfer(1))
    assert d.chain.head.number == 2  # sealed at once
    await trio.sleep(10)
    assert d.chain.head.number == 3 and not d.chain.get_block_by_number(3).transactions  # and on the interval

    await d.dev.evm_setIntervalMining(0)  # as Anvil: no mining at all
    assert await d.dev.anvil_getIntervalMining() is None and await d.dev.anvil_getAutomine() is False
    await trio.sleep(60)
    assert d.chain.head.number == 3


async def test_anvil_mine_moves_the_clock_before_each_block_and_evm_mine_takes_blocks() -> None:
    d = Dev()
    await d.dev.evm_setNextBlockTimestamp(hex(10**9))
    d.node.seal([])
    await d.dev.anvil_mine("0x3", "0x64")
    stamps = [d.chain.get_header_by_number(n).timestamp for n in range(1, 5)]
    assert stamps[1] - stamps[0] >= 100 and stamps[2] - stamps[1] == 100 and stamps[3] - stamps[2] == 100
    assert await d.dev.evm_mine({"timestamp": 2 * 10**9, "blocks": 2}) == "0x0"
    assert d.chain.head.number == 6 and d.chain.get_header_by_number(5).timestamp == 2 * 10**9


# -- signing ----------------------------------------------------------------------------------

TYPED_DATA = {
    "types": {
        "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                         {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
        "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
        "Mail": [{"name": "from", "type": "Person"}, {"name": "to", "type": "Person"}, {"name": "contents", "type": "string"}],
    },
    "primaryType": "Mail",
    "domain": {"name": "Ether Mail", "version": "1", "chainId": 1, "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
    "message": {"from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
                "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"}, "contents": "Hello, Bob!"},
}


async def test_signatures_are_anvils() -> None:
    d = Dev()
    message_sig = "0xa114c834af73872c6c9efe918d85b0b1b34a486d10f9011e2630e28417c828c060dbd65cda67e73d52ebb7c555260621dbc1b0b4036acb61086bba091ac3f1641b"
    assert await d.signing.eth_sign(DEV0_HEX, "0xdeadbeef") == message_sig
    assert await d.signing.personal_sign("0xdeadbeef", DEV0_HEX) == message_sig
    typed_sig = "0x6ea8bb309a3401225701f3565e32519f94a0ea91a5910ce9229fe488e773584c0390416a2190d9560219dab757ecca2029e63fa9d1c2aebf676cc25b9f03126a1b"
    assert await d.signing.eth_signTypedData_v4(DEV0_HEX, TYPED_DATA) == typed_sig
    assert await d.signing.eth_signTypedData_v4(DEV0_HEX, json.dumps(TYPED_DATA)) == typed_sig
    assert await d.signing.eth_signTransaction({
        "from": DEV0_HEX, "to": "0x" + "44" * 20, "value": "0x1", "gas": "0x5208",
        "maxFeePerGas": "0x77359400", "maxPriorityFeePerGas": "0x3b9aca00", "nonce": "0x0",
    }) == ("0x02f86c827a6980843b9aca0084773594008252089444444444444444444444444444444444444444440180c080a0af0e3c4d9b"
           "064d0d14bc0933bc818abed0bb40576936ec09bbbc901f71c3d99ea05fda1b6e2176f68bb04ce7a883bd63f72280ffa3f24154592f"
           "ab1ffe2dbfacb0")
    # No "from": the first dev account signs, as in Anvil.
    assert await d.signing.eth_signTransaction({
        "to": "0x" + "44" * 20, "value": "0x1", "gas": "0x5208", "gasPrice": "0x1", "nonce": "0x7",
    }) == ("0xf8610701825208944444444444444444444444444444444444444444018082f4f5a0524c21176ce7c07a89d7d97e85656a2e3"
           "47f1dbc087b12987e1724740a155aa2a0558db3c4af7df84edd81477dd3a2c6902376fa636a8e15e9bce97eeaa713a4ad")
    assert d.chain.head.number == 0 and len(d.node.pool) == 0  # signed, not sent


async def test_signing_for_an_unknown_account_is_refused_as_anvil_refuses_it() -> None:
    d = Dev()
    calls = [
        d.signing.eth_sign(IMPERSONATED, "0xdeadbeef"),
        d.signing.personal_sign("0xdeadbeef", IMPERSONATED),
        d.signing.eth_signTypedData_v4(IMPERSONATED, TYPED_DATA),
        d.signing.eth_signTransaction({"from": IMPERSONATED, "to": OTHER, "gas": "0x5208"}),
    ]
    for call in calls:
        with pytest.raises(RpcError) as failure:
            await call
        assert (failure.value.code, failure.value.message) == (-32602, "No Signer available")
    with pytest.raises(RpcError) as not_hex:
        await d.signing.eth_sign(DEV0_HEX, "hello")
    assert not_hex.value.code == -32602


def test_state_edits_are_refused_on_an_engine_chain() -> None:
    # The RPC layer never registers the dev methods under an engine (tests/e2e); the node refuses too.
    engine_spec = dataclasses.replace(dev_spec(), consensus={"engine": "poa", "authorities": [DEV0_HEX], "slotDuration": 1})
    node = Node(Chain(MemoryStore(), engine_spec), TxPool(), automine=False)
    with pytest.raises(ValueError, match="not edited"):
        node.edit_head_state(lambda state: state.set_balance(DEV0, 1))
