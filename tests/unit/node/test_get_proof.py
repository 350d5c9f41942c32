"""eth_getProof (EIP-1186): every proof verifies with py-trie against the block's stateRoot
(accounts) and the account's storageHash (slots), for present and absent accounts and slots,
at the head and at older blocks."""
from __future__ import annotations

import orjson
import pytest
import rlp
from eth.constants import BLANK_ROOT_HASH, EMPTY_SHA3
from eth.rlp.accounts import Account as StateAccount
from eth_account import Account
from eth_utils import keccak
from trie import HexaryTrie
from trie.exceptions import BadTrieProof

from node.chain import Chain
from node.dev import dev_keys, dev_spec
from node.rpc.errors import RpcError
from node.rpc.eth import EthApi
from node.rpc.server import Dispatcher
from node.service import Node
from node.txpool import TxPool
from runtime.primitives.receipt import compute_contract_address
from runtime.primitives.transaction import decode_transaction
from runtime.state.store import MemoryStore

KEY = dev_keys(1)[0][1]
SENDER = Account.from_key(KEY)
SENDER_ADDRESS = bytes.fromhex(SENDER.address[2:])
# Runtime: SSTORE(calldata[0:32], calldata[32:64]).
STORE_RUNTIME = bytes.fromhex("60203560003555" "00")
# Init: copy the runtime that follows these 9 bytes to memory and return it.
STORE_INIT = bytes([0x60, len(STORE_RUNTIME), 0x80, 0x60, 0x09, 0x3D, 0x39, 0x3D, 0xF3]) + STORE_RUNTIME
CONTRACT = compute_contract_address(SENDER_ADDRESS, 0)
SLOTS = {slot: 1000 + slot for slot in range(1, 41)}  # enough slots for branch and extension nodes
RECIPIENTS = [bytes([0x10 + i]) * 20 for i in range(30)]  # enough accounts for a deep state trie


def hx(data: bytes) -> str:
    return "0x" + data.hex()


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


class Env:
    def __init__(self) -> None:
        self.chain = Chain(MemoryStore(), dev_spec())
        self.node = Node(self.chain, TxPool(), automine=False)
        self.eth = EthApi(self.node)
        self.nonce = 0

    def seal(self, *txs: dict) -> None:
        signed = []
        for fields in txs:
            tx = {"chainId": 31337, "nonce": self.nonce, "gas": 300_000, "value": 0, "type": 2,
                  "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9, "data": b""}
            tx.update(fields)
            signed.append(decode_transaction(bytes(SENDER.sign_transaction(tx).raw_transaction)))
            self.nonce += 1
        self.chain.commit(self.chain.build(signed, timestamp=self.chain.head.timestamp + 1))

    async def proof(self, address: bytes, slots: list, block: object = "latest") -> dict:
        return await self.eth.eth_getProof(hx(address), slots, block)


@pytest.fixture(scope="module")
def env() -> Env:
    env = Env()
    env.seal({"data": STORE_INIT})  # block 1: the contract, no storage yet
    env.seal(*({"to": CONTRACT, "data": word(slot) + word(1)} for slot in SLOTS))  # block 2: every slot = 1
    env.seal(*({"to": CONTRACT, "data": word(slot) + word(value)} for slot, value in SLOTS.items()))  # block 3
    env.seal(*({"to": r, "value": 10**15 + i} for i, r in enumerate(RECIPIENTS)))  # block 4
    return env


def decode_nodes(proof: list[str]) -> list:
    return [rlp.decode(bytes.fromhex(node[2:])) for node in proof]


def verify_account(root: bytes, address: bytes, result: dict) -> StateAccount | None:
    """The account the proof proves under ``root`` (None: proven absent); checks the fields."""
    encoded = HexaryTrie.get_from_proof(root, keccak(address), decode_nodes(result["accountProof"]))
    account = rlp.decode(encoded, sedes=StateAccount) if encoded else None
    expected = account or StateAccount(0, 0, BLANK_ROOT_HASH, EMPTY_SHA3)
    assert result["address"] == hx(address)
    assert int(result["balance"], 16) == expected.balance
    assert int(result["nonce"], 16) == expected.nonce
    assert result["codeHash"] == hx(expected.code_hash)
    assert result["storageHash"] == hx(expected.storage_root)
    return account


def verify_slot(storage_root: bytes, slot: int, entry: dict) -> int:
    """The slot's value the proof proves under ``storage_root``; checks it is the one shown."""
    encoded = HexaryTrie.get_from_proof(storage_root, keccak(word(slot)), decode_nodes(entry["proof"]))
    value = rlp.decode(encoded, sedes=rlp.sedes.big_endian_int) if encoded else 0
    assert int(entry["value"], 16) == value
    return value


async def test_contract_account_and_its_slots_verify_against_the_state_root(env: Env) -> None:
    header = env.chain.head
    keys = [hx(word(slot)) for slot in SLOTS]
    result = await env.proof(CONTRACT, keys)
    account = verify_account(header.state_root, CONTRACT, result)
    assert account is not None and account.nonce == 1
    assert account.code_hash == keccak(STORE_RUNTIME)
    assert len(result["accountProof"]) >= 2 and all(len(n) >= 66 for n in result["accountProof"][1:])
    assert [entry["key"] for entry in result["storageProof"]] == keys
    for slot, entry in zip(SLOTS, result["storageProof"]):
        assert verify_slot(account.storage_root, slot, entry) == SLOTS[slot]
    assert max(len(entry["proof"]) for entry in result["storageProof"]) >= 2  # a real trie, not one leaf


async def test_absent_slot_is_proven_absent(env: Env) -> None:
    result = await env.proof(CONTRACT, [hx(word(0)), hx(word(10**6))])
    account = verify_account(env.chain.head.state_root, CONTRACT, result)
    for slot, entry in zip([0, 10**6], result["storageProof"]):
        assert entry["value"] == "0x0" and entry["proof"]
        assert verify_slot(account.storage_root, slot, entry) == 0


async def test_absent_account_is_proven_absent(env: Env) -> None:
    nobody = b"\xee" * 20
    result = await env.proof(nobody, [hx(word(1))])
    assert result["accountProof"]
    assert verify_account(env.chain.head.state_root, nobody, result) is None
    assert (result["balance"], result["nonce"]) == ("0x0", "0x0")
    assert result["codeHash"] == hx(EMPTY_SHA3) and result["storageHash"] == hx(BLANK_ROOT_HASH)
    assert result["storageProof"] == [{"key": hx(word(1)), "value": "0x0", "proof": []}]


async def test_externally_owned_account(env: Env) -> None:
    result = await env.proof(SENDER_ADDRESS, [])
    account = verify_account(env.chain.head.state_root, SENDER_ADDRESS, result)
    assert account is not None and account.nonce == env.nonce
    assert result["storageProof"] == [] and result["storageHash"] == hx(BLANK_ROOT_HASH)
    recipient = await env.proof(RECIPIENTS[3], [])
    assert verify_account(env.chain.head.state_root, RECIPIENTS[3], recipient).balance == 10**15 + 3


@pytest.mark.parametrize("number, expected", [(1, None), (2, 1), (3, "final")])
async def test_older_blocks_prove_their_own_state(env: Env, number: int, expected: object) -> None:
    header = env.chain.get_header_by_number(number)
    slot = 7
    result = await env.proof(CONTRACT, [hx(word(slot))], hex(number))
    account = verify_account(header.state_root, CONTRACT, result)
    value = verify_slot(account.storage_root, slot, result["storageProof"][0])
    assert value == {None: 0, 1: 1, "final": SLOTS[slot]}[expected]
    # The recipients did not exist before block 4: proven absent there.
    before = await env.proof(RECIPIENTS[0], [], {"blockHash": hx(header.hash)})
    assert verify_account(header.state_root, RECIPIENTS[0], before) is None


async def test_a_proof_does_not_verify_against_another_root(env: Env) -> None:
    result = await env.proof(CONTRACT, [hx(word(5))])
    older = env.chain.get_header_by_number(2).state_root
    with pytest.raises(BadTrieProof):
        HexaryTrie.get_from_proof(older, keccak(CONTRACT), decode_nodes(result["accountProof"]))
    storage_root = bytes.fromhex(result["storageHash"][2:])
    tampered = decode_nodes(result["storageProof"][0]["proof"])[:-1]  # drop the leaf
    with pytest.raises(BadTrieProof):
        HexaryTrie.get_from_proof(storage_root, keccak(word(5)), tampered)


async def test_storage_keys_as_geth_takes_and_echoes_them(env: Env) -> None:
    result = await env.proof(CONTRACT, ["0x5", "0x05", "5", "0x" + "00" * 31 + "05", "0X0000000000000000000000000000000000000000000000000000000000000005"])
    keys = [entry["key"] for entry in result["storageProof"]]
    assert keys == ["0x5", "0x5", "0x5", "0x" + "00" * 31 + "05", "0x" + "00" * 31 + "05"]
    assert {entry["value"] for entry in result["storageProof"]} == {hex(SLOTS[5])}


@pytest.mark.parametrize("keys, message", [
    (["0x" + "00" * 33], "hex string too long, want at most 32 bytes"),
    (["0xzz"], "invalid hex storage key"),
    ([5], "expected hex storage keys"),
    ("0x05", "expected an array of storage keys"),
])
async def test_bad_storage_keys_are_invalid_params(env: Env, keys: object, message: str) -> None:
    with pytest.raises(RpcError) as raised:
        await env.eth.eth_getProof(hx(CONTRACT), keys, "latest")
    assert raised.value.code == -32602 and message in raised.value.message


async def test_unknown_block_and_bad_address(env: Env) -> None:
    with pytest.raises(RpcError) as raised:
        await env.proof(CONTRACT, [], "0x999")
    assert raised.value.code == -32001
    with pytest.raises(RpcError) as raised:
        await env.eth.eth_getProof("0x1234", [], "latest")
    assert raised.value.code == -32602 and "argument 0" in raised.value.message


async def test_over_json_rpc(env: Env) -> None:
    dispatcher = Dispatcher(env.eth.methods())
    request = {"jsonrpc": "2.0", "id": 1, "method": "eth_getProof", "params": [hx(CONTRACT), ["0x1"], "latest"]}
    response = orjson.loads(await dispatcher.handle_body(orjson.dumps(request)))
    result = response["result"]
    assert set(result) == {"address", "accountProof", "balance", "codeHash", "nonce", "storageHash", "storageProof"}
    assert result["storageProof"][0]["value"] == hex(SLOTS[1])
