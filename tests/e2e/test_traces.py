"""debug_trace* against Anvil: the same signed transactions on `chameleon dev` and on a real
Anvil, traced on both and compared field by field.

Where Anvil departs from geth we follow geth (the reference these methods come from) and
say so where the comparison steps around it:
- callTracer, top frame ``gas``: geth reports the transaction's gas limit; Anvil what was
  left after the intrinsic gas;
- callTracer ``withLog``, log ``index``: geth's is the log's index in the block among the
  logs still alive when it was emitted (a reverted frame's logs give their indices back);
  Anvil counts reverted logs too. And geth drops the logs of a failed top frame, Anvil
  keeps them;
- callTracer ``error`` of a CREATE onto a taken address: geth "contract address collision",
  Anvil "CreateCollision";
- struct logger: CREATE/CREATE2 ``gasCost`` is 32000 plus the init code costs in geth (the
  gas handed to the new frame is charged inside the opcode, after the step is logged);
  Anvil adds that gas. Anvil also writes ``"memory": []``, ``"returnData": "0x"`` and
  ``"refund": 0`` where geth leaves them out.
"""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from tests.e2e.nodes import DEV_KEYS, HOST, REPO_ROOT, RpcFailure, free_port, http_post, unwrap

pytestmark = pytest.mark.e2e

ANVIL = REPO_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
GAS = 3_000_000
KEY = Account.from_key(DEV_KEYS[0])


class Rpc:
    def __init__(self, port: int) -> None:
        self.port = port

    def __call__(self, method: str, *params):
        request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        _, body = http_post(self.port, json.dumps(request).encode(), timeout=60)
        return unwrap(json.loads(body))


@pytest.fixture(scope="module")
def anvil(tmp_path_factory):
    if not ANVIL.exists():
        pytest.skip(f"Anvil not found at {ANVIL}: run ./scripts/test or npm ci first")
    log = Path(tmp_path_factory.mktemp("anvil")) / "anvil.log"
    port = free_port()
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(ANVIL), "--host", HOST, "--port", str(port), "--silent", "--steps-tracing", "--hardfork", "prague"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO_ROOT,
        )
    rpc = Rpc(port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                rpc("eth_chainId")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"anvil did not start:\n{log.read_text(errors='replace')}") from None
                time.sleep(0.1)
        yield rpc
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def chameleon(module_node_factory):
    node = module_node_factory(name="traces")
    return Rpc(node.port)


def calldata(signature: str, *args) -> bytes:
    types = [t for t in signature[signature.index("(") + 1 : -1].split(",") if t]
    return function_signature_to_4byte_selector(signature) + abi_encode(types, list(args))


@pytest.fixture(scope="module")
def sent(anvil, chameleon):
    """Deploy Tracing and call it, the same signed transactions on both nodes: {name: tx hash}."""
    from tests.contracts.compile import compile_contracts

    plan = [
        ("deploy", compile_contracts(["Tracing"])["Tracing"].bytecode, 1000),
        ("store", calldata("store(uint256,uint256)", 5, 7), 0),
        ("nested", calldata("nested(uint256)", 3), 10),
        ("failing", calldata("failing(uint256)", 1), 0),
        ("overdraw", calldata("overdraw()"), 0),
    ]
    hashes: dict[str, str] = {}
    contract = None
    for nonce, (name, data, value) in enumerate(plan):
        fields = {"chainId": 31337, "nonce": nonce, "gas": GAS, "value": value, "data": data, "type": 2,
                  "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
        if contract is not None:
            fields["to"] = to_checksum_address(contract)
        raw = "0x" + bytes(KEY.sign_transaction(fields).raw_transaction).hex()
        receipts = []
        for rpc in (anvil, chameleon):
            tx_hash = rpc("eth_sendRawTransaction", raw)
            receipts.append(_receipt(rpc, tx_hash))
        assert receipts[0]["gasUsed"] == receipts[1]["gasUsed"] and receipts[0]["status"] == receipts[1]["status"]
        if name == "deploy":
            contract = receipts[0]["contractAddress"]
            assert receipts[1]["contractAddress"] == contract
        hashes[name] = tx_hash
    return hashes


def _receipt(rpc: Rpc, tx_hash: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        receipt = rpc("eth_getTransactionReceipt", tx_hash)
        if receipt is not None:
            return receipt
        time.sleep(0.05)
    raise AssertionError(f"no receipt for {tx_hash}")


def _both(anvil, chameleon, tx_hash: str, options: dict) -> tuple:
    return anvil("debug_traceTransaction", tx_hash, options), chameleon("debug_traceTransaction", tx_hash, options)


def _without(frame: dict, *keys: str) -> dict:
    """A call frame and its sub-frames without ``keys``."""
    out = {k: v for k, v in frame.items() if k not in keys}
    if "calls" in out:
        out["calls"] = [_without(call, *keys) for call in out["calls"]]
    if "logs" in out:
        out["logs"] = [{k: v for k, v in log.items() if k not in keys} for log in out["logs"]]
    return out


@pytest.mark.parametrize("name", ["nested", "failing", "overdraw", "store", "deploy"])
def test_call_tracer_matches_anvil_field_by_field(anvil, chameleon, sent, name) -> None:
    theirs, ours = _both(anvil, chameleon, sent[name], {"tracer": "callTracer"})
    receipt = chameleon("eth_getTransactionReceipt", sent[name])
    assert ours["gas"] == hex(GAS) and ours["gasUsed"] == receipt["gasUsed"]  # geth: the tx's limit
    assert _without(ours, "gas") == _without(theirs, "gas")


def test_nested_call_tree_as_anvil_shows_it(anvil, chameleon, sent) -> None:
    theirs, ours = _both(anvil, chameleon, sent["nested"], {"tracer": "callTracer"})
    assert [c["type"] for c in ours["calls"]] == ["CALL", "CALL", "STATICCALL", "STATICCALL", "DELEGATECALL",
                                                  "STATICCALL", "CREATE", "CREATE2", "CALL", "CALL"]
    for mine, anvils in zip(ours["calls"], theirs["calls"]):  # gas and gasUsed of every frame, exactly
        for field in ("from", "to", "gas", "gasUsed", "input", "output", "value", "error", "revertReason", "type"):
            assert mine.get(field) == anvils.get(field), (mine["type"], field)
    assert ours["calls"][1]["revertReason"] == "target: nonzero"
    assert ours["calls"][2]["revertReason"] == "division or modulo by zero"


def test_call_tracer_options_match_anvil(anvil, chameleon, sent) -> None:
    theirs, ours = _both(anvil, chameleon, sent["nested"], {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": True}})
    assert "calls" not in ours and _without(ours, "gas") == _without(theirs, "gas")
    theirs, ours = _both(anvil, chameleon, sent["nested"], {"tracer": "callTracer", "tracerConfig": {"withLog": True}})
    assert _without(ours, "gas", "index") == _without(theirs, "gas", "index")
    # The reverted fail() logged at index 2 and gave it back: the next log is 2 again (geth).
    assert [log["index"] for log in ours["logs"]] == ["0x0", "0x4"]
    assert [c["logs"][0]["index"] for c in ours["calls"] if "logs" in c] == ["0x1", "0x2", "0x3"]
    theirs, ours = _both(anvil, chameleon, sent["failing"], {"tracer": "callTracer", "tracerConfig": {"withLog": True}})
    assert "logs" not in ours and "logs" in theirs  # geth drops a failed frame's logs
    assert _without(ours, "gas", "logs") == _without(theirs, "gas", "logs")


def _normalised(step: dict) -> dict:
    """A struct log entry without the empty fields Anvil writes and geth leaves out."""
    empty = {"memory": [], "returnData": "0x", "refund": 0, "storage": {}}
    return {k: v for k, v in step.items() if empty.get(k, object()) != v}


def test_struct_logs_match_anvil_step_by_step(anvil, chameleon, sent) -> None:
    options = {"enableMemory": True, "enableReturnData": True}
    theirs, ours = _both(anvil, chameleon, sent["store"], options)
    assert {k: v for k, v in ours.items() if k != "structLogs"} == {k: v for k, v in theirs.items() if k != "structLogs"}
    assert [s["op"] for s in ours["structLogs"]] == [s["op"] for s in theirs["structLogs"]]
    assert [(s["pc"], s["gas"], s["gasCost"], s["depth"]) for s in ours["structLogs"]] == \
           [(s["pc"], s["gas"], s["gasCost"], s["depth"]) for s in theirs["structLogs"]]
    assert [_normalised(s) for s in theirs["structLogs"]] == ours["structLogs"]  # stack, memory, storage too
    assert any("storage" in s for s in ours["structLogs"])


def test_struct_logs_across_nested_calls_match_anvil(anvil, chameleon, sent) -> None:
    for name in ("nested", "failing"):
        theirs, ours = _both(anvil, chameleon, sent[name], {})
        assert ours["gas"] == theirs["gas"] and ours["failed"] == theirs["failed"] and ours["returnValue"] == theirs["returnValue"]
        assert len(ours["structLogs"]) == len(theirs["structLogs"])
        for mine, anvils in zip(ours["structLogs"], theirs["structLogs"]):
            anvils = _normalised(anvils)
            if mine["op"] in ("CREATE", "CREATE2"):  # geth leaves the new frame's gas out
                assert anvils["gasCost"] > mine["gasCost"]
                anvils["gasCost"] = mine["gasCost"]
            assert mine == anvils


def test_prestate_tracer_agrees_with_anvil_on_the_contract(anvil, chameleon, sent) -> None:
    contract = chameleon("eth_getTransactionReceipt", sent["deploy"])["contractAddress"].lower()
    theirs, ours = _both(anvil, chameleon, sent["store"], {"tracer": "prestateTracer"})
    mine = dict(ours[contract])
    assert mine.pop("codeHash")  # newer geth adds it; Anvil does not
    assert mine == theirs[contract]
    theirs, ours = _both(anvil, chameleon, sent["store"], {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}})
    assert ours["post"][contract] == theirs["post"][contract]


def test_trace_call_and_errors(anvil, chameleon, sent) -> None:
    contract = chameleon("eth_getTransactionReceipt", sent["deploy"])["contractAddress"]
    call = {"from": KEY.address, "to": contract, "data": "0x" + calldata("nested(uint256)", 3).hex(), "gas": hex(GAS)}
    theirs = anvil("debug_traceCall", call, "latest", {"tracer": "callTracer"})
    ours = chameleon("debug_traceCall", call, "latest", {"tracer": "callTracer"})
    # Called again, nested(3) finds its CREATE2 address taken: geth's words for that frame's
    # error are "contract address collision" (Anvil: "CreateCollision"); it burns the gas.
    collided = ours["calls"][7]
    assert collided["type"] == "CREATE2" and collided["error"] == "contract address collision"
    assert collided["gasUsed"] == collided["gas"] and "to" not in collided
    theirs["calls"][7]["error"] = collided["error"]
    assert ours["error"] == "execution reverted"  # then it calls the zero address and reverts
    assert _without(ours, "gas") == _without(theirs, "gas")
    with pytest.raises(RpcFailure, match="transaction not found"):  # Anvil answers an empty trace
        chameleon("debug_traceTransaction", "0x" + "11" * 32)
    with pytest.raises(RpcFailure, match="tracer 'jsTracer' is not supported: the tracers are callTracer, prestateTracer"):
        chameleon("debug_traceTransaction", sent["store"], {"tracer": "jsTracer"})
    block = chameleon("eth_getTransactionReceipt", sent["store"])["blockNumber"]
    traced = chameleon("debug_traceBlockByNumber", block, {"tracer": "callTracer"})
    assert traced == [{"txHash": sent["store"], "result": chameleon("debug_traceTransaction", sent["store"], {"tracer": "callTracer"})}]

