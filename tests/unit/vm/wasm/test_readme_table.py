"""The README's host-function table is the spec's (vm/wasm/HOST_API.md), row for row."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]


def _import_rows(text: str) -> list[str]:
    start = text.index("| import | signature |")
    return [line for line in text[start:].split("\n\n")[0].splitlines() if line.startswith("| `")]


def test_readme_lists_every_host_import_as_the_spec_does() -> None:
    spec = _import_rows((ROOT / "vm" / "wasm" / "HOST_API.md").read_text())
    assert len(spec) >= 20
    assert _import_rows((ROOT / "README.md").read_text()) == spec
