"""Sync by range from several peers: a fresh node reaches the same head and state root;
peers that answer garbage, forged blocks or time out are penalized and the rest suffice."""
from __future__ import annotations

import dataclasses

import pytest
import rlp
import trio

from node.block_import import BlockImporter
from node.sync import (
    MAX_BLOCKS_PER_REQUEST,
    Syncer,
    SyncProtocolError,
    answer_get_blocks,
    decode_blocks_response,
    decode_get_blocks,
    encode_get_blocks,
)
from test_block_import import author_block, make_node, transfer

BLOCKS = 2 * MAX_BLOCKS_PER_REQUEST + 9


@pytest.fixture(scope="module")
def source():
    node, engine = make_node()
    nonce = 0
    for i in range(BLOCKS):
        txs = []
        if i % 16 == 0:
            txs, nonce = [transfer(nonce)], nonce + 1
        author_block(node, engine, txs, 10 + i)
    return node


async def test_a_fresh_node_syncs_from_honest_and_lying_peers(source):
    client, engine = make_node()
    seen, penalties = [], {}

    async def request(peer: str, data: bytes) -> bytes:
        await trio.sleep(0)
        if peer == "garbage":
            return b"\xc3\x01\x02\x03"
        if peer == "slow":
            await trio.sleep(60)
        answer = answer_get_blocks(source.chain, data)
        if peer == "forger":
            response = decode_blocks_response(answer)
            first = response.blocks[0]
            forged = dataclasses.replace(first, header=first.header.copy(gas_used=first.header.gas_used + 1))
            return rlp.encode([[forged.encode(), *[b.encode() for b in response.blocks[1:]]],
                               list(response.justifications), response.finalized_number, response.finalized_hash,
                               response.justification])
        return answer

    head = source.chain.head.number
    syncer = Syncer(BlockImporter(client, engine), request, timeout=0.5,
                    on_block=lambda block, seal: seen.append(block.header.number),
                    penalize=lambda peer, reason: penalties.setdefault(peer, reason))
    imported = await syncer.run([(peer, head, 0) for peer in ("garbage", "forger", "slow", "honest")])
    assert client.chain.head == source.chain.head and imported == BLOCKS == len(seen)
    assert seen == list(range(1, BLOCKS + 1))
    assert client.chain.state_at(client.chain.head).state_root == source.chain.head.state_root
    assert set(penalties) == {"garbage", "forger", "slow"}
    assert "timed out" in penalties["slow"] and "invalid block 1" in penalties["forger"]
    assert "honest" not in penalties


async def test_nothing_to_do_when_no_peer_is_ahead(source):
    client, engine = make_node()
    syncer = Syncer(BlockImporter(client, engine), None)
    assert await syncer.run([("peer", 0, 0)]) == 0


def test_requests_are_bounded_and_checked(source):
    assert decode_get_blocks(encode_get_blocks(5, 10)) == (5, 10, False)
    assert decode_get_blocks(encode_get_blocks(5, 10, receipts=True)) == (5, 10, True)
    for bad, reason in [(encode_get_blocks(1, MAX_BLOCKS_PER_REQUEST + 1), "count"),
                        (rlp.encode([9, 1, 1]), "unknown request kind"), (b"\x00" * 100, "exceeds"),
                        (rlp.encode([1, 1, 1, 2]), "or rlp\\(\\[1, start, count, 1\\]\\)"),
                        (b"\xff", "not rlp")]:
        with pytest.raises(SyncProtocolError, match=reason):
            answer_get_blocks(source.chain, bad)
    response = decode_blocks_response(answer_get_blocks(source.chain, encode_get_blocks(BLOCKS - 2, 100)))
    assert [b.header.number for b in response.blocks] == [BLOCKS - 2, BLOCKS - 1, BLOCKS]
