"""Compile the Solidity test contracts in this directory with solc-js (npm `solc`).

    import sys; sys.path.insert(0, "<repo root>")        # not needed under `python -m ...` from the root
    from tests.contracts.compile import compile_contracts
    arts = compile_contracts(["Token"])                  # or None: every *.sol here
    arts["Token"].abi, arts["Token"].bytecode, arts["Token"].deployed_bytecode

`tests` and `tests/contracts` are namespace packages (no __init__.py): putting the repo root
on sys.path is enough. Names are source-file stems (`Token` -> Token.sol); the result holds
every contract defined in those files (Probe.sol gives `Probe` and `Child`), keyed by
contract name. Imports (`@openzeppelin/...`) resolve from the repo's node_modules.

Output is cached in tests/contracts/build/<sha256>.json, keyed by the sources, the compiler
settings, the solc and OpenZeppelin package versions and the JS shim, so repeated test runs
do not recompile (solc-js takes seconds). Writes are atomic, safe under pytest-xdist.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CONTRACTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = CONTRACTS_DIR.parent.parent
NODE_MODULES = REPO_ROOT / "node_modules"
BUILD_DIR = CONTRACTS_DIR / "build"
SHIM = CONTRACTS_DIR / "solc_compile.js"

EVM_VERSION = "cancun"
OPTIMIZER_RUNS = 200

# Packages whose version goes into the cache key (their contents feed the compile).
_KEY_PACKAGES = ("solc", "@openzeppelin/contracts")

# Number of times solc actually ran in this process (cache misses); handy for tests.
solc_runs = 0


class CompileError(RuntimeError):
    """solc reported errors, or the toolchain (node, node_modules) is missing."""


@dataclass(frozen=True)
class Artifact:
    abi: list
    bytecode: bytes  # creation (init) code
    deployed_bytecode: bytes  # runtime code


def available_sources(contracts_dir: Path = CONTRACTS_DIR) -> list[str]:
    """Stems of the .sol files in ``contracts_dir``, sorted."""
    return sorted(p.stem for p in contracts_dir.glob("*.sol"))


def _settings(filenames: list[str]) -> dict:
    return {
        "evmVersion": EVM_VERSION,
        "optimizer": {"enabled": True, "runs": OPTIMIZER_RUNS},
        "outputSelection": {
            fn: {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"]} for fn in filenames
        },
    }


def _package_version(name: str) -> str:
    pkg = NODE_MODULES / name / "package.json"
    try:
        return json.loads(pkg.read_text())["version"]
    except FileNotFoundError:
        raise CompileError(
            f"{pkg.parent} is missing: run ./scripts/test or npm ci first (from {REPO_ROOT})"
        ) from None


def _check_toolchain() -> str:
    if not NODE_MODULES.is_dir():
        raise CompileError(f"{NODE_MODULES} is missing: run ./scripts/test or npm ci first")
    node = shutil.which("node")
    if node is None:
        raise CompileError("`node` is not on PATH: install Node.js >= 20 (see scripts/setup)")
    return node


def _run_solc(node: str, standard_input: dict) -> dict:
    global solc_runs
    solc_runs += 1
    proc = subprocess.run(
        [node, str(SHIM)],
        input=json.dumps(standard_input).encode(),
        capture_output=True,
        cwd=REPO_ROOT,
        check=False,
    )
    if proc.returncode != 0:
        raise CompileError(
            f"solc-js failed (exit {proc.returncode}): {proc.stderr.decode(errors='replace').strip()}"
        )
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise CompileError(f"solc-js returned invalid JSON: {exc}: {proc.stdout[:300]!r}") from None


def _write_atomic(path: Path, data: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _hex_to_bytes(obj: str, where: str) -> bytes:
    if "__$" in obj:
        raise CompileError(f"{where}: bytecode needs library linking, which compile.py does not do")
    return bytes.fromhex(obj)


def compile_contracts(names: list[str] | None = None, *, contracts_dir: Path = CONTRACTS_DIR,
                      build_dir: Path = BUILD_DIR) -> dict[str, Artifact]:
    """Compile `names` (source stems in `contracts_dir`, tests/contracts by default; None = all)
    -> {contract name: Artifact}, cached in `build_dir`."""
    stems = available_sources(contracts_dir) if names is None else list(dict.fromkeys(names))
    if not stems:
        raise CompileError(f"no .sol sources to compile in {contracts_dir}")
    sources: dict[str, dict] = {}
    for stem in stems:
        path = contracts_dir / f"{stem}.sol"
        if not path.is_file():
            raise CompileError(f"no such contract source: {path} (have: {', '.join(available_sources(contracts_dir))})")
        sources[path.name] = {"content": path.read_text()}
    standard_input = {"language": "Solidity", "sources": sources, "settings": _settings(list(sources))}

    if not NODE_MODULES.is_dir():
        raise CompileError(f"{NODE_MODULES} is missing: run ./scripts/test or npm ci first")
    key_material = {
        "input": standard_input,
        "packages": {p: _package_version(p) for p in _KEY_PACKAGES},
        "shim": hashlib.sha256(SHIM.read_bytes()).hexdigest(),
    }
    key = hashlib.sha256(json.dumps(key_material, sort_keys=True).encode()).hexdigest()
    cache_file = build_dir / f"{key}.json"

    output = None
    if cache_file.is_file():
        try:
            output = json.loads(cache_file.read_text())
        except (OSError, json.JSONDecodeError):
            output = None  # damaged cache entry: recompile
    if output is None:
        node = _check_toolchain()
        output = _run_solc(node, standard_input)
        errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
        if errors:
            raise CompileError(
                "solc errors:\n" + "\n".join(e.get("formattedMessage") or e.get("message", "") for e in errors)
            )
        _write_atomic(cache_file, json.dumps(output))

    artifacts: dict[str, Artifact] = {}
    for filename, contracts in output.get("contracts", {}).items():
        for cname, data in contracts.items():
            if cname in artifacts:
                raise CompileError(f"contract name {cname} defined twice (second in {filename})")
            evm = data["evm"]
            artifacts[cname] = Artifact(
                abi=data["abi"],
                bytecode=_hex_to_bytes(evm["bytecode"]["object"], f"{filename}:{cname}"),
                deployed_bytecode=_hex_to_bytes(evm["deployedBytecode"]["object"], f"{filename}:{cname}"),
            )
    return artifacts


if __name__ == "__main__":  # python tests/contracts/compile.py [Name ...]
    import sys

    for name, art in compile_contracts(sys.argv[1:] or None).items():
        print(f"{name}: {len(art.bytecode)} bytes init, {len(art.deployed_bytecode)} bytes runtime, "
              f"{sum(1 for e in art.abi if e.get('type') == 'function')} functions")
