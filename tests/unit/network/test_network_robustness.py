"""Garbage on any protocol costs the sender score and takes nothing down; failures surface."""
from __future__ import annotations

import os

import pytest
import trio
from libp2p.pubsub.pb import rpc_pb2
from libp2p.utils import encode_varint_prefixed

from network import NetworkError
from network.frames import LENGTH_PREFIX
from network.status import PROTOCOL_ID as STATUS_PROTOCOL_ID
from p2p_harness import Recorder, start, wait_for, wait_for_mesh


async def test_garbage_on_gossip_and_status_streams_costs_score_and_crashes_nothing(nursery):
    rec_a, rec_b = Recorder(), Recorder()
    a = await start(nursery, topics={"blocks": rec_a}, peer_exchange=False, ban_threshold=-1e9)
    b = await start(nursery, topics={"blocks": rec_b}, peer_exchange=False, bootnodes=(a.multiaddr,))
    await wait_for(lambda: len(a.peers()) == 1 and len(b.peers()) == 1)
    await wait_for_mesh([a, b], "blocks")
    a_id = a.identity.peer_id

    # Bytes that are no protobuf at all on the gossipsub stream (py-libp2p alone would let
    # the DecodeError end the connection's service, and with it the swarm).
    stream = await b.host.new_stream(a_id, ["/meshsub/1.1.0"])
    await stream.write(encode_varint_prefixed(b"\xff\xff\xff\xff not protobuf"))
    await wait_for(lambda: a.invalid_counts.get("malformed_stream") == 1)

    # A well-formed message whose key is garbage (its signature check raises in py-libp2p).
    msg = rpc_pb2.Message(
        data=b"hello", topicIDs=[a.gossip.topic_id("blocks")], from_id=os.urandom(34),
        seqno=b"\x00" * 8, key=b"garbage key", signature=b"sig",
    )
    stream = await b.host.new_stream(a_id, ["/meshsub/1.1.0"])
    await stream.write(encode_varint_prefixed(rpc_pb2.RPC(publish=[msg]).SerializeToString()))
    await wait_for(lambda: a.invalid_counts.get("malformed_gossip") == 1)

    # A status frame announcing 4 GiB.
    stream = await b.host.new_stream(a_id, [STATUS_PROTOCOL_ID])
    await stream.write(LENGTH_PREFIX.pack(0xFFFFFFFF))
    await wait_for(lambda: a.invalid_counts.get("status_oversized_frame") == 1)

    assert a.score(b.peer_id) < -100
    assert rec_a.validated == []  # none of it reached the node's validator
    # Everything still runs: a fresh host joins and gossip flows.
    rec_c = Recorder()
    c = await start(nursery, topics={"blocks": rec_c}, peer_exchange=False, bootnodes=(a.multiaddr,))
    await wait_for(lambda: len(c.peers()) == 1)
    await wait_for_mesh([c], "blocks")
    await c.publish("blocks", b"still alive")
    await wait_for(lambda: rec_a.payloads() == [b"still alive"])


async def test_port_in_use_is_an_error(nursery):
    a = await start(nursery)
    # py-libp2p listens with SO_REUSEPORT: without our check both would "listen" there.
    with pytest.raises(NetworkError, match="cannot listen"):
        await start(nursery, listen_port=a.listen_port)


async def test_failure_inside_libp2p_surfaces_as_one_network_error():
    async def boom() -> None:
        raise RuntimeError("inside py-libp2p")

    with pytest.raises(BaseExceptionGroup) as info:
        async with trio.open_nursery() as nursery:
            a = await start(nursery)
            a.gossip.pubsub.manager.run_task(boom)
            await trio.sleep(5)
    assert info.group_contains(NetworkError, match="inside py-libp2p")
    assert not info.group_contains(RuntimeError)  # one error for the node, not libp2p's tree
