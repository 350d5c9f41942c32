"""Request/response between real hosts: big answers, failing handlers, garbage, timeouts."""
from __future__ import annotations

import os

import pytest
import trio

from network import Network, PeerMisbehaviour, RemoteError, RequestError, RequestTimeout
from network.frames import LENGTH_PREFIX, encode_frame
from network.reqresp import PROTOCOL_ID
from p2p_harness import start, wait_for


async def pair(nursery) -> tuple[Network, Network]:
    server = await start(nursery, peer_exchange=False)
    client = await start(nursery, peer_exchange=False, bootnodes=(server.multiaddr,))
    await wait_for(lambda: len(server.peers()) == 1 and len(client.peers()) == 1)
    return client, server


BLOB = os.urandom(300 * 1024)


async def serve(peer: str, request: bytes) -> bytes:
    if request == b"blocks":
        return BLOB
    if request == b"crash":
        raise RuntimeError("handler bug")
    if request == b"nonsense":
        raise PeerMisbehaviour("bad_sync_request")
    if request == b"slow":
        await trio.sleep(5)
    return b"echo " + request


async def test_request_response_of_a_few_hundred_kilobytes(nursery):
    client, server = await pair(nursery)
    server.set_request_handler(serve)
    assert await client.request(server.peer_id, b"blocks") == BLOB
    assert await client.request(server.peer_id, b"x" * 60_000) == b"echo " + b"x" * 60_000


async def test_failing_handler_answers_an_error_and_the_host_carries_on(nursery):
    client, server = await pair(nursery)
    server.set_request_handler(serve)
    with pytest.raises(RemoteError) as info:
        await client.request(server.peer_id, b"crash")
    assert info.value.detail == "internal_error"
    assert server.score(client.peer_id) == 0.0  # our bug is not the peer's fault
    with pytest.raises(RemoteError) as info:
        await client.request(server.peer_id, b"nonsense")
    assert info.value.detail == "bad_sync_request"
    assert server.invalid_counts == {"bad_sync_request": 1}
    assert server.score(client.peer_id) < 0
    assert await client.request(server.peer_id, b"still there") == b"echo still there"


async def test_garbage_frames_cost_score_and_do_not_crash_the_server(nursery):
    client, server = await pair(nursery)
    server.set_request_handler(serve)
    # A length prefix far over the limit: refused before a byte of body is read.
    stream = await client.host.new_stream(server.identity.peer_id, [PROTOCOL_ID])
    await stream.write(LENGTH_PREFIX.pack(0xFFFFFFFF) + b"junk")
    await wait_for(lambda: server.invalid_counts.get("request_oversized_frame") == 1)
    await stream.reset()
    # A frame cut short: the peer simply went away, nothing to score.
    stream = await client.host.new_stream(server.identity.peer_id, [PROTOCOL_ID])
    await stream.write(LENGTH_PREFIX.pack(100) + b"only ten b")
    await stream.close()
    await trio.sleep(0.2)
    assert server.invalid_counts == {"request_oversized_frame": 1}
    assert server.score(client.peer_id) < 0
    assert await client.request(server.peer_id, b"ping") == b"echo ping"


async def test_garbage_answer_costs_the_responder_score(nursery):
    client, server = await pair(nursery)

    async def garbage(stream) -> None:
        await stream.read(1024)
        await stream.write(encode_frame(b"\x07not a status byte", 100))
        await stream.close()

    server.host.set_stream_handler(PROTOCOL_ID, garbage)
    with pytest.raises(RequestError) as info:
        await client.request(server.peer_id, b"hello")
    assert info.value.reason == "malformed_response"
    assert client.invalid_counts == {"malformed_response": 1}

    async def oversized(stream) -> None:
        await stream.read(1024)
        await stream.write(LENGTH_PREFIX.pack(10_000) + b"\x00" * 10_000)
        await stream.close()

    server.host.set_stream_handler(PROTOCOL_ID, oversized)
    with pytest.raises(RequestError) as info:
        await client.request(server.peer_id, b"hello", max_response_bytes=1000)
    assert info.value.reason == "oversized_frame"
    assert client.invalid_counts["response_oversized_frame"] == 1


async def test_timeout_and_unknown_peer(nursery):
    client, server = await pair(nursery)
    server.set_request_handler(serve)
    with pytest.raises(RequestTimeout):
        await client.request(server.peer_id, b"slow", timeout=0.3)
    assert client.invalid_counts == {"request_timeout": 1}
    assert client.score(server.peer_id) < 0
    stranger = await start(nursery, peer_exchange=False)
    with pytest.raises(RequestError) as info:
        await client.request(stranger.peer_id, b"hello")
    assert info.value.reason == "not_connected"
    assert await client.request(server.peer_id, b"after") == b"echo after"
