"""``chameleon devnet``: a validator network on one machine, written and run in one command each.

``init`` writes ``DIR/chain.json`` (the dev chain's funded test-mnemonic accounts, a poa or
bft consensus section naming the new validators), ``DIR/nodeK/`` for K = 1..N (the
validator key, the libp2p node key, and a ``config.toml`` with consecutive RPC ports from
``--rpc-port``, P2P ports from ``--p2p-port``, and every other validator as a bootnode), and
``DIR/bootnodes.txt`` (the validators' multiaddrs, one a line).

``up`` starts ``chameleon run --datadir DIR/nodeK`` for every node, prints each RPC URL, and
stops them all on Ctrl-C (SIGTERM to each, then waits).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from consensus.keys import Signer
from node.config_file import CONFIG_FILE, load_config_file, render_config_file
from node.dev import dev_spec_json

ENGINES = ("poa", "bft")
BFT_TIMEOUTS = {"proposeMs": 1000, "proposeDeltaMs": 500, "prevoteMs": 500, "prevoteDeltaMs": 500,
                "precommitMs": 500, "precommitDeltaMs": 500}


class DevnetError(Exception):
    """A devnet that cannot be written or started, with the reason."""


def consensus_section(engine: str, validators: list[str], *, block_time: int) -> dict:
    if engine == "poa":
        return {"engine": "poa", "authorities": validators, "slotDuration": block_time}
    return {"engine": "bft", "validators": validators, "blockTime": block_time, "timeouts": dict(BFT_TIMEOUTS)}


def init_devnet(out: Path, *, validators: int, engine: str, rpc_port: int = 8545, p2p_port: int = 30303,
                block_time: int = 1, chain_id: int | None = None) -> list[Path]:
    """Write the devnet; returns the node directories.

    Raises:
        DevnetError: bad arguments, or ``out`` already holds a devnet.
    """
    from network.identity import load_or_create_identity

    if engine not in ENGINES:
        raise DevnetError(f"--engine must be one of {', '.join(ENGINES)}")
    if not 1 <= validators <= 64:
        raise DevnetError("--validators must be between 1 and 64")
    if block_time < (1 if engine == "poa" else 0):
        raise DevnetError("--block-time must be at least 1 second for poa (0 for bft: as fast as consensus goes)")
    if (out / "chain.json").exists():
        raise DevnetError(f"{out} already holds a devnet (chain.json); choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    keys = [os.urandom(32) for _ in range(validators)]
    addresses = ["0x" + Signer(key).address.hex() for key in keys]
    spec = dev_spec_json() if chain_id is None else dev_spec_json(chain_id)
    spec["name"] = f"devnet-{engine}"
    spec["consensus"] = consensus_section(engine, addresses, block_time=block_time)
    (out / "chain.json").write_text(json.dumps(spec, indent=2) + "\n")
    nodes, multiaddrs = [], []
    for k in range(1, validators + 1):
        node = out / f"node{k}"
        node.mkdir(exist_ok=True)
        key_file = node / "validator.key"
        key_file.write_text("0x" + keys[k - 1].hex() + "\n")
        key_file.chmod(0o600)
        identity = load_or_create_identity(node)
        multiaddrs.append(identity.multiaddr(p2p_port + k - 1))
        nodes.append(node)
    for k, node in enumerate(nodes, start=1):
        others = [m for j, m in enumerate(multiaddrs, start=1) if j != k]
        (node / CONFIG_FILE).write_text(render_config_file(
            chain="../chain.json", rpc_port=rpc_port + k - 1, validator_key="validator.key",
            listen=f"/ip4/127.0.0.1/tcp/{p2p_port + k - 1}", bootnodes=others))
    (out / "bootnodes.txt").write_text("\n".join(multiaddrs) + "\n")
    return nodes


def find_nodes(directory: Path) -> list[Path]:
    """The node directories of a devnet, in order.

    Raises:
        DevnetError: ``directory`` holds no devnet.
    """
    nodes = sorted((p for p in directory.glob("node*") if (p / CONFIG_FILE).exists()),
                   key=lambda p: int(p.name[4:]) if p.name[4:].isdigit() else 0)
    if not nodes:
        raise DevnetError(f"{directory} holds no devnet (no node*/config.toml); run 'chameleon devnet init' first")
    return nodes


def up(directory: Path, *, executable: str, extra_args: list[str] = ()) -> int:
    """Run every node of the devnet until Ctrl-C (or SIGTERM); returns an exit code."""
    nodes = find_nodes(directory)
    procs: list[tuple[Path, subprocess.Popen]] = []
    stop = False

    def request_stop(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
        nonlocal stop
        stop = True

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for node in nodes:
            config = load_config_file(node)
            log_path = node / "node.log"
            with open(log_path, "ab") as log_file:
                proc = subprocess.Popen([executable, "run", "--datadir", str(node), *extra_args],
                                        stdout=log_file, stderr=log_file, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
            procs.append((node, proc))
            print(f"{node.name}: http://127.0.0.1:{config.rpc_port}  (log: {log_path})", flush=True)
        print(f"{len(procs)} nodes running; Ctrl-C stops them all.", flush=True)
        reported: set[Path] = set()
        while not stop:
            for node, proc in procs:
                if proc.poll() is not None and node not in reported:
                    reported.add(node)
                    print(f"{node.name} exited with code {proc.returncode}; see {node / 'node.log'}",
                          file=sys.stderr, flush=True)
            time.sleep(0.2)
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _, proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        for s, handler in previous.items():
            signal.signal(s, handler)
    print("all nodes stopped", flush=True)
    return 0
