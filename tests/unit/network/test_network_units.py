"""The pure parts of network/: identity file, frames, status and peer-exchange codecs, scores."""
from __future__ import annotations

import os
import stat

import pytest
import rlp
from libp2p.pubsub.pb import rpc_pb2

from network.config import NetworkConfig
from network.errors import FrameError, MessageTooLarge, PeerMisbehaviour, StreamEnded
from network.frames import encode_frame, read_frame
from network.gossip import compute_message_id, compute_topic
from network.identity import NodeIdentity, load_or_create_identity
from network.peer_exchange import decode_addrs, encode_addrs
from network.scoring import PeerScores
from network.status import (
    ChainPoint,
    Goodbye,
    Hello,
    Status,
    compute_mismatch,
    decode_answer,
    decode_hello,
    encode_goodbye,
    encode_hello,
)


def test_nodekey_created_0600_and_reused(tmp_path):
    first = load_or_create_identity(tmp_path)
    path = tmp_path / "network" / "nodekey"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_or_create_identity(tmp_path)
    assert again.peer_id == first.peer_id
    peer = first.peer_id.to_base58()
    assert peer.startswith("12D3KooW")  # ed25519 identity multihash
    assert first.multiaddr(30333) == f"/ip4/127.0.0.1/tcp/30333/p2p/{peer}"


def test_nodekey_garbage_is_an_error(tmp_path):
    (tmp_path / "network").mkdir()
    (tmp_path / "network" / "nodekey").write_text("not hex")
    with pytest.raises(ValueError, match="not a hex node key"):
        load_or_create_identity(tmp_path)


def test_identity_from_seed_is_deterministic():
    seed = bytes(range(32))
    assert NodeIdentity.from_seed(seed).peer_id == NodeIdentity.from_seed(seed).peer_id
    assert NodeIdentity.from_seed(seed).seed == seed


class Trickle:
    """A stream that hands out at most ``step`` bytes per read, like a busy muxer."""

    def __init__(self, data: bytes, step: int = 3) -> None:
        self.data = data
        self.step = step

    async def read(self, n: int | None = None) -> bytes:
        take = min(self.step, n or self.step)
        chunk, self.data = self.data[:take], self.data[take:]
        return chunk


async def test_read_frame_loops_over_short_reads():
    payload = os.urandom(1000)
    assert await read_frame(Trickle(encode_frame(payload, 2000), step=7), 2000) == payload


async def test_read_frame_refuses_oversized_before_reading_body():
    stream = Trickle(encode_frame(b"x" * 100, 100) + b"never read", step=1000)
    with pytest.raises(FrameError) as info:
        await read_frame(stream, 99)
    assert info.value.reason == "oversized_frame"
    assert stream.data == b"x" * 100 + b"never read"  # only the length prefix was read


async def test_read_frame_truncated():
    with pytest.raises(StreamEnded):
        await read_frame(Trickle(encode_frame(b"abcdef", 10)[:-2]), 10)


def test_encode_frame_refuses_our_own_oversized_message():
    with pytest.raises(MessageTooLarge):
        encode_frame(b"x" * 11, 10)


STATUS = Status(7, b"\x11" * 32, ChainPoint(10, b"\x22" * 32), ChainPoint(0, b"\x33" * 32))


def test_hello_round_trip():
    hello = Hello(STATUS, ("/ip4/127.0.0.1/tcp/30333",))
    assert decode_hello(encode_hello(hello)) == hello


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\x00garbage",
        rlp.encode([1, 2, 3]),
        rlp.encode([1, 7, b"\x11" * 31, 1, b"\x22" * 32, 0, b"\x33" * 32, []]),  # short hash
        rlp.encode([2, 7, b"\x11" * 32, 1, b"\x22" * 32, 0, b"\x33" * 32, []]),  # version
        rlp.encode([1, 7, b"\x11" * 32, 1, b"\x22" * 32, 0, b"\x33" * 32, [b"not a multiaddr"]]),
        rlp.encode([1, 7, b"\x11" * 32, b"\x00\x01", b"\x22" * 32, 0, b"\x33" * 32, []]),  # leading zero
    ],
)
def test_hello_garbage_is_misbehaviour(data):
    with pytest.raises(PeerMisbehaviour) as info:
        decode_hello(data)
    assert info.value.reason == "malformed_status"


def test_mismatch_reasons():
    assert compute_mismatch(7, b"\x11" * 32, STATUS) is None
    assert compute_mismatch(8, b"\x11" * 32, STATUS) == "chain_id_mismatch"
    assert compute_mismatch(7, b"\x12" * 32, STATUS) == "genesis_mismatch"


def test_peer_exchange_codec():
    peer = NodeIdentity.from_seed(bytes(32)).peer_id.to_base58()
    addrs = [f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer}" for port in (1, 2)]
    assert decode_addrs(encode_addrs(addrs), 16) == addrs
    with pytest.raises(PeerMisbehaviour):
        decode_addrs(encode_addrs(addrs), 1)
    with pytest.raises(PeerMisbehaviour):
        decode_addrs(encode_addrs(["/ip4/127.0.0.1/tcp/1"]), 16)  # no /p2p/ part


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_scores_fade_and_ban_at_threshold():
    clock = FakeClock()
    scores = PeerScores(ban_threshold=-50, ban_duration_s=60, half_life_s=10, clock=clock)
    assert not scores.penalize("p", "bad_block", 30)
    clock.now += 10  # -30 fades to -15
    assert scores.get("p") == pytest.approx(-15)
    assert not scores.penalize("p", "bad_block", 30)  # -45
    assert scores.penalize("p", "oversized", 30)  # -75 < -50
    assert scores.invalid == {"bad_block": 2, "oversized": 1}
    block = scores.ban("p", "oversized")
    assert scores.blocked("p") == block and block.banned
    assert not scores.penalize("p", "bad_block", 1000)  # no re-ban while banned
    clock.now += 60
    assert scores.blocked("p") is None
    assert scores.expire() == ["p"]
    assert scores.get("p") == 0.0  # a fresh start after the ban


def test_refusal_is_not_a_ban():
    clock = FakeClock()
    scores = PeerScores(ban_threshold=-50, ban_duration_s=60, half_life_s=10, clock=clock)
    block = scores.refuse("q", "genesis_mismatch", 5)
    assert not block.banned and scores.blocked_peers() == {"q": block}
    clock.now += 5
    assert scores.blocked_peers() == {} and scores.expire() == ["q"]


def test_goodbye_round_trip_and_hello_still_decodes():
    peer = NodeIdentity.from_seed(bytes(32)).peer_id.to_base58()
    goodbye = Goodbye("too_many_peers", encode_addrs([f"/ip4/127.0.0.1/tcp/9/p2p/{peer}"]))
    assert decode_answer(encode_goodbye(goodbye)) == goodbye
    hello = Hello(STATUS, ())
    assert decode_answer(encode_hello(hello)) == hello


def test_message_id_is_a_content_address():
    def message(topic: str, data: bytes, seqno: bytes) -> rpc_pb2.Message:
        return rpc_pb2.Message(data=data, topicIDs=[topic], from_id=b"whoever", seqno=seqno)

    same = compute_message_id(message("/chameleon/11111111/transactions/1", b"tx", b"\x01"))
    assert same == compute_message_id(message("/chameleon/11111111/transactions/1", b"tx", b"\x02"))
    assert same != compute_message_id(message("/chameleon/11111111/blocks/1", b"tx", b"\x01"))
    assert compute_topic(b"\xab\xcd\xef\x01" + b"\x00" * 28, "blocks") == "/chameleon/abcdef01/blocks/1"


def test_config_checks():
    with pytest.raises(ValueError):
        NetworkConfig(topic_max_bytes={"blocks": 2 * 1024 * 1024})
    with pytest.raises(ValueError):
        NetworkConfig(ban_threshold=10)
    assert NetworkConfig().topic_limit("consensus") == 64 * 1024
    assert NetworkConfig().topic_limit("anything else") == 64 * 1024
