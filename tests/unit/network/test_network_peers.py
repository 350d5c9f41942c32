"""Connections, the status handshake, refusals and peer exchange between real hosts."""
from __future__ import annotations

import socket

import trio
from libp2p.peer.peerinfo import info_from_p2p_addr
from multiaddr import Multiaddr

from network import NodeIdentity
from p2p_harness import GENESIS, StatusBox, peer_ids, start, wait_for


async def test_two_hosts_connect_and_handshake(nursery):
    status_b = StatusBox(head=9)
    a = await start(nursery, peer_exchange=False)
    b = await start(nursery, status=status_b, peer_exchange=False, bootnodes=(a.multiaddr,))
    await wait_for(lambda: len(a.peers()) == 1 and len(b.peers()) == 1)

    (seen_by_a,) = a.peers()
    assert seen_by_a.peer_id == b.peer_id
    assert seen_by_a.direction == "inbound"
    assert seen_by_a.multiaddr == b.multiaddr  # its listen address, from its hello
    assert seen_by_a.head.number == 9 and seen_by_a.head.hash == bytes([9]) * 32
    assert seen_by_a.finalized.number == 7
    assert seen_by_a.score == 0.0
    (seen_by_b,) = b.peers()
    assert (seen_by_b.peer_id, seen_by_b.direction, seen_by_b.head.number) == (a.peer_id, "outbound", 5)

    status_b.advance(12)  # the node moved on: a refresh carries the new head
    await a.refresh_status(b.peer_id)
    assert a.peers()[0].head.number == 12


async def test_host_with_another_genesis_is_refused_with_reason(nursery):
    a = await start(nursery, peer_exchange=False)
    other = await start(nursery, status=StatusBox(genesis=b"\x99" * 32), peer_exchange=False,
                        bootnodes=(a.multiaddr,))
    await wait_for(lambda: other.peer_id in a.blocked_peers() and a.peer_id in other.blocked_peers())
    assert a.blocked_peers()[other.peer_id].reason == "genesis_mismatch"
    assert not a.blocked_peers()[other.peer_id].banned
    assert other.blocked_peers()[a.peer_id].reason == "genesis_mismatch"
    await wait_for(lambda: not a.host.get_network().get_connections(other.identity.peer_id))
    assert a.peers() == [] and other.peers() == []

    # Not redialled while refused: the bootnode task waits out the refusal.
    await trio.sleep(0.5)
    assert not other.host.get_network().get_connections(a.identity.peer_id)
    # Dialling in anyway (below our own dial checks) gets it cut off again at once.
    await other.host.connect(info_from_p2p_addr(Multiaddr(a.multiaddr)))
    await wait_for(lambda: not a.host.get_network().get_connections(other.identity.peer_id))
    assert a.peers() == []
    assert other.gossip.topic_id("blocks") != a.gossip.topic_id("blocks")  # separate meshes


async def test_another_chain_id_is_refused(nursery):
    a = await start(nursery, peer_exchange=False)
    other = await start(nursery, status=StatusBox(chain_id=8), peer_exchange=False)
    await other.connect(a.multiaddr)
    await wait_for(lambda: other.peer_id in a.blocked_peers())
    assert a.blocked_peers()[other.peer_id].reason == "chain_id_mismatch"


async def test_peer_exchange_connects_everyone_through_one_bootnode(nursery):
    boot = await start(nursery)
    others = [await start(nursery, bootnodes=(boot.multiaddr,)) for _ in range(3)]
    everyone = [boot, *others]
    await wait_for(lambda: all(len(n.peers()) == 3 for n in everyone), timeout=15)
    for net in everyone:
        assert peer_ids(net) == {n.peer_id for n in everyone} - {net.peer_id}


async def test_peer_cap_and_goodbye_with_other_peers(nursery):
    a = await start(nursery, max_peers=2, peer_exchange=False)
    first = [await start(nursery, peer_exchange=False, bootnodes=(a.multiaddr,)) for _ in range(2)]
    await wait_for(lambda: len(a.peers()) == 2)
    late = await start(nursery, peer_exchange=False, bootnodes=(a.multiaddr,))
    # a is full: it answers late's hello with a goodbye naming its peers, and late dials them.
    await wait_for(lambda: peer_ids(late) == {n.peer_id for n in first})
    await trio.sleep(0.5)
    assert peer_ids(a) == {n.peer_id for n in first}
    assert late.peer_id not in peer_ids(a)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_bootnode_that_starts_later_is_dialled_with_backoff(nursery):
    late_identity = NodeIdentity.generate()
    port = _free_port()
    a = await start(nursery, peer_exchange=False, bootnodes=(late_identity.multiaddr(port),))
    await trio.sleep(1.0)  # several failed dials
    late = await start(nursery, identity=late_identity, listen_port=port, peer_exchange=False)
    await wait_for(lambda: peer_ids(a) == {late.peer_id}, timeout=5)
    assert GENESIS  # same chain
