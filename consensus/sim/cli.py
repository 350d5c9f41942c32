"""``chameleon simulate``: run consensus cores over a seeded virtual network, report one JSON line.

``add_simulate_parser(subparsers)`` registers the subcommand (``node/cli.py`` wires it in);
``python -m consensus.sim.cli [simulate] ARGS`` runs it without the node.

Output: on stdout, a ``replay: ...`` line per failing seed (at most ``MAX_REPLAYS``), then
one JSON object as the last line. Progress and timing go to stderr, so stdout is the same
bytes for the same arguments. Exit 0 when every seed is safe and live, 1 when any is not,
2 on bad arguments. ``--engine poa`` runs ``PoaCore``s (``consensus.sim.poa``) with
``--slot-ms`` slots; the ``--timeout-*`` options are Tendermint's and ignored there.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from typing import Sequence

from consensus.bft.core import TimeoutConfig
from consensus.sim.network import PARTITION_GRAMMAR, parse_partition
from consensus.sim.runner import BYZANTINE_MODES, SeedResult, SimConfig, replay_command, run_seeds, summarize

ENGINES = ("bft", "poa")
BUILT_ENGINES = ("bft", "poa")
MAX_REPLAYS = 10

EPILOG = f"""\
partitions:
  {PARTITION_GRAMMAR}
  --partition may be given more than once.

output:
  stdout ends with one JSON object: engine, validators, byzantine, seeds, runs,
  safety_violations, honest_double_signs, min_final_height, median_time_to_finality_ms,
  p99_time_to_finality_ms, messages (and extras); each failing seed first prints a
  'replay:' line with the command that runs it alone. Same arguments, same output.
  Exit 1 if any seed breaks safety or liveness.

example:
  chameleon simulate --engine bft --validators 10 --byzantine 3 --drop 0.05 \\
      --delay 25:75 --partition '0-2|3-9@1000:6000' --crash 1 --seeds 50 --blocks 20
"""


def _delay(text: str) -> tuple[int, int]:
    lo_text, sep, hi_text = text.partition(":")
    try:
        lo = int(lo_text)
        hi = int(hi_text) if sep else lo
    except ValueError:
        raise argparse.ArgumentTypeError(f"delay {text!r} must be MIN:MAX in ms") from None
    if lo < 0 or hi < lo:
        raise argparse.ArgumentTypeError(f"delay {text!r}: need 0 <= MIN <= MAX")
    return lo, hi


def _probability(text: str) -> float:
    try:
        p = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a probability") from None
    if not 0.0 <= p < 1.0:
        raise argparse.ArgumentTypeError(f"{text!r}: a probability in [0, 1)")
    return p


def _partition(text: str):
    try:
        return parse_partition(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: must be >= {minimum}")
        return value
    return parse


def add_simulate_parser(subparsers) -> argparse.ArgumentParser:  # type: ignore[no-untyped-def]
    """Register ``simulate`` on an ``add_subparsers()`` object; returns its parser."""
    p = subparsers.add_parser(
        "simulate",
        help="Simulate consensus: N validators on a seeded virtual network, checking safety and liveness",
        description="Run N consensus cores in one process on a virtual clock over a seeded network that "
        "delays, drops, duplicates, reorders and partitions messages, crashes and restarts validators and "
        "runs byzantine ones. Agreement, validity and no honest double-sign are checked after every "
        "delivered message; liveness (every honest validator reaches --blocks) at the end.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--engine", choices=ENGINES, default="bft", help="consensus engine (default: %(default)s)")
    p.add_argument("--validators", type=_count(1), default=4, metavar="N", help="validators, equal power (default: %(default)s)")
    p.add_argument("--byzantine", type=_count(0), default=0, metavar="K", help="byzantine validators (default: %(default)s)")
    p.add_argument("--byzantine-mode", choices=BYZANTINE_MODES, default="equivocate",
                   help="equivocate: two proposals and two votes per step, one to each half of the honest "
                   "validators; silent: never send (default: %(default)s)")
    p.add_argument("--crash", type=_count(0), default=0, metavar="K",
                   help="crash K honest validators at seeded times, restart each 1-5 s later from its WAL and "
                   "sign state; they come back, so they are not counted as faults (default: %(default)s)")
    p.add_argument("--partition", type=_partition, action="append", default=[], metavar="SPEC",
                   help="cut the network for a while, see 'partitions' below (repeatable)")
    p.add_argument("--drop", type=_probability, default=0.0, metavar="P", help="drop each message with probability P (default: %(default)s)")
    p.add_argument("--duplicate", type=_probability, default=0.0, metavar="P", help="deliver a message twice with probability P (default: %(default)s)")
    p.add_argument("--delay", type=_delay, default=(25, 75), metavar="MIN:MAX", help="one-way delay, uniform in ms (default: 25:75)")
    p.add_argument("--seeds", type=_count(1), default=10, metavar="S", help="how many seeds to run (default: %(default)s)")
    p.add_argument("--first-seed", type=_count(0), default=0, metavar="X", help="run seeds X .. X+S-1 (default: %(default)s)")
    p.add_argument("--blocks", type=_count(1), default=10, metavar="B", help="heights every honest validator must commit (default: %(default)s)")
    p.add_argument("--budget-ms", type=_count(1), default=None, metavar="MS",
                   help="virtual time allowed after the last heal for liveness (default: 60000 + 2000 per block)")
    defaults = TimeoutConfig()
    p.add_argument("--timeout-propose", type=_count(1), default=defaults.propose_ms, metavar="MS", help="propose timeout, round 0 (default: %(default)s)")
    p.add_argument("--timeout-prevote", type=_count(1), default=defaults.prevote_ms, metavar="MS", help="prevote timeout, round 0 (default: %(default)s)")
    p.add_argument("--timeout-precommit", type=_count(1), default=defaults.precommit_ms, metavar="MS", help="precommit timeout, round 0 (default: %(default)s)")
    p.add_argument("--timeout-delta", type=_count(0), default=defaults.propose_delta_ms, metavar="MS", help="added to each timeout per round (default: %(default)s)")
    p.add_argument("--slot-ms", type=_count(1), default=1000, metavar="MS",
                   help="poa: slot duration (block interval) in virtual ms (default: %(default)s)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.set_defaults(func=cmd_simulate)
    return p


def build_config(args: argparse.Namespace) -> SimConfig:
    """Raises: ValueError with what is inconsistent in the arguments."""
    for partition in args.partition:
        for group in partition.groups:
            if any(i >= args.validators for i in group):
                raise ValueError(f"partition {partition.spec!r} names a validator >= --validators {args.validators}")
    delta = args.timeout_delta
    timeouts = TimeoutConfig(args.timeout_propose, delta, args.timeout_prevote, delta, args.timeout_precommit, delta)
    return SimConfig(
        validators=args.validators, byzantine=args.byzantine, byzantine_mode=args.byzantine_mode,
        crash=args.crash, partitions=tuple(args.partition), drop=args.drop, duplicate=args.duplicate,
        delay_ms=tuple(args.delay), blocks=args.blocks, budget_ms=args.budget_ms, timeouts=timeouts,
        slot_ms=args.slot_ms,
    )


def _quiet_logs() -> None:
    # A restarted validator's SignGuard refusals are expected here; keep stdout for the report.
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
                        logger_factory=structlog.PrintLoggerFactory(sys.stderr))


def cmd_simulate(args: argparse.Namespace) -> int:
    if args.engine not in BUILT_ENGINES:
        print(f"Fatal: the {args.engine} engine is not built yet; the simulator runs --engine bft", file=sys.stderr)
        return 2
    try:
        config = build_config(args)
    except ValueError as exc:
        print(f"Fatal: {exc}", file=sys.stderr)
        return 2
    _quiet_logs()
    started = time.perf_counter()
    results = _run_with_progress(config, args.seeds, args.first_seed, show=not args.no_progress, engine=args.engine)
    wall = time.perf_counter() - started
    report = summarize(config, results, engine=args.engine, first_seed=args.first_seed)
    failed = [r for r in results if not r.ok]
    for r in failed[:MAX_REPLAYS]:
        print(f"replay: {replay_command(config, r.seed, engine=args.engine)}  # {'; '.join(r.problems[:3])}")
    if len(failed) > MAX_REPLAYS:
        print(f"replay: ... and {len(failed) - MAX_REPLAYS} more failing seeds (see failed_seeds)")
    heights = sum(r.min_final_height for r in results)
    print(f"simulated {len(results)} seeds in {wall:.1f} s wall: {heights / wall * 60 if wall else 0:.0f} "
          f"heights per wall-minute at {config.validators} validators", file=sys.stderr)
    print(json.dumps(report), flush=True)
    return 1 if failed else 0


def _run_with_progress(config: SimConfig, seeds: int, first_seed: int, *, show: bool,
                       engine: str = "bft") -> list[SeedResult]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not show or not console.is_terminal:
        return run_seeds(config, seeds, first_seed, engine=engine)
    with Progress(TextColumn("[bold]simulate[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console, transient=True) as progress:
        task = progress.add_task(f"{config.validators} validators", total=seeds)
        failures = 0

        def on_seed(result: SeedResult) -> None:
            nonlocal failures
            failures += 0 if result.ok else 1
            progress.update(task, advance=1, description=f"{config.validators} validators, {failures} failing")

        return run_seeds(config, seeds, first_seed, on_seed=on_seed, engine=engine)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m consensus.sim.cli [simulate] ARGS``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "simulate":
        argv.insert(0, "simulate")
    parser = argparse.ArgumentParser(prog="chameleon")
    add_simulate_parser(parser.add_subparsers(dest="command", metavar="COMMAND"))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
