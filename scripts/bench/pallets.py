#!/usr/bin/env python3
"""Native pallets vs the equivalent OpenZeppelin contracts: gas and wall time per call.

    .venv/bin/python scripts/bench/pallets.py [--calls 50] [--workload vesting|erc721|governor|baseline|all] [--json]
    .venv/bin/python scripts/bench/pallets.py --calls 5 --workload vesting      # a quick run

Three columns for each workload:
  pallet     the native pallet on `chameleon dev` (Python code behind a Solidity ABI);
  sol/cham   the OpenZeppelin 5 Solidity contract on `chameleon dev` (py-evm runs the bytecode);
  sol/anvil  the same bytecode on Anvil (the reference EVM).
Every column of a workload gets a fresh node on a free 127.0.0.1 port (automine;
`chameleon dev --tmp`); the three run side by side and the calls alternate between them, one
at a time, so that the load of this shared machine hits every column alike (an idle node
takes no CPU). The contracts (scripts/bench/contracts/*.sol, compiled with solc-js from npm,
OpenZeppelin from node_modules) are deployed by untimed setup transactions.

Each measured call is one signed EIP-1559 transaction from a dev account of the test
mnemonic (round-robin over the ten): eth_sendRawTransaction, then eth_getTransactionReceipt
until it is there with status 1 (polled every millisecond). "ms" is that round trip, one
call at a time; "gas" is the receipt's gasUsed (21,000 intrinsic + calldata included);
"node CPU ms" is the CPU time the node's threads used meanwhile (/proc/<pid>/task/*/schedstat),
steadier than wall time when other processes load the machine. Medians over the calls.
The first `--warmup` calls of each operation run but are not counted.

Workloads (the rows):
  vesting   create:  pallet createSchedule{1 ether}(beneficiary, now, 0, 10000 s, false) vs
                     deploying a VestingWallet(beneficiary, now, 10000 s){1 ether} (one wallet
                     per beneficiary: OpenZeppelin's model);
            release: after evm_increaseTime(5000) + evm_mine, pallet release(id) vs
                     VestingWallet.release(); each pays half the 1 ether to a fresh address.
  erc721    mint:    stores pallet createStore(name, catalogURI) (mints a store NFT) vs
                     ERC721URIStorage mint(uri) (_mint + _setTokenURI), the URI of the same
                     length as catalogURI.
  governor  vote:    governance pallet vote{1 ether}(id, 1) on a proposal made with
                     propose{deposit}(target, "", 0, description) vs Governor.castVote(id, 1)
                     (Governor + GovernorSettings(delay 0, period 50400, threshold 0) +
                     GovernorCountingSimple + GovernorVotes + GovernorVotesQuorumFraction(4),
                     an ERC20Votes token, voters delegated to themselves); nine voters (dev
                     accounts 1-9) per proposal, the warm-up votes on a proposal of their own.
                     The propose calls are reported too (row `propose`).
  baseline  transfer: a plain 1-wei transfer between dev accounts on each node (no pallet):
                     the floor every call above pays (signature check, block sealed per
                     transaction in automine, receipt).
A workload whose pallet does not have the call yet (checked in `chameleon_pallets`) runs its
Solidity columns only, and says "not built yet".

Ratios: gas, median ms and median node CPU of the pallet over the Solidity contract on
Chameleon (< 1: the pallet is cheaper / faster), and of each Chameleon column over Anvil. The last line of the
output is one JSON object with every figure (with --json, the only line on stdout).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import signal
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
_VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
if Path(sys.prefix).resolve() != (REPO_ROOT / ".venv").resolve() and _VENV_PYTHON.exists():
    os.execv(str(_VENV_PYTHON), [str(_VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])
sys.path.insert(0, str(REPO_ROOT))  # for tests.contracts.compile (namespace packages, no __init__.py)
sys.path.insert(1, str(Path(__file__).resolve().parent))  # erc20_rpc: nodes, JSON-RPC client, signing

from eth_abi import decode as abi_decode  # noqa: E402
from eth_abi import encode as abi_encode  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address  # noqa: E402
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
    Node,
    Rpc,
    RpcError,
    chameleon_available,
    free_port,
    sign,
    tool_version,
)
from tests.contracts import compile as solc  # noqa: E402

HOST = "127.0.0.1"
CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
BUILD_DIR = CONTRACTS_DIR / "build"  # git-ignored (build/)
WORKLOADS = ("vesting", "erc721", "governor", "baseline")
COLUMNS = ("pallet", "sol/cham", "sol/anvil")
COLUMN_TITLES = {
    "pallet": "pallet (chameleon)",
    "sol/cham": "OZ Solidity (chameleon py-evm)",
    "sol/anvil": "OZ Solidity (anvil)",
}
VESTING = "0x0000000000000000000000000000000000000801"
STORES = "0x0000000000000000000000000000000000000803"
GOVERNANCE = "0x0000000000000000000000000000000000000804"
PALLET_OF = {"vesting": ("vesting", VESTING), "erc721": ("stores", STORES), "governor": ("governance", GOVERNANCE)}
# The calls each workload needs from its pallet (signature as in the pallet's ABI).
PALLET_CALLS = {
    "vesting": ["createSchedule(address,uint64,uint64,uint64,bool)", "release(uint256)"],
    "erc721": ["createStore(string,string)"],
    "governor": ["propose(address,bytes,uint256,string)", "vote(uint256,uint8)"],
}
# Which rows each workload reports, in order.
ROWS = {
    "vesting": ("create", "release"), "erc721": ("mint",), "governor": ("propose", "vote"), "baseline": ("transfer",),
}
ROW_WHAT = {
    ("vesting", "create"): "createSchedule{1 ether}  |  deploy VestingWallet{1 ether}",
    ("vesting", "release"): "release(id), half vested  |  VestingWallet.release()",
    ("erc721", "mint"): "stores.createStore(name, uri)  |  ERC721URIStorage mint(uri)",
    ("governor", "propose"): "propose{deposit}  |  Governor.propose (1 no-op action)",
    ("governor", "vote"): "vote{1 ether}(id, For)  |  Governor.castVote(id, For)",
    ("baseline", "transfer"): "-  |  1 wei to another dev account (21,000 gas): the floor of any call",
}

MAX_FEE = 100 * GWEI  # the dev base fee starts at 1 gwei on both nodes
VEST_AMOUNT = 1 * ETHER
VEST_DURATION = 10_000  # seconds; release after half of it
VOTE_VALUE = 1 * ETHER  # the pallet's vote weight: msg.value locked
DEFAULT_MIN_DEPOSIT = 1 * ETHER  # the governance pallet's minDeposit default
VOTES_EACH = 1_000 * ETHER
MAX_SCHEDULES_PER_ACCOUNT = 64  # runtime/pallets/vesting/config.py  # ERC20Votes minted to each voter
# A catalog / token URI of a typical length (an IPFS CIDv1 URI, 66 bytes: three 32-byte words).
URI = "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi/"

console = Console()


# --------------------------------------------------------------------------- compiling


def compile_bench() -> dict[str, solc.Artifact]:
    """Compile scripts/bench/contracts/*.sol with the test contracts' toolchain, cached in its build/."""
    return solc.compile_contracts(contracts_dir=CONTRACTS_DIR, build_dir=BUILD_DIR)


def calldata(signature: str, *args) -> bytes:
    """Selector + ABI-encoded args for a signature like 'release(uint256)'."""
    types = signature[signature.index("(") + 1 : -1]
    types_list = _split_types(types)
    return function_signature_to_4byte_selector(signature) + abi_encode(types_list, list(args))


def _split_types(types: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in types:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur:
        out.append(cur)
    return out


# --------------------------------------------------------------------------- one chain


@dataclass
class Sample:
    gas: int
    seconds: float  # send to receipt
    cpu: float  # seconds of CPU the node used meanwhile


def node_cpu_seconds(pid: int) -> float:
    """CPU time of every thread of process `pid`, from /proc/<pid>/task/*/schedstat (ns)."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0.0
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", "rb") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


class Chain:
    """A started node: sends signed transactions one at a time and times them."""

    def __init__(self, rpc: Rpc, pid: int):
        self.rpc = rpc
        self.pid = pid
        self.chain_id = int(rpc.call("eth_chainId"), 16)
        Account.enable_unaudited_hdwallet_features()
        self.accounts = [Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in range(10)]
        self.nonces: dict[str, int] = {}

    def nonce(self, acct) -> int:
        if acct.address not in self.nonces:
            self.nonces[acct.address] = int(self.rpc.call("eth_getTransactionCount", [acct.address, "pending"]), 16)
        return self.nonces[acct.address]

    def eth_call(self, acct, to: str, data: bytes, value: int = 0) -> bytes:
        tx = {"from": acct.address, "to": to, "data": "0x" + data.hex(), "value": hex(value)}
        return bytes.fromhex(self.rpc.call("eth_call", [tx, "latest"])[2:])

    def send(self, acct, to: str | None, data: bytes, *, value: int = 0, gas: int = 1_000_000) -> tuple[dict, Sample]:
        """Sign (untimed), then send and wait for the receipt (timed)."""
        raw, h = sign(acct.key, self.chain_id, self.nonce(acct), to, gas, MAX_FEE, value=value, data=data)
        cpu0 = node_cpu_seconds(self.pid)
        t0 = time.perf_counter()
        got = self.rpc.call("eth_sendRawTransaction", [raw])
        receipt = self.rpc.call("eth_getTransactionReceipt", [h])
        pause = 0.0005
        deadline = t0 + 60
        while receipt is None:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"no receipt for {h} after 60 s")
            time.sleep(pause)
            pause = min(pause * 2, 0.002)
            receipt = self.rpc.call("eth_getTransactionReceipt", [h])
        elapsed = time.perf_counter() - t0
        cpu = node_cpu_seconds(self.pid) - cpu0
        self.nonces[acct.address] += 1
        if got is not None and got.lower() != h:
            raise RuntimeError(f"node returned hash {got}, expected {h}")
        if int(receipt["status"], 16) != 1:
            raise RuntimeError(f"transaction {h} to {to} failed (gasUsed {int(receipt['gasUsed'], 16)})")
        return receipt, Sample(int(receipt["gasUsed"], 16), elapsed, cpu)

    def deploy(self, acct, art: solc.Artifact, ctor_types: list[str], ctor_args: list, *, value: int = 0,
               gas: int = 6_000_000) -> tuple[str, Sample]:
        receipt, sample = self.send(acct, None, art.bytecode + abi_encode(ctor_types, ctor_args), value=value, gas=gas)
        return to_checksum_address(receipt["contractAddress"]), sample

    def timestamp(self) -> int:
        return int(self.rpc.call("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def time_travel(self, seconds: int) -> None:
        self.rpc.call("evm_increaseTime", [seconds])
        self.rpc.call("evm_mine", [])


def beneficiary(i: int) -> str:
    """A fresh address per schedule / wallet (no balance, no code)."""
    return to_checksum_address(keccak(text=f"chameleon pallet bench beneficiary {i}")[:20])


# --------------------------------------------------------------------------- workloads
#
# Each runner is a generator: (chain, arts, n calls, warm-up calls) -> yields (row, Sample)
# after every call it measures; its setup runs before the first yield. The driver steps the
# columns' runners in turn, one call each, so that a change in the machine's load (a shared
# 2-core box) hits every column alike.

Runner = Callable[[Chain, dict, int, int], Iterator[tuple[str, Sample]]]


def vesting_pallet(ch: Chain, arts: dict, n: int, warmup: int) -> Iterator[tuple[str, Sample]]:
    start = ch.timestamp()
    ids = []
    for i in range(n):
        acct = ch.accounts[i % 10]
        data = calldata("createSchedule(address,uint64,uint64,uint64,bool)",
                        beneficiary(i), start, 0, VEST_DURATION, False)
        (sid,) = abi_decode(["uint256"], ch.eth_call(acct, VESTING, data, VEST_AMOUNT))
        _, s = ch.send(acct, VESTING, data, value=VEST_AMOUNT, gas=500_000)
        ids.append(sid)
        yield "create", s
    ch.time_travel(VEST_DURATION // 2)
    for i, sid in enumerate(ids):
        _, s = ch.send(ch.accounts[i % 10], VESTING, calldata("release(uint256)", sid), gas=300_000)
        yield "release", s


def vesting_solidity(ch: Chain, arts: dict, n: int, warmup: int) -> Iterator[tuple[str, Sample]]:
    start = ch.timestamp()
    art = arts["BenchVestingWallet"]
    wallets = []
    for i in range(n):
        addr, s = ch.deploy(ch.accounts[i % 10], art, ["address", "uint64", "uint64"],
                            [beneficiary(i), start, VEST_DURATION], value=VEST_AMOUNT, gas=1_500_000)
        wallets.append(addr)
        yield "create", s
    ch.time_travel(VEST_DURATION // 2)
    for i, w in enumerate(wallets):
        _, s = ch.send(ch.accounts[i % 10], w, calldata("release()"), gas=300_000)
        yield "release", s


def store_name(i: int) -> str:
    return f"Bench store {i:06d}"


def erc721_pallet(ch: Chain, arts: dict, n: int, warmup: int) -> Iterator[tuple[str, Sample]]:
    for i in range(n):
        data = calldata("createStore(string,string)", store_name(i), URI)
        _, s = ch.send(ch.accounts[i % 10], STORES, data, gas=1_000_000)
        yield "mint", s


def erc721_solidity(ch: Chain, arts: dict, n: int, warmup: int) -> Iterator[tuple[str, Sample]]:
    nft, _ = ch.deploy(ch.accounts[0], arts["BenchNFT"], [], [])
    for i in range(n):
        _, s = ch.send(ch.accounts[i % 10], nft, calldata("mint(string)", URI), gas=1_000_000)
        yield "mint", s


VOTERS = range(1, 10)  # dev accounts 1..9 vote; account 0 proposes


def vote_batches(n: int, warmup: int) -> list[int]:
    """Votes per proposal: the warm-up votes on a proposal of their own, then nine a proposal."""
    measured = n - warmup
    batches = [warmup] if warmup else []
    batches += [min(len(VOTERS), measured - k) for k in range(0, measured, len(VOTERS))]
    return batches


def governor_pallet(ch: Chain, arts: dict, n: int, warmup: int) -> Iterator[tuple[str, Sample]]:
    min_deposit = governance_parameter(ch.rpc, "minDeposit") or DEFAULT_MIN_DEPOSIT
    proposer = ch.accounts[0]
    target = proposer.address
    for j, votes in enumerate(vote_batches(n, warmup)):
        data = calldata("propose(address,bytes,uint256,string)", target, b"", 0, f"bench proposal {j}")
        (pid,) = abi_decode(["uint256"], ch.eth_call(proposer, GOVERNANCE, data, min_deposit))
        _, s = ch.send(proposer, GOVERNANCE, data, value=min_deposit, gas=1_000_000)
        yield "propose", s
        for v in list(VOTERS)[:votes]:
            _, s = ch.send(ch.accounts[v], GOVERNANCE, calldata("vote(uint256,uint8)", pid, 1), value=VOTE_VALUE,
                           gas=500_000)
            yield "vote", s


def governor_solidity(ch: Chain, arts: dict, n: int, warmup: int) -> Iterator[tuple[str, Sample]]:
    voters = [ch.accounts[v] for v in VOTERS]
    proposer = ch.accounts[0]
    token, _ = ch.deploy(proposer, arts["BenchVotesToken"], ["address[]", "uint256"],
                         [[a.address for a in voters], VOTES_EACH])
    governor, _ = ch.deploy(proposer, arts["BenchGovernor"], ["address"], [token])
    for a in voters:
        ch.send(a, token, calldata("delegate(address)", a.address), gas=200_000)
    ch.rpc.call("evm_mine", [])  # the delegations are in the past of every proposal's snapshot
    sig = "propose(address[],uint256[],bytes[],string)"
    for j, votes in enumerate(vote_batches(n, warmup)):
        data = calldata(sig, [token], [0], [b""], f"bench proposal {j}")
        (pid,) = abi_decode(["uint256"], ch.eth_call(proposer, governor, data))
        _, s = ch.send(proposer, governor, data, gas=1_000_000)
        yield "propose", s
        for a in voters[:votes]:
            _, s = ch.send(a, governor, calldata("castVote(uint256,uint8)", pid, 1), gas=500_000)
            yield "vote", s


def baseline_transfers(ch: Chain, arts: dict, n: int, warmup: int) -> Iterator[tuple[str, Sample]]:
    for i in range(n):
        _, s = ch.send(ch.accounts[i % 10], ch.accounts[(i + 1) % 10].address, b"", value=1, gas=21_000)
        yield "transfer", s


RUNNERS: dict[str, dict[str, Runner]] = {
    "vesting": {"pallet": vesting_pallet, "sol": vesting_solidity},
    "erc721": {"pallet": erc721_pallet, "sol": erc721_solidity},
    "governor": {"pallet": governor_pallet, "sol": governor_solidity},
    "baseline": {"sol": baseline_transfers},
}


def progress_total(workload: str, n: int, warmup: int) -> int:
    """Calls one column makes (every row)."""
    if workload == "vesting":
        return 2 * n
    if workload == "governor":
        return n + len(vote_batches(n, warmup))
    return n


# --------------------------------------------------------------------------- figures


@dataclass
class Stats:
    n: int
    gas_median: int
    gas_min: int
    gas_max: int
    ms_median: float
    ms_p90: float
    total_s: float
    cpu_ms: float  # the node's CPU time per call (median)

    @classmethod
    def of(cls, samples: list[Sample]) -> Stats:
        gas = [s.gas for s in samples]
        ms = sorted(1000 * s.seconds for s in samples)
        return cls(
            n=len(samples), gas_median=int(statistics.median(gas)), gas_min=min(gas), gas_max=max(gas),
            ms_median=statistics.median(ms), ms_p90=ms[min(len(ms) - 1, math.ceil(0.9 * len(ms)) - 1)],
            total_s=sum(s.seconds for s in samples), cpu_ms=1000 * statistics.median(s.cpu for s in samples),
        )

    def as_dict(self) -> dict:
        return {"n": self.n, "gas_median": self.gas_median, "gas_min": self.gas_min, "gas_max": self.gas_max,
                "ms_median": round(self.ms_median, 3), "ms_p90": round(self.ms_p90, 3),
                "total_s": round(self.total_s, 4), "node_cpu_ms": round(self.cpu_ms, 3)}


@dataclass
class WorkloadResult:
    workload: str
    stats: dict[str, dict[str, Stats]] = field(default_factory=dict)  # row -> column -> Stats
    skipped: dict[str, str] = field(default_factory=dict)  # column -> why


# --------------------------------------------------------------------------- running


def anvil_argv(extra: list[str]) -> Callable[[int], list[str]]:
    return lambda port: [str(ANVIL), "--host", HOST, "--port", str(port), "--silent", *extra]


def chameleon_argv(extra: list[str]) -> Callable[[int], list[str]]:
    return lambda port: [str(CHAMELEON), "dev", "--tmp", "--host", HOST, "--port", str(port),
                         "--log-level", "warning", *extra]


def missing_pallet_calls(rpc: Rpc, workload: str) -> list[str]:
    """The calls `workload` needs that the node's pallet does not have (chameleon_pallets)."""
    name, address = PALLET_OF[workload]
    entries = rpc.call("chameleon_pallets")
    entry = next((e for e in entries if e["address"].lower() == address), None)
    have = set()
    if entry is not None:
        for item in entry["abi"]:
            if item.get("type") == "function":
                have.add(f"{item['name']}({','.join(i['type'] for i in item['inputs'])})")
    return [c for c in PALLET_CALLS[workload] if c not in have]


def governance_parameter(rpc: Rpc, name: str) -> int | None:
    """A governance parameter from the pallet's getParameter(address,bytes32) view, if it answers."""
    data = calldata("getParameter(address,bytes32)", GOVERNANCE, name.encode().ljust(32, b"\0"))
    try:
        return int(rpc.call("eth_call", [{"to": GOVERNANCE, "data": "0x" + data.hex()}, "latest"]), 16)
    except (RpcError, ValueError):
        return None


def start_column(workload: str, column: str, make_argv, arts: dict, args, stack: ExitStack):
    """Start a fresh node for one column: (its runner, started; or None and why it is skipped)."""
    port = free_port()
    node = Node("anvil" if column == "sol/anvil" else "chameleon", make_argv(port), port)
    stack.callback(node.stop)
    try:
        rpc = node.start()
        stack.callback(rpc.close)
        if column == "pallet":
            missing = missing_pallet_calls(rpc, workload)
            if missing:
                pname = PALLET_OF[workload][0]
                return None, f"{pname} pallet not built yet (no {', '.join(missing)} in chameleon_pallets)"
        runner = RUNNERS[workload]["pallet" if column == "pallet" else "sol"]
        return (node, runner(Chain(rpc, node.proc.pid), arts, args.calls + args.warmup, args.warmup)), ""
    except Exception as exc:
        return None, failure(workload, column, node, exc)


def failure(workload: str, column: str, node: Node, exc: Exception) -> str:
    console.print(f"[red]{workload} {column} failed:[/] {exc}")
    tail = node.log_tail()
    if tail:
        console.print(f"--- {node.name} log (tail) ---\n{tail}", markup=False, highlight=False, style="dim")
    return f"failed: {exc}"


def drop_warmup(samples: list[Sample], row: str, args) -> list[Sample]:
    """The counted samples of one row: without the first --warmup (propose: the warm-up proposal)."""
    if row == "propose":
        return samples[1:] if args.warmup else samples
    return samples[args.warmup:]


def run_workload(workload: str, columns: list[tuple[str, Callable]], arts: dict, args) -> WorkloadResult:
    """Every column of one workload on its own fresh node, the columns' calls interleaved."""
    res = WorkloadResult(workload)
    samples: dict[str, dict[str, list[Sample]]] = {}
    with ExitStack() as stack:
        running: dict[str, tuple[Node, Iterator]] = {}
        for column, make_argv in columns:
            if column not in RUNNERS[workload] and column == "pallet":
                continue  # the baseline has no pallet
            started, why = start_column(workload, column, make_argv, arts, args, stack)
            if started is None:
                res.skipped[column] = why
                console.print(f"  {workload} {column}: [yellow]skipped[/] - {why}", highlight=False)
            else:
                running[column] = started
                samples[column] = {row: [] for row in ROWS[workload]}
        with Progress(
            TextColumn(f"[bold]{workload:8}[/]"), BarColumn(), MofNCompleteColumn(),
            TextColumn(f"calls on {len(running)} node(s)"), TimeElapsedColumn(), console=console, transient=True,
        ) as progress:
            task = progress.add_task("calls", total=len(running) * progress_total(workload, args.calls + args.warmup,
                                                                                   args.warmup))
            turn = 0
            while running:
                order = list(running)
                for column in order[turn % len(order):] + order[: turn % len(order)]:
                    node, it = running[column]
                    try:
                        row, sample = next(it)
                        samples[column][row].append(sample)
                        progress.advance(task)
                    except StopIteration:
                        del running[column]
                    except Exception as exc:
                        res.skipped[column] = failure(workload, column, node, exc)
                        samples.pop(column, None)
                        del running[column]
                turn += 1
    for column, by_row in samples.items():
        line = []
        for row in ROWS[workload]:
            st = Stats.of(drop_warmup(by_row[row], row, args))
            res.stats.setdefault(row, {})[column] = st
            line.append(f"{row} {st.gas_median:,} gas {st.ms_median:.2f} ms {st.cpu_ms:.2f} CPU ms")
        console.print(f"  {workload:8} {column:9} " + "  ".join(line))
    return res


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def fmt_ratio(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}x"


def report(results: list[WorkloadResult], args, versions: dict) -> dict:
    table = Table(title=f"gas and wall time per call: {args.calls} calls per row (+{args.warmup} warm-up), one at a time")
    for col in ("workload", "row", "path", "gas", "ms median", "ms p90", "total s", "node CPU ms"):
        table.add_column(col, justify="left" if col in ("workload", "row", "path") else "right")
    ratio_table = Table(title="ratios (median gas, median ms, median node CPU ms)")
    ratio_table.add_column("workload / row")
    for col in ("gas pallet/sol-cham", "ms pallet/sol-cham", "CPU pallet/sol-cham", "ms pallet/anvil",
                "ms sol-cham/anvil", "CPU sol-cham/anvil", "gas sol-cham/anvil"):
        ratio_table.add_column(col.replace(" ", "\n", 1), justify="right")
    out = {"bench": "pallets", "calls": args.calls, "warmup": args.warmup, "versions": versions,
           "columns": COLUMN_TITLES, "workloads": {}}
    for r in results:
        w = {"rows": {}, "skipped": r.skipped}
        for row in ROWS[r.workload]:
            by = r.stats.get(row, {})
            for k, c in enumerate(COLUMNS):
                st = by.get(c)
                first = k == 0
                label = (r.workload if first and row == ROWS[r.workload][0] else "", row if first else "", c)
                if st is None:
                    table.add_row(*label, "-", "-", "-", "-", "skipped" if c in r.skipped else "-")
                    continue
                gas = f"{st.gas_median:,}" if st.gas_min == st.gas_max else f"{st.gas_median:,}*"
                table.add_row(*label, gas, f"{st.ms_median:.2f}", f"{st.ms_p90:.2f}", f"{st.total_s:.2f}",
                              f"{st.cpu_ms:.2f}", end_section=k == len(COLUMNS) - 1)

            def g(c, attr):
                st = by.get(c)
                return None if st is None else getattr(st, attr)

            ratios = {
                "gas_pallet_over_sol_cham": ratio(g("pallet", "gas_median"), g("sol/cham", "gas_median")),
                "ms_pallet_over_sol_cham": ratio(g("pallet", "ms_median"), g("sol/cham", "ms_median")),
                "cpu_pallet_over_sol_cham": ratio(g("pallet", "cpu_ms"), g("sol/cham", "cpu_ms")),
                "ms_pallet_over_anvil": ratio(g("pallet", "ms_median"), g("sol/anvil", "ms_median")),
                "ms_sol_cham_over_anvil": ratio(g("sol/cham", "ms_median"), g("sol/anvil", "ms_median")),
                "cpu_sol_cham_over_anvil": ratio(g("sol/cham", "cpu_ms"), g("sol/anvil", "cpu_ms")),
                "gas_sol_cham_over_anvil": ratio(g("sol/cham", "gas_median"), g("sol/anvil", "gas_median")),
            }
            ratio_table.add_row(f"{r.workload} {row}", *(fmt_ratio(v) for v in ratios.values()))
            w["rows"][row] = {
                "what": ROW_WHAT[(r.workload, row)],
                **{c: by[c].as_dict() for c in COLUMNS if c in by},
                "ratios": {k: (None if v is None else round(v, 4)) for k, v in ratios.items()},
            }
        out["workloads"][r.workload] = w
    console.print(table)
    console.print("gas: median gasUsed of the receipts (* = not the same for every call; min/max in the JSON); "
                  "ms: send to receipt, median and 90th percentile; total s: sum over the counted calls; "
                  "node CPU ms: the node's CPU time per call, median (all its threads, /proc schedstat), less sensitive "
                  "than wall time to the load of other processes.")
    console.print(ratio_table)
    console.print("rows (pallet  |  OpenZeppelin contract):")
    for r in results:
        for row in ROWS[r.workload]:
            console.print(f"  {r.workload} {row:8} {ROW_WHAT[(r.workload, row)]}", highlight=False)
        for c, why in r.skipped.items():
            console.print(f"  {r.workload} {c}: skipped - {why}", highlight=False)
    return out


def main(argv: list[str] | None = None) -> int:
    global console
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="See the top of scripts/bench/pallets.py for what each row measures.")
    ap.add_argument("--calls", type=int, default=50, help="measured calls per row (default 50)")
    ap.add_argument("--warmup", type=int, default=2, help="calls run before the measured ones, not counted (default 2)")
    ap.add_argument("--workload", choices=[*WORKLOADS, "all"], default="all", help="which workload (default all)")
    ap.add_argument("--only", choices=["anvil", "chameleon"], help="run one node's columns only")
    ap.add_argument("--anvil-args", default="", help="extra Anvil arguments (shell-quoted string)")
    ap.add_argument("--chameleon-args", default="", help="extra `chameleon dev` arguments (shell-quoted string)")
    ap.add_argument("--json", action="store_true",
                    help="print only the JSON object on stdout (the table and progress go to stderr)")
    args = ap.parse_args(argv)
    if args.calls < 1 or args.warmup < 0:
        ap.error("need --calls >= 1 and --warmup >= 0")
    if args.json or not console.is_terminal:
        console = Console(stderr=args.json, width=None if console.is_terminal else 160)
    erc20_rpc.console = console  # Node.stop warns through it
    workloads = list(WORKLOADS) if args.workload == "all" else [args.workload]
    if "vesting" in workloads and args.calls + args.warmup > 10 * MAX_SCHEDULES_PER_ACCOUNT:
        ap.error(f"vesting: need --calls + --warmup <= {10 * MAX_SCHEDULES_PER_ACCOUNT} (the pallet keeps at most "
                 f"{MAX_SCHEDULES_PER_ACCOUNT} schedules per account; the creators are the ten dev accounts)")

    try:
        arts = compile_bench()  # fail early (and warm the cache) before starting nodes
    except Exception as exc:
        console.print(f"[red]cannot compile {CONTRACTS_DIR}/*.sol:[/] {exc}")
        return 1

    columns: list[tuple[str, Callable]] = []
    versions = {}
    if args.only in (None, "chameleon"):
        reason = chameleon_available()
        if reason:
            console.print(f"[yellow]skipping chameleon: {reason}[/]")
            if args.only == "chameleon":
                return 1
        else:
            versions["chameleon"] = tool_version([str(CHAMELEON), "--version"])
            make = chameleon_argv(shlex.split(args.chameleon_args))
            columns += [("pallet", make), ("sol/cham", make)]
    if args.only in (None, "anvil"):
        if not ANVIL.exists():
            console.print(f"[red]Anvil not found at {ANVIL}: run ./scripts/test or npm ci first[/]")
            if args.only == "anvil":
                return 1
        else:
            versions["anvil"] = tool_version([str(ANVIL), "--version"])
            columns.append(("sol/anvil", anvil_argv(shlex.split(args.anvil_args))))
    if not columns:
        return 1
    versions["solc"] = solc._package_version("solc")
    versions["openzeppelin"] = solc._package_version("@openzeppelin/contracts")
    for name, version in versions.items():
        console.print(f"{name}: {version}")

    def on_sigterm(signum, frame):  # noqa: ARG001 - signal handler signature
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    results = []
    try:
        for w in workloads:
            results.append(run_workload(w, columns, arts, args))
    except KeyboardInterrupt:  # run_workload's ExitStack has stopped the nodes
        console.print("[yellow]interrupted[/]")
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    out = report(results, args, versions)
    sys.stdout.flush()
    print(json.dumps(out), flush=True)
    failed = any(why.startswith("failed") for r in results for why in r.skipped.values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
