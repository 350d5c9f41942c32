#!/usr/bin/env python3
"""Read-path JSON-RPC: eth_call under concurrent load and eth_getLogs over a long chain,
Anvil vs Chameleon, in one run.

    .venv/bin/python scripts/bench/rpc_read.py [--duration 10] [--clients 64] [--blocks 10000] [--json]
    .venv/bin/python scripts/bench/rpc_read.py --duration 3 --blocks 1000      # a quick run

Each node in turn (Anvil, then Chameleon) is started fresh on a free 127.0.0.1 port (Anvil in
automine; `chameleon dev --tmp`), and dev account 0 of the test mnemonic deploys two copies of
tests/contracts/Token.sol (OpenZeppelin ERC-20) and tests/contracts/Probe.sol, one transaction
a block, with fixed fees: both chains get the same blocks, transactions and hashes.

Phase ``call``: for each call, `--clients` keep-alive HTTP/1.1 connections each send one
eth_call at a time (the next as soon as the answer is in); every answer is checked against
the expected result. The measured `--duration` seconds start once `--warmup` seconds have
passed and every connection has had an answer (reported as "all answered s": Chameleon,
busy with calls, accepts the connections one per scheduling round). Figures over the
window: requests/s, median and p99 latency (send to last byte), the node's CPU time
(utime+stime from /proc) per request and the bench's own CPU share. The calls:
Token.balanceOf (eth_estimateGas ~24,000, the 21,000 intrinsic gas included) and
Probe.burn(`--burn-rounds`), a keccak loop (~86,000 at 200 rounds: a heavier view; its
final storage write is discarded by eth_call).

The load generator is one asyncio loop of `asyncio.Protocol` connections sending one
pre-encoded request and parsing only the status line and Content-Length (h11 or httpx
would cost the bench more CPU than Anvil spends per call): ~10 us of CPU a request, a third
of a core at Anvil's ~25,000-38,000 requests/s, while Anvil takes the rest of the 2 cores.
Anvil's figures are therefore bounded by the machine, a lower bound of its speed.

Phase ``logs``: `--blocks` blocks are built after the setup: one ERC-20 transfer every
`--log-every` blocks (alternating between the two tokens and two recipients, amount i+1),
the blocks between them empty (`anvil_mine` with a count; Chameleon has it too; Anvil's
gets slower as its chain grows: ~75 s for the 10,000 blocks, against ~3 s). Then
eth_getLogs over exactly those blocks: by address (one token), by address + topics
(Transfer to one recipient) and unfiltered, each once untimed, then at least `--reps` times
and for at least a second on one keep-alive connection: median milliseconds per query and
the node's CPU per query (/proc counts 10 ms ticks, hence the second). The logs
of both nodes must be the same (count and each log's blockNumber, logIndex,
transactionIndex, transactionHash, address, topics and data) and the counts as built.

Ratios are Chameleon over Anvil: requests/s (below 1: Chameleon serves fewer) and times
(above 1: Chameleon takes longer). `--profile FILE` runs Chameleon under cProfile (slower:
for where the time goes, not for the figures); with `--only chameleon --phases call` the
profile holds the eth_call phase and the setup only.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shlex
import signal
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
_VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
if Path(sys.prefix).resolve() != (REPO_ROOT / ".venv").resolve() and _VENV_PYTHON.exists():
    os.execv(str(_VENV_PYTHON), [str(_VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])
sys.path.insert(0, str(REPO_ROOT))  # for tests.contracts.compile (namespace packages, no __init__.py)
sys.path.insert(1, str(Path(__file__).resolve().parent))  # erc20_rpc: nodes, JSON-RPC client, signing

import orjson  # noqa: E402
from eth_abi import encode as abi_encode  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_utils import keccak, to_checksum_address  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402

import erc20_rpc  # noqa: E402
from erc20_rpc import (  # noqa: E402
    ANVIL,
    CHAMELEON,
    ETHER,
    GWEI,
    MNEMONIC,
    PROFILED_NODE,
    Node,
    Rpc,
    chameleon_available,
    cpu_seconds,
    free_port,
    sign,
    tool_version,
    transfer_calldata,
    wait_receipt,
)
from tests.contracts.compile import compile_contracts  # noqa: E402

HOST = "127.0.0.1"
PHASES = ("call", "logs")
# Fixed fees, so that both nodes get byte-identical transactions (same hashes); the dev base
# fee starts at 1 gwei on both and only falls over empty blocks.
MAX_FEE = 100 * GWEI
DEPLOY_GAS = 3_000_000
TRANSFER_GAS = 100_000
SUPPLY = 10**9 * ETHER
BALANCE_OF = keccak(text="balanceOf(address)")[:4]
BURN = keccak(text="burn(uint256)")[:4]
TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()
MIN_LOGS_SECONDS = 1.0  # each eth_getLogs query is timed for at least this long

console = Console()


# --------------------------------------------------------------------------- chain set-up


@dataclass
class Setup:
    chain_id: int
    deployer: object  # LocalAccount
    tokens: list[str]  # checksummed
    probe: str
    recipients: list[str]
    nonce: int  # the deployer's next nonce


def deploy(rpc: Rpc, chain_id: int, deployer, nonce: int, init: bytes) -> str:
    receipt = send(rpc, sign(deployer.key, chain_id, nonce, None, DEPLOY_GAS, MAX_FEE, data=init))
    address = to_checksum_address(receipt["contractAddress"])
    if len(rpc.call("eth_getCode", [address, "latest"])) <= 2:
        raise RuntimeError(f"deployment at {address} left no code")
    return address


def send(rpc: Rpc, raw_and_hash: tuple[str, str]) -> dict:
    raw, tx_hash = raw_and_hash
    got = rpc.call("eth_sendRawTransaction", [raw])
    if got is not None and got.lower() != tx_hash:
        raise RuntimeError(f"node returned hash {got}, expected {tx_hash}")
    return wait_receipt(rpc, tx_hash)


def prepare(rpc: Rpc) -> Setup:
    """Deploy Token twice and Probe, one block each, from dev account 0 at nonce 0."""
    chain_id = int(rpc.call("eth_chainId"), 16)
    Account.enable_unaudited_hdwallet_features()
    deployer = Account.from_mnemonic(MNEMONIC, account_path="m/44'/60'/0'/0/0")
    nonce = int(rpc.call("eth_getTransactionCount", [deployer.address, "latest"]), 16)
    head = int(rpc.call("eth_blockNumber"), 16)
    if nonce or head:
        raise RuntimeError(f"not a fresh chain (head {head}, deployer nonce {nonce})")
    arts = compile_contracts(["Token", "Probe"])
    tokens = []
    for name, symbol in (("Bench", "BNCH"), ("Bench two", "BNC2")):
        init = arts["Token"].bytecode + abi_encode(["string", "string", "uint256"], [name, symbol, SUPPLY])
        tokens.append(deploy(rpc, chain_id, deployer, nonce, init))
        nonce += 1
    probe = deploy(rpc, chain_id, deployer, nonce, arts["Probe"].bytecode)
    nonce += 1
    recipients = [to_checksum_address(keccak(text=f"chameleon bench recipient {i}")[-20:]) for i in range(2)]
    return Setup(chain_id, deployer, tokens, probe, recipients, nonce)


def call_workloads(setup: Setup, burn_rounds: int) -> list[tuple[str, dict]]:
    """(label, eth_call transaction object) for each call under load."""
    calls = [("balanceOf", {"to": setup.tokens[0],
                            "data": "0x" + (BALANCE_OF + abi_encode(["address"], [setup.deployer.address])).hex()})]
    if burn_rounds > 0:
        calls.append((f"burn({burn_rounds})", {"to": setup.probe,
                                               "data": "0x" + (BURN + abi_encode(["uint256"], [burn_rounds])).hex()}))
    return calls


# --------------------------------------------------------------------------- eth_call under load


@dataclass
class CallResult:
    node: str
    call: str
    gas: int
    clients: int
    seconds: float
    requests: int
    rps: float
    median_ms: float
    p99_ms: float
    node_cpu_us_per_req: float
    client_cpu_pct: float
    all_answered_s: float  # from connecting until every connection had its first answer
    result: str


class _Load:
    """Shared state of one load run: the request, the window, what came back."""

    def __init__(self, request: bytes, expected: str):
        self.request = request
        self.expected = expected
        self.measure_from = math.inf  # perf_counter; set by the driver after the warm-up
        self.stop_at = math.inf
        self.latencies: list[float] = []
        self.completed = 0
        self.answered_clients = 0  # clients that have had at least one answer
        self.error: str | None = None

    def record(self, sent_at: float, now: float, status: bytes, body: bytes) -> None:
        self.completed += 1
        if status != b"200":
            self.error = self.error or f"HTTP {status.decode(errors='replace')}: {body[:200]!r}"
            return
        msg = orjson.loads(body)
        if msg.get("result") != self.expected:
            self.error = self.error or f"unexpected answer {body[:300]!r}"
            return
        if self.measure_from <= now < self.stop_at:
            self.latencies.append(now - sent_at)


class _LoadClient(asyncio.Protocol):
    """One keep-alive connection with one request in flight at a time."""

    def __init__(self, load: _Load):
        self.load = load
        self.buf = bytearray()
        self.sent_at = 0.0
        self.answers = 0
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        self._send()

    def _send(self) -> None:
        self.sent_at = time.perf_counter()
        self.transport.write(self.load.request)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buf[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            self.load.error = self.load.error or f"answer without content-length: {head[:300]!r}"
            self.transport.close()
            return
        eol = head.find(b"\r\n", at + 2)
        total = end + 4 + int(head[at + 17 : eol if eol >= 0 else len(head)])
        if len(buf) < total:
            return
        now = time.perf_counter()
        body = bytes(buf[end + 4 : total])
        del buf[:total]
        self.answers += 1
        if self.answers == 1:
            self.load.answered_clients += 1
        self.load.record(self.sent_at, now, head[9:12], body)
        if now < self.load.stop_at and self.load.error is None:
            self._send()
        else:
            self.transport.close()

    def connection_lost(self, exc) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)


async def _drive_load(port: int, load: _Load, clients: int, warmup: float, duration: float,
                      node_pid: int, progress: Progress, task) -> tuple[float, float, float, float]:
    """Run the clients; returns (seconds until every client had an answer, window seconds,
    node CPU s, bench CPU s over the window).

    The window starts once `warmup` seconds have passed and every connection has had an
    answer: a node that accepts connections slowly under load would otherwise be measured
    with fewer clients, and the first answers' long waits would land in the window.
    """
    loop = asyncio.get_running_loop()
    conns = []
    try:
        for _ in range(clients):
            _, proto = await loop.create_connection(lambda: _LoadClient(load), HOST, port)
            conns.append(proto)
        t_start = time.perf_counter()
        all_answered = math.inf
        while load.error is None:
            now = time.perf_counter()
            if load.answered_clients == clients and all_answered == math.inf:
                all_answered = now - t_start
            if now - t_start >= warmup and all_answered < math.inf:
                break
            if now - t_start > warmup + 120:
                load.error = (f"only {load.answered_clients} of {clients} connections answered "
                              f"after {now - t_start:.0f}s")
                break
            await asyncio.sleep(0.05)
            progress.update(task, completed=min(warmup, time.perf_counter() - t_start),
                            rate=f"warm-up, {load.answered_clients}/{clients} connections answered")
        load.measure_from = time.perf_counter()
        cpu0, own0 = cpu_seconds(node_pid), time.process_time()
        seen = 0
        while (elapsed := time.perf_counter() - load.measure_from) < duration and load.error is None:
            await asyncio.sleep(0.1)
            seen = len(load.latencies)
            progress.update(task, completed=warmup + elapsed, rate=f"{seen / max(elapsed, 1e-9):,.0f} req/s")
        if load.error is not None:
            return all_answered, 0.0, 0.0, 0.0
        load.stop_at = time.perf_counter()
        cpu1, own1 = cpu_seconds(node_pid), time.process_time()
        window = load.stop_at - load.measure_from
        # Each client stops after its request in flight; give them a moment, then close the rest.
        pending = [c.lost for c in conns if not c.lost.done()]
        if pending:
            await asyncio.wait(pending, timeout=30.0)
        return all_answered, window, cpu1 - cpu0, own1 - own0
    finally:
        for c in conns:
            if c.transport is not None:
                c.transport.close()


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of an ascending list."""
    if not sorted_values:
        return math.nan
    k = max(0, math.ceil(q / 100 * len(sorted_values)) - 1)
    return sorted_values[k]


def bench_call(node: Node, rpc: Rpc, label: str, tx: dict, args) -> CallResult:
    expected = rpc.call("eth_call", [tx, "latest"])
    gas = int(rpc.call("eth_estimateGas", [tx, "latest"]), 16)
    body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [tx, "latest"]})
    request = (
        f"POST / HTTP/1.1\r\nHost: {HOST}:{node.port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    load = _Load(request, expected)
    total = args.warmup + args.duration
    with Progress(
        TextColumn(f"[bold]{node.name}[/] eth_call {label:12}"),
        BarColumn(),
        TextColumn("{task.completed:4.1f}/{task.total:.0f} s"),
        TextColumn("{task.fields[rate]}"),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("load", total=total, rate="connecting")
        all_answered, window, node_cpu, own_cpu = asyncio.run(
            _drive_load(node.port, load, args.clients, args.warmup, args.duration, node.proc.pid, progress, task)
        )
    if load.error:
        raise RuntimeError(f"eth_call {label}: {load.error}")
    lat = sorted(load.latencies)
    if not lat:
        raise RuntimeError(f"eth_call {label}: no answer within the {args.duration:g}s window")
    n = len(lat)
    return CallResult(
        node=node.name, call=label, gas=gas, clients=args.clients, seconds=window, requests=n,
        rps=n / window, median_ms=1000 * statistics.median(lat), p99_ms=1000 * percentile(lat, 99),
        node_cpu_us_per_req=1e6 * node_cpu / n, client_cpu_pct=100 * own_cpu / window,
        all_answered_s=all_answered, result=expected,
    )


# --------------------------------------------------------------------------- eth_getLogs


@dataclass
class LogsChain:
    first: int
    last: int
    transfers: int
    build_s: float
    queries: dict[str, dict] = field(default_factory=dict)  # label -> eth_getLogs filter


@dataclass
class LogsResult:
    node: str
    query: str
    logs: int
    reps: int
    median_ms: float
    min_ms: float
    node_cpu_ms: float


def build_logs_chain(node: Node, rpc: Rpc, setup: Setup, blocks: int, every: int) -> LogsChain:
    """`blocks` new blocks: a transfer at the start of every `every`, the rest empty."""
    first = int(rpc.call("eth_blockNumber"), 16) + 1
    transfers = blocks // every
    t0 = time.perf_counter()
    with Progress(
        TextColumn(f"[bold]{node.name}[/] building blocks"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("blocks", total=blocks)
        for i in range(transfers):
            token = setup.tokens[i % 2]
            to = setup.recipients[(i // 2) % 2]
            tx = sign(setup.deployer.key, setup.chain_id, setup.nonce, token, TRANSFER_GAS, MAX_FEE,
                      data=transfer_calldata(to, i + 1))
            setup.nonce += 1
            receipt = send(rpc, tx)
            want = first + i * every
            if int(receipt["blockNumber"], 16) != want:
                raise RuntimeError(f"transfer {i} went into block {int(receipt['blockNumber'], 16)}, not {want}")
            if every > 1:
                rpc.call("anvil_mine", [hex(every - 1)])
            progress.update(task, completed=(i + 1) * every)
        rest = blocks - transfers * every
        if rest:
            rpc.call("anvil_mine", [hex(rest)])
        progress.update(task, completed=blocks)
    build_s = time.perf_counter() - t0
    last = int(rpc.call("eth_blockNumber"), 16)
    if last - first + 1 != blocks:
        raise RuntimeError(f"built blocks {first}..{last}, expected {blocks}")
    span = {"fromBlock": hex(first), "toBlock": hex(last)}
    to_topic = "0x" + bytes(12).hex() + setup.recipients[0][2:].lower()
    queries = {
        "address": {**span, "address": setup.tokens[0]},
        "address+topics": {**span, "address": setup.tokens[0], "topics": [TRANSFER_TOPIC, None, to_topic]},
        "unfiltered": span,
    }
    return LogsChain(first, last, transfers, build_s, queries)


def expected_counts(transfers: int) -> dict[str, int]:
    idx = range(transfers)
    return {
        "address": sum(1 for i in idx if i % 2 == 0),
        "address+topics": sum(1 for i in idx if i % 2 == 0 and (i // 2) % 2 == 0),
        "unfiltered": transfers,
    }


def log_key(log: dict) -> tuple:
    return (
        int(log["blockNumber"], 16), int(log["logIndex"], 16), int(log["transactionIndex"], 16),
        log["transactionHash"].lower(), log["address"].lower(), tuple(t.lower() for t in log["topics"]),
        log["data"].lower(),
    )


def bench_logs(node: Node, chain: LogsChain, reps: int) -> tuple[list[LogsResult], dict[str, list[tuple]]]:
    rpc = Rpc(HOST, node.port, timeout=300.0)
    results, seen = [], {}
    want = expected_counts(chain.transfers)
    try:
        for label, flt in chain.queries.items():
            logs = rpc.call("eth_getLogs", [flt])  # untimed: warms caches, gives the logs to compare
            if len(logs) != want[label]:
                raise RuntimeError(f"eth_getLogs {label}: {len(logs)} logs, built {want[label]}")
            seen[label] = sorted(log_key(log) for log in logs)
            times = []
            cpu0 = cpu_seconds(node.proc.pid)
            t_first = time.perf_counter()
            while len(times) < reps or (time.perf_counter() - t_first < MIN_LOGS_SECONDS and len(times) < 1000):
                t0 = time.perf_counter()
                again = rpc.call("eth_getLogs", [flt])
                times.append(time.perf_counter() - t0)
                if len(again) != len(logs):
                    raise RuntimeError(f"eth_getLogs {label}: {len(logs)} logs, then {len(again)}")
            node_cpu = cpu_seconds(node.proc.pid) - cpu0
            results.append(LogsResult(node.name, label, len(logs), len(times), 1000 * statistics.median(times),
                                      1000 * min(times), 1000 * node_cpu / len(times)))
    finally:
        rpc.close()
    return results, seen


# --------------------------------------------------------------------------- one node


@dataclass
class NodeRun:
    name: str
    calls: list[CallResult] = field(default_factory=list)
    chain: LogsChain | None = None
    logs: list[LogsResult] = field(default_factory=list)
    seen: dict[str, list[tuple]] = field(default_factory=dict)
    ok: bool = False


def bench_node(name: str, argv: list[str], port: int, args) -> NodeRun:
    run = NodeRun(name)
    node = Node(name, argv, port)
    console.print(f"[bold]{name}[/]: {shlex.join(argv)}", soft_wrap=True)
    try:
        rpc = node.start(ready_timeout=120.0)
        setup = prepare(rpc)
        if "call" in args.phases:
            for label, tx in call_workloads(setup, args.burn_rounds):
                r = bench_call(node, rpc, label, tx, args)
                console.print(
                    f"  eth_call {label:12} {r.rps:9,.0f} req/s  median {r.median_ms:7.2f} ms  "
                    f"p99 {r.p99_ms:7.2f} ms  node CPU {r.node_cpu_us_per_req:7.0f} us/req  "
                    f"bench CPU {r.client_cpu_pct:3.0f}%"
                )
                run.calls.append(r)
        if "logs" in args.phases:
            run.chain = build_logs_chain(node, rpc, setup, args.blocks, args.log_every)
            console.print(f"  built {args.blocks:,} blocks ({run.chain.first}..{run.chain.last}, "
                          f"{run.chain.transfers} transfers) in {run.chain.build_s:.1f}s")
            run.logs, run.seen = bench_logs(node, run.chain, args.reps)
            for r in run.logs:
                console.print(f"  eth_getLogs {r.query:15} {r.logs:5} logs  median {r.median_ms:8.2f} ms  "
                              f"node CPU {r.node_cpu_ms:8.2f} ms/query")
        rpc.close()
        run.ok = True
    except Exception as exc:  # report and go on with the other node
        console.print(f"[red]{name} failed:[/] {exc}")
        tail = node.log_tail()
        if tail:
            console.print(f"--- {name} log (tail) ---\n{tail}", markup=False, highlight=False, style="dim")
    finally:
        node.stop()
    return run


# --------------------------------------------------------------------------- report


def ratio(c: float | None, a: float | None) -> float | None:
    return c / a if c is not None and a else None


def fmt_ratio(x: float | None) -> str:
    return f"{x:.3g}x" if x is not None else "n/a"


def report(runs: dict[str, NodeRun], args) -> dict:
    out: dict = {
        "params": {"duration_s": args.duration, "warmup_s": args.warmup, "clients": args.clients,
                   "blocks": args.blocks, "log_every": args.log_every, "reps": args.reps,
                   "burn_rounds": args.burn_rounds, "phases": args.phases},
        "versions": args.versions,
    }
    anvil, cham = runs.get("anvil"), runs.get("chameleon")
    if "call" in args.phases:
        table = Table(title=f"eth_call, {args.clients} concurrent keep-alive clients, {args.duration:g} s each")
        for col in ("node", "call", "gas", "req/s", "median ms", "p99 ms", "node CPU us/req", "bench CPU",
                    "all answered s"):
            table.add_column(col, justify="left" if col in ("node", "call") else "right")
        for run in runs.values():
            for r in run.calls:
                table.add_row(r.node, r.call, f"{r.gas:,}", f"{r.rps:,.0f}", f"{r.median_ms:.2f}", f"{r.p99_ms:.2f}",
                              f"{r.node_cpu_us_per_req:,.0f}", f"{r.client_cpu_pct:.0f}%", f"{r.all_answered_s:.2f}")
        console.print(table)
        out["eth_call"] = [asdict(r) for run in runs.values() for r in run.calls]
        out["eth_call_ratio"] = {}
        if anvil and cham:
            a_by = {r.call: r for r in anvil.calls}
            for c in cham.calls:
                a = a_by.get(c.call)
                if a is None:
                    continue
                rr = {"rps": ratio(c.rps, a.rps), "median": ratio(c.median_ms, a.median_ms),
                      "p99": ratio(c.p99_ms, a.p99_ms),
                      "node_cpu_per_req": ratio(c.node_cpu_us_per_req, a.node_cpu_us_per_req),
                      "same_result": c.result == a.result}
                out["eth_call_ratio"][c.call] = rr
                console.print(
                    f"chameleon/anvil eth_call {c.call}: req/s {fmt_ratio(rr['rps'])}, median latency "
                    f"{fmt_ratio(rr['median'])}, p99 {fmt_ratio(rr['p99'])}, node CPU/req "
                    f"{fmt_ratio(rr['node_cpu_per_req'])}; same result: {'yes' if rr['same_result'] else 'NO'}"
                )
    if "logs" in args.phases:
        chain = (cham or anvil).chain if (cham or anvil) else None
        title = f"eth_getLogs over {args.blocks:,} blocks"
        if chain is not None:
            title += f" ({chain.transfers} holding a Transfer), median of >= {args.reps} queries"
        table = Table(title=title)
        for col in ("query", "logs", "anvil ms", "chameleon ms", "time ratio", "anvil CPU ms", "chameleon CPU ms"):
            table.add_column(col, justify="left" if col == "query" else "right")
        a_by = {r.query: r for r in anvil.logs} if anvil else {}
        c_by = {r.query: r for r in cham.logs} if cham else {}
        out["eth_getLogs"] = [asdict(r) for run in runs.values() for r in run.logs]
        out["eth_getLogs_ratio"] = {}
        for q in ("address", "address+topics", "unfiltered"):
            a, c = a_by.get(q), c_by.get(q)
            if a is None and c is None:
                continue
            t = ratio(c.median_ms if c else None, a.median_ms if a else None)
            out["eth_getLogs_ratio"][q] = t
            table.add_row(q, str((c or a).logs), f"{a.median_ms:.2f}" if a else "-", f"{c.median_ms:.2f}" if c else "-",
                          fmt_ratio(t), f"{a.node_cpu_ms:.2f}" if a else "-", f"{c.node_cpu_ms:.2f}" if c else "-")
        console.print(table)
        if anvil and cham and anvil.seen and cham.seen:
            diffs = [q for q in anvil.seen if anvil.seen[q] != cham.seen.get(q)]
            out["logs_match"] = not diffs
            total = sum(len(v) for v in cham.seen.values())
            if diffs:
                console.print(f"[red]logs differ between the nodes for: {', '.join(diffs)}[/]")
            else:
                console.print(f"same logs on both nodes: {total} over the 3 queries (blockNumber, logIndex, "
                              "transactionIndex, transactionHash, address, topics, data)")
        for run in runs.values():
            if run.chain:
                out.setdefault("build_s", {})[run.name] = run.chain.build_s
    return out


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    global console
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n\n".join(__doc__.split("\n\n")[2:]))
    ap.add_argument("--duration", type=float, default=10.0, help="measured seconds per eth_call workload (default 10)")
    ap.add_argument("--warmup", type=float, default=2.0,
                    help="unmeasured seconds of load before that, and until every connection had an answer (default 2)")
    ap.add_argument("--clients", type=int, default=64, help="concurrent keep-alive connections (default 64)")
    ap.add_argument("--burn-rounds", type=int, default=200,
                    help="rounds of the heavier call Probe.burn (default 200; 0: balanceOf only)")
    ap.add_argument("--blocks", type=int, default=10_000, help="blocks eth_getLogs spans (default 10000)")
    ap.add_argument("--log-every", type=int, default=50, help="a Transfer every this many blocks (default 50)")
    ap.add_argument("--reps", type=int, default=5,
                    help="timed eth_getLogs per query, at least (and for at least 1 s; default 5)")
    ap.add_argument("--phases", default=",".join(PHASES), help="comma-separated, of call,logs (default both)")
    ap.add_argument("--only", choices=["anvil", "chameleon"], help="bench one node only")
    ap.add_argument("--profile", metavar="FILE", help="run Chameleon under cProfile, stats to FILE (slower)")
    ap.add_argument("--anvil-args", default="", help="extra Anvil arguments (shell-quoted string)")
    ap.add_argument("--chameleon-args", default="", help="extra `chameleon dev` arguments (shell-quoted string)")
    ap.add_argument("--json", action="store_true",
                    help="print the figures as one JSON object on stdout (the rest goes to stderr)")
    args = ap.parse_args(argv)
    args.phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    if not args.phases or set(args.phases) - set(PHASES):
        ap.error("--phases takes call and/or logs")
    if args.duration <= 0 or args.warmup < 0 or args.clients < 1 or args.reps < 1:
        ap.error("need --duration > 0, --warmup >= 0, --clients >= 1, --reps >= 1")
    if args.log_every < 1 or args.blocks < args.log_every:
        ap.error("need --log-every >= 1 and --blocks >= --log-every")
    if args.json or not console.is_terminal:
        console = Console(stderr=args.json, width=None if console.is_terminal else 120)
    erc20_rpc.console = console  # Node.stop warns through it

    try:
        compile_contracts(["Token", "Probe"])  # fail early (and warm the cache) before starting nodes
    except Exception as exc:
        console.print(f"[red]cannot compile Token.sol and Probe.sol:[/] {exc}")
        return 1

    nodes: list[tuple[str, object]] = []  # (name, port -> argv)
    args.versions = {}
    if args.only in (None, "anvil"):
        if not ANVIL.exists():
            console.print(f"[red]Anvil not found at {ANVIL}: run ./scripts/test or npm ci first[/]")
            if args.only == "anvil":
                return 1
        else:
            args.versions["anvil"] = tool_version([str(ANVIL), "--version"])
            extra = shlex.split(args.anvil_args)
            nodes.append(("anvil", lambda port: [str(ANVIL), "--host", HOST, "--port", str(port), "--silent", *extra]))
    if args.only in (None, "chameleon"):
        reason = chameleon_available()
        if reason:
            console.print(f"[yellow]skipping chameleon: {reason}[/]")
            if args.only == "chameleon":
                return 1
        else:
            args.versions["chameleon"] = tool_version([str(CHAMELEON), "--version"])
            cextra = shlex.split(args.chameleon_args)
            if args.blocks >= 100_000:
                cextra = ["--rpc-max-logs-range", "0", *cextra]  # the default limit is 100,000 blocks

            def chameleon_argv(port: int) -> list[str]:
                argv = [str(CHAMELEON), "dev", "--tmp", "--host", HOST, "--port", str(port),
                        "--log-level", "warning", *cextra]
                if args.profile:
                    argv = [sys.executable, "-c", PROFILED_NODE, str(Path(args.profile).resolve()), *argv[1:]]
                return argv

            nodes.append(("chameleon", chameleon_argv))
    if not nodes:
        return 1
    for name, version in args.versions.items():
        console.print(f"{name}: {version}")

    def on_sigterm(signum, frame):  # noqa: ARG001 - signal handler signature
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    runs: dict[str, NodeRun] = {}
    try:
        for name, make_argv in nodes:
            port = free_port()
            runs[name] = bench_node(name, make_argv(port), port, args)
    except KeyboardInterrupt:  # bench_node's finally has stopped the node
        console.print("[yellow]interrupted[/]")
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    results = report(runs, args)
    if args.profile and "chameleon" in runs:
        console.print(f"chameleon cProfile stats: {Path(args.profile).resolve()}")
    if args.json:
        print(json.dumps(results, indent=None))
    ok = all(r.ok for r in runs.values()) and len(runs) == len(nodes)
    if results.get("logs_match") is False:
        ok = False
    if any(not rr["same_result"] for rr in results.get("eth_call_ratio", {}).values()):
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
