"""The README's example scripts work as the README says."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def test_erc20_example_deploys_transfers_and_reads_events(node_factory):
    node = node_factory()
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "examples" / "erc20.py"), "--rpc", node.url],
        capture_output=True, text=True, timeout=120, cwd="/",
    )
    assert result.returncode == 0, result.stderr
    assert "deployed DMO at 0x5FbDB2315678afecb367f032d93F642f64180aa3" in result.stdout
    assert "transfer: status 1" in result.stdout
    assert "balance of 0x70997970C51812dc3A010C7d01b50e0d17dc79C8: 1000" in result.stdout
    assert result.stdout.count("Transfer 0x") == 2


def test_pallets_example_runs_every_pallet(node_factory):
    node = node_factory()
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "examples" / "pallets.py"), "--rpc", node.url],
        capture_output=True, text=True, timeout=120, cwd="/",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for line in ("vesting: schedule 1 released", "escrow: 1 resolved, 0.3 ETH back to the buyer, 0.7 ETH to the seller",
                 "stores: store 1", "rated 5/1", "governance: proposal 1 executed, escrow confirmWindow = 3600 s"):
        assert line in result.stdout, result.stdout
