"""Fast sync of a bft chain: final blocks stored without execution (commits, consensus data
and bodies checked), the state of the last one downloaded node by node (each checked by
hash); the node then has the source's head and state, executes the next block on top,
refuses forgeries and penalizes their senders, and answers old-state reads with a clear error."""
from __future__ import annotations

import dataclasses

import pytest
import rlp
import trio
from eth_account import Account

from consensus.block_data import compose_block_data
from consensus.bft.engine import compute_commit_seal
from consensus.engine import Seal
from consensus.keys import Signer
from consensus.messages import Vote
from consensus.registry import get_engine
from consensus.types import VoteType
from node.block_import import BlockImporter, BlockRefused, WireBlock
from node.chain import Chain, StateUnavailable
from node.dev import dev_keys, dev_spec_json
from node.rpc.errors import RpcError
from node.rpc.eth import EthApi
from node.service import Node
from node.state_sync import (
    ACCOUNT_NODE,
    CODE,
    MAX_NODE_HASHES,
    StateSyncer,
    compute_references,
    decode_node_data_response,
    encode_get_node_data,
)
from node.sync import (
    SyncProtocolError,
    Syncer,
    answer_request,
    decode_blocks_response,
    encode_get_blocks,
)
from node.txpool import TxPool
from runtime.chainspec import parse_chain_spec
from runtime.primitives.hashing import keccak256
from runtime.primitives.transaction import decode_transaction
from runtime.state.store import STATE_PREFIX, MemoryStore

KEYS = dev_keys(7)
USER = Account.from_key(KEYS[1][1])
USER_ADDRESS = KEYS[1][0]
VALIDATORS = KEYS[3:7]  # four validators: three signatures are a quorum
BLOCKS = 70
FAST_MIN = 20
RECIPIENTS = [bytes([0x10 + i % 200, i // 200]) + b"\x77" * 18 for i in range(240)]
# Stores 42 + n at slot 0 and 7 at slot 1, returns code that answers slot 0.
RUNTIME = bytes.fromhex("60005460005260206000f3")


def init_code(n: int) -> bytes:
    size = len(RUNTIME)  # SSTORE(0, 42 + n); SSTORE(1, 7); CODECOPY(0, 22, size); RETURN(0, size)
    return bytes([0x60, 42 + n, 0x60, 0, 0x55, 0x60, 7, 0x60, 1, 0x55,
                  0x60, size, 0x60, 22, 0x60, 0, 0x39, 0x60, size, 0x60, 0, 0xF3]) + RUNTIME


def bft_spec():
    data = dev_spec_json()
    data["name"] = "bft-fast"
    data["consensus"] = {"engine": "bft", "validators": ["0x" + a.hex() for a, _ in VALIDATORS]}
    return parse_chain_spec(data)


def make_bft_node(store=None):
    spec = bft_spec()
    chain = Chain(store if store is not None else MemoryStore(), spec)
    return Node(chain, TxPool(), automine=False), get_engine(spec.consensus, chain_id=spec.chain_id)


def sign_tx(nonce: int, **fields):
    tx = {"chainId": 31337, "nonce": nonce, "gas": 21000, "value": 1, "type": 2,
          "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9, **fields}
    if tx.get("to") is None:
        tx.pop("to", None)  # a create
    return decode_transaction(bytes(USER.sign_transaction(tx).raw_transaction))


def commit(engine, header, signers=VALIDATORS[:3], round_=0) -> Seal:
    votes = [Vote(VoteType.PRECOMMIT, header.number, round_, header.hash, a).sign(Signer(k), engine.chain_id)
             for a, k in signers]
    return compute_commit_seal(engine.validators, round_, tuple(votes))


def author_bft_block(node, engine, txs, timestamp):
    """What the validators do: build on the head with the head's commit inside, commit it."""
    chain = node.chain
    parent_seal = chain.get_seal(chain.head.hash)
    data = compose_block_data(engine, chain.head, None if parent_seal is None else Seal.decode(parent_seal))
    built = chain.build(txs, timestamp=timestamp, consensus_data=data.encode())
    assert not built.rejected
    return node.commit_built(built, seal=commit(engine, built.header).encode())


def extend(node, engine, count, nonce):
    for _ in range(count):
        number = node.chain.head.number + 1
        if number % 5 == 0:
            txs = [sign_tx(nonce, to=None, gas=200_000, value=0, data=init_code(number % 7))]
        else:
            txs = [sign_tx(nonce + i, to=RECIPIENTS[(4 * number + i) % len(RECIPIENTS)], value=number + i)
                   for i in range(4)]
        author_bft_block(node, engine, txs, 10 + number)
        nonce += len(txs)
    return nonce


@pytest.fixture(scope="module")
def source():
    node, engine = make_bft_node()
    node.nonce = extend(node, engine, BLOCKS, 0)
    return node, engine


def serve(source_node, peer_behaviour=None):
    async def request(peer, data: bytes) -> bytes:
        await trio.sleep(0)
        answer = answer_request(source_node.chain, data)
        if peer_behaviour is not None:
            return peer_behaviour(peer, data, answer)
        return answer
    return request


async def fast_sync(client, engine, request, peers, **kw):
    penalties: dict[str, str] = {}
    seen = []
    syncer = Syncer(BlockImporter(client, engine), request, fast_min_blocks=FAST_MIN, batch=16, timeout=1,
                    on_block=lambda block, seal: seen.append(block.header.number),
                    penalize=lambda peer, reason: penalties.setdefault(peer, reason), **kw)
    await syncer.run(peers)
    return syncer, penalties, seen


async def test_a_fresh_node_fast_syncs_to_the_same_head_and_state_and_builds_on_it(source):
    node, engine = source
    client, client_engine = make_bft_node()
    head = node.chain.head
    syncer, penalties, seen = await fast_sync(client, client_engine, serve(node), [("honest", head.number, head.number)])
    chain = client.chain
    assert chain.head.hash == head.hash and chain.head.state_root == head.state_root and not penalties
    assert seen == [head.number]  # the engine hears of the last block only
    assert syncer.known_states > 0 and not syncer.syncing
    state, theirs = chain.state_at(chain.head), node.chain.state_at(head)
    for address in [*RECIPIENTS[:50], USER_ADDRESS]:
        assert state.get_balance(address) == theirs.get_balance(address)
    contract = keccak256(rlp.encode([USER_ADDRESS, 4 * 4]))[12:]  # created in block 5
    assert state.get_code(contract) == RUNTIME and state.get_storage(contract, 1) == 7
    # Old blocks are all there, without their state; transactions read back with their senders.
    old = chain.get_block_by_number(3)
    assert old.hash == node.chain.get_block_by_number(3).hash and len(old.receipts) == 4
    assert old.transactions[0].sender == USER_ADDRESS
    block, index = chain.get_transaction_location(old.transactions[2].hash)
    assert block.hash == old.hash and index == 2
    with pytest.raises(StateUnavailable, match="state of block 3 is not available \\(fast-synced\\)"):
        chain.state_at(old.header)
    assert chain.has_state(chain.genesis) and chain.has_state(chain.head)
    api = EthApi(client)
    with pytest.raises(RpcError, match="state of block 3 is not available"):
        await api.eth_getBalance("0x" + RECIPIENTS[0].hex(), "0x3")
    assert await api.eth_getBalance("0x" + RECIPIENTS[0].hex(), "latest") == hex(theirs.get_balance(RECIPIENTS[0]))
    # The next block is executed on top of the downloaded state, as any block after a sync.
    wire = WireBlock.from_block(author_bft_block(node, engine, [sign_tx(node.nonce, to=RECIPIENTS[0])], 10_000),
                                node.chain.get_seal(node.chain.head.hash))
    node.nonce += 1
    stored, is_head = BlockImporter(client, client_engine).import_block(WireBlock.decode(wire.encode()))
    assert is_head and chain.head.hash == node.chain.head.hash
    assert chain.state_at(chain.head).get_balance(RECIPIENTS[0]) == node.chain.state_at(node.chain.head).get_balance(RECIPIENTS[0])


def forge_first(response_bytes: bytes, forge) -> bytes:
    items = rlp.decode(response_bytes)
    block = rlp.decode(items[0][0])
    receipts = items[5][0]
    block, receipts = forge(block, receipts)
    items[0][0] = rlp.encode(block)
    items[5][0] = receipts
    return rlp.encode(items)


def forged_commit(block, receipts):
    from runtime.primitives.header import decode_header
    header = decode_header(block[0])
    outsiders = KEYS[:3]  # well-formed precommits, by accounts outside the validator set
    votes = [Vote(VoteType.PRECOMMIT, header.number, 0, header.hash, a).sign(Signer(k), 31337) for a, k in outsiders]
    seal = Seal.decode(block[3])
    block[3] = dataclasses.replace(seal, signatures=tuple(sorted((v.validator, v.signature) for v in votes))).encode()
    return block, receipts


def swapped_transactions(block, receipts):
    block[1] = [block[1][1], block[1][0], *block[1][2:]]
    return block, receipts


def dropped_receipt(block, receipts):
    return block, rlp.encode(rlp.decode(receipts)[:-1])


@pytest.mark.parametrize("forge, reason", [
    (forged_commit, "not a validator"),
    (swapped_transactions, "do not match its transactions root"),
    (dropped_receipt, "4 transactions and 3 receipts"),
])
async def test_forged_final_blocks_are_refused_and_their_peer_penalized(source, forge, reason):
    node, engine = source
    client, client_engine = make_bft_node()
    head = node.chain.head

    def behaviour(peer, data, answer):
        if peer == "forger" and rlp.decode(data)[0] == b"\x01":
            return forge_first(answer, forge)
        return answer

    peers = [("forger", head.number, head.number), ("honest", head.number, head.number)]
    _, penalties, _ = await fast_sync(client, client_engine, serve(node, behaviour), peers)
    assert client.chain.head.hash == head.hash
    assert set(penalties) == {"forger"} and reason in penalties["forger"]


def test_import_final_refuses_each_forgery_and_stores_nothing(source):
    node, engine = source
    client, client_engine = make_bft_node()
    importer = BlockImporter(client, client_engine)
    response = decode_blocks_response(answer_request(node.chain, encode_get_blocks(1, 8, receipts=True)), receipts=True)
    blocks = list(response.blocks)
    good, other = blocks[5], blocks[6]  # blocks 6 and 7, four transfers each
    header = good.header
    cases = [
        (dataclasses.replace(good, seal=commit(engine, header, VALIDATORS[:2])), "needs more than 2/3"),
        (dataclasses.replace(good, seal=commit(engine, other.header)), "not for this block"),
        (dataclasses.replace(good, seal=None), "needs its commit"),
        (dataclasses.replace(good, consensus_data=other.consensus_data), "extra_data does not commit"),
        (dataclasses.replace(good, raw_transactions=good.raw_transactions[:3]), "transactions root"),
        (dataclasses.replace(good, receipts=rlp.encode(rlp.decode(good.receipts)[1:2] * 4)), "receipts root"),
        (dataclasses.replace(good, receipts=b"\xc1"), "not an RLP encoding"),
        (dataclasses.replace(good, header=header.copy(gas_used=header.gas_used + 1)), "not for this block"),
    ]
    committed = header.copy(gas_used=header.gas_used + 1)  # as if the validators signed a wrong header
    cases.append((dataclasses.replace(good, header=committed, seal=commit(engine, committed)),
                  f"use {header.gas_used} gas, its header says {header.gas_used + 1}"))
    for forged, reason in cases:
        with pytest.raises(BlockRefused, match=reason):
            importer.import_final([*blocks[:5], forged, *blocks[6:]], client.chain.genesis)
        assert client.chain.final_tip == client.chain.genesis  # nothing stored
    with pytest.raises(BlockRefused, match="block 2 does not extend block 0"):
        importer.import_final(blocks[1:], client.chain.genesis)
    assert importer.import_final(blocks, client.chain.genesis).hash == blocks[-1].header.hash
    assert client.chain.final_tip.number == 8 and client.chain.head.number == 0
    # Stored without state, a block is executed when a full sync meets it (the head has the state).
    stored, is_head = importer.import_block(WireBlock.decode(
        WireBlock.from_block(node.chain.get_block_by_number(1), node.chain.get_seal(blocks[0].header.hash)).encode()))
    assert is_head and client.chain.head.hash == blocks[0].header.hash and client.chain.has_state(client.chain.head)


async def test_a_forged_trie_node_is_refused_and_its_peer_penalized(source):
    node, _ = source
    root = node.chain.head.state_root
    penalties = {}

    async def request(peer, data):
        answer = answer_request(node.chain, data)
        if peer == "liar":
            values = rlp.decode(answer)
            values[-1] = values[-1][:-1] + bytes([values[-1][-1] ^ 1])
            return rlp.encode(values)
        return answer

    client, _ = make_bft_node()
    syncer = StateSyncer(client.chain.store, request, batch=8,
                         penalize=lambda peer, reason: penalties.setdefault(peer, reason))
    assert await syncer.run(root, ["liar", "honest"])
    assert set(penalties) == {"liar"} and "does not hash to what was asked" in penalties["liar"]
    assert client.chain.store.get(STATE_PREFIX + root) is not None
    # Every node of the state is there: a full walk of the trie from the store needs nothing.
    again = StateSyncer(client.chain.store, None)
    assert await again.run(root, []) and again.pulled_states == 0


async def test_an_interrupted_state_sync_resumes_with_what_it_has(source):
    node, _ = source
    root = node.chain.head.state_root
    client, _ = make_bft_node()
    answered = 0

    async def flaky(peer, data):
        nonlocal answered
        answered += 1
        if answered > 3:
            raise ConnectionError("gone")
        return answer_request(node.chain, data)

    first = StateSyncer(client.chain.store, flaky, batch=8)
    assert not await first.run(root, ["flaky"])
    assert not client.chain.has_state(node.chain.head) and first.pulled_states > 0
    second = StateSyncer(client.chain.store, serve(node), batch=8)
    assert await second.run(root, ["honest"])
    assert client.chain.has_state(node.chain.head)
    assert second.pulled_states + first.pulled_states <= second.known_states + 1


async def test_a_peer_without_the_state_is_left_for_one_with_it(source):
    node, _ = source
    empty, _ = make_bft_node()

    async def request(peer, data):
        return answer_request((empty if peer == "pruned" else node).chain, data)

    client, _ = make_bft_node()
    penalties = {}
    syncer = StateSyncer(client.chain.store, request, penalize=lambda p, r: penalties.setdefault(p, r))
    assert await syncer.run(node.chain.head.state_root, ["pruned", "honest"]) and not penalties
    alone = StateSyncer(make_bft_node()[0].chain.store, request)
    assert not await alone.run(node.chain.head.state_root, ["pruned"])


def test_trie_nodes_reference_children_storage_and_code(source):
    node, _ = source
    store = node.chain.store
    root = node.chain.head.state_root
    kinds, stack, seen = set(), [(root, ACCOUNT_NODE)], set()
    while stack:
        node_hash, kind = stack.pop()
        kinds.add(kind)
        for ref in compute_references(store.get(STATE_PREFIX + node_hash), kind):
            if ref not in seen:
                seen.add(ref)
                stack.append(ref)
    assert kinds == {0, 1, 2}
    assert compute_references(RUNTIME, CODE) == []


def test_node_data_requests_are_bounded_and_checked(source):
    node, _ = source
    root = node.chain.head.state_root
    assert decode_node_data_response(answer_request(node.chain, encode_get_node_data([root, b"\x00" * 32])), 2) == [
        node.chain.store.get(STATE_PREFIX + root), b""]
    for bad, reason in [(encode_get_node_data([]), "not between 1"),
                        (encode_get_node_data([b"\x01" * 31]), "32-byte hashes"),
                        (encode_get_node_data([root] * (MAX_NODE_HASHES + 1)), "exceeds"),
                        (rlp.encode([2, b"x"]), "32-byte hashes")]:
        with pytest.raises(SyncProtocolError, match=reason):
            answer_request(node.chain, bad)
    with pytest.raises(Exception, match="values for 1 hashes"):
        decode_node_data_response(rlp.encode([b"a", b"b"]), 1)


async def test_full_sync_when_asked_or_when_not_far_behind(source):
    node, _ = source
    head = node.chain.head
    for kw, peer_head in [({"fast": False}, head.number), ({}, FAST_MIN)]:
        client, engine = make_bft_node()
        syncer, penalties, seen = await fast_sync(client, engine, serve(node), [("honest", peer_head, peer_head)], **kw)
        assert client.chain.head.number == peer_head and seen == list(range(1, peer_head + 1))
        assert client.chain.has_state(client.chain.get_header_by_number(1)) and syncer.known_states == 0


async def test_an_interrupted_fast_sync_goes_on_from_the_blocks_it_stored(source):
    node, _ = source
    head = node.chain.head
    client, engine = make_bft_node()
    served = []

    def dies_after_two_batches(peer, data, answer):
        served.append(rlp.decode(data))
        if len([r for r in served if r[0] == b"\x01"]) > 2:
            raise ConnectionError("gone")
        return answer

    peers = [("flaky", head.number, head.number)]
    syncer, penalties, seen = await fast_sync(client, engine, serve(node, dies_after_two_batches), peers)
    assert client.chain.head.number == 0 and client.chain.final_tip.number == 32 and not seen
    assert "gone" in penalties["flaky"]
    served.clear()
    syncer, penalties, seen = await fast_sync(client, engine, serve(node, lambda p, d, a: served.append(rlp.decode(d)) or a),
                                              [("honest", head.number, head.number)])
    starts = [int.from_bytes(r[1], "big") for r in served if r[0] == b"\x01"]
    assert min(starts) == 33  # the blocks stored are not asked for again
    assert client.chain.head.hash == head.hash and seen == [head.number] and not penalties
