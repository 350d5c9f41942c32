"""tests/contracts/compile.py: solc-js compiles the test contracts, and the output is cached."""
from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.contracts import compile as solc  # noqa: E402  (namespace package under the repo root)


def _function_names(abi: list) -> set[str]:
    return {e["name"] for e in abi if e.get("type") == "function"}


def test_compiles_token_and_probe_then_serves_from_cache(monkeypatch):
    arts = solc.compile_contracts(["Token", "Probe"])
    assert {"Token", "Probe", "Child"} <= set(arts)

    token = arts["Token"]
    assert {"transfer", "balanceOf", "approve", "transferFrom", "failWith", "guarded"} <= _function_names(token.abi)
    assert any(e.get("type") == "error" and e["name"] == "NotAllowed" for e in token.abi)
    assert isinstance(token.bytecode, bytes) and len(token.bytecode) > 100
    assert isinstance(token.deployed_bytecode, bytes) and len(token.deployed_bytecode) > 100

    probe = arts["Probe"]
    assert {"set", "get", "blockInfo", "create", "create2", "deposit", "selfBalance", "fail", "burn"} <= _function_names(probe.abi)
    assert any(e.get("type") == "event" and e["name"] == "Stored" for e in probe.abi)
    assert probe.bytecode and probe.deployed_bytecode

    # Second call: must not run solc at all.
    def no_solc(*_a, **_k):
        raise AssertionError("solc ran again: cache miss")

    monkeypatch.setattr(solc, "_run_solc", no_solc)
    again = solc.compile_contracts(["Token", "Probe"])
    assert again == arts
    assert list(solc.BUILD_DIR.glob("*.json"))


def test_unknown_source_is_a_clear_error():
    import pytest

    with pytest.raises(solc.CompileError, match="no such contract source"):
        solc.compile_contracts(["NoSuchContract"])
