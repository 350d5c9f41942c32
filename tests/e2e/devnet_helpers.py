"""A devnet written by `chameleon devnet init` and run as real processes on 127.0.0.1."""
from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.e2e.nodes import DevNode, run_cli


def free_port_range(count: int, start: int = 12000, stop: int = 30000, step: int = 37) -> int:
    """A base port with ``count`` consecutive ports free to bind on 127.0.0.1 right now.

    Below Linux's ephemeral range (32768-60999), where every `free_port()` of the other
    tests' nodes lands: a devnet's ports, fixed in its config.toml, cannot be taken by them
    between this probe and the nodes' start (the RPC ports, base + 1000, stay below it too).
    """
    for base in range(start + (time.monotonic_ns() // 1000) % 997 * step % (stop - start), stop, step):
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                s.bind(("127.0.0.1", port))
                sockets.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise AssertionError("no free port range")


def init_devnet(out: Path, engine: str, validators: int = 4, block_time: int = 1) -> list[Path]:
    base = free_port_range(validators)
    result = run_cli("devnet", "init", "--validators", str(validators), "--engine", engine, "--out", str(out),
                     "--p2p-port", str(base), "--rpc-port", str(base + 1000), "--block-time", str(block_time))
    assert result.returncode == 0, result.stderr
    return [out / f"node{k}" for k in range(1, validators + 1)]


def start_nodes(factory, dirs: list[Path]) -> list[DevNode]:
    """Each node from its config.toml alone (the RPC port is picked free: a flag wins over the file)."""
    nodes = [factory(command="run", datadir=d, name=d.name, start=False) for d in dirs]
    for node in nodes:
        node.spawn()
    for node in nodes:
        node.wait_ready()
    return nodes


def finalized(node: DevNode) -> int:
    return int(node.rpc("eth_getBlockByNumber", "finalized", False)["number"], 16)


def wait_until(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what}: not met within {timeout}s")


def assert_same_final_blocks(nodes: list[DevNode]) -> None:
    """No two nodes finalized different blocks at one number (agreement), checked over RPC."""
    upto = min(finalized(n) for n in nodes)
    for number in range(1, upto + 1):
        hashes = {n.rpc("eth_getBlockByNumber", hex(number), False)["hash"] for n in nodes}
        assert len(hashes) == 1, f"block {number} differs across nodes: {hashes}"
