"""End-to-end fixtures: real `chameleon` processes on 127.0.0.1, driven over JSON-RPC.

The helpers (DevNode, RpcFailure, keys, signing) are in tests/e2e/nodes.py.

Fixtures:
    contracts           compiled Token.sol + Probe.sol artifacts (once per session)
    node_factory        function-scoped: `node_factory(*args, **kw) -> DevNode` (started)
    module_node_factory module-scoped: same, the nodes live as long as the test module
    dev_node            session-scoped plain automine dev node, for read-mostly tests
Every process any of them started is killed at teardown, whatever happened.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # for `tests.e2e.nodes` and `tests.contracts.compile`
    sys.path.insert(0, str(REPO_ROOT))

from tests.e2e.nodes import NodeFactory, kill_all  # noqa: E402


@pytest.fixture(scope="session")
def contracts():
    from tests.contracts.compile import compile_contracts

    return compile_contracts(["Token", "Probe"])


@pytest.fixture(scope="session")
def pallet_artifacts(tmp_path_factory):
    """What `chameleon pallets abi --out DIR` writes, read back: ``abi("escrow")``, ``sol("IEscrow")``."""
    import json
    from types import SimpleNamespace

    from tests.e2e.nodes import run_cli

    out = tmp_path_factory.mktemp("pallet-abi")
    proc = run_cli("pallets", "abi", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return SimpleNamespace(abi=lambda name: json.loads((out / f"{name}.abi.json").read_text()),
                           sol=lambda name: (out / f"{name}.sol").read_text(), dir=out)


@pytest.fixture
def node_factory(tmp_path):
    factory = NodeFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="module")
def module_node_factory(tmp_path_factory, request):
    factory = NodeFactory(tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1]))
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture(scope="session")
def dev_node(tmp_path_factory):
    factory = NodeFactory(tmp_path_factory.mktemp("session-node"))
    try:
        yield factory(name="session")
    finally:
        factory.close()


@pytest.fixture(scope="session", autouse=True)
def _kill_leftover_processes():
    yield
    kill_all()
