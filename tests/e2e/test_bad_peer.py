"""A peer that sends garbage, oversized or badly signed consensus messages to a real
validator is banned, and the network keeps going: the validator keeps finalizing and an
honest full node stays connected and in step."""
from __future__ import annotations

import json

import pytest
import trio

from consensus.keys import Signer
from consensus.messages import Vote
from consensus.types import VoteType
from network import IGNORE, ChainPoint, Network, NetworkConfig, NodeIdentity, Status
from node.gossip_messages import encode_vote
from runtime.chainspec import load_chain_spec
from runtime.executive import build_genesis
from runtime.primitives.hashing import keccak256
from runtime.state.store import MemoryStore
from tests.e2e.devnet_helpers import finalized, init_devnet, wait_until

pytestmark = pytest.mark.e2e


async def test_a_misbehaving_peer_is_banned_and_the_network_goes_on(node_factory, tmp_path):
    (node_dir,) = init_devnet(tmp_path / "devnet", "bft", validators=1)
    spec_path = tmp_path / "devnet" / "chain.json"
    validator = node_factory(command="run", datadir=node_dir, name="validator")
    info = validator.rpc("chameleon_nodeInfo")
    honest = node_factory("--chain", str(spec_path), "--bootnodes", info["multiaddr"], command="run", name="honest")
    await trio.to_thread.run_sync(lambda: wait_until(lambda: finalized(honest) >= 2, 30, "the full node follows"))

    spec = load_chain_spec(spec_path)
    genesis, _ = build_genesis(spec, MemoryStore())
    status = Status(spec.chain_id, genesis.hash, ChainPoint(0, genesis.hash), ChainPoint(0, genesis.hash))
    config = NetworkConfig(listen_port=0, bootnodes=(info["multiaddr"],), peer_exchange=False,
                           dial_backoff_initial_s=0.2, dial_backoff_max_s=0.5,
                           topic_max_bytes={"consensus": 1000 * 1024})  # lets it send what the node refuses
    bad = Network(config, NodeIdentity.generate(), status=lambda: status)
    outsider = Signer(keccak256(b"not a validator"))
    forged = [Vote(VoteType.PREVOTE, 3, r, keccak256(b"x"), outsider.address).sign(outsider, spec.chain_id)
              for r in range(2)]
    async with trio.open_nursery() as nursery:
        await nursery.start(bad.run)
        await bad.subscribe("consensus", lambda peer, data: IGNORE, lambda peer, data: None)
        with trio.fail_after(20):
            while not bad.peers():
                await trio.sleep(0.1)
        await trio.sleep(1.5)  # the gossip mesh forms (heartbeat 1 s)
        # Garbage, votes by a non-validator, an oversized message: each costs the sender score.
        for payload in (b"\x00garbage", encode_vote(forged[0]), b"\xc1" * (950 * 1024), b"\xff" * 10,
                        encode_vote(forged[1])):
            await bad.publish("consensus", payload)
            await trio.sleep(0.3)
        with trio.fail_after(20):
            while bad.peers():
                await trio.sleep(0.2)
        nursery.cancel_scope.cancel()

    log = validator.stderr_text()
    assert "peer_banned" in log, log[-3000:]
    assert "not a validator" in log or "not an RLP encoding" in log
    peers = validator.rpc("chameleon_peers")
    assert [p["id"] for p in peers] == [honest.rpc("chameleon_nodeInfo")["id"]]
    mark = finalized(validator)
    await trio.to_thread.run_sync(lambda: wait_until(
        lambda: finalized(validator) >= mark + 2 and finalized(honest) >= mark + 2, 30, "the network goes on"))
    assert "Traceback" not in log and json.dumps(peers)
