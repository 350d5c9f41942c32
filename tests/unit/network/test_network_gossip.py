"""Gossip between real hosts: delivery, validation before forwarding, size limits, bans, bursts."""
from __future__ import annotations

import pytest
import trio
from libp2p.peer.peerinfo import info_from_p2p_addr
from multiaddr import Multiaddr

from network import MessageTooLarge, Network
from p2p_harness import Recorder, peer_ids, publish_raw, start, wait_for, wait_for_mesh


async def full_mesh(nursery, n: int, name: str = "blocks", **config) -> tuple[list[Network], list[Recorder]]:
    recorders = [Recorder() for _ in range(n)]
    boot = await start(nursery, topics={name: recorders[0]}, **config)
    nets = [boot] + [
        await start(nursery, topics={name: r}, bootnodes=(boot.multiaddr,), **config) for r in recorders[1:]
    ]
    await wait_for(lambda: all(len(net.peers()) == n - 1 for net in nets), timeout=15)
    await wait_for_mesh(nets, name)
    return nets, recorders


async def line(nursery, name: str = "blocks", **config) -> tuple[list[Network], list[Recorder]]:
    """a - b - c: a and c know only b (no peer exchange)."""
    recorders = [Recorder() for _ in range(3)]
    b = await start(nursery, topics={name: recorders[1]}, peer_exchange=False, **config)
    a = await start(nursery, topics={name: recorders[0]}, peer_exchange=False, bootnodes=(b.multiaddr,), **config)
    c = await start(nursery, topics={name: recorders[2]}, peer_exchange=False, bootnodes=(b.multiaddr,), **config)
    await wait_for(lambda: len(b.peers()) == 2 and len(a.peers()) == 1 and len(c.peers()) == 1)
    await wait_for_mesh([a, b, c], name)
    return [a, b, c], recorders


async def test_published_message_is_delivered_once_to_each_other_host(nursery):
    nets, recorders = await full_mesh(nursery, 4)
    sent = [b"block %d" % i for i in range(20)]
    for data in sent:
        await nets[0].publish("blocks", data)
    await wait_for(lambda: all(len(r.handled) >= len(sent) for r in recorders[1:]))
    await trio.sleep(0.3)  # time for any duplicate to show up
    for recorder in recorders[1:]:
        assert sorted(recorder.payloads()) == sorted(sent)  # each exactly once
        assert {peer for peer, _ in recorder.handled} <= {n.peer_id for n in nets}
    assert recorders[0].handled == []  # a host is not handed what it published itself
    assert nets[1].gossip.topic_id("blocks") == "/chameleon/11111111/blocks/1"


async def test_rejected_and_ignored_messages_are_not_forwarded_beyond_the_first_hop(nursery):
    (a, b, c), (_, rec_b, rec_c) = await line(nursery)
    await publish_raw(a, "blocks", b"bad block")
    await publish_raw(a, "blocks", b"ignore me")
    await a.publish("blocks", b"good block")  # sent after them, so c would have the others by now
    await wait_for(lambda: rec_c.payloads() == [b"good block"])
    await trio.sleep(0.2)
    assert sorted(d for _, d in rec_b.validated) == [b"bad block", b"good block", b"ignore me"]
    assert [d for _, d in rec_c.validated] == [b"good block"]  # never saw the other two
    assert rec_b.payloads() == [b"good block"]
    assert b.invalid_counts == {"bad_payload": 1}  # IGNORE costs nothing
    assert b.score(a.peer_id) == pytest.approx(-b.config.penalty_invalid_message, rel=1e-2)  # fading
    assert c.score(b.peer_id) == 0.0


async def test_oversized_message_is_dropped_before_the_validator_runs(nursery):
    (a, b, c), (_, rec_b, rec_c) = await line(nursery, topic_max_bytes={"blocks": 1000})
    with pytest.raises(MessageTooLarge):
        await a.publish("blocks", b"x" * 1001)  # our own publish refuses it
    await publish_raw(a, "blocks", b"y" * 2000)
    await a.publish("blocks", b"z" * 1000)
    await wait_for(lambda: rec_c.payloads() == [b"z" * 1000])
    await trio.sleep(0.2)
    assert [d for _, d in rec_b.validated] == [b"z" * 1000]
    assert b.invalid_counts == {"oversized": 1}
    assert b.score(a.peer_id) == pytest.approx(-b.config.penalty_oversized, rel=1e-2)


async def test_peer_sending_invalid_messages_is_banned_until_the_ban_expires(nursery):
    ban_s = 2.0
    config = dict(penalty_invalid_message=40.0, ban_threshold=-100.0, ban_duration_s=ban_s, peer_exchange=False)
    recorders = [Recorder() for _ in range(3)]
    b = await start(nursery, topics={"blocks": recorders[1]}, **config)
    c = await start(nursery, topics={"blocks": recorders[2]}, bootnodes=(b.multiaddr,), **config)
    bad = await start(nursery, topics={"blocks": recorders[0]}, bootnodes=(b.multiaddr, c.multiaddr), **config)
    await wait_for(lambda: all(len(n.peers()) == 2 for n in (b, c, bad)))
    await wait_for_mesh([b, c, bad], "blocks")

    for i in range(3):  # -40 each: the third crosses -100
        await publish_raw(bad, "blocks", b"bad %d" % i)
    await wait_for(lambda: bad.peer_id in b.blocked_peers() and bad.peer_id in c.blocked_peers())
    banned_at = trio.current_time()
    assert b.blocked_peers()[bad.peer_id].banned
    await wait_for(lambda: peer_ids(b) == {c.peer_id} and peer_ids(c) == {b.peer_id})
    await wait_for(lambda: not bad.host.get_network().get_connections(b.identity.peer_id))

    # The others keep exchanging messages.
    await b.publish("blocks", b"after the ban")
    await wait_for(lambda: b"after the ban" in recorders[2].payloads())

    # Gossipsub replays its recent messages to every new connection: the bad host would
    # send its three bad messages again on its return and be banned again at once.
    for _ in range(bad.gossip.router.mcache.history_size):
        bad.gossip.router.mcache.shift()

    # It cannot come back while banned: each connection is cut, no handshake.
    b_info = info_from_p2p_addr(Multiaddr(b.multiaddr))
    rejoined_at = None
    while rejoined_at is None:
        try:
            await bad.host.connect(b_info)
        except Exception:
            pass
        await trio.sleep(0.2)
        if bad.peer_id in peer_ids(b):
            rejoined_at = trio.current_time()
        else:
            assert trio.current_time() - banned_at < ban_s + 3.0, "never let back in"
    assert rejoined_at - banned_at >= ban_s - 0.3  # not before the ban ran out (±clock of the check)
    assert b.score(bad.peer_id) == 0.0  # a fresh start


async def test_burst_of_300_small_messages_all_arrive(nursery):
    nets, recorders = await full_mesh(nursery, 4, name="transactions")
    sent = [b"tx %04d" % i + b"." * 100 for i in range(300)]
    for data in sent:
        await nets[0].publish("transactions", data)
    await wait_for(lambda: all(len(r.handled) >= 300 for r in recorders[1:]), timeout=30)
    for recorder in recorders[1:]:
        assert sorted(recorder.payloads()) == sorted(sent)
