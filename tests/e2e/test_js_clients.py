"""What a dApp does with ethers v6 and viem v2 against Anvil works unchanged against
`chameleon dev`.

Each script in tests/e2e/js/ (`node SCRIPT URL ARTIFACT_JSON`) runs a dApp's user story
against a fresh node: chain id, blocks, balances and fees; deploy the OpenZeppelin Token;
transfer and read receipts, balances and events; reverts decoded (Error(string) and the
custom error NotAllowed(address)); gas estimates; the node-managed account
(eth_accounts + eth_sendTransaction); event watching over filters; and the error codes the
libraries derive from the node's messages (nonce too low, insufficient funds). The script
prints one JSON line: {"ok": true, "checks": [...]} or {"ok": false, "check", "error"}.

The scripts pass against Anvil too (`node tests/e2e/js/ethers_dapp.mjs http://127.0.0.1:8545
ARTIFACT_JSON` with `node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil` running), which is
how they were checked to describe Anvil's behaviour and not Chameleon's.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from tests.e2e.nodes import REPO_ROOT, tail

pytestmark = pytest.mark.e2e

JS_DIR = REPO_ROOT / "tests" / "e2e" / "js"
NODE_MODULES = REPO_ROOT / "node_modules"
SCRIPT_TIMEOUT_S = 120

# script, npm package it needs, checks it must have reported (a subset, as a guard against a
# script that silently skipped its story)
SCRIPTS = {
    "ethers": ("ethers_dapp.mjs", "ethers", [
        "deploy Token with ContractFactory + waitForDeployment",
        "transfer: tx.wait() receipt status 1, logs parsed with the interface",
        "queryFilter(filters.Transfer()) and by `to`",
        "failWith('boom') call rejects with CALL_EXCEPTION reason 'boom'",
        "guarded() rejects with custom error NotAllowed(sender)",
        "plain ETH transfer via wallet.sendTransaction + wait()",
        "estimateGas of transfers",
        "node-managed account: getSigner(0) (eth_accounts + eth_sendTransaction)",
        "nonce too low rejects with NONCE_EXPIRED",
        "insufficient funds rejects with INSUFFICIENT_FUNDS",
    ]),
    "viem": ("viem_dapp.mjs", "viem", [
        "deployContract + waitForTransactionReceipt",
        "writeContract transfer, receipt logs decoded, readContract balances",
        "getContractEvents and getLogs with parseAbiItem (all, by `to`)",
        "simulateContract failWith('boom') -> ContractFunctionRevertedError reason 'boom'",
        "guarded() -> ContractFunctionRevertedError data.errorName 'NotAllowed'",
        "estimateGas and estimateContractGas (including a reverting one)",
        "sendTransaction ETH transfer, getBlock({includeTransactions: true})",
        "getFeeHistory",
        "node-managed account: getAddresses + json-rpc account sendTransaction",
        "nonce too low -> NonceTooLowError",
        "insufficient funds -> InsufficientFundsError",
    ]),
}


@pytest.fixture(scope="module")
def token_artifact(contracts, tmp_path_factory):
    """Token's abi and creation bytecode as the JSON file the scripts read."""
    art = contracts["Token"]
    path = tmp_path_factory.mktemp("js-artifact") / "Token.json"
    path.write_text(json.dumps({"abi": art.abi, "bytecode": "0x" + art.bytecode.hex()}))
    return path


def _needs(package: str) -> None:
    if shutil.which("node") is None:
        pytest.skip("`node` is not on PATH (Node.js >= 20 is installed by scripts/setup)")
    if not (NODE_MODULES / package / "package.json").is_file():
        pytest.skip(f"node_modules/{package} is missing: run `npm ci` (scripts/setup does) from {REPO_ROOT}")


def _last_json_line(stdout: str) -> dict | None:
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


@pytest.mark.parametrize("client", sorted(SCRIPTS))
def test_dapp_script(client, node_factory, request):
    script, package, required = SCRIPTS[client]
    _needs(package)  # before the compile fixture, which needs node_modules too
    token_artifact = request.getfixturevalue("token_artifact")
    node = node_factory(name=f"{client}-node")
    started = time.monotonic()
    try:
        proc = subprocess.run(
            ["node", str(JS_DIR / script), node.url, str(token_artifact)],
            capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S, cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{script} did not finish within {SCRIPT_TIMEOUT_S}s\nstdout: {exc.stdout!r}\n"
                    f"stderr: {exc.stderr!r}\n--- node stderr ---\n{tail(node.stderr_path)}")
    elapsed = time.monotonic() - started
    result = _last_json_line(proc.stdout)
    context = (f"{script} exit {proc.returncode} after {elapsed:.1f}s\n--- stdout ---\n{proc.stdout[-6000:]}\n"
               f"--- stderr ---\n{proc.stderr[-4000:]}\n--- node stderr ---\n{tail(node.stderr_path)}")
    assert result is not None, f"no JSON result line\n{context}"
    assert result.get("ok") is True, (
        f"{client} check failed: {result.get('check')}: {result.get('error')}\n{context}")
    assert proc.returncode == 0, context
    assert result["client"] == client
    missing = [c for c in required if c not in result["checks"]]
    assert not missing, f"checks not reported: {missing}\n{context}"

    # The node still answers, and holds what the script did.
    assert node.running, f"node exited\n{tail(node.stderr_path)}"
    assert int(node.rpc("eth_chainId"), 16) == 31337
    assert node.block_number() >= 7  # each script seals 7 transactions
    token = result["token"]
    assert node.rpc("eth_getCode", token, "latest") not in ("0x", "", None)
    assert node.rpc("eth_getLogs", {"address": token, "fromBlock": "0x0", "toBlock": "latest"}), "no token logs"
