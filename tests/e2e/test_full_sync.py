"""A fresh full node joins with --bootnodes, fast-syncs a chain of more than 1,000 blocks
(with transactions: final blocks without execution, then the head's state) and reaches the
same state root; it keeps every old block but not old states; a node of another genesis is
refused."""
from __future__ import annotations

import json
import shutil

import pytest

from tests.e2e.devnet_helpers import free_port_range, init_devnet, wait_until
from tests.e2e.nodes import DEV_ADDRESSES, DEV_KEYS, RpcFailure, raw_hex, sign_transfer

pytestmark = pytest.mark.e2e
BLOCKS = 1000


@pytest.fixture(scope="module")
def long_chain(tmp_path_factory):
    """A one-validator bft devnet sealing as fast as consensus goes, stopped past BLOCKS blocks."""
    from tests.e2e.nodes import NodeFactory

    base = tmp_path_factory.mktemp("longchain")
    factory = NodeFactory(base)
    try:
        (node_dir,) = init_devnet(base / "devnet", "bft", validators=1, block_time=0)
        validator = factory(command="run", datadir=node_dir, name="validator")
        for nonce in range(40):
            validator.send_raw(raw_hex(sign_transfer(DEV_KEYS[2], nonce, DEV_ADDRESSES[6], 1000 + nonce)))
        wait_until(lambda: validator.block_number() > BLOCKS, 120, f"{BLOCKS} blocks")
        assert validator.stop() == 0
        yield base / "devnet", node_dir
    finally:
        factory.close()


def test_a_fresh_node_syncs_over_a_thousand_blocks_to_the_same_state(node_factory, long_chain, tmp_path):
    devnet, validator_dir = long_chain
    # The chain's archive: the validator's datadir, served by a node that no longer signs.
    archive_dir = tmp_path / "archive"
    shutil.copytree(validator_dir, archive_dir, ignore=shutil.ignore_patterns("config.toml", "validator.key"))
    port = free_port_range(1)
    archive = node_factory("--chain", str(devnet / "chain.json"), "--listen", f"/ip4/127.0.0.1/tcp/{port}",
                           command="run", datadir=archive_dir, name="archive")
    head = archive.rpc("eth_getBlockByNumber", "latest", False)
    assert int(head["number"], 16) > BLOCKS
    peer_id = archive.rpc("chameleon_nodeInfo")["id"]

    fresh = node_factory("--chain", str(devnet / "chain.json"),
                         "--bootnodes", f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer_id}", command="run", name="fresh")
    synced = wait_until(lambda: fresh.rpc("eth_getBlockByNumber", head["number"], False), 120, "sync")
    assert synced["hash"] == head["hash"] and synced["stateRoot"] == head["stateRoot"]
    assert fresh.balance(DEV_ADDRESSES[6]) == archive.balance(DEV_ADDRESSES[6]) > 10_000 * 10**18
    assert int(fresh.rpc("eth_getBlockByNumber", "finalized", False)["number"], 16) == int(head["number"], 16)
    assert fresh.rpc("eth_syncing") is False and int(fresh.rpc("net_peerCount"), 16) == 1
    assert "sync_done" in fresh.stderr_text() and "fast_sync_done" in fresh.stderr_text()
    # Old blocks, their transactions (senders recovered on reading) and receipts are all there.
    first = next(n for n in range(1, 40) if archive.rpc("eth_getBlockTransactionCountByNumber", hex(n)) != "0x0")
    theirs = archive.rpc("eth_getBlockByNumber", hex(first), True)
    assert fresh.rpc("eth_getBlockByNumber", hex(first), True) == theirs
    tx_hash = theirs["transactions"][0]["hash"]
    assert fresh.rpc("eth_getTransactionReceipt", tx_hash) == archive.rpc("eth_getTransactionReceipt", tx_hash)
    # Their states are not: a clear error, as geth after a snap sync.
    with pytest.raises(RpcFailure, match=f"state of block {first} is not available \\(fast-synced\\)"):
        fresh.balance(DEV_ADDRESSES[6], hex(first))


def test_a_node_of_another_genesis_is_refused_at_handshake(node_factory, long_chain, tmp_path):
    devnet, _ = long_chain
    port = free_port_range(1)
    listener = node_factory("--chain", str(devnet / "chain.json"), "--listen", f"/ip4/127.0.0.1/tcp/{port}",
                            command="run", name="listener")
    peer_id = listener.rpc("chameleon_nodeInfo")["id"]
    other = json.loads((devnet / "chain.json").read_text())
    other["alloc"]["0x" + "12" * 20] = {"balance": "0x1"}  # another genesis state, same chain id
    other_path = tmp_path / "other.json"
    other_path.write_text(json.dumps(other))
    stranger = node_factory("--chain", str(other_path), "--bootnodes", f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer_id}",
                            command="run", name="stranger")
    wait_until(lambda: "peer_refused" in stranger.stderr_text() or "peer_refused" in listener.stderr_text(),
               20, "the handshake refusal is logged")
    assert "genesis" in stranger.stderr_text() + listener.stderr_text()
    assert int(stranger.rpc("net_peerCount"), 16) == 0 and int(listener.rpc("net_peerCount"), 16) == 0
