"""The build: deterministic output that keeps to HOST_API.md, and `chameleon wasm`."""
from __future__ import annotations

import json
import re
import shutil

import pytest
import wasmtime
from eth_utils import keccak

from node.cli import main as cli_main
from vm.wasm.build import (
    EXAMPLES_DIR, BuildError, build_project, check_module, example_dirs, fold_start, host_imports, load_abi,
)

EXAMPLES = ("counter", "erc20", "forwarder", "vesting_caller")


def test_every_example_is_built(built):
    assert sorted(built) == list(EXAMPLES) == [d.name for d in example_dirs()]


def test_build_is_deterministic_wherever_the_project_lives(built, tmp_path):
    # Another copy of the project, in another directory: the same bytes.
    copy = tmp_path / "elsewhere" / "erc20"
    shutil.copytree(EXAMPLES_DIR / "erc20", copy, ignore=shutil.ignore_patterns("*.wasm"))
    assert build_project(copy).read_bytes() == built["erc20"]
    assert build_project(copy, tmp_path / "again.wasm").read_bytes() == built["erc20"]


@pytest.mark.parametrize("name", EXAMPLES)
def test_imports_and_exports_keep_to_the_host_api(built, name):
    module = wasmtime.Module(wasmtime.Engine(), built[name])
    table = host_imports()
    for imp in module.imports:
        assert imp.module == "env" and imp.name in table, f"{imp.module}.{imp.name} is not in HOST_API.md"
        params = tuple(str(t) for t in imp.type.params)
        results = tuple(str(t) for t in imp.type.results)
        assert (params, results) == table[imp.name], imp.name
    exports = {e.name: e.type for e in module.exports}
    assert isinstance(exports["memory"], wasmtime.MemoryType)
    assert str(exports["call"].params) == "[]" and [str(t) for t in exports["call"].results] == ["i32"]
    assert ("deploy" in exports) == (name == "erc20")
    assert set(exports) <= {"memory", "call", "deploy"}
    assert check_module(built[name]) == []


def test_host_table_is_read_from_the_spec():
    table = host_imports()
    assert table["call_contract"] == (("i32", "i32", "i32", "i32", "i64"), ("i32",))
    assert table["block_timestamp"] == ((), ("i64",))
    assert table["abort"] == (("i32",) * 4, ())
    assert len(table) == 25


@pytest.mark.parametrize("name", EXAMPLES)
def test_selectors_in_the_source_match_the_abi(name):
    # Every function and error of abi.json is dispatched/raised by a selector constant
    # whose comment names its signature: a typo in either shows up here.
    source = (EXAMPLES_DIR / name / f"{name}.ts").read_text()
    constants = {sig: int(sel, 16) for sel, sig in re.findall(r"= (0x[0-9a-f]{8}); // (\w+\([^)]*\))", source)}
    for sig, selector in constants.items():
        assert keccak(text=sig)[:4] == selector.to_bytes(4, "big"), sig
    for entry in load_abi(EXAMPLES_DIR / name):
        if entry["type"] in ("function", "error"):
            sig = f"{entry['name']}({','.join(i['type'] for i in entry['inputs'])})"
            assert sig in constants, f"{sig} of abi.json has no selector constant in {name}.ts"


def test_fold_start_turns_constant_start_into_global_init():
    # (global (mut i32) (i32.const 0)) (start 0) with body: i32.const 1244; global.set 0
    module = bytes.fromhex(
        "0061736d01000000"
        "010401600000"          # type section: () -> ()
        "03020100"              # function section: func 0 of type 0
        "0606017f0141000b"      # global section: mut i32 = 0
        "080100"                # start: func 0
        "0a0901070041dc0924000b"  # code: i32.const 1244; global.set 0; end
    )
    folded = fold_start(module)
    assert b"\x08\x01\x00" not in folded
    assert bytes.fromhex("0607017f0141dc090b") in folded
    wasmtime.Module(wasmtime.Engine(), folded)  # still valid


def test_check_module_reports_foreign_imports_and_missing_exports():
    wat = '(module (import "env" "seed" (func (result f64))) (memory 1) (export "memory" (memory 0)))'
    problems = check_module(wasmtime.wat2wasm(wat))
    assert any("env.seed is not in the host API" in p for p in problems)
    assert any("no `call` export" in p for p in problems)
    assert any("floating point" in p for p in problems)


def test_build_errors_are_clear(tmp_path):
    with pytest.raises(BuildError, match="no such project directory"):
        build_project(tmp_path / "missing")
    with pytest.raises(BuildError, match="chameleon.json is missing"):
        build_project(tmp_path)
    (tmp_path / "chameleon.json").write_text('{"name": "bad", "entry": "bad.ts"}')
    (tmp_path / "bad.ts").write_text("export function call(): i32 { return undefinedThing; }\n")
    with pytest.raises(BuildError, match=r"asc failed to compile(.|\n)*undefinedThing"):
        build_project(tmp_path)


def test_missing_toolchain_gives_the_install_hint(tmp_path, monkeypatch):
    import vm.wasm.build as build

    monkeypatch.setattr(build, "ASC_JS", tmp_path / "no-asc.js")
    with pytest.raises(BuildError, match="AssemblyScript compiler is missing(.|\n)*scripts/setup"):
        build_project(EXAMPLES_DIR / "counter", tmp_path / "c.wasm")
    monkeypatch.setattr(build.shutil, "which", lambda name: None)
    with pytest.raises(BuildError, match="`node` is not on PATH(.|\n)*scripts/setup"):
        build_project(EXAMPLES_DIR / "counter", tmp_path / "c.wasm")


def test_cli_wasm_build_and_abi(tmp_path, capsys, built):
    out = tmp_path / "c.wasm"
    assert cli_main(["wasm", "build", str(EXAMPLES_DIR / "counter"), "--out", str(out)]) == 0
    assert out.read_bytes() == built["counter"]
    printed = capsys.readouterr().out
    assert str(out) in printed and f"{len(built['counter'])} bytes" in printed

    assert cli_main(["wasm", "abi", str(EXAMPLES_DIR / "erc20")]) == 0
    abi = json.loads(capsys.readouterr().out)
    assert {e.get("name") for e in abi} >= {"transfer", "Transfer", "ERC20InsufficientBalance"}


def test_cli_wasm_fails_clearly_on_a_bad_dir(tmp_path, capsys):
    assert cli_main(["wasm", "build", str(tmp_path / "nope")]) == 1
    assert "no such project directory" in capsys.readouterr().err
    assert cli_main(["wasm", "abi", str(tmp_path)]) == 1
    assert "chameleon.json is missing" in capsys.readouterr().err
