"""Blocks built by one node, imported by another: same state, byte for byte; every forgery
is refused with its reason; a longer fork becomes the head through the engine's choice."""
from __future__ import annotations

import dataclasses

import pytest
from eth_account import Account

from consensus.keys import Signer
from consensus.poa.core import PoaCore, seal_header
from consensus.registry import get_engine
from node.block_import import BlockImporter, BlockRefused, UnknownParent, WireBlock
from node.chain import Chain
from node.dev import dev_keys, dev_spec_json
from node.service import Node
from node.txpool import TxPool
from runtime.chainspec import parse_chain_spec
from runtime.primitives.transaction import decode_transaction
from runtime.state.store import MemoryStore

(AUTHOR, AUTHOR_KEY), (_, USER_KEY) = dev_keys(2)
USER = Account.from_key(USER_KEY)


def poa_spec():
    data = dev_spec_json()
    data["consensus"] = {"engine": "poa", "authorities": ["0x" + AUTHOR.hex()], "slotDuration": 1}
    return parse_chain_spec(data)


def transfer(nonce: int, value: int = 1):
    fields = {"chainId": 31337, "nonce": nonce, "gas": 21000, "to": "0x" + "44" * 20, "value": value, "type": 2,
              "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
    return decode_transaction(bytes(USER.sign_transaction(fields).raw_transaction))


def make_node():
    spec = poa_spec()
    chain = Chain(MemoryStore(), spec)
    engine = get_engine(spec.consensus, chain_id=spec.chain_id)
    return Node(chain, TxPool(), automine=False), engine


def author_block(node, engine, txs, timestamp, key=AUTHOR_KEY) -> WireBlock:
    """What the slot's author does: build on its head, seal, store, and send."""
    built = node.chain.build(txs, timestamp=timestamp)
    seal = seal_header(built.header, Signer(key), chain_id=engine.chain_id, validators=engine.validators,
                       slot_duration=engine.slot_duration)
    block = node.commit_built(built, seal=seal.encode())
    return WireBlock.from_block(block, seal.encode())


def test_a_follower_reaches_the_same_state_from_the_wire():
    author, engine = make_node()
    follower, follower_engine = make_node()
    importer = BlockImporter(follower, follower_engine)
    batches = [[transfer(0), transfer(1)], [], [transfer(2), transfer(3), transfer(4)]]
    wire = [author_block(author, engine, txs, 10 + i) for i, txs in enumerate(batches)]
    for block in wire:
        stored, is_head = importer.import_block(WireBlock.decode(block.encode()))
        assert is_head and stored.hash == block.header.hash
    assert follower.chain.head == author.chain.head
    assert follower.chain.get_seal(follower.chain.head.hash) == author.chain.get_seal(author.chain.head.hash)
    assert importer.import_block(wire[-1])[1] is False  # known: nothing written again


def test_forgeries_are_refused_with_their_reason():
    author, engine = make_node()
    follower, follower_engine = make_node()
    importer = BlockImporter(follower, follower_engine)
    good = author_block(author, engine, [transfer(0)], 10)
    impostor = make_node()
    forged = author_block(*impostor, [transfer(0)], 10, key=dev_keys(3)[2][1])
    with pytest.raises(BlockRefused, match="slot 10 belongs to"):
        importer.import_block(forged)
    with pytest.raises(BlockRefused, match="transactions_root mismatch|invalid here"):
        importer.import_block(dataclasses.replace(good, transactions=(transfer(0, value=2),)))
    with pytest.raises(BlockRefused, match="needs a seal"):
        importer.import_block(dataclasses.replace(good, seal=None))
    with pytest.raises(BlockRefused, match="not an RLP encoding"):
        WireBlock.decode(b"\xff\x00garbage")
    import rlp
    header, _, data, seal = rlp.decode(good.encode())
    with pytest.raises(BlockRefused, match="transaction 0: "):
        WireBlock.decode(rlp.encode([header, [b"\x02\x01"], data, seal]))
    later = author_block(author, engine, [], 11)
    with pytest.raises(UnknownParent, match="is unknown"):
        importer.import_block(later)
    assert follower.chain.head.number == 0  # nothing stored
    importer.import_block(good)
    importer.import_block(later)
    assert follower.chain.head == author.chain.head


def test_a_longer_fork_is_kept_aside_then_chosen():
    node, engine = make_node()
    importer = BlockImporter(node, engine)
    other, other_engine = make_node()
    ours = [author_block(node, engine, [transfer(0)], 10)]
    theirs = [author_block(other, other_engine, [transfer(0, value=5)], 12),
              author_block(other, other_engine, [transfer(1)], 13)]
    for block in theirs:
        stored, is_head = importer.import_block(block)
        assert not is_head
    assert node.chain.head == ours[0].header
    node.switch_head(theirs[-1].header.hash)
    assert node.chain.head == theirs[-1].header
    assert node.chain.get_transaction_location(ours[0].transactions[0].hash) is None
