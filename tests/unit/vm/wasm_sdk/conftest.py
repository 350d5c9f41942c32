"""Builds the example contracts once per session (asc takes seconds per project)."""
from __future__ import annotations

import pytest

from vm.wasm.build import build_project, example_dirs


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> dict[str, bytes]:
    """{example name: module bytes}, built into a temporary directory."""
    out = tmp_path_factory.mktemp("wasm-examples")
    return {d.name: build_project(d, out / f"{d.name}.wasm").read_bytes() for d in example_dirs()}
