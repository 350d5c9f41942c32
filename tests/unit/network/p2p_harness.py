"""Real py-libp2p hosts in one process on 127.0.0.1, on ports the OS picks."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import trio

from network import ACCEPT, IGNORE, REJECT, ChainPoint, Network, NetworkConfig, NodeIdentity, Status, Validation

GENESIS = b"\x11" * 32
CHAIN_ID = 7

# Quick enough for tests: short intervals, short bans.
TEST_CONFIG = NetworkConfig(
    listen_port=0,
    px_interval_s=0.3,
    dial_backoff_initial_s=0.1,
    dial_backoff_max_s=0.5,
    handshake_timeout_s=3.0,
    status_interval_s=60.0,
    request_timeout_s=3.0,
)


class StatusBox:
    """A node's status that a test can move forward."""

    def __init__(self, chain_id: int = CHAIN_ID, genesis: bytes = GENESIS, head: int = 5) -> None:
        self.value = Status(chain_id, genesis, ChainPoint(head, bytes([head]) * 32), ChainPoint(head - 2, bytes([head - 2]) * 32))

    def __call__(self) -> Status:
        return self.value

    def advance(self, head: int) -> None:
        self.value = replace(self.value, head=ChainPoint(head, bytes([head]) * 32))


class Recorder:
    """A topic's callbacks: payloads starting b"bad" are REJECTed, b"ignore" IGNOREd."""

    def __init__(self) -> None:
        self.validated: list[tuple[str, bytes]] = []
        self.handled: list[tuple[str, bytes]] = []

    def validate(self, peer: str, data: bytes) -> Validation:
        self.validated.append((peer, data))
        if data.startswith(b"bad"):
            return REJECT("bad_payload")
        if data.startswith(b"ignore"):
            return IGNORE
        return ACCEPT

    async def handle(self, peer: str, data: bytes) -> None:
        self.handled.append((peer, data))

    def payloads(self) -> list[bytes]:
        return [data for _, data in self.handled]


async def start(
    nursery: trio.Nursery,
    *,
    status: Callable[[], Status] | None = None,
    identity: NodeIdentity | None = None,
    topics: dict[str, Recorder] | None = None,
    topic_max_bytes: dict[str, int] | None = None,
    **config: object,
) -> Network:
    """A running host; its topics are subscribed before it starts, as the node will do."""
    net = Network(replace(TEST_CONFIG, **config), identity or NodeIdentity.generate(), status or StatusBox())
    for name, recorder in (topics or {}).items():
        limit = (topic_max_bytes or {}).get(name)
        await net.subscribe(name, recorder.validate, recorder.handle, max_bytes=limit)
    await nursery.start(net.run)
    return net


async def wait_for_mesh(nets: list[Network], name: str, timeout: float = 10.0) -> None:
    """Until every host has each of its handshaked peers in its gossipsub mesh for ``name``."""

    def meshed() -> bool:
        for net in nets:
            mesh = net.gossip.router.mesh.get(net.gossip.topic_id(name), set())
            if {p.to_base58() for p in mesh} != peer_ids(net) or not mesh:
                return False
        return True

    await wait_for(meshed, timeout)


async def publish_raw(net: Network, name: str, data: bytes) -> None:
    """Publish below our own checks, as a misbehaving peer would."""
    await net.gossip.pubsub.publish(net.gossip.topic_id(name), data)


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(interval)


def peer_ids(net: Network) -> set[str]:
    return {p.peer_id for p in net.peers()}
