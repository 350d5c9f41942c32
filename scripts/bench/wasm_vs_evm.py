#!/usr/bin/env python3
"""ERC-20 transfers, WASM vs EVM: gas and wall time per transfer on this node, and the VM alone.

    .venv/bin/python scripts/bench/wasm_vs_evm.py [--transfers 300] [--iterations 300] [--json]
    .venv/bin/python scripts/bench/wasm_vs_evm.py --transfers 3 --iterations 5    # a quick run

Goal: the WASM transfer faster in wall time than py-evm's. Three columns over JSON-RPC:
  wasm/cham  the AssemblyScript ERC-20 (vm/wasm/examples/erc20, built with asc) on `chameleon dev`
             (wasmtime runs it);
  sol/cham   OpenZeppelin 5's ERC-20 (tests/contracts/Token.sol, as erc20_rpc.py deploys it) on the
             same `chameleon dev` (py-evm runs the bytecode);
  sol/anvil  the same bytecode on Anvil, in the same run (the reference EVM; the house rule: every
             benchmark runs its workload against Anvil so results are ratios). The WASM token
             cannot run on Anvil (no WASM VM there): it has no Anvil column.
Both tokens share one fresh `chameleon dev --tmp` (automine) on a free 127.0.0.1 port, Anvil gets
its own. Setup (untimed): deploy from dev account 0 of the test mnemonic, then give each of the
ten dev accounts tokens. Each measured transfer is transfer(next account, 1) from dev account
i % 10 to (i + 1) % 10 (as erc20_rpc.py's senders pass to the next): one signed EIP-1559
transaction, eth_sendRawTransaction, then eth_getTransactionReceipt until it is there with
status 1; one at a time, the three columns taking turns so that the load of this machine hits
them alike. "ms" is that round trip, "gas" the receipt's gasUsed, "node CPU ms" the CPU time the
node's threads used meanwhile (/proc/<pid>/task/*/schedstat, as pallets.py reads it). Medians
over the transfers; the first `--warmup` of each column are not counted.

The round trip is mostly the node's fixed cost per transaction (RPC, signature, sealing a block
per transaction, receipt). To isolate the VM, the same transfer is also run in this process:
`vm.evm.execute` of one signed transaction on one state (both tokens deployed and funded in a
memory database, reopened at the same root before every run, so every run does the same
work), `--iterations` times per token after a warm-up, median; next to it a plain 1-wei
transfer (21,000 gas: no code runs) gives the floor every transaction pays, and "VM µs" is a
transfer's median minus that floor.

The output ends with one JSON object with every figure (with --json, the only line on stdout).
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
_VENV_PYTHON = REPO_ROOT / ".venv" / "bin" / "python"
if Path(sys.prefix).resolve() != (REPO_ROOT / ".venv").resolve() and _VENV_PYTHON.exists():
    os.execv(str(_VENV_PYTHON), [str(_VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])
sys.path.insert(0, str(REPO_ROOT))  # for tests.contracts.compile and vm (namespace packages)
sys.path.insert(1, str(Path(__file__).resolve().parent))  # erc20_rpc, pallets: nodes, JSON-RPC, signing

from eth_abi import encode as abi_encode  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_utils import to_checksum_address  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from rich.table import Table  # noqa: E402

import erc20_rpc  # noqa: E402
import pallets  # noqa: E402
from erc20_rpc import (  # noqa: E402
    ANVIL, CHAMELEON, ETHER, GWEI, MNEMONIC, Node, chameleon_available, free_port, tool_version, transfer_calldata,
)
from pallets import Chain, Sample, Stats, anvil_argv, chameleon_argv  # noqa: E402
from tests.contracts import compile as solc  # noqa: E402

COLUMNS = ("wasm/cham", "sol/cham", "sol/anvil")
COLUMN_TITLES = {
    "wasm/cham": "WASM ERC-20 (chameleon, wasmtime)",
    "sol/cham": "OZ Solidity (chameleon, py-evm)",
    "sol/anvil": "OZ Solidity (anvil)",
}
SUPPLY = 10**9 * ETHER
FUND = 10**6 * ETHER  # tokens given to each dev account at setup
TRANSFER_GAS = 100_000
NO_ANVIL_WASM = "the WASM token cannot run on Anvil (no WASM VM): no wasm/anvil column"

console = Console()


def wasm_module() -> bytes:
    """The WASM ERC-20 example, built now with asc (as scripts/setup builds it)."""
    from vm.wasm.build import EXAMPLES_DIR, build_project

    with tempfile.TemporaryDirectory(prefix="bench-wasm-") as tmp:
        return build_project(EXAMPLES_DIR / "erc20", Path(tmp) / "erc20.wasm").read_bytes()


def token_init(kind: str, module: bytes, token_art) -> bytes:
    """Init code of the WASM token (module ‖ initialSupply) or of Token.sol (name, symbol, supply)."""
    if kind == "wasm":
        return module + abi_encode(["uint256"], [SUPPLY])
    return token_art.bytecode + abi_encode(["string", "string", "uint256"], ["Bench", "BNCH", SUPPLY])


# --------------------------------------------------------------------------- over JSON-RPC


def setup_token(ch: Chain, init: bytes) -> str:
    """Deploy a token from dev account 0 and give every other dev account FUND of it (untimed)."""
    deployer = ch.accounts[0]
    receipt, _ = ch.send(deployer, None, init, gas=3_000_000)
    token = to_checksum_address(receipt["contractAddress"])
    for acct in ch.accounts[1:]:
        ch.send(deployer, token, transfer_calldata(acct.address, FUND), gas=TRANSFER_GAS)
    return token


def transfers(ch: Chain, token: str, n: int):
    """n measured transfers of 1 unit: dev account i % 10 to the next one."""
    for i in range(n):
        k = i % len(ch.accounts)
        to = ch.accounts[(k + 1) % len(ch.accounts)].address
        _, sample = ch.send(ch.accounts[k], token, transfer_calldata(to, 1), gas=TRANSFER_GAS)
        yield sample


def run_rpc(args, module: bytes, token_art, versions: dict) -> tuple[dict[str, Stats], dict[str, str]]:
    """Per column: Stats of the measured transfers; and why a column was skipped."""
    total = args.transfers + args.warmup
    skipped: dict[str, str] = {}
    running: dict[str, object] = {}  # column -> iterator of Samples
    nodes: dict[str, Node] = {}
    samples: dict[str, list[Sample]] = {}
    with ExitStack() as stack:
        kinds = []
        if args.only in (None, "chameleon"):
            reason = chameleon_available()
            if reason:
                skipped["wasm/cham"] = skipped["sol/cham"] = f"skipped: {reason}"
            else:
                versions["chameleon"] = tool_version([str(CHAMELEON), "--version"])
                kinds.append(("chameleon", chameleon_argv(shlex.split(args.chameleon_args)), ("wasm/cham", "sol/cham")))
        if args.only in (None, "anvil"):
            if not ANVIL.exists():
                skipped["sol/anvil"] = f"skipped: Anvil not found at {ANVIL} (run ./scripts/test or npm ci)"
            else:
                versions["anvil"] = tool_version([str(ANVIL), "--version"])
                kinds.append(("anvil", anvil_argv(shlex.split(args.anvil_args)), ("sol/anvil",)))
        for name, make_argv, columns in kinds:
            port = free_port()
            node = Node(name, make_argv(port), port)
            stack.callback(node.stop)
            try:
                rpc = node.start()
                stack.callback(rpc.close)
                ch = Chain(rpc, node.proc.pid)
                for column in columns:
                    kind = "wasm" if column.startswith("wasm") else "sol"
                    token = setup_token(ch, token_init(kind, module, token_art))
                    running[column] = transfers(ch, token, total)
                    nodes[column] = node
                    samples[column] = []
            except Exception as exc:
                for column in columns:
                    skipped[column] = failure(column, node, exc)
                    running.pop(column, None)
        for column, why in skipped.items():
            console.print(f"  {column}: [yellow]{why}[/]", highlight=False)

        with Progress(
            TextColumn("[bold]transfers[/]"), BarColumn(), MofNCompleteColumn(),
            TextColumn(f"on {len(running)} column(s)"), TimeElapsedColumn(), console=console, transient=True,
        ) as progress:
            task = progress.add_task("transfers", total=len(running) * total)
            while running:
                for column in list(running):  # the columns take turns, one transfer each
                    try:
                        samples[column].append(next(running[column]))
                        progress.advance(task)
                    except StopIteration:
                        del running[column]
                    except Exception as exc:
                        skipped[column] = failure(column, nodes[column], exc)
                        samples.pop(column, None)
                        del running[column]
    stats = {column: Stats.of(s[args.warmup:]) for column, s in samples.items() if s[args.warmup:]}
    for column, st in stats.items():
        console.print(f"  {column:9} {st.gas_median:,} gas  {st.ms_median:.2f} ms  {st.cpu_ms:.2f} node CPU ms")
    return stats, skipped


def failure(column: str, node: Node, exc: Exception) -> str:
    console.print(f"[red]{column} failed:[/] {exc}")
    tail = node.log_tail()
    if tail:
        console.print(f"--- {node.name} log (tail) ---\n{tail}", markup=False, highlight=False, style="dim")
    return f"failed: {exc}"


# --------------------------------------------------------------------------- in process: vm.evm.execute


def run_execute(args, module: bytes, token_art) -> dict:
    """Median µs of `vm.evm.execute` of one signed transfer on one state, per token, and of a plain transfer."""
    from eth.constants import BLANK_ROOT_HASH
    from eth.db.atomic import AtomicDB
    from eth.db.backends.memory import MemoryDB
    from eth.vm.forks.prague.transactions import PragueTransactionBuilder

    from vm import evm
    from vm.host import BlockContext

    Account.enable_unaudited_hdwallet_features()
    sender, recipient = (Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}") for i in (0, 1))
    sender_b, recipient_b = bytes.fromhex(sender.address[2:]), bytes.fromhex(recipient.address[2:])
    block = BlockContext(number=1, timestamp=1_700_000_000, gas_limit=30_000_000, base_fee=GWEI,
                         coinbase=b"\xcc" * 20, chain_id=31337)
    db = AtomicDB(MemoryDB())
    state = evm.open_state(db, block, BLANK_ROOT_HASH)
    state.set_balance(sender_b, 1000 * ETHER)
    state.persist()

    def reopen():
        nonlocal state
        state.persist()
        state = evm.open_state(db, block, state.state_root)

    def unsigned(to: bytes | None, data: bytes, value: int = 0) -> evm.Outcome:
        out = evm.call(state, sender=sender_b, to=to, data=data, value=value, gas=5_000_000,
                       max_fee_per_gas=2 * GWEI, max_priority_fee_per_gas=GWEI)
        if not out.success:
            raise RuntimeError(f"in-process setup failed: {out}")
        reopen()
        return out

    tokens = {}
    for kind in ("wasm", "sol"):
        address = unsigned(None, token_init(kind, module, token_art)).contract_address
        unsigned(address, transfer_calldata(recipient.address, FUND))  # the recipient holds tokens, as over RPC
        tokens[kind] = address
    root, nonce = state.state_root, state.get_nonce(sender_b)

    def signed(to: bytes, data: bytes, value: int, gas: int):
        raw = Account.sign_transaction({
            "type": 2, "chainId": block.chain_id, "nonce": nonce, "gas": gas, "maxFeePerGas": 2 * GWEI,
            "maxPriorityFeePerGas": GWEI, "to": to, "value": value, "data": data}, sender.key).raw_transaction
        return PragueTransactionBuilder.decode(bytes(raw))

    txs = {kind: signed(address, transfer_calldata(recipient.address, 1), 0, TRANSFER_GAS)
           for kind, address in tokens.items()}
    txs["plain"] = signed(recipient_b, b"", 1, 21_000)
    times: dict[str, list[float]] = {kind: [] for kind in txs}
    gas: dict[str, int] = {}
    rounds = args.exec_warmup + args.iterations
    with Progress(
        TextColumn("[bold]vm.evm.execute[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    ) as progress:
        task = progress.add_task("execute", total=rounds * len(txs))
        for i in range(rounds):
            for kind, tx in txs.items():  # interleaved, as the RPC columns
                st = evm.open_state(db, block, root)
                t0 = time.perf_counter()
                out = evm.execute(st, tx)
                dt = time.perf_counter() - t0
                if not out.success:
                    raise RuntimeError(f"in-process {kind} transfer failed: {out}")
                gas[kind] = out.gas_used
                if i >= args.exec_warmup:
                    times[kind].append(dt)
                progress.advance(task)
    floor = statistics.median(times["plain"])
    res = {}
    for kind, ts in times.items():
        med = statistics.median(ts)
        res[kind] = {"n": len(ts), "gas": gas[kind], "us_median": round(1e6 * med, 1),
                     "us_min": round(1e6 * min(ts), 1), "vm_us": round(1e6 * (med - floor), 1)}
    return res


# --------------------------------------------------------------------------- report


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else round(a / b, 3)


def fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}x"


def report(stats: dict[str, Stats], skipped: dict[str, str], execute: dict | None, args, versions: dict) -> dict:
    table = Table(title=f"ERC-20 transfer over JSON-RPC: {args.transfers} transfers per column "
                        f"(+{args.warmup} warm-up), one at a time, automine")
    for col in ("column", "what", "gas", "ms median", "ms p90", "total s", "node CPU ms"):
        table.add_column(col, justify="left" if col in ("column", "what") else "right")
    for column in COLUMNS:
        st = stats.get(column)
        if st is None:
            table.add_row(column, COLUMN_TITLES[column], skipped.get(column, "-"), "", "", "", "")
            continue
        gas = f"{st.gas_median:,}" + ("" if st.gas_min == st.gas_max else "*")
        table.add_row(column, COLUMN_TITLES[column], gas, f"{st.ms_median:.2f}", f"{st.ms_p90:.2f}",
                      f"{st.total_s:.2f}", f"{st.cpu_ms:.2f}")
    table.add_row("wasm/anvil", "-", "n/a", "", "", "", "", style="dim")
    console.print(table)
    console.print(f"({NO_ANVIL_WASM}; gas: median gasUsed, * = not the same for every transfer)", highlight=False)

    def g(column, attr):
        st = stats.get(column)
        return None if st is None else getattr(st, attr)

    ratios = {
        "gas_wasm_over_sol_cham": ratio(g("wasm/cham", "gas_median"), g("sol/cham", "gas_median")),
        "ms_wasm_over_sol_cham": ratio(g("wasm/cham", "ms_median"), g("sol/cham", "ms_median")),
        "cpu_wasm_over_sol_cham": ratio(g("wasm/cham", "cpu_ms"), g("sol/cham", "cpu_ms")),
        "ms_sol_cham_over_anvil": ratio(g("sol/cham", "ms_median"), g("sol/anvil", "ms_median")),
        "ms_wasm_cham_over_anvil": ratio(g("wasm/cham", "ms_median"), g("sol/anvil", "ms_median")),
        "cpu_sol_cham_over_anvil": ratio(g("sol/cham", "cpu_ms"), g("sol/anvil", "cpu_ms")),
        "gas_sol_cham_over_anvil": ratio(g("sol/cham", "gas_median"), g("sol/anvil", "gas_median")),
    }
    rt = Table(title="ratios over JSON-RPC (median gas, ms, node CPU ms; < 1: the first is cheaper / faster)")
    for col in ("gas wasm/sol", "ms wasm/sol", "CPU wasm/sol", "ms sol-cham/anvil", "ms wasm-cham/anvil",
                "CPU sol-cham/anvil", "gas sol-cham/anvil"):
        rt.add_column(col, justify="right")
    rt.add_row(*(fmt(v) for v in ratios.values()))
    console.print(rt)

    if execute is not None:
        et = Table(title=f"vm.evm.execute in process: the same signed transfer on the same state, "
                         f"{args.iterations} runs each (+{args.exec_warmup} warm-up)")
        for col in ("transaction", "gas", "µs median", "µs min", "VM µs (median - plain)"):
            et.add_column(col, justify="left" if col == "transaction" else "right")
        names = {"wasm": "WASM ERC-20 transfer", "sol": "OZ Solidity transfer (py-evm)",
                 "plain": "plain 1-wei transfer"}
        for kind in ("wasm", "sol", "plain"):
            e = execute[kind]
            et.add_row(names[kind], f"{e['gas']:,}", f"{e['us_median']:.1f}", f"{e['us_min']:.1f}",
                       "-" if kind == "plain" else f"{e['vm_us']:.1f}")
        console.print(et)
        ratios["exec_wasm_over_sol"] = ratio(execute["wasm"]["us_median"], execute["sol"]["us_median"])
        ratios["exec_vm_wasm_over_sol"] = ratio(execute["wasm"]["vm_us"], execute["sol"]["vm_us"])
        console.print(f"execute wasm/sol: {fmt(ratios['exec_wasm_over_sol'])} whole transaction, "
                      f"{fmt(ratios['exec_vm_wasm_over_sol'])} net of the plain transfer's floor", highlight=False)
    return {
        "bench": "wasm_vs_evm", "transfers": args.transfers, "warmup": args.warmup,
        "columns": {c: st.as_dict() for c, st in stats.items()}, "skipped": skipped, "ratios": ratios,
        "execute": execute, "note": NO_ANVIL_WASM, "versions": versions,
    }


def main(argv: list[str] | None = None) -> int:
    global console
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="See the top of scripts/bench/wasm_vs_evm.py for what each figure measures.")
    ap.add_argument("--transfers", type=int, default=300, help="measured transfers per column (default 300)")
    ap.add_argument("--warmup", type=int, default=3, help="transfers per column run first, not counted (default 3)")
    ap.add_argument("--iterations", type=int, default=300,
                    help="in-process vm.evm.execute runs per transaction (default 300; 0 = skip that part)")
    ap.add_argument("--exec-warmup", type=int, default=20, help="in-process runs not counted (default 20)")
    ap.add_argument("--only", choices=["anvil", "chameleon"], help="run one node's columns only")
    ap.add_argument("--anvil-args", default="", help="extra Anvil arguments (shell-quoted string)")
    ap.add_argument("--chameleon-args", default="", help="extra `chameleon dev` arguments (shell-quoted string)")
    ap.add_argument("--json", action="store_true",
                    help="print only the JSON object on stdout (the tables and progress go to stderr)")
    args = ap.parse_args(argv)
    if args.transfers < 1 or args.warmup < 0 or args.iterations < 0 or args.exec_warmup < 0:
        ap.error("need --transfers >= 1 and --warmup, --iterations, --exec-warmup >= 0")
    if args.json or not console.is_terminal:
        console = Console(stderr=args.json, width=None if console.is_terminal else 160)
    erc20_rpc.console = pallets.console = console  # Node.stop and failures print through them

    try:  # fail early, before starting nodes
        token_art = solc.compile_contracts(["Token"])["Token"]
        module = wasm_module()
    except Exception as exc:
        console.print(f"[red]cannot build the tokens:[/] {exc}")
        return 1
    versions = {"solc": solc._package_version("solc"),
                "openzeppelin": solc._package_version("@openzeppelin/contracts"),
                "assemblyscript": solc._package_version("assemblyscript")}
    console.print(f"WASM ERC-20: {len(module):,} bytes; Token.sol runtime: {len(token_art.deployed_bytecode):,} bytes")

    def on_sigterm(signum, frame):  # noqa: ARG001 - signal handler signature
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        stats, skipped = run_rpc(args, module, token_art, versions)
        execute = run_execute(args, module, token_art) if args.iterations else None
    except KeyboardInterrupt:  # run_rpc's ExitStack has stopped the nodes
        console.print("[yellow]interrupted[/]")
        return 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for name, version in versions.items():
        console.print(f"{name}: {version}", highlight=False)

    out = report(stats, skipped, execute, args, versions)
    sys.stdout.flush()
    print(json.dumps(out), flush=True)
    return 1 if any(why.startswith("failed") for why in skipped.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
