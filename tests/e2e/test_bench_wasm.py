"""scripts/bench/wasm_vs_evm.py runs end to end with tiny counts: its tables, its ratios, its JSON line.

No timing asserts: only that every column ran, that the figures are there, and that the same
bytecode costs the same gas on Chameleon and on Anvil.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "bench" / "wasm_vs_evm.py"
ANVIL = ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
COLUMNS = ("wasm/cham", "sol/cham", "sol/anvil")


def test_wasm_bench_prints_its_tables_and_json():
    if not ANVIL.exists():
        pytest.skip(f"Anvil not found at {ANVIL}: run ./scripts/test or npm ci first")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--transfers", "2", "--warmup", "1", "--iterations", "3", "--exec-warmup", "1"],
        capture_output=True, text=True, timeout=240, cwd="/", stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "ERC-20 transfer over JSON-RPC: 2 transfers per column" in out
    assert "ratios over JSON-RPC" in out
    assert "vm.evm.execute in process" in out
    assert "the WASM token cannot run on Anvil" in out
    for column in (*COLUMNS, "wasm/anvil"):
        assert column in out

    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["bench"] == "wasm_vs_evm" and figures["transfers"] == 2
    assert figures["skipped"] == {}
    assert set(figures["columns"]) == set(COLUMNS)
    for column in COLUMNS:
        st = figures["columns"][column]
        assert st["n"] == 2 and st["gas_median"] > 21_000 and st["ms_median"] > 0 and st["node_cpu_ms"] >= 0
    # The same OpenZeppelin bytecode: the same gas on py-evm as on Anvil.
    assert figures["columns"]["sol/cham"]["gas_median"] == figures["columns"]["sol/anvil"]["gas_median"]
    assert figures["ratios"]["gas_sol_cham_over_anvil"] == 1.0
    for key in ("gas_wasm_over_sol_cham", "ms_wasm_over_sol_cham", "exec_wasm_over_sol"):
        assert figures["ratios"][key] > 0, key
    execute = figures["execute"]
    assert execute["plain"]["gas"] == 21_000
    # In process and over RPC, a transfer costs the same gas, up to calldata's zero bytes (the
    # in-process transfer is account 0 to 1, the measured ones go between all ten accounts).
    for kind, column in (("wasm", "wasm/cham"), ("sol", "sol/cham")):
        assert abs(execute[kind]["gas"] - figures["columns"][column]["gas_median"]) < 100, kind
    assert all(execute[k]["n"] == 3 and execute[k]["us_median"] > 0 for k in ("wasm", "sol", "plain"))
