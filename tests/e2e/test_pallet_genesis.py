"""A chain spec's pallet sections configure a real node: parameters, vesting schedules live from
block 0, a funded treasury; a wrong section stops the node before anything is written."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_utils import keccak

from tests.e2e.nodes import DEV_ADDRESSES, REPO_ROOT, run_cli

pytestmark = pytest.mark.e2e

BENEFICIARY = DEV_ADDRESSES[5]
TREASURY = 1000 * 10**18


def write_spec(tmp_path: Path, pallets: dict) -> Path:
    spec = json.loads((REPO_ROOT / "genesis" / "dev.json").read_text())
    spec["name"] = "pallet-genesis"
    spec["pallets"] = pallets
    path = tmp_path / "chain.json"
    path.write_text(json.dumps(spec))
    return path


def call(node, to: str, signature: str, args: bytes = b"", block: str = "latest") -> bytes:
    data = "0x" + (keccak(text=signature)[:4] + args).hex()
    return bytes.fromhex(node.rpc("eth_call", {"to": to, "data": data}, block)[2:])


def test_pallet_sections_configure_the_chain(tmp_path, node_factory, pallet_artifacts):
    spec = write_spec(tmp_path, {
        "escrow": {"confirmWindow": 3600},
        "governance": {"votingPeriod": 600, "feeShareBps": 2500, "treasury": str(TREASURY)},
        "vesting": {"schedules": [{"beneficiary": BENEFICIARY, "amount": "0x56bc75e2d63100000",
                                   "start": 0, "durationSeconds": 60}]},
    })
    node = node_factory("--chain", str(spec), command="run", name="pallet-genesis")
    params = {p["name"]: p["parameters"] for p in node.rpc("chameleon_pallets")}
    assert params["escrow"]["confirmWindow"]["value"] == hex(3600)
    assert params["governance"]["votingPeriod"]["value"] == hex(600)
    assert params["governance"]["feeShareBps"]["value"] == hex(2500)
    assert params["stores"]["shipWithin"]["value"] == params["stores"]["shipWithin"]["default"]

    treasury = int.from_bytes(call(node, "0x0000000000000000000000000000000000000804", "treasuryBalance()"), "big")
    assert treasury == TREASURY
    word = bytes(12) + bytes.fromhex(BENEFICIARY[2:])
    ids = call(node, "0x0000000000000000000000000000000000000801", "schedulesOf(address)", word)
    assert int.from_bytes(ids[64:96], "big") == 1  # one id in the returned array: schedule 1
    # At the next block's time (now), all of it has vested: start 0, 60 seconds.
    releasable = call(node, "0x0000000000000000000000000000000000000801", "releasable(uint256)",
                      (1).to_bytes(32, "big"), "pending")
    assert int.from_bytes(releasable, "big") == 100 * 10**18
    assert int(node.rpc("eth_getBalance", "0x0000000000000000000000000000000000000801", "latest"), 16) == 100 * 10**18


@pytest.mark.parametrize("pallets, field", [
    ({"escrow": {"confirmWindow": 5}}, "pallets.escrow.confirmWindow"),
    ({"governance": {"treasury": "lots"}}, "pallets.governance.treasury"),
    ({"bridge": {}}, "pallets.bridge"),
])
def test_a_wrong_section_is_refused_by_field(tmp_path, pallets, field):
    spec = write_spec(tmp_path, pallets)
    proc = run_cli("run", "--chain", str(spec), "--datadir", str(tmp_path / "data"), "--rpc-port", "0")
    assert proc.returncode != 0
    assert field in proc.stderr, proc.stderr
    assert not (tmp_path / "data" / "chaindata").exists() or not any((tmp_path / "data" / "chaindata").iterdir())
