"""``<datadir>/config.toml``: what ``chameleon run --datadir DIR`` needs besides the datadir.

``chameleon devnet init`` writes one per node; an operator may write their own. Command-line
flags win over the file, the file over the defaults. Paths are relative to the datadir.

```toml
chain = "../chain.json"
validator_key = "validator.key"      # optional: without it the node follows only
# password_file = "password.txt"     # for a keystore validator_key

[rpc]
host = "127.0.0.1"
port = 8545

[metrics]
port = 9100                          # optional

[network]
listen = "/ip4/127.0.0.1/tcp/30303"
bootnodes = ["/ip4/127.0.0.1/tcp/30304/p2p/16Uiu2…"]
```
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.toml"


class ConfigFileError(Exception):
    """A config.toml that cannot be used, naming the file, the field and the reason."""


@dataclass(slots=True)
class FileConfig:
    chain: Path | None = None
    validator_key: Path | None = None
    password_file: Path | None = None
    rpc_host: str | None = None
    rpc_port: int | None = None
    metrics_port: int | None = None
    listen: str | None = None
    bootnodes: list[str] = field(default_factory=list)


def load_config_file(datadir: Path) -> FileConfig | None:
    """The datadir's config.toml, or None when it has none.

    Raises:
        ConfigFileError: unreadable, not TOML, an unknown field or a wrong type.
    """
    path = datadir / CONFIG_FILE
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigFileError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError(f"{path}: not TOML: {exc}") from None

    def fail(where: str, reason: str) -> ConfigFileError:
        return ConfigFileError(f"{path}: {where}: {reason}")

    def section(name: str, fields: set[str]) -> dict[str, Any]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise fail(name, "expected a table")
        for key in value:
            if key not in fields:
                raise fail(f"{name}.{key}", f"unknown field (known: {', '.join(sorted(fields))})")
        return value

    known = {"chain", "validator_key", "password_file", "rpc", "metrics", "network"}
    for key in data:
        if key not in known:
            raise fail(key, f"unknown field (known: {', '.join(sorted(known))})")

    def a_path(value: Any, where: str) -> Path | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            raise fail(where, "expected a path")
        return (datadir / value) if not Path(value).is_absolute() else Path(value)

    def a_port(value: Any, where: str) -> int | None:
        if value is None:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
            raise fail(where, "expected a port number 0-65535")
        return value

    rpc = section("rpc", {"host", "port"})
    metrics = section("metrics", {"port"})
    network = section("network", {"listen", "bootnodes"})
    host = rpc.get("host")
    if host is not None and not isinstance(host, str):
        raise fail("rpc.host", "expected a string")
    listen = network.get("listen")
    if listen is not None and not isinstance(listen, str):
        raise fail("network.listen", "expected a multiaddr string")
    bootnodes = network.get("bootnodes", [])
    if not isinstance(bootnodes, list) or not all(isinstance(b, str) for b in bootnodes):
        raise fail("network.bootnodes", "expected a list of multiaddr strings")
    return FileConfig(
        chain=a_path(data.get("chain"), "chain"),
        validator_key=a_path(data.get("validator_key"), "validator_key"),
        password_file=a_path(data.get("password_file"), "password_file"),
        rpc_host=host,
        rpc_port=a_port(rpc.get("port"), "rpc.port"),
        metrics_port=a_port(metrics.get("port"), "metrics.port"),
        listen=listen,
        bootnodes=list(bootnodes),
    )


def render_config_file(*, chain: str, rpc_port: int, validator_key: str | None = None,
                       metrics_port: int | None = None, listen: str | None = None,
                       bootnodes: list[str] = (), rpc_host: str = "127.0.0.1") -> str:
    """The TOML text of a config file (every string JSON-quoted, which TOML accepts)."""
    import json

    lines = [f"chain = {json.dumps(chain)}"]
    if validator_key is not None:
        lines.append(f"validator_key = {json.dumps(validator_key)}")
    lines += ["", "[rpc]", f"host = {json.dumps(rpc_host)}", f"port = {rpc_port}"]
    if metrics_port is not None:
        lines += ["", "[metrics]", f"port = {metrics_port}"]
    if listen is not None or bootnodes:
        lines += ["", "[network]"]
        if listen is not None:
            lines.append(f"listen = {json.dumps(listen)}")
        lines.append("bootnodes = [" + ", ".join(json.dumps(b) for b in bootnodes) + "]")
    return "\n".join(lines) + "\n"
