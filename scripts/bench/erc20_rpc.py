#!/usr/bin/env python3
"""ERC-20 and plain-transfer throughput over JSON-RPC: Anvil vs Chameleon, in one run.

    .venv/bin/python scripts/bench/erc20_rpc.py [--only anvil|chameleon] [--transfers 2000] [--senders 8]

For each node: start it on a free 127.0.0.1 port (Anvil in automine; `chameleon dev --tmp`),
deploy tests/contracts/Token.sol from the first dev account of the test mnemonic, fund
`--senders` fresh deterministic accounts with native tokens and Token, pre-sign `--transfers`
EIP-1559 transactions (signing is not timed), then send them with eth_sendRawTransaction from
a pool of threads, each with its own keep-alive HTTP connection and its own senders (nonces in
order), and poll eth_getTransactionReceipt until every receipt is there with status 1.

At most `--window` (64) transactions per sender are unconfirmed at a time: Anvil 1.7.1 in
automine stops mining for good (100% CPU, ~1,000 transactions left pending) when all 2,000 are
pushed at once (cf. foundry-rs/foundry#10122). A node that makes no progress for
`--stall-timeout` seconds is reported as stalled. Anvil also gets slower as its chain grows, so
the second workload on one chain is slower than on a fresh one (`--fresh` restarts per workload).

Reported per node and workload: wall time from the first send to the last receipt, tx/s, and
the node's CPU time (utime+stime of the node and its child processes, from /proc) during that
window per transaction. The Python client also burns CPU on this 2-core machine, so compare
nodes by the ratio within one run and by node CPU per transaction.
"""
from __future__ import annotations

import argparse
import http.client
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
_VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
if Path(sys.prefix).resolve() != (REPO_ROOT / ".venv").resolve() and _VENV_PYTHON.exists():
    os.execv(str(_VENV_PYTHON), [str(_VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])
sys.path.insert(0, str(REPO_ROOT))  # for tests.contracts.compile (namespace packages, no __init__.py)

import orjson  # noqa: E402
from eth_abi import encode as abi_encode  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_utils import keccak, to_checksum_address  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402

from tests.contracts.compile import compile_contracts  # noqa: E402

MNEMONIC = "test test test test test test test test test test test junk"
ANVIL = REPO_ROOT / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
CHAMELEON = REPO_ROOT / ".venv" / "bin" / "chameleon"

GWEI = 10**9
ETHER = 10**18
ERC20_GAS = 100_000
PLAIN_GAS = 21_000
TRANSFER_SELECTOR = keccak(text="transfer(address,uint256)")[:4]

console = Console()


# --------------------------------------------------------------------------- JSON-RPC client


class RpcError(RuntimeError):
    pass


class Rpc:
    """JSON-RPC over one keep-alive HTTP/1.1 connection (one per thread)."""

    def __init__(self, host: str, port: int, timeout: float = 30.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.next_id = 0

    def call(self, method: str, params: list | None = None):
        self.next_id += 1
        body = orjson.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params or []})
        msg = orjson.loads(self._post(body, method))
        if msg.get("error"):
            raise RpcError(f"{method}: {msg['error']}")
        return msg.get("result")

    def _post(self, body: bytes, what: str = "request") -> bytes:
        """POST one body on the kept-alive connection (reconnecting once); the response body."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("POST", "/", body, {"Content-Type": "application/json"})
                resp = self.conn.getresponse()
                data = resp.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                self.close()
                if attempt:
                    raise
        if resp.status != 200:
            raise RpcError(f"{what}: HTTP {resp.status}: {data[:200]!r}")
        return data

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --------------------------------------------------------------------------- node processes

# Runs `chameleon` under cProfile (`python -c PROFILED_NODE STATS_FILE ARGS...`): it ends with
# os._exit, so `python -m cProfile` would never write its stats; this dumps them before exiting.
PROFILED_NODE = """
import cProfile, os, sys
from node.cli import main
out, sys.argv = sys.argv[1], ["chameleon", *sys.argv[2:]]
profile = cProfile.Profile()
code = 1
try:
    code = profile.runcall(main)
finally:
    profile.dump_stats(out)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)
"""


def wait_until_answering(proc: subprocess.Popen, rpc: Rpc, name: str, ready_timeout: float,
                         log_tail: Callable[[], str], poll_s: float = 0.1) -> Rpc:
    """``rpc``, once the process answers ``eth_chainId`` (its timeout then raised to 30 s)."""
    deadline = time.monotonic() + ready_timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log_tail()}")
        try:
            rpc.call("eth_chainId")
            rpc.timeout = 30.0
            rpc.close()
            return rpc
        except (OSError, RpcError, http.client.HTTPException):
            rpc.close()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not answer eth_chainId within {ready_timeout:.0f}s:\n{log_tail()}")
        time.sleep(poll_s)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_cpu_ticks(pid: int) -> tuple[int, int]:
    """(utime+stime, cutime+cstime) of one process, in clock ticks."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        data = f.read()
    rest = data[data.rindex(b")") + 2 :].split()  # fields 3.. (comm may contain spaces)
    utime, stime, cutime, cstime = (int(x) for x in rest[11:15])  # fields 14, 15, 16, 17
    return utime + stime, cutime + cstime


def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    out.extend(int(c) for c in f.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    """CPU seconds used by `pid`, its live descendants and its reaped children."""
    total, stack, seen = 0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            own, reaped = _proc_cpu_ticks(p)
        except (OSError, ValueError):
            continue
        total += own + reaped
        stack.extend(_children(p))
    return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Node:
    name: str
    argv: list[str]
    port: int
    proc: subprocess.Popen | None = None
    log: object = None

    def start(self, ready_timeout: float = 60.0) -> Rpc:
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{self.name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO_ROOT
        )
        return wait_until_answering(self.proc, Rpc("127.0.0.1", self.port, timeout=5.0), self.name,
                                    ready_timeout, self.log_tail)

    def log_tail(self, n: int = 30) -> str:
        try:
            lines = Path(self.log.name).read_text(errors="replace").splitlines()
        except (OSError, AttributeError):
            return ""
        return "\n".join(lines[-n:])

    def stop(self, timeout: float = 10.0):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                console.print(f"[yellow]{self.name} ignored SIGINT for {timeout:.0f}s: killing[/]")
                self.proc.kill()
                self.proc.wait()
        if self.log is not None:
            self.log.close()
            try:
                os.unlink(self.log.name)
            except OSError:
                pass
            self.log = None


def chameleon_available() -> str | None:
    """None if `chameleon dev` exists, else a reason."""
    if not CHAMELEON.exists():
        return f"{CHAMELEON} not found (run ./scripts/test or scripts/setup first)"
    try:
        p = subprocess.run([str(CHAMELEON), "dev", "--help"], capture_output=True, timeout=60, cwd=REPO_ROOT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`chameleon dev --help` failed: {exc}"
    if p.returncode != 0:
        last = (p.stderr or p.stdout).decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        return f"`chameleon dev --help` exited {p.returncode} ({last[0]})"
    return None


def tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, timeout=30).stdout.decode(errors="replace")
        return out.strip().splitlines()[0] if out.strip() else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


# --------------------------------------------------------------------------- chain helpers


def wait_receipt(rpc: Rpc, tx_hash: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        r = rpc.call("eth_getTransactionReceipt", [tx_hash])
        if r is not None:
            if int(r["status"], 16) != 1:
                raise RuntimeError(f"transaction {tx_hash} failed: {r}")
            return r
        if time.monotonic() > deadline:
            raise RuntimeError(f"no receipt for {tx_hash} after {timeout:.0f}s")
        time.sleep(0.02)


def base_fee(rpc: Rpc) -> int:
    block = rpc.call("eth_getBlockByNumber", ["latest", False])
    return int(block.get("baseFeePerGas") or "0x0", 16)


def sign(key, chain_id: int, nonce: int, to: str | None, gas: int, max_fee: int, value: int = 0, data: bytes = b""):
    tx = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "gas": gas,
        "maxFeePerGas": max_fee,
        "maxPriorityFeePerGas": GWEI,
        "value": value,
        "data": data,
    }
    if to is not None:
        tx["to"] = to
    signed = Account.sign_transaction(tx, key)
    return "0x" + bytes(signed.raw_transaction).hex(), "0x" + bytes(signed.hash).hex()


def send_and_wait(rpc: Rpc, raw_and_hash: tuple[str, str]) -> dict:
    raw, h = raw_and_hash
    rpc.call("eth_sendRawTransaction", [raw])
    return wait_receipt(rpc, h)


def transfer_calldata(to: str, amount: int) -> bytes:
    return TRANSFER_SELECTOR + abi_encode(["address", "uint256"], [to, amount])


# --------------------------------------------------------------------------- benchmark


@dataclass
class Result:
    node: str
    workload: str
    txs: int
    wall: float
    node_cpu: float
    client_cpu: float
    blocks: int = 0  # blocks the workload's transactions went into

    @property
    def tps(self) -> float:
        return self.txs / self.wall

    @property
    def cpu_ms_per_tx(self) -> float:
        return 1000 * self.node_cpu / self.txs


@dataclass
class Setup:
    chain_id: int
    token: str
    senders: list = field(default_factory=list)  # LocalAccount


def prepare(rpc: Rpc, n_senders: int) -> Setup:
    chain_id = int(rpc.call("eth_chainId"), 16)
    Account.enable_unaudited_hdwallet_features()
    deployer = Account.from_mnemonic(MNEMONIC, account_path="m/44'/60'/0'/0/0")
    bal = int(rpc.call("eth_getBalance", [deployer.address, "latest"]), 16)
    if bal < 1000 * ETHER:
        raise RuntimeError(f"dev account 0 {deployer.address} has {bal / ETHER:.3f} native tokens; need >= 1000")
    senders = [Account.from_key(keccak(text=f"chameleon bench sender {i}")) for i in range(n_senders)]

    token_art = compile_contracts(["Token"])["Token"]
    supply = 10**9 * ETHER
    init = token_art.bytecode + abi_encode(["string", "string", "uint256"], ["Bench", "BNCH", supply])
    nonce = int(rpc.call("eth_getTransactionCount", [deployer.address, "pending"]), 16)
    max_fee = 2 * base_fee(rpc) + GWEI
    receipt = send_and_wait(rpc, sign(deployer.key, chain_id, nonce, None, 3_000_000, max_fee, data=init))
    token = to_checksum_address(receipt["contractAddress"])
    if len(rpc.call("eth_getCode", [token, "latest"])) <= 2:
        raise RuntimeError("Token deployment left no code")
    nonce += 1

    # Fund every sender with native tokens and Token; wait for the last of them.
    pending = []
    for s in senders:
        max_fee = 2 * base_fee(rpc) + GWEI
        pending.append(sign(deployer.key, chain_id, nonce, s.address, PLAIN_GAS, max_fee, value=100 * ETHER))
        pending.append(
            sign(deployer.key, chain_id, nonce + 1, token, ERC20_GAS, max_fee, data=transfer_calldata(s.address, 10**6 * ETHER))
        )
        nonce += 2
    for raw, _ in pending:
        rpc.call("eth_sendRawTransaction", [raw])
    for _, h in pending:
        wait_receipt(rpc, h)
    return Setup(chain_id=chain_id, token=token, senders=senders)


def presign(rpc: Rpc, setup: Setup, workload: str, n: int) -> list[list[tuple[str, str]]]:
    """Per sender, its transactions in nonce order (round-robin over senders)."""
    senders = setup.senders
    max_fee = 2 * base_fee(rpc) + GWEI
    nonces = [int(rpc.call("eth_getTransactionCount", [s.address, "pending"]), 16) for s in senders]
    per_sender: list[list[tuple[str, str]]] = [[] for _ in senders]
    for i in range(n):
        k = i % len(senders)
        s, to = senders[k], senders[(k + 1) % len(senders)].address
        if workload == "erc20":
            tx = sign(s.key, setup.chain_id, nonces[k], setup.token, ERC20_GAS, max_fee, data=transfer_calldata(to, 1))
        else:
            tx = sign(s.key, setup.chain_id, nonces[k], to, PLAIN_GAS, max_fee, value=GWEI)
        nonces[k] += 1
        per_sender[k].append(tx)
    return per_sender


class Stalled(RuntimeError):
    pass


def run_workload(node: Node, setup: Setup, workload: str, n: int, args) -> Result:
    rpc0 = Rpc("127.0.0.1", node.port)
    per_sender = presign(rpc0, setup, workload, n)
    first_block = int(rpc0.call("eth_blockNumber"), 16)
    # Each worker owns whole senders, so every sender's nonces go out in order on one connection.
    lanes: list[list[list[tuple[str, str]]]] = [[] for _ in range(min(args.workers, len(per_sender)))]
    for k, txs in enumerate(per_sender):
        lanes[k % len(lanes)].append(txs)
    window = args.window if args.window > 0 else n

    done = 0
    done_lock = threading.Lock()
    last_receipt = [0.0]
    abort = threading.Event()

    def lane_worker(sender_lists: list[list[tuple[str, str]]]):
        nonlocal done
        rpc = Rpc("127.0.0.1", node.port)
        cursor = [0] * len(sender_lists)  # per sender: receipts fetched and checked so far

        def advance(j: int, upto: int, pause: float):
            """Fetch receipts of sender j's transactions until `upto` of them are confirmed."""
            nonlocal done
            txs = sender_lists[j]
            while cursor[j] < upto:
                if abort.is_set():
                    raise Stalled("aborted")
                h = txs[cursor[j]][1]
                r = rpc.call("eth_getTransactionReceipt", [h])
                if r is None:
                    time.sleep(pause)
                    continue
                if int(r["status"], 16) != 1:
                    raise RuntimeError(f"{workload} transaction {h} has status {r['status']}")
                cursor[j] += 1
                now = time.perf_counter()
                with done_lock:
                    done += 1
                    last_receipt[0] = max(last_receipt[0], now)

        try:
            # Interleave the lane's senders; at most `window` unconfirmed transactions per sender.
            longest = max(map(len, sender_lists))
            for i in range(longest):
                for j, txs in enumerate(sender_lists):
                    if i >= len(txs):
                        continue
                    if i >= window:
                        advance(j, i - window + 1, 0.002)
                    raw, h = txs[i]
                    got = rpc.call("eth_sendRawTransaction", [raw])
                    if got is not None and got.lower() != h:
                        raise RuntimeError(f"node returned hash {got}, expected {h}")
            for j, txs in enumerate(sender_lists):
                advance(j, len(txs), 0.01)
        except BaseException:
            abort.set()
            raise
        finally:
            rpc.close()

    pid = node.proc.pid
    stalled = None
    with Progress(
        TextColumn(f"[bold]{node.name}[/] {workload:9}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("receipts"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("receipts", total=n)
        with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
            cpu0, client0 = cpu_seconds(pid), time.process_time()
            t0 = time.perf_counter()
            futures = [pool.submit(lane_worker, lane) for lane in lanes]
            seen, seen_at = -1, time.monotonic()
            while not all(f.done() for f in futures):
                now = time.monotonic()
                if done != seen:
                    seen, seen_at = done, now
                    progress.update(task, completed=done)
                elif now - seen_at > args.stall_timeout and not abort.is_set():
                    try:
                        pool_status = rpc0.call("txpool_status")
                    except Exception:  # not every node has txpool_*
                        pool_status = "n/a"
                    stalled = (
                        f"no new receipt for {args.stall_timeout:.0f}s at {done}/{n} "
                        f"(block {int(rpc0.call('eth_blockNumber'), 16)}, txpool_status {pool_status})"
                    )
                    abort.set()
                time.sleep(0.05)
            cpu1, client1 = cpu_seconds(pid), time.process_time()
            progress.update(task, completed=done)
    blocks = int(rpc0.call("eth_blockNumber"), 16) - first_block
    rpc0.close()
    if stalled:
        raise Stalled(f"{node.name} stalled: {stalled}")
    for f in futures:
        f.result()  # re-raise the first failure
    if done != n:
        raise RuntimeError(f"{done} of {n} receipts")
    return Result(node.name, workload, n, last_receipt[0] - t0, cpu1 - cpu0, client1 - client0, blocks)


def bench_node(name: str, make_argv, args) -> list[Result]:
    """Bench all workloads on one node kind; `make_argv(port)` gives its command line."""
    out: list[Result] = []
    node: Node | None = None
    setup = None
    try:
        for i, workload in enumerate(args.workloads):
            if node is None:
                port = free_port()
                node = Node(name, make_argv(port), port)
                if i == 0:
                    console.print(f"[bold]{name}[/]: {shlex.join(node.argv)}", soft_wrap=True)
                rpc = node.start()
                setup = prepare(rpc, args.senders)
                rpc.close()
            r = run_workload(node, setup, workload, args.transfers, args)
            console.print(
                f"  {workload:9} {r.txs} txs in {r.wall:6.2f}s  {r.tps:7.1f} tx/s  "
                f"node CPU {r.cpu_ms_per_tx:5.2f} ms/tx"
            )
            out.append(r)
            if args.fresh:
                node.stop()
                node = None
        return out
    except Exception as exc:  # report and go on with the other node
        console.print(f"[red]{name} failed:[/] {exc}")
        tail = node.log_tail() if node else ""
        if tail:
            console.print(f"--- {name} log (tail) ---\n{tail}", markup=False, highlight=False, style="dim")
        return out
    finally:
        if node is not None:
            node.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", choices=["anvil", "chameleon"], help="bench one node only")
    ap.add_argument("--transfers", type=int, default=2000, help="transactions per workload (default 2000)")
    ap.add_argument(
        "--workloads", default="erc20,transfers",
        help="comma-separated, run in this order on one node (default erc20,transfers)",
    )
    ap.add_argument("--senders", type=int, default=8, help="sending accounts (default 8)")
    ap.add_argument("--workers", type=int, default=8, help="sending threads / HTTP connections (default 8)")
    ap.add_argument(
        "--window", type=int, default=64,
        help="max unconfirmed transactions per sender while sending (default 64; 0 = no limit). "
        "Anvil 1.7 in automine stops mining for good once ~1,000 transactions are pending at once.",
    )
    ap.add_argument(
        "--fresh", action="store_true",
        help="restart the node (new chain) for every workload; by default the workloads run one after "
        "the other on one chain, and Anvil slows down as its chain grows",
    )
    ap.add_argument("--stall-timeout", type=float, default=20.0, help="give up after this many seconds without a new receipt")
    ap.add_argument("--anvil-args", default="", help="extra Anvil arguments (shell-quoted string)")
    ap.add_argument("--chameleon-args", default="", help="extra `chameleon dev` arguments (shell-quoted string)")
    args = ap.parse_args(argv)
    if args.transfers < 1 or args.senders < 2 or args.workers < 1:
        ap.error("need --transfers >= 1, --senders >= 2, --workers >= 1")
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    if not args.workloads or set(args.workloads) - {"erc20", "transfers"}:
        ap.error("--workloads takes erc20 and/or transfers")

    try:
        compile_contracts(["Token"])  # fail early (and warm the cache) before starting nodes
    except Exception as exc:
        console.print(f"[red]cannot compile Token.sol:[/] {exc}")
        return 1

    nodes: list[tuple[str, object]] = []  # (name, port -> argv)
    if args.only in (None, "anvil"):
        if not ANVIL.exists():
            console.print(f"[red]Anvil not found at {ANVIL}: run ./scripts/test or npm ci first[/]")
            if args.only == "anvil":
                return 1
        else:
            console.print(f"anvil: {tool_version([str(ANVIL), '--version'])}")
            extra = shlex.split(args.anvil_args)
            nodes.append(
                ("anvil", lambda port: [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent", *extra])
            )
    if args.only in (None, "chameleon"):
        reason = chameleon_available()
        if reason:
            console.print(f"[yellow]skipping chameleon: {reason}[/]")
            if args.only == "chameleon":
                return 1
        else:
            console.print(f"chameleon: {tool_version([str(CHAMELEON), '--version'])}")
            cextra = shlex.split(args.chameleon_args)
            nodes.append(
                (
                    "chameleon",
                    lambda port: [str(CHAMELEON), "dev", "--tmp", "--host", "127.0.0.1", "--port", str(port), *cextra],
                )
            )
    if not nodes:
        return 1

    results: list[Result] = []
    try:
        for name, make_argv in nodes:
            results.extend(bench_node(name, make_argv, args))
    except KeyboardInterrupt:  # bench_node's finally has stopped the node
        console.print("[yellow]interrupted[/]")
        return 130

    table = Table(title=f"{args.transfers} txs per workload, {args.senders} senders, {args.workers} connections")
    for col in ("node", "workload", "wall s", "tx/s", "node CPU s", "node CPU ms/tx", "client CPU ms/tx", "blocks"):
        table.add_column(col, justify="left" if col in ("node", "workload") else "right")
    for r in results:
        table.add_row(
            r.node, r.workload, f"{r.wall:.2f}", f"{r.tps:.1f}", f"{r.node_cpu:.2f}",
            f"{r.cpu_ms_per_tx:.2f}", f"{1000 * r.client_cpu / r.txs:.2f}", str(r.blocks),
        )
    console.print(table)

    by = {(r.node, r.workload): r for r in results}

    def ratio(workload: str) -> str:
        c, a = by.get(("chameleon", workload)), by.get(("anvil", workload))
        return f"{c.tps / a.tps:.2f}x" if c and a else "n/a"

    console.print(f"chameleon/anvil erc20: {ratio('erc20')}  transfers: {ratio('transfers')}")
    expected = len(nodes) * len(args.workloads)
    return 0 if len(results) == expected else 1


if __name__ == "__main__":
    sys.exit(main())
