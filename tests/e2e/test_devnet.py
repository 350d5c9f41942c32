"""A 4-validator devnet of real processes, real LevelDB and real libp2p on 127.0.0.1: blocks are
finalized, transactions spread, a killed validator is not missed and catches up when back,
two of four down halts finality without conflict, and finality resumes when they return."""
from __future__ import annotations

import time

import pytest

from tests.e2e.devnet_helpers import assert_same_final_blocks, finalized, init_devnet, start_nodes, wait_until
from tests.e2e.nodes import DEV_ADDRESSES, DEV_KEYS, raw_hex, sign_transfer

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("engine", ["bft", "poa"])
def test_four_validators_survive_crashes_and_halt_without_quorum(node_factory, tmp_path, engine):
    dirs = init_devnet(tmp_path / "devnet", engine)
    assert (tmp_path / "devnet" / "bootnodes.txt").read_text().count("/p2p/") == 4
    nodes = start_nodes(node_factory, dirs)
    n1, n2, n3, n4 = nodes
    wait_until(lambda: all(finalized(n) >= 2 for n in nodes), 40, "all four finalize")
    assert all(int(n.rpc("net_peerCount"), 16) == 3 for n in nodes)

    # A transaction sent to node 1 is in a block on node 4.
    tx = n1.send_raw(raw_hex(sign_transfer(DEV_KEYS[1], 0, DEV_ADDRESSES[5], 777)))
    receipt = wait_until(lambda: n4.receipt(tx), 20, "the transaction reaches node 4's chain")
    assert receipt["status"] == "0x1" and n4.balance(DEV_ADDRESSES[5]) == 10_000 * 10**18 + 777

    # kill -9 one validator: the other three keep finalizing.
    n2.kill9()
    mark = finalized(n1)
    wait_until(lambda: min(finalized(n) for n in (n1, n3, n4)) >= mark + 3, 30, "three keep finalizing")

    # Back: it catches up, and it votes again (without node 3, finality needs node 2's votes).
    n2.start()
    wait_until(lambda: finalized(n2) >= finalized(n1) - 1 and finalized(n2) > mark + 3, 40, "node 2 catches up")
    n3.kill9()
    mark = finalized(n1)
    wait_until(lambda: finalized(n1) >= mark + 3 and finalized(n2) >= mark + 3, 40,
               "finality with node 2's votes")

    # Two of four down: finality halts, and nothing conflicting is finalized.
    n4.kill9()
    time.sleep(2 * 1.5)
    halted = finalized(n1)
    time.sleep(5)
    assert finalized(n1) <= halted + 1 and finalized(n2) <= halted + 1
    assert_same_final_blocks([n1, n2])

    # Both back: finality resumes on all four, on one chain.
    n3.start()
    n4.start()
    wait_until(lambda: all(finalized(n) >= halted + 3 for n in nodes), 60, "finality resumes")
    assert_same_final_blocks(nodes)
    for node in nodes:
        log = node.stderr_text()
        assert "Traceback" not in log and "conflicting_finality" not in log
