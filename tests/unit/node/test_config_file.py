"""config.toml in a datadir: what devnet init writes reads back; mistakes name the field."""
from __future__ import annotations

import pytest

from node.config_file import ConfigFileError, load_config_file, render_config_file


def test_written_config_reads_back_with_paths_from_the_datadir(tmp_path):
    text = render_config_file(chain="../chain.json", rpc_port=8547, validator_key="validator.key",
                              metrics_port=9101, listen="/ip4/127.0.0.1/tcp/30303",
                              bootnodes=["/ip4/127.0.0.1/tcp/30304/p2p/16Uiu2abc"])
    (tmp_path / "config.toml").write_text(text)
    config = load_config_file(tmp_path)
    assert config.chain == tmp_path / "../chain.json"
    assert config.validator_key == tmp_path / "validator.key"
    assert (config.rpc_host, config.rpc_port, config.metrics_port) == ("127.0.0.1", 8547, 9101)
    assert config.listen == "/ip4/127.0.0.1/tcp/30303" and config.bootnodes == ["/ip4/127.0.0.1/tcp/30304/p2p/16Uiu2abc"]


def test_no_file_is_no_config(tmp_path):
    assert load_config_file(tmp_path) is None


@pytest.mark.parametrize("text, message", [
    ("chain = \n", "not TOML"),
    ("chian = \"x\"\n", "chian: unknown field"),
    ("[rpc]\nport = \"8545\"\n", "rpc.port: expected a port number"),
    ("[rpc]\nport = 70000\n", "rpc.port: expected a port number"),
    ("[network]\nbootnodes = \"/ip4/x\"\n", "network.bootnodes: expected a list"),
    ("[metrics]\nprot = 1\n", "metrics.prot: unknown field"),
    ("rpc = 5\n", "rpc: expected a table"),
])
def test_mistakes_name_the_file_and_field(tmp_path, text, message):
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigFileError, match=message) as raised:
        load_config_file(tmp_path)
    assert str(tmp_path / "config.toml") in str(raised.value)
