"""The repository's shape: import direction between the top-level packages, test module names."""
from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Which internal packages each package may import (DESIGN.md, "direction of imports").
ALLOWED = {
    "vm": set(),
    "runtime": {"vm"},
    "consensus": {"runtime", "vm"},
    "network": {"runtime"},
}


def _internal_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        found |= {n.split(".")[0] for n in names} & {"vm", "runtime", "consensus", "network", "node", "bridge"}
    return found


def test_packages_import_only_downwards() -> None:
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in (ROOT / package).rglob("*.py"):
            for imported in _internal_imports(path) - allowed - {package}:
                wrong.append(f"{path.relative_to(ROOT)} imports {imported}")
    assert not wrong, "\n".join(wrong)


def test_test_module_names_are_unique() -> None:
    # pytest's default import mode needs unique basenames for test modules outside packages.
    names = Counter(p.name for p in (ROOT / "tests").rglob("test_*.py"))
    assert [n for n, c in names.items() if c > 1] == []
