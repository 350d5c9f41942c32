"""Simulation suites: seeded multi-validator runs of ``consensus.sim``.

``@pytest.mark.slow`` sweeps are skipped unless ``CHAMELEON_SLOW=1`` is set.
"""
from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long simulator sweeps, run with CHAMELEON_SLOW=1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("CHAMELEON_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow sweep: set CHAMELEON_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _restore_logging():
    """`chameleon simulate` configures structlog for its process; in-process runs must not
    leave that configuration (bound to pytest's captured stderr) to later tests."""
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)
