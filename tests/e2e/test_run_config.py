"""`chameleon run --datadir DIR` starts a validator from DIR/config.toml alone."""
from __future__ import annotations

import shutil

import pytest

from node.config_file import render_config_file
from tests.e2e.nodes import CHAMELEON, DevNode, run_cli
from tests.e2e.test_engines import wait_for, write_key, write_spec

pytestmark = pytest.mark.e2e


class ConfigNode(DevNode):
    """Started with nothing but --datadir; its config.toml carries the port picked for it."""

    def argv(self, port: int) -> list[str]:
        self.datadir.mkdir(parents=True, exist_ok=True)
        (self.datadir / "config.toml").write_text(
            render_config_file(chain="../bft.json", rpc_port=port, validator_key="../validator.key"))
        return [CHAMELEON, "run", "--datadir", str(self.datadir)]


def test_a_validator_runs_from_its_config_file(tmp_path):
    write_spec(tmp_path, "bft")
    write_key(tmp_path)
    node = ConfigNode(tmp_path, datadir=tmp_path / "node1", name="configured").start()
    try:
        wait_for(lambda: node.rpc("eth_getBlockByNumber", "finalized", False)["number"] != "0x0")
        assert node.rpc("chameleon_consensus")["validator"] is not None
    finally:
        node.close()


def test_a_broken_config_file_is_refused_naming_the_field(tmp_path):
    datadir = tmp_path / "node"
    datadir.mkdir()
    (datadir / "config.toml").write_text("[rpc]\nport = \"eighty\"\n")
    result = run_cli("run", "--datadir", str(datadir))
    assert result.returncode == 1
    assert "config.toml: rpc.port: expected a port number" in result.stderr
    shutil.rmtree(datadir)
    datadir.mkdir()
    result = run_cli("run", "--datadir", str(datadir))
    assert result.returncode == 1 and "no chain spec: give --chain" in result.stderr
