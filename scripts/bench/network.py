#!/usr/bin/env python3
"""Network figures of real `chameleon` processes on 127.0.0.1: time to finality, full-sync
speed against an Anvil execution reference, and gossip latency, in one run.

    .venv/bin/python scripts/bench/network.py                           # all phases, defaults
    .venv/bin/python scripts/bench/network.py --blocks 100 --txs-per-block 20   # a quick run
    .venv/bin/python scripts/bench/network.py --phases sync,anvil --json

Phases (``--phases``, run in this order):

- ``finality``: a 4-validator bft devnet (``chameleon devnet init``, block time 1 s). For
  ``--finality-samples`` transfers, each sent to node 1..4 in turn after a random pause of
  0-1 s: the time from ``eth_sendRawTransaction`` until ``eth_getBlockByNumber("finalized")``
  covers the transfer's block on all 4 nodes (median, p90). A thread polls the 4 nodes'
  finalized heads meanwhile; from those polls, for every block finalized during the run,
  the time from the block's own ``timestamp`` until node 4 saw it finalized (median).
  Goal (the issue): under 1 s.
- ``sync``: a 1-validator bft devnet with ``--block-time 0`` (blocks as fast as consensus
  goes) is fed ``--blocks`` x ``--txs-per-block`` transfers, pre-signed in bulk and sent in
  JSON-RPC batches while the pool holds at most ``--window`` of them (a tenth per sending
  account: the pool serves equal-tip senders unevenly, see ``build_chain``). Blocks are sized by
  gas: each transfer's gas limit is ``block gas limit // txs-per-block`` (it uses 21,000),
  so a block holds at most ``--txs-per-block`` of them, and the pool never runs dry, so it
  holds exactly that many. The validator is then stopped, its datadir copied (without
  config.toml and validator.key) to an archive served by a follower node ``--listen``ing,
  and a fresh node started with ``--bootnodes`` to it: blocks/s and transactions/s from the
  start of its sync (the first poll, every 20 ms, where ``eth_syncing`` is an object) until
  its ``eth_blockNumber`` reaches the archive's head, then the head's hash and state root
  are compared; also the wait from RPC ready to the sync's start, and the rate with it.
  Goal (the issue): >= 200 blocks/s. ``--profile-sync FILE`` runs that node under cProfile.
- ``anvil``: the same signed transfers mined by Anvil (``--no-mining``; per block, one
  batch of its transfers then ``evm_mine``): an execution-throughput reference in blocks/s,
  and the ratio sync speed / Anvil speed.
- ``gossip``: ``network_gossip.py``'s 4 host processes (small counts): median and p99
  gossip latency.

The 2 cores are shared by every process, the bench included. Every process it starts is
stopped at the end (SIGTERM, then SIGKILL), also on Ctrl-C; nodes also die with the bench
(PR_SET_PDEATHSIG). ``--keep`` keeps the work directory (datadirs, logs).

Measured on the 2-core dev machine (2026-11-25, defaults, one run of ~7 minutes, another
test suite running alongside): send -> final on all 4 median 0.56 s, p90 0.99 s, block
timestamp -> final on node 4 median 0.08 s (bft blocks are built on whole seconds);
building 946 tx/s; Anvil 55 blocks/s with the sending (evm_mine alone 275); gossip per
delivery median 3.3 ms, p99 7.8 ms. Sync: full sync (re-executing) 11.1 blocks/s = 1,095
tx/s, node CPU 88 ms a block (~97% importing: py-evm ~55%, state root ~35%); fast sync
(bft, commits checked, state downloaded; the default) 333 blocks/s, node CPU 3 ms a block.
"""
from __future__ import annotations

import argparse
import atexit
import bisect
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
_VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
if Path(sys.prefix).resolve() != (REPO_ROOT / ".venv").resolve() and _VENV_PYTHON.exists():
    os.execv(str(_VENV_PYTHON), [str(_VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(1, str(Path(__file__).resolve().parent))  # network_gossip (spawned children find it too)

import coincurve  # noqa: E402
import orjson  # noqa: E402
import rlp  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402

import erc20_rpc  # noqa: E402  (the JSON-RPC client and process helpers the benches share)
from erc20_rpc import PROFILED_NODE, RpcError  # noqa: E402
from node.dev import DEV_CHAIN_ID, dev_keys  # noqa: E402
from runtime.primitives.hashing import keccak256  # noqa: E402

CHAMELEON = REPO_ROOT / ".venv" / "bin" / "chameleon"
ANVIL = REPO_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
HOST = "127.0.0.1"
PHASES = ("finality", "sync", "anvil", "gossip")

GWEI = 10**9
TRANSFER_GAS = 21_000
MAX_FEE = 20 * GWEI
TIP = GWEI
SENDERS = 10  # the dev accounts sending the sync workload, round-robin
RECIPIENTS = 1000  # distinct recipients of the sync workload (new accounts in the state)
SEND_BATCH = 200  # JSON-RPC requests per HTTP batch
POLL_S = 0.05
SYNC_POLL_S = 0.02
FINALITY_POLL_S = 0.01
FINALITY_GOAL_S = 1.0
SYNC_GOAL_BLOCKS_PER_S = 200.0
STALL_S = 60.0

console = Console()




# --------------------------------------------------------------------------- JSON-RPC client


class Rpc(erc20_rpc.Rpc):
    """erc20_rpc's client, called as ``call(method, *params)``, with batches."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        super().__init__(HOST, port, timeout)

    def call(self, method: str, *params: object):
        return super().call(method, list(params))

    def batch(self, calls: list[tuple[str, list]]) -> list:
        """The results in call order; raises on the first error."""
        first = self.next_id + 1
        self.next_id += len(calls)
        body = orjson.dumps([{"jsonrpc": "2.0", "id": first + i, "method": m, "params": p}
                             for i, (m, p) in enumerate(calls)])
        answers = orjson.loads(self._post(body, "batch"))
        by_id = {a.get("id"): a for a in answers}
        out = []
        for i, (method, _) in enumerate(calls):
            answer = by_id.get(first + i)
            if answer is None:
                raise RpcError(f"{method}: no answer in the batch")
            if answer.get("error"):
                raise RpcError(f"{method}: {answer['error']}")
            out.append(answer.get("result"))
        return out


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def free_port_range(count: int) -> int:
    """A base port with ``count`` consecutive ports free on 127.0.0.1 right now."""
    rng = random.Random(time.monotonic_ns())
    for _ in range(200):
        base = rng.randrange(20000, 32000 - count)  # below the ephemeral range (32768-)
        sockets = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                sockets.append(s)
                s.bind((HOST, port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no free port range")


def cpu_seconds(pid: int) -> float:
    """utime+stime of ``pid`` and its reaped children, in seconds (nan once it is gone)."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return float("nan")
    fields = data[data.rindex(b")") + 2:].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _die_with_parent() -> None:  # runs in the child before exec
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


_RUNNING: list[NodeProcess] = []


@dataclass
class NodeProcess:
    """One node process (chameleon or anvil) with its log file, answering JSON-RPC on ``port``."""

    name: str
    argv: list[str]
    port: int
    logdir: Path
    proc: subprocess.Popen | None = None

    @property
    def log_path(self) -> Path:
        return self.logdir / f"{self.name}.log"

    def start(self, ready_timeout: float = 60.0) -> Rpc:
        self.logdir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
                env=env, start_new_session=True, preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        _RUNNING.append(self)
        return erc20_rpc.wait_until_answering(self.proc, Rpc(self.port, timeout=5.0), self.name, ready_timeout,
                                              self.log_tail, poll_s=0.05)

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid) if self.proc is not None else float("nan")

    def log_tail(self, n: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                console.print(f"[yellow]{self.name} ignored SIGTERM for {timeout:.0f}s: killing[/]")
                self.proc.kill()
                self.proc.wait()
        if self in _RUNNING:
            _RUNNING.remove(self)
        return self.proc.returncode


def stop_all() -> None:
    for node in list(reversed(_RUNNING)):
        try:
            node.stop(timeout=15.0)
        except Exception:  # teardown goes on whatever happens
            if node.proc is not None and node.proc.poll() is None:
                node.proc.kill()


atexit.register(stop_all)


def chameleon(*args: str, timeout: float = 120.0) -> str:
    """Run ``chameleon ARGS`` to completion; its stdout (raises with stderr on failure)."""
    p = subprocess.run([str(CHAMELEON), *args], capture_output=True, text=True, timeout=timeout,
                       cwd=REPO_ROOT, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise RuntimeError(f"chameleon {' '.join(args)} exited {p.returncode}: {p.stderr.strip()[-800:]}")
    return p.stdout


def tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.strip()
        return out.splitlines()[0] if out else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def progress_bar(label: str, unit: str) -> Progress:
    return Progress(TextColumn(f"[bold]{label}[/]"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                    TimeElapsedColumn(), console=console, transient=True)


# --------------------------------------------------------------------------- transactions


@dataclass(frozen=True, slots=True)
class SignedTx:
    raw: str  # 0x-hex, as eth_sendRawTransaction takes it
    hash: str  # 0x-hex


def sign_transfer(key: coincurve.PrivateKey, nonce: int, to: bytes, value: int, gas: int,
                  chain_id: int = DEV_CHAIN_ID) -> SignedTx:
    """An EIP-1559 transfer, signed with libsecp256k1 directly (~20x eth_account's speed)."""
    fields = [chain_id, nonce, TIP, MAX_FEE, gas, to, value, b"", []]
    signature = key.sign_recoverable(keccak256(b"\x02" + rlp.encode(fields)), hasher=None)
    raw = b"\x02" + rlp.encode(fields + [signature[64], int.from_bytes(signature[:32], "big"),
                                         int.from_bytes(signature[32:64], "big")])
    return SignedTx("0x" + raw.hex(), "0x" + keccak256(raw).hex())


def check_signer() -> None:
    """Our signer gives the bytes eth_account gives (once, before trusting it with 100,000)."""
    from eth_account import Account
    from eth_utils import to_checksum_address

    address, key = dev_keys(1)[0]
    ours = sign_transfer(coincurve.PrivateKey(key), 7, address, 5, 300_000)
    theirs = Account.sign_transaction(
        {"type": 2, "chainId": DEV_CHAIN_ID, "nonce": 7, "to": to_checksum_address(address), "value": 5, "gas": 300_000,
         "maxFeePerGas": MAX_FEE, "maxPriorityFeePerGas": TIP, "data": b""}, key)
    if ours.raw != "0x" + bytes(theirs.raw_transaction).hex():
        raise AssertionError("the bench's transaction signer disagrees with eth_account")


def presign_workload(count: int, gas: int, senders: int = SENDERS) -> list[SignedTx]:
    """``count`` transfers, round-robin over the first ``senders`` dev accounts (nonces from 0)."""
    keys = [coincurve.PrivateKey(key) for _, key in dev_keys(senders)]
    recipients = [keccak256(b"chameleon bench recipient %d" % i)[-20:] for i in range(RECIPIENTS)]
    out: list[SignedTx] = []
    with progress_bar("pre-signing", "transfers") as progress:
        task = progress.add_task("sign", total=count)
        for i in range(count):
            out.append(sign_transfer(keys[i % senders], i // senders, recipients[i % RECIPIENTS], 1 + i % 7, gas))
            if i % 2000 == 0:
                progress.update(task, completed=i)
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# --------------------------------------------------------------------------- 1. finality


class FinalityWatcher(threading.Thread):
    """Polls each node's finalized head; keeps (wall time, number) whenever it grows."""

    def __init__(self, ports: list[int]) -> None:
        super().__init__(daemon=True)
        self.ports = ports
        self.records: list[list[tuple[float, int]]] = [[] for _ in ports]
        self.polls = 0
        self.elapsed = 0.0
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        clients = [Rpc(p, timeout=10.0) for p in self.ports]
        t0 = time.monotonic()
        try:
            while not self.halt.is_set():
                for k, rpc in enumerate(clients):
                    number = int(rpc.call("eth_getBlockByNumber", "finalized", False)["number"], 16)
                    seen = time.time()  # after the answer: never earlier than the node's finality
                    rec = self.records[k]
                    if not rec or number > rec[-1][1]:
                        rec.append((seen, number))
                self.polls += 1
                time.sleep(FINALITY_POLL_S)
        except BaseException as exc:  # reported by the phase
            self.error = exc
        finally:
            self.elapsed = time.monotonic() - t0
            for rpc in clients:
                rpc.close()

    def seen_at(self, k: int, number: int) -> float | None:
        """When node k was first seen with a finalized head >= number (None: not yet)."""
        rec = self.records[k]
        i = bisect.bisect_left([n for _, n in rec], number)
        return rec[i][0] if i < len(rec) else None

    def all_seen_at(self, number: int) -> float | None:
        times = [self.seen_at(k, number) for k in range(len(self.ports))]
        return None if None in times else max(times)


def wait_for(predicate, timeout: float, what: str, pause: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout:.0f}s")
        time.sleep(pause)


def bench_finality(work: Path, args: argparse.Namespace) -> dict:
    devnet = work / "finality"
    base = free_port_range(8)  # p2p base..base+3, RPC base+4..base+7
    chameleon("devnet", "init", "--validators", "4", "--engine", "bft", "--out", str(devnet),
              "--p2p-port", str(base), "--rpc-port", str(base + 4), "--block-time", "1")
    nodes = [NodeProcess(f"finality-node{k}", [str(CHAMELEON), "run", "--datadir", str(devnet / f"node{k}")],
                         base + 3 + k, work / "logs") for k in range(1, 5)]
    rpcs = [node.start() for node in nodes]
    console.print(f"finality: 4 bft validators (block time 1 s) on RPC ports {base + 4}..{base + 7}")
    wait_for(lambda: all(int(r.call("eth_getBlockByNumber", "finalized", False)["number"], 16) >= 2 for r in rpcs),
             90, "all four validators finalize block 2", pause=0.2)

    watcher = FinalityWatcher([n.port for n in nodes])
    watcher.start()
    address, key = dev_keys(2)[1]
    signer = coincurve.PrivateKey(key)
    rng = random.Random(args.seed)
    recipient = keccak256(b"chameleon bench finality")[-20:]
    samples: list[dict] = []
    try:
        with progress_bar("finality", "transfers") as progress:
            task = progress.add_task("finality", total=args.finality_samples)
            nonce = int(rpcs[0].call("eth_getTransactionCount", "0x" + address.hex(), "pending"), 16)
            for i in range(args.finality_samples):
                time.sleep(rng.uniform(0.0, 1.0))  # a random phase against the block boundaries
                tx = sign_transfer(signer, nonce + i, recipient, 1, TRANSFER_GAS)
                via = i % len(nodes)
                sent = time.time()
                got = rpcs[via].call("eth_sendRawTransaction", tx.raw)
                if got.lower() != tx.hash:
                    raise RuntimeError(f"node returned hash {got}, expected {tx.hash}")
                receipt = wait_for(lambda: rpcs[via].call("eth_getTransactionReceipt", tx.hash), 60,
                                   "the transfer's receipt", pause=0.01)
                number = int(receipt["blockNumber"], 16)
                final = wait_for(lambda: watcher.all_seen_at(number) or watcher.error, 60,
                                 f"block {number} finalized on all 4 nodes", pause=0.01)
                if watcher.error:
                    raise RuntimeError(f"finality poller failed: {watcher.error}")
                samples.append({"block": number, "via": via + 1, "seconds": final - sent})
                progress.update(task, completed=i + 1)
    finally:
        watcher.halt.set()
        watcher.join(10)

    # From each block's timestamp to finality seen on node 4, for the blocks finalized
    # while the watcher ran (not those already final at its first poll).
    rec4 = watcher.records[3]
    first, last = rec4[0][1] + 1, rec4[-1][1]
    timestamps = {}
    for start in range(first, last + 1, 200):
        numbers = list(range(start, min(last, start + 199) + 1))
        for n, block in zip(numbers, rpcs[3].batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])):
            timestamps[n] = int(block["timestamp"], 16)
    from_timestamp = [watcher.seen_at(3, n) - ts for n, ts in timestamps.items()]
    for node in nodes:
        node.stop()
    for rpc in rpcs:
        rpc.close()
    seconds = [s["seconds"] for s in samples]
    return {
        "samples": len(samples),
        "send_to_final_all4_median_s": statistics.median(seconds),
        "send_to_final_all4_p90_s": percentile(seconds, 0.9),
        "send_to_final_all4_max_s": max(seconds),
        "timestamp_to_final_node4_median_s": statistics.median(from_timestamp) if from_timestamp else None,
        "timestamp_to_final_node4_p90_s": percentile(from_timestamp, 0.9) if from_timestamp else None,
        "timestamp_blocks": len(from_timestamp),
        "poll_interval_ms": 1000 * watcher.elapsed / max(1, watcher.polls),
    }


# --------------------------------------------------------------------------- 2. build a chain


@dataclass
class BuiltChain:
    devnet: Path
    node_dir: Path
    txs: list[SignedTx]
    gas_per_tx: int
    seconds: float = 0.0
    head: int = 0
    first_block: int = 0  # the head when the first transfer was sent
    validator_cpu: float = 0.0
    info: dict = field(default_factory=dict)


def prepare_workload(work: Path, args: argparse.Namespace) -> BuiltChain:
    devnet = work / "chain"
    base = free_port_range(2)
    chameleon("devnet", "init", "--validators", "1", "--engine", "bft", "--out", str(devnet),
              "--p2p-port", str(base), "--rpc-port", str(base + 1), "--block-time", str(args.build_block_time))
    gas_limit = int(json.loads((devnet / "chain.json").read_text())["gasLimit"], 16)
    gas_per_tx = gas_limit // args.txs_per_block
    if gas_per_tx < TRANSFER_GAS:
        raise SystemExit(f"--txs-per-block {args.txs_per_block} does not fit a {gas_limit}-gas block")
    check_signer()
    txs = presign_workload(args.blocks * args.txs_per_block, gas_per_tx)
    return BuiltChain(devnet, devnet / "node1", txs, gas_per_tx)


def build_chain(work: Path, chain: BuiltChain, args: argparse.Namespace) -> None:
    """Feed the transfers to the validator, at most ``--window / SENDERS`` pooled per sender; stop
    it once all are in.

    The window is per sender because the pool serves senders unevenly: among equal tips it
    takes the lowest transaction hash first, so a sender whose next transaction hashes high
    waits while the others go through, for dozens of blocks (whole blocks from one sender
    are common), and a total window would let that sender hit the pool's per-sender limit.
    """
    port = free_port()
    validator = NodeProcess("builder", [str(CHAMELEON), "run", "--datadir", str(chain.node_dir), "--port", str(port),
                                        "--txpool-size", str(max(10_000, 2 * args.window))], port, work / "logs")
    rpc = validator.start()
    n = len(chain.txs)
    lanes = [chain.txs[k::SENDERS] for k in range(SENDERS)]  # each sender's transfers, in nonce order
    addresses = ["0x" + address.hex() for address, _ in dev_keys(SENDERS)]
    per_sender = args.window // SENDERS
    sent = [0] * SENDERS
    chain.first_block = int(rpc.call("eth_blockNumber"), 16)
    cpu0 = validator.cpu()
    t0 = time.perf_counter()
    with progress_bar("building", "transfers in blocks") as progress:
        task = progress.add_task("build", total=n)
        last_change, last_in = time.monotonic(), -1
        while True:
            nonces = [int(x, 16) for x in rpc.batch([("eth_getTransactionCount", [a, "latest"]) for a in addresses])]
            included = sum(nonces)
            progress.update(task, completed=included)
            if included == n:
                break
            if included != last_in:
                last_change, last_in = time.monotonic(), included
            elif time.monotonic() - last_change > STALL_S:
                raise RuntimeError(f"building stalled at {included}/{n} transfers (nonces {nonces}, "
                                   f"sent {sent}):\n{validator.log_tail()}")
            calls: list[tuple[str, list]] = []
            for k, lane in enumerate(lanes):
                take = min(per_sender - (sent[k] - nonces[k]), len(lane) - sent[k])
                if take > 0:
                    calls += [("eth_sendRawTransaction", [tx.raw]) for tx in lane[sent[k]:sent[k] + take]]
                    sent[k] += take
            for i in range(0, len(calls), SEND_BATCH):  # each sender's transfers stay in nonce order
                rpc.batch(calls[i:i + SEND_BATCH])
            time.sleep(0.1 if sum(sent) < n else 0.02)
    chain.seconds = time.perf_counter() - t0
    chain.validator_cpu = validator.cpu() - cpu0
    chain.head = int(rpc.call("eth_blockNumber"), 16)
    rpc.close()
    code = validator.stop()
    if code not in (0, None):
        console.print(f"[yellow]the validator exited with {code}[/]")


def block_composition(rpc: Rpc, head: int, per_block: int) -> dict:
    counts = []
    for start in range(1, head + 1, 500):
        numbers = range(start, min(head, start + 499) + 1)
        counts += [int(c, 16) for c in rpc.batch(
            [("eth_getBlockTransactionCountByNumber", [hex(n)]) for n in numbers])]
    with_txs = [i + 1 for i, c in enumerate(counts) if c]
    return {
        "blocks": head,
        "transactions": sum(counts),
        "full_blocks": sum(1 for c in counts if c == per_block),
        "partial_blocks": sum(1 for c in counts if 0 < c < per_block),
        "empty_blocks": sum(1 for c in counts if c == 0),
        "over_full_blocks": sum(1 for c in counts if c > per_block),
        "first_tx_block": with_txs[0] if with_txs else 0,
        "last_tx_block": with_txs[-1] if with_txs else 0,
    }


# --------------------------------------------------------------------------- 3. full sync


def bench_sync(work: Path, chain: BuiltChain, args: argparse.Namespace) -> dict:
    archive_dir = work / "archive"
    shutil.copytree(chain.node_dir, archive_dir, ignore=shutil.ignore_patterns("config.toml", "validator.key"))
    spec = str(chain.devnet / "chain.json")
    p2p, rpc_port = free_port_range(1), free_port()
    archive = NodeProcess("archive", [str(CHAMELEON), "run", "--chain", spec, "--datadir", str(archive_dir),
                                      "--listen", f"/ip4/{HOST}/tcp/{p2p}", "--port", str(rpc_port)],
                          rpc_port, work / "logs")
    arpc = archive.start()
    head = arpc.call("eth_getBlockByNumber", "latest", False)
    target = int(head["number"], 16)
    composition = block_composition(arpc, target, args.txs_per_block)
    chain.info = composition
    peer_id = arpc.call("chameleon_nodeInfo")["id"]

    fresh_port = free_port()
    argv = [str(CHAMELEON), "run", "--chain", spec, "--datadir", str(work / "fresh"),
            "--bootnodes", f"/ip4/{HOST}/tcp/{p2p}/p2p/{peer_id}", "--port", str(fresh_port)]
    if args.profile_sync:
        argv = [sys.executable, "-c", PROFILED_NODE, str(Path(args.profile_sync).resolve()), *argv[1:]]
    fresh = NodeProcess("fresh", argv, fresh_port, work / "logs")
    t_spawn = time.perf_counter()
    frpc = fresh.start()
    t_ready = time.perf_counter()
    cpu0, acpu0 = fresh.cpu(), archive.cpu()
    t_start = None  # first poll that saw the node syncing (eth_syncing an object) or a block
    with progress_bar("syncing", "blocks") as progress:
        task = progress.add_task("sync", total=target)
        last_change, last = time.monotonic(), -1
        while True:
            # The node answers between imported batches only (an import holds its event loop).
            syncing, number = frpc.batch([("eth_syncing", []), ("eth_blockNumber", [])])
            number = int(number, 16)
            now = time.perf_counter()
            if t_start is None and (syncing or number > 0):
                t_start = now
            progress.update(task, completed=number)
            if number >= target:
                break
            if number != last:
                last_change, last = time.monotonic(), number
            elif time.monotonic() - last_change > STALL_S:
                raise RuntimeError(f"sync stalled at block {number}/{target}:\n{fresh.log_tail()}")
            time.sleep(SYNC_POLL_S)
    t_done = time.perf_counter()
    cpu, acpu = fresh.cpu() - cpu0, archive.cpu() - acpu0
    synced = frpc.call("eth_getBlockByNumber", hex(target), False)
    if synced["hash"] != head["hash"] or synced["stateRoot"] != head["stateRoot"]:
        raise RuntimeError(f"the synced head differs: {synced['hash']} {synced['stateRoot']} "
                           f"!= {head['hash']} {head['stateRoot']}")
    frpc.close()
    arpc.close()
    fresh.stop()
    archive.stop()

    seconds = t_done - t_start
    txs = composition["transactions"]
    out = {
        "blocks": target,
        "transactions": txs,
        "startup_s": t_ready - t_spawn,
        "sync_started_after_s": t_start - t_ready,
        "seconds": seconds,
        "blocks_per_s": target / seconds,
        "txs_per_s": txs / seconds,
        "from_ready_seconds": t_done - t_ready,
        "from_ready_blocks_per_s": target / (t_done - t_ready),
        "state_root_match": True,
        "node_cpu_s": cpu,
        "node_cpu_ms_per_block": 1000 * cpu / target,
        "archive_cpu_s": acpu,
    }
    if args.profile_sync:
        out["profile"] = str(Path(args.profile_sync).resolve())
    return out


# --------------------------------------------------------------------------- 4. Anvil


def bench_anvil(work: Path, chain: BuiltChain, args: argparse.Namespace) -> dict:
    port = free_port()
    anvil = NodeProcess("anvil", [str(ANVIL), "--host", HOST, "--port", str(port), "--no-mining", "--silent"],
                        port, work / "logs")
    rpc = anvil.start()
    per = args.txs_per_block
    mine_s = 0.0
    cpu0 = anvil.cpu()
    t0 = time.perf_counter()
    with progress_bar("anvil", "blocks") as progress:
        task = progress.add_task("anvil", total=args.blocks)
        for b in range(args.blocks):
            block_txs = chain.txs[b * per:(b + 1) * per]
            rpc.batch([("eth_sendRawTransaction", [tx.raw]) for tx in block_txs])
            t = time.perf_counter()
            rpc.call("evm_mine")
            mine_s += time.perf_counter() - t
            if b % 10 == 0 or b == args.blocks - 1:
                progress.update(task, completed=b + 1)
    seconds = time.perf_counter() - t0
    cpu = anvil.cpu() - cpu0
    head = int(rpc.call("eth_blockNumber"), 16)
    last_count = int(rpc.call("eth_getBlockTransactionCountByNumber", hex(head)), 16)
    pending = rpc.call("txpool_status")
    rpc.close()
    anvil.stop()
    if head != args.blocks or last_count != per or int(pending["pending"], 16):
        raise RuntimeError(f"anvil: {head} blocks (want {args.blocks}), {last_count} txs in the last, "
                           f"txpool {pending}")
    return {
        "blocks": head,
        "transactions": head * per,
        "seconds": seconds,
        "blocks_per_s": head / seconds,
        "txs_per_s": head * per / seconds,
        "mine_only_blocks_per_s": head / mine_s,
        "node_cpu_s": cpu,
    }


# --------------------------------------------------------------------------- 5. gossip


def bench_gossip(args: argparse.Namespace) -> dict:
    import network_gossip

    params = argparse.Namespace(hosts=4, messages=args.gossip_messages, rate=50.0, burst=200, requests=3)
    console.print(f"gossip: network_gossip.run_processes, 4 host processes, {params.messages} messages "
                  f"at {params.rate:g}/s")
    with console.status("gossip: measuring"):
        results = network_gossip.run_processes(params)
    lat = results["latency"]
    return {
        "messages": params.messages,
        "delivered": lat["deliveries"],
        "expected": lat["expected"],
        "delivery_median_ms": lat["delivery_median_ms"],
        "delivery_p99_ms": lat["delivery_p99_ms"],
        "all_hosts_median_ms": lat["all_hosts_median_ms"],
        "all_hosts_p99_ms": lat["all_hosts_p99_ms"],
    }


# --------------------------------------------------------------------------- report


def goal(ok: bool) -> str:
    return "[green]met[/]" if ok else "[red]not met[/]"


def report(results: dict, args: argparse.Namespace) -> None:
    table = Table(title="network bench (127.0.0.1, 2 shared cores)", show_lines=False)
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("note")
    if f := results.get("finality"):
        table.add_row("finality: send -> finalized on all 4, median", f"{f['send_to_final_all4_median_s']:.3f} s",
                      f"goal < {FINALITY_GOAL_S:g} s: {goal(f['send_to_final_all4_median_s'] < FINALITY_GOAL_S)}")
        table.add_row("finality: send -> finalized on all 4, p90", f"{f['send_to_final_all4_p90_s']:.3f} s",
                      f"{f['samples']} transfers, max {f['send_to_final_all4_max_s']:.3f} s")
        if f["timestamp_to_final_node4_median_s"] is not None:
            table.add_row("finality: block timestamp -> final on node 4, median",
                          f"{f['timestamp_to_final_node4_median_s']:.3f} s",
                          f"{f['timestamp_blocks']} blocks, p90 {f['timestamp_to_final_node4_p90_s']:.3f} s; "
                          "timestamps are whole seconds")
        table.add_row("finality: poll interval (4 nodes)", f"{f['poll_interval_ms']:.1f} ms", "")
    if b := results.get("build"):
        table.add_row("build: transfers into blocks", f"{b['seconds']:.1f} s",
                      f"{b['transactions']} txs, {b['txs_per_s']:.0f} tx/s, {b['blocks_per_s']:.2f} blocks/s, "
                      f"validator CPU {b['validator_cpu_s']:.0f} s")
        table.add_row("build: chain", f"{b['blocks']} blocks",
                      f"{b['full_blocks']} of {args.txs_per_block} txs, {b['partial_blocks']} partial, "
                      f"{b['empty_blocks']} empty")
    if s := results.get("sync"):
        table.add_row("sync: blocks/s", f"{s['blocks_per_s']:.1f}",
                      f"goal >= {SYNC_GOAL_BLOCKS_PER_S:g}: {goal(s['blocks_per_s'] >= SYNC_GOAL_BLOCKS_PER_S)}; "
                      f"{s['blocks']} blocks in {s['seconds']:.2f} s from the sync's start")
        table.add_row("sync: transactions/s", f"{s['txs_per_s']:.0f}", f"{s['transactions']} txs")
        table.add_row("sync: node CPU per block", f"{s['node_cpu_ms_per_block']:.1f} ms",
                      f"{s['node_cpu_s']:.1f} s; archive {s['archive_cpu_s']:.1f} s")
        table.add_row("sync: RPC ready -> sync starts", f"{s['sync_started_after_s']:.2f} s",
                      f"process start -> RPC ready {s['startup_s']:.2f} s")
        table.add_row("sync: blocks/s from RPC ready", f"{s['from_ready_blocks_per_s']:.1f}",
                      f"{s['from_ready_seconds']:.2f} s, the wait included")
        table.add_row("sync: head hash and state root", "match" if s["state_root_match"] else "DIFFER", "")
    if a := results.get("anvil"):
        table.add_row("anvil: blocks/s (send + evm_mine)", f"{a['blocks_per_s']:.1f}",
                      f"{a['txs_per_s']:.0f} tx/s; evm_mine alone {a['mine_only_blocks_per_s']:.1f} blocks/s")
        if "sync_over_anvil" in results:
            table.add_row("sync / anvil", f"{results['sync_over_anvil']:.3f}x",
                          f"blocks/s over blocks/s; over evm_mine alone {results['sync_over_anvil_mine_only']:.3f}x")
    if g := results.get("gossip"):
        table.add_row("gossip: per delivery median / p99",
                      f"{g['delivery_median_ms']:.2f} / {g['delivery_p99_ms']:.2f} ms",
                      f"{g['delivered']}/{g['expected']} delivered")
        table.add_row("gossip: until all 3 others, median / p99",
                      f"{g['all_hosts_median_ms']:.2f} / {g['all_hosts_p99_ms']:.2f} ms", "")
    console.print(table)


def main(argv: list[str] | None = None) -> int:
    global console
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(__doc__.split("\n\n")[2:]))
    ap.add_argument("--phases", default=",".join(PHASES),
                    help=f"comma-separated, of {', '.join(PHASES)} (default: all)")
    ap.add_argument("--blocks", type=int, default=1000, help="blocks of transfers to build and sync (default 1000)")
    ap.add_argument("--txs-per-block", type=int, default=100, help="transfers per block (default 100)")
    ap.add_argument("--window", type=int, default=3000,
                    help="most transfers pooled at once while building, split evenly over the senders (default 3000)")
    ap.add_argument("--build-block-time", type=int, default=0, help="bft block time of the built chain (default 0)")
    ap.add_argument("--finality-samples", type=int, default=30, help="transfers timed to finality (default 30)")
    ap.add_argument("--gossip-messages", type=int, default=200, help="gossip latency messages (default 200)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the pauses between finality transfers")
    ap.add_argument("--profile-sync", metavar="FILE", help="run the syncing node under cProfile, stats to FILE")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (datadirs, node logs)")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object on stdout "
                    "(the rest goes to stderr)")
    args = ap.parse_args(argv)
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not phases or set(phases) - set(PHASES):
        ap.error(f"--phases takes {', '.join(PHASES)}")
    if args.blocks < 1 or args.txs_per_block < 1 or args.finality_samples < 1:
        ap.error("--blocks, --txs-per-block and --finality-samples must be >= 1")
    if not 2 * args.txs_per_block <= args.window <= 1000 * SENDERS:
        ap.error(f"--window must be between 2 x --txs-per-block and {1000 * SENDERS} (the pool keeps "
                 "1,000 transactions per sender)")
    if args.json:
        console = Console(stderr=True)
    if not console.is_terminal:
        console = Console(stderr=args.json, width=120)  # logs: a table that does not wrap at 80 columns
    if not CHAMELEON.exists():
        console.print(f"[red]{CHAMELEON} not found: run ./scripts/test or scripts/setup first[/]")
        return 1
    if "anvil" in phases and not ANVIL.exists():
        console.print(f"[yellow]Anvil not found at {ANVIL} (npm ci): skipping the anvil phase[/]")
        phases.remove("anvil")

    def on_sigterm(signum, frame):  # noqa: ARG001 - signal handler signature
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    work = Path(tempfile.mkdtemp(prefix="chameleon-bench-network-"))
    console.print(f"chameleon: {tool_version([str(CHAMELEON), '--version'])}; work directory {work}")
    if "anvil" in phases:
        console.print(f"anvil: {tool_version([str(ANVIL), '--version'])}")
    results: dict = {"params": {"blocks": args.blocks, "txs_per_block": args.txs_per_block, "phases": phases}}
    code = 0
    try:
        if "finality" in phases:
            results["finality"] = bench_finality(work, args)
        chain = None
        if "sync" in phases or "anvil" in phases:
            chain = prepare_workload(work, args)
            console.print(f"workload: {len(chain.txs)} transfers from {SENDERS} dev accounts, gas limit "
                          f"{chain.gas_per_tx} each (so a block holds at most {args.txs_per_block})")
        if "sync" in phases:
            build_chain(work, chain, args)
            results["sync"] = bench_sync(work, chain, args)
            info = chain.info
            results["build"] = {**info, "seconds": chain.seconds, "validator_cpu_s": chain.validator_cpu,
                                "txs_per_s": info["transactions"] / chain.seconds,
                                "blocks_per_s": (chain.head - chain.first_block) / chain.seconds}
        if "anvil" in phases:
            results["anvil"] = bench_anvil(work, chain, args)
        if "gossip" in phases:
            results["gossip"] = bench_gossip(args)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        code = 130
    except Exception as exc:
        console.print(f"[red]failed:[/] {exc}")
        code = 1
    finally:
        stop_all()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if args.keep or code == 1:
            console.print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    if "sync" in results and "anvil" in results:
        results["sync_over_anvil"] = results["sync"]["blocks_per_s"] / results["anvil"]["blocks_per_s"]
        results["sync_over_anvil_mine_only"] = (results["sync"]["blocks_per_s"]
                                                / results["anvil"]["mine_only_blocks_per_s"])
    if set(results) - {"params"}:
        report(results, args)
    if args.json:
        print(json.dumps(results, indent=None))
    return code


if __name__ == "__main__":
    sys.exit(main())
