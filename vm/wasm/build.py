"""Build AssemblyScript contract projects into Chameleon WASM modules (host API v1).

A project is a directory with a ``chameleon.json``::

    {"name": "erc20", "entry": "erc20.ts", "abi": "abi.json"}

``build_project(dir)`` compiles the entry with the npm ``assemblyscript`` compiler (asc,
run by node from the repo's node_modules), with the SDK importable as ``chameleon-sdk``,
and writes ``<dir>/<name>.wasm``. The result is checked against vm/wasm/HOST_API.md: only
the listed ``env`` imports with their signatures, ``memory`` and ``call`` exported, no start
function, no floats. Same sources and compiler give the same bytes.

    python -m vm.wasm.build vm/wasm/examples/erc20      # what `chameleon wasm build` runs
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

WASM_DIR = Path(__file__).resolve().parent
HOST_API = WASM_DIR / "HOST_API.md"
SDK_DIR = WASM_DIR / "sdk" / "assemblyscript"
EXAMPLES_DIR = WASM_DIR / "examples"
REPO_ROOT = WASM_DIR.parent.parent
ASC_JS = REPO_ROOT / "node_modules" / "assemblyscript" / "bin" / "asc.js"
PROJECT_FILE = "chameleon.json"
SDK_PACKAGE = "chameleon-sdk"

# -O3z: speed optimizations with the strongest shrinking. Code deposit costs 200 gas a byte:
# for the ERC-20 example it is 3.6 KB instead of -O3's 5.4 KB (-390k gas to deploy) for
# +5 gas a transfer. stub runtime: a bump allocator (each message gets a fresh instance, so
# nothing is ever freed). --noAssert: asserts would abort with empty revert data anyway.
ASC_FLAGS = ("-O3z", "--runtime", "stub", "--noAssert", "--noColors")

INSTALL_HINT = "run scripts/setup (it installs Node.js tools with npm ci), or `npm ci` in " + str(REPO_ROOT)

_SECTION_TYPE, _SECTION_IMPORT, _SECTION_GLOBAL, _SECTION_EXPORT = 1, 2, 6, 7
_SECTION_START, _SECTION_CODE = 8, 10
_I32, _I64, _F32, _F64 = 0x7F, 0x7E, 0x7D, 0x7C
_VALTYPE_NAMES = {_I32: "i32", _I64: "i64", _F32: "f32", _F64: "f64"}


class BuildError(RuntimeError):
    """The project is missing or malformed, the toolchain is missing, or asc failed."""


@dataclass(frozen=True, slots=True)
class Project:
    dir: Path
    name: str
    entry: Path
    abi: Path

    @property
    def default_output(self) -> Path:
        return self.dir / f"{self.name}.wasm"


def load_project(directory: Path | str) -> Project:
    """Reads ``DIR/chameleon.json``. Raises BuildError with what is wrong."""
    directory = Path(directory)
    if not directory.is_dir():
        raise BuildError(f"no such project directory: {directory}")
    spec_path = directory / PROJECT_FILE
    if not spec_path.is_file():
        raise BuildError(f"{directory} is not a WASM contract project: {PROJECT_FILE} is missing "
                         f'(it names the entry file: {{"name": "token", "entry": "token.ts", "abi": "abi.json"}})')
    try:
        spec = json.loads(spec_path.read_text())
    except json.JSONDecodeError as exc:
        raise BuildError(f"{spec_path}: invalid JSON: {exc}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("entry"), str):
        raise BuildError(f'{spec_path}: needs "entry": the AssemblyScript file that exports call()')
    name = spec.get("name", directory.resolve().name)
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise BuildError(f'{spec_path}: "name" must be a plain file name, got {name!r}')
    entry = directory / spec["entry"]
    if not entry.is_file():
        raise BuildError(f"{spec_path}: entry file {entry} does not exist")
    return Project(dir=directory, name=name, entry=entry, abi=directory / spec.get("abi", "abi.json"))


def load_abi(directory: Path | str) -> list:
    """The project's ABI (a Solidity-style JSON list)."""
    project = load_project(directory)
    if not project.abi.is_file():
        raise BuildError(f"{project.abi} does not exist (name it with \"abi\" in {PROJECT_FILE})")
    try:
        abi = json.loads(project.abi.read_text())
    except json.JSONDecodeError as exc:
        raise BuildError(f"{project.abi}: invalid JSON: {exc}") from None
    if not isinstance(abi, list):
        raise BuildError(f"{project.abi}: an ABI is a JSON list of entries")
    return abi


def build_project(directory: Path | str, out: Path | str | None = None) -> Path:
    """Compiles the project to ``out`` (default ``DIR/<name>.wasm``); returns the path written."""
    project = load_project(directory)
    module = compile_module(project)
    target = Path(out) if out is not None else project.default_output
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(module)
    tmp.replace(target)  # atomic: a reader never sees half a module
    return target


def compile_module(project: Project) -> bytes:
    """Runs asc on the project and returns the checked module bytes."""
    node = shutil.which("node")
    if node is None:
        raise BuildError(f"`node` is not on PATH: install Node.js >= 20; {INSTALL_HINT}")
    if not ASC_JS.is_file():
        raise BuildError(f"the AssemblyScript compiler is missing ({ASC_JS}): {INSTALL_HINT}")
    with tempfile.TemporaryDirectory(prefix="chameleon-asc-") as tmp:
        # asc resolves `import ... from "chameleon-sdk"` in --path dirs, by directory name.
        packages = Path(tmp) / "packages"
        shutil.copytree(SDK_DIR, packages / SDK_PACKAGE)
        out = Path(tmp) / "out.wasm"
        # Relative entry path, run from the project dir: paths never reach the output.
        cmd = [node, str(ASC_JS), project.entry.relative_to(project.dir).as_posix(), *ASC_FLAGS,
               "--path", str(packages), "-o", str(out)]
        proc = subprocess.run(cmd, cwd=project.dir, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not out.is_file():
            message = (proc.stderr + proc.stdout).strip()
            raise BuildError(f"asc failed to compile {project.entry}:\n{message}")
        module = out.read_bytes()
    module = fold_start(module)
    problems = check_module(module)
    if problems:
        raise BuildError(f"{project.entry} builds a module the node would reject:\n  " + "\n  ".join(problems))
    return module


# --- the host API table ---------------------------------------------------------------


def host_imports() -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    """``{name: (params, results)}`` of the ``env`` imports listed in HOST_API.md.

    The table writes ``(dest, offset, len)`` or ``(addr_ptr, ..., gas: i64) -> i32``: a
    parameter is i32 unless typed.
    """
    table: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
    in_imports = False
    for line in HOST_API.read_text().splitlines():
        if line.startswith("## "):
            in_imports = line.startswith("## Imports")
            continue
        row = re.match(r"\|\s*`(\w+)`\s*\|\s*`\(([^)]*)\)(?:\s*->\s*(\w+))?`", line)
        if in_imports and row:
            name, params, result = row.groups()
            types = tuple(p.split(":")[1].strip() if ":" in p else "i32"
                          for p in (x.strip() for x in params.split(",")) if p)
            table[name] = (types, (result,) if result else ())
    if not table:
        raise BuildError(f"no import table found in {HOST_API}")
    return table


# --- module checks and the start-function fold -----------------------------------------


def check_module(module: bytes) -> list[str]:
    """What in ``module`` breaks HOST_API.md (empty: nothing). Needs wasmtime."""
    import wasmtime

    try:
        compiled = wasmtime.Module(wasmtime.Engine(), module)
    except Exception as exc:  # wasmtime raises its own error types
        return [f"invalid module: {exc}"]
    problems = []
    allowed = host_imports()
    for imp in compiled.imports:
        where = f"import {imp.module}.{imp.name}"
        if imp.module != "env" or imp.name not in allowed:
            problems.append(f"{where} is not in the host API (vm/wasm/HOST_API.md)")
        elif not isinstance(imp.type, wasmtime.FuncType):
            problems.append(f"{where} must be a function")
        elif _signature(imp.type) != allowed[imp.name]:
            problems.append(f"{where} has signature {_signature(imp.type)}, the host API says {allowed[imp.name]}")
    exports = {e.name: e.type for e in compiled.exports}
    if not isinstance(exports.get("memory"), wasmtime.MemoryType):
        problems.append("no `memory` export")
    for name in ("call", "deploy"):
        kind = exports.get(name)
        if kind is None:
            if name == "call":
                problems.append("no `call` export (export function call(): i32)")
        elif not isinstance(kind, wasmtime.FuncType) or _signature(kind) != ((), ("i32",)):
            problems.append(f"`{name}` must be a function () -> i32")
    sections = dict(_sections(module))
    if _SECTION_START in sections:
        problems.append("a start function (top-level code that is not a constant): move it into call()/deploy()")
    if _uses_floats(sections):
        problems.append("floating point types: contracts must be deterministic integer code")
    return problems


def _signature(ft) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(str(t) for t in ft.params), tuple(str(t) for t in ft.results)


def fold_start(module: bytes) -> bytes:
    """Removes a start function that only sets globals to constants, folding the constants
    into the globals' initializers.

    AssemblyScript's stub runtime sets its heap pointer from ``__heap_base`` in a start
    function; the host API forbids start functions (they would run before any message).
    A start function doing anything else is left in place (check_module reports it).
    """
    sections = list(_sections(module))
    by_id = dict(sections)
    if _SECTION_START not in by_id:
        return module
    start, _ = _uleb(by_id[_SECTION_START], 0)
    imported_funcs, imported_globals = _imported_counts(by_id.get(_SECTION_IMPORT, b""))
    stores = _constant_stores(_function_body(by_id.get(_SECTION_CODE, b""), start - imported_funcs))
    if stores is None:
        return module
    globals_payload = _set_global_inits(by_id.get(_SECTION_GLOBAL, b""), stores, imported_globals)
    if globals_payload is None:
        return module
    out = bytearray(module[:8])
    for sid, payload in sections:
        if sid == _SECTION_START:
            continue
        if sid == _SECTION_GLOBAL:
            payload = globals_payload
        out += bytes([sid]) + _encode_uleb(len(payload)) + payload
    return bytes(out)


def _sections(module: bytes):
    if module[:4] != b"\0asm":
        raise BuildError("not a WebAssembly module")
    pos = 8
    while pos < len(module):
        sid = module[pos]
        size, pos = _uleb(module, pos + 1)
        yield sid, module[pos:pos + size]
        pos += size


def _imported_counts(payload: bytes) -> tuple[int, int]:
    if not payload:
        return 0, 0
    count, pos = _uleb(payload, 0)
    funcs = globals_ = 0
    for _ in range(count):
        for _name in range(2):  # module, field
            n, pos = _uleb(payload, pos)
            pos += n
        kind = payload[pos]
        pos += 1
        if kind == 0:  # function: type index
            _, pos = _uleb(payload, pos)
            funcs += 1
        elif kind == 1:  # table: reftype, limits
            pos = _skip_limits(payload, pos + 1)
        elif kind == 2:  # memory: limits
            pos = _skip_limits(payload, pos)
        else:  # global: valtype, mutability
            pos += 2
            globals_ += 1
    return funcs, globals_


def _skip_limits(payload: bytes, pos: int) -> int:
    flags = payload[pos]
    _, pos = _uleb(payload, pos + 1)
    if flags & 1:
        _, pos = _uleb(payload, pos)
    return pos


def _function_body(payload: bytes, index: int) -> bytes:
    if not payload or index < 0:
        return b""
    count, pos = _uleb(payload, 0)
    for i in range(count):
        size, pos = _uleb(payload, pos)
        if i == index:
            return payload[pos:pos + size]
        pos += size
    return b""


def _constant_stores(body: bytes) -> dict[int, bytes] | None:
    """``{global index: i32.const/i64.const instruction}`` when the body is only such stores."""
    if not body:
        return None
    locals_, pos = _uleb(body, 0)
    if locals_ != 0:
        return None
    stores: dict[int, bytes] = {}
    while pos < len(body) - 1:
        op = body[pos]
        if op not in (0x41, 0x42):  # i32.const, i64.const
            return None
        _, end = _sleb(body, pos + 1)
        const = body[pos:end]
        if body[end] != 0x24:  # global.set
            return None
        index, pos = _uleb(body, end + 1)
        stores[index] = const
    return stores if body[pos:] == b"\x0b" else None


def _set_global_inits(payload: bytes, stores: dict[int, bytes], imported: int) -> bytes | None:
    if not payload:
        return None
    count, pos = _uleb(payload, 0)
    out = bytearray(_encode_uleb(count))
    remaining = dict(stores)
    for i in range(count):
        valtype, mut = payload[pos], payload[pos + 1]
        end = payload.index(0x0B, pos + 2)  # init: one constant instruction, then `end`
        init = payload[pos + 2:end + 1]
        const = remaining.pop(imported + i, None)
        if const is not None:
            if valtype != {0x41: _I32, 0x42: _I64}[const[0]]:
                return None
            init = const + b"\x0b"
        out += bytes([valtype, mut]) + init
        pos = end + 1
    return bytes(out) if not remaining else None


def _uses_floats(sections: dict[int, bytes]) -> bool:
    types = sections.get(_SECTION_TYPE, b"")
    globals_ = sections.get(_SECTION_GLOBAL, b"")
    # Function signatures and global types name every float a contract passes or keeps;
    # a float hidden in a local only would need a full code walk, which asc output lacks.
    return any(b in (_F32, _F64) for b in _valtypes_of_types(types)) or any(
        b in (_F32, _F64) for b in _valtypes_of_globals(globals_))


def _valtypes_of_types(payload: bytes):
    if not payload:
        return
    count, pos = _uleb(payload, 0)
    for _ in range(count):
        pos += 1  # 0x60
        for _vec in range(2):
            n, pos = _uleb(payload, pos)
            yield from payload[pos:pos + n]
            pos += n


def _valtypes_of_globals(payload: bytes):
    if not payload:
        return
    count, pos = _uleb(payload, 0)
    for _ in range(count):
        yield payload[pos]
        pos = payload.index(0x0B, pos + 2) + 1


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def _sleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if byte & 0x40:
                result -= 1 << shift
            return result, pos


def _encode_uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def example_dirs() -> list[Path]:
    """The example projects in vm/wasm/examples, sorted by name."""
    return sorted(p.parent for p in EXAMPLES_DIR.glob(f"*/{PROJECT_FILE}"))


def main(argv: list[str] | None = None) -> int:
    """``python -m vm.wasm.build [DIR ...]``: build the projects (default: every example)."""
    dirs = [Path(a) for a in (sys.argv[1:] if argv is None else argv)] or example_dirs()
    try:
        for directory in dirs:
            path = build_project(directory)
            print(f"{path} ({path.stat().st_size} bytes)")
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
