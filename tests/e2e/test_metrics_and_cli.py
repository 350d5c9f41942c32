"""The `chameleon` command line and the node's observability: --version, --help, chain
spec errors, `run` from a spec, Prometheus /metrics, JSON logs, and one node per datadir."""
from __future__ import annotations

import json
import re
import subprocess

import pytest

from tests.e2e.nodes import (
    DEV_ADDRESSES, DEV_CHAIN_ID, DEV_KEYS, REPO_ROOT, free_port, http_get, run_cli, sign_transfer, tail,
)

pytestmark = pytest.mark.e2e

DEV_SPEC = REPO_ROOT / "genesis" / "dev.json"


# --- --version and --help ---------------------------------------------------------------------


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"chameleon \d+\.\d+\.\d+\S*", result.stdout.strip()), result.stdout


@pytest.mark.parametrize("command", ["dev", "run"])
def test_help(command):
    result = run_cli(command, "--help")
    assert result.returncode == 0, result.stderr
    for option in ("--port", "--datadir", "--metrics-port", "--log-format", "--rpc-max-request-size"):
        assert option in result.stdout, (command, option)
    if command == "dev":
        assert "--block-time" in result.stdout
        assert "--chain-id" in result.stdout
    else:
        # `run` takes its block time from the chain spec (consensus.blockTime).
        assert "--chain" in result.stdout


def test_no_command_prints_usage():
    result = run_cli()
    assert result.returncode != 0
    assert "dev" in result.stdout + result.stderr and "run" in result.stdout + result.stderr


# --- chain spec errors ------------------------------------------------------------------------


def _spec(**changes) -> dict:
    spec = json.loads(DEV_SPEC.read_text())
    spec.pop("$schema", None)
    for key, value in changes.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    return spec


@pytest.mark.parametrize("case", ["invalid-json", "missing-chainId", "bad-alloc-balance"])
def test_run_with_a_bad_chain_spec_exits_1_naming_the_field(tmp_path, case):
    path = tmp_path / "bad.json"
    first = DEV_ADDRESSES[0].lower()
    if case == "invalid-json":
        path.write_text('{"name": "dev", "chainId": 31337,\n  oops }')
        expected = ["invalid JSON", "line 2", str(path)]
    elif case == "missing-chainId":
        path.write_text(json.dumps(_spec(chainId=None)))
        expected = ["chainId", "missing"]
    else:
        spec = _spec()
        spec["alloc"][first]["balance"] = "0xnotanumber"
        path.write_text(json.dumps(spec))
        expected = [f"alloc.{first}.balance", "0xnotanumber"]
    result = run_cli("run", "--chain", str(path), "--datadir", str(tmp_path / "data"), "--port", str(free_port()), timeout=60)
    assert result.returncode == 1, (result.returncode, result.stderr)
    for word in expected:
        assert word in result.stderr, (word, result.stderr)
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3, result.stderr


def test_run_with_a_missing_chain_spec_file(tmp_path):
    missing = tmp_path / "nope.json"
    result = run_cli("run", "--chain", str(missing), "--datadir", str(tmp_path / "data"), "--port", str(free_port()))
    assert result.returncode == 1
    assert str(missing) in result.stderr and "Traceback" not in result.stderr


# --- run from a spec -----------------------------------------------------------------------------


def test_run_from_the_dev_spec(node_factory):
    node = node_factory("--chain", str(DEV_SPEC), command="run", name="run")
    assert node.rpc("eth_chainId") == hex(DEV_CHAIN_ID)
    assert node.block_number() == 0
    for address in DEV_ADDRESSES:
        assert node.balance(address) == 10_000 * 10**18
    # blockTime 0: a transaction is sealed at once.
    tx_hash = node.send_raw(sign_transfer(DEV_KEYS[0], 0, DEV_ADDRESSES[1]).raw_transaction)
    assert node.receipt(tx_hash)["status"] == "0x1"
    # The same spec on the same datadir again: same chain.
    genesis = node.rpc("eth_getBlockByNumber", "0x0", False)["hash"]
    assert node.stop() == 0
    node.start()
    assert node.rpc("eth_getBlockByNumber", "0x0", False)["hash"] == genesis
    assert node.block_number() == 1


def test_run_refuses_a_datadir_of_another_chain(node_factory, tmp_path):
    node = node_factory("--chain", str(DEV_SPEC), command="run", name="first-chain")
    assert node.stop() == 0
    other = tmp_path / "other.json"
    other.write_text(json.dumps(_spec(chainId=777, name="other")))
    result = run_cli("run", "--chain", str(other), "--datadir", str(node.datadir), "--port", str(free_port()))
    assert result.returncode == 1
    assert "genesis" in result.stderr and "--datadir" in result.stderr, result.stderr


# --- metrics -------------------------------------------------------------------------------------


def _metric(text: str, name: str, **labels: str) -> float | None:
    """The value of the sample `name{labels}` (labels matched as a subset) in Prometheus text."""
    for line in text.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)", line.strip())
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    return None


def test_metrics_endpoint(node_factory):
    metrics_port = free_port()
    node = node_factory("--metrics-port", str(metrics_port), name="metrics")
    for _ in range(3):
        node.rpc("eth_chainId")
        node.rpc("eth_blockNumber")
    node.request("eth_noSuchMethod")
    tx_hash = node.send_raw(sign_transfer(DEV_KEYS[0], 0, DEV_ADDRESSES[1]).raw_transaction)
    node.wait_receipt(tx_hash)
    node.rpc("evm_mine")

    status, body = http_get(metrics_port, "/metrics")
    assert status == 200
    text = body.decode()
    assert "# TYPE chameleon_chain_head_block gauge" in text
    assert _metric(text, "chameleon_chain_head_block") == 2.0
    assert "# TYPE chameleon_rpc_request_duration_seconds histogram" in text
    assert _metric(text, "chameleon_rpc_request_duration_seconds_count", method="eth_blockNumber") >= 3
    assert _metric(text, "chameleon_rpc_request_duration_seconds_count", method="eth_chainId") >= 4  # + readiness probe
    assert _metric(text, "chameleon_rpc_request_duration_seconds_count", method="eth_sendRawTransaction") == 1
    assert _metric(text, "chameleon_rpc_request_duration_seconds_bucket", method="eth_blockNumber", le="+Inf") >= 3
    assert _metric(text, "chameleon_rpc_request_duration_seconds_sum", method="eth_blockNumber") > 0
    # An unknown method is counted under one label, not one per name.
    assert 'method="eth_noSuchMethod"' not in text
    # The metrics port is not the RPC port, and the RPC port does not serve /metrics.
    status, body = http_get(node.port, "/metrics")
    assert b"chameleon_chain_head_block" not in body


# --- logs ----------------------------------------------------------------------------------------


def test_log_format_json(node_factory):
    node = node_factory("--log-format", "json", "--log-level", "debug", name="jsonlog")
    node.rpc("eth_blockNumber")
    node.request("eth_noSuchMethod")
    node.wait_receipt(node.send_raw(sign_transfer(DEV_KEYS[0], 0, DEV_ADDRESSES[1]).raw_transaction))
    node.raw(b"{bad json")

    def check(text: str) -> list[dict]:
        lines = [line for line in text.splitlines() if line.strip()]
        assert lines, "no log lines"
        events = []
        for line in lines:
            obj = json.loads(line)
            assert isinstance(obj, dict) and isinstance(obj.get("event"), str), line
            assert obj.get("level") in ("debug", "info", "warning", "error"), line
            events.append(obj)
        return events

    events = check(node.stderr_text())  # while running
    names = [e["event"] for e in events]
    assert "node_started" in names
    started = events[names.index("node_started")]
    assert started["chain"] == "dev" and str(node.port) in started["rpc"]
    assert node.stop() == 0
    events = check(node.stderr_text())  # and after a clean stop
    assert events[-1]["event"] == "shutting_down"
    # The banner stays on stdout, not mixed into the JSON stream.
    assert "Listening on" in node.stdout_text()


# --- one node per datadir --------------------------------------------------------------------


def test_second_node_on_the_same_datadir_fails_clearly(node_factory):
    first = node_factory(name="first")
    tx = first.send_raw(sign_transfer(DEV_KEYS[0], 0, DEV_ADDRESSES[1]).raw_transaction)
    head = first.rpc("eth_getBlockByNumber", "latest", False)

    second = node_factory(datadir=first.datadir, name="second", start=False)
    second.spawn()
    try:
        code = second.proc.wait(60)
    except subprocess.TimeoutExpired:
        second.kill9()
        pytest.fail(f"the second node kept running on a datadir in use\n{tail(second.stderr_path)}")
    stderr = second.stderr_text()
    assert code == 1, stderr
    assert "Traceback" not in stderr, stderr
    assert str(first.datadir) in stderr, stderr
    assert any(word in stderr.lower() for word in ("lock", "in use", "already")), stderr
    assert "Listening on" not in second.stdout_text()

    # The first node is unharmed and keeps working.
    assert first.running
    assert first.rpc("eth_getBlockByNumber", "latest", False) == head
    assert first.receipt(tx)["status"] == "0x1"
    tx2 = first.send_raw(sign_transfer(DEV_KEYS[0], 1, DEV_ADDRESSES[1]).raw_transaction)
    assert first.receipt(tx2)["status"] == "0x1"
    assert first.stop() == 0
    # Once the first is gone, the datadir opens fine.
    second.start()
    assert second.block_number() == int(head["number"], 16) + 1


def test_port_in_use_fails_clearly(node_factory, tmp_path):
    first = node_factory(name="port-owner")
    result = run_cli("dev", "--datadir", str(tmp_path / "other"), "--port", str(first.port), timeout=60)
    assert result.returncode == 1, result.stderr
    assert str(first.port) in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert first.rpc("eth_chainId") == hex(DEV_CHAIN_ID)


# --- --chain-id ----------------------------------------------------------------------------------


def test_chain_id_flag(node_factory):
    node = node_factory("--chain-id", "1337", name="chain1337")
    assert node.rpc("eth_chainId") == hex(1337)
    assert node.rpc("net_version") == "1337"
    refused = node.request("eth_sendRawTransaction", "0x" + bytes(sign_transfer(DEV_KEYS[0], 0, DEV_ADDRESSES[1]).raw_transaction).hex())
    assert refused["error"]["code"] == -32000 and "invalid chain id" in refused["error"]["message"]
    accepted = node.send_raw(sign_transfer(DEV_KEYS[0], 0, DEV_ADDRESSES[1], chain_id=1337).raw_transaction)
    assert node.receipt(accepted)["status"] == "0x1"
    assert node.stop() == 0
    # The datadir now holds chain 1337: opening it as the default 31337 chain is refused.
    result = run_cli("dev", "--datadir", str(node.datadir), "--port", str(free_port()))
    assert result.returncode == 1
    assert "genesis" in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_busy_metrics_port_is_named_in_the_error(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        metrics_port = busy.getsockname()[1]
        rpc_port = free_port()
        result = run_cli("dev", "--datadir", str(tmp_path / "data"), "--port", str(rpc_port),
                         "--metrics-port", str(metrics_port), timeout=60)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert str(metrics_port) in result.stderr, result.stderr
