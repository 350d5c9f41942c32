"""``chameleon simulate``: the parser, the report line, determinism, exit codes, replays."""
from __future__ import annotations

import argparse
import json

import pytest

from consensus.sim.cli import add_simulate_parser, main

REPORT_KEYS = ["engine", "validators", "byzantine", "seeds", "runs", "safety_violations", "honest_double_signs",
               "min_final_height", "median_time_to_finality_ms", "p99_time_to_finality_ms", "messages"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chameleon")
    add_simulate_parser(parser.add_subparsers(dest="command"))
    return parser


def test_parser_reads_every_option():
    args = build_parser().parse_args([
        "simulate", "--engine", "bft", "--validators", "7", "--byzantine", "2", "--byzantine-mode", "silent",
        "--crash", "1", "--partition", "0-1|2-6@1000:5000", "--partition", "0|1-6@6000:7000", "--drop", "0.1",
        "--duplicate", "0.05", "--delay", "10:90", "--seeds", "5", "--first-seed", "42", "--blocks", "12"])
    assert (args.engine, args.validators, args.byzantine, args.byzantine_mode, args.crash) == ("bft", 7, 2, "silent", 1)
    assert [p.spec for p in args.partition] == ["0-1|2-6@1000:5000", "0|1-6@6000:7000"]
    assert (args.drop, args.duplicate, args.delay, args.seeds, args.first_seed, args.blocks) == (0.1, 0.05, (10, 90), 5, 42, 12)
    assert callable(args.func)


@pytest.mark.parametrize("bad", [["--delay", "9:3"], ["--drop", "1.5"], ["--partition", "0-1"], ["--validators", "0"],
                                 ["--engine", "pos"], ["--byzantine-mode", "loud"]])
def test_parser_refuses_bad_values(bad, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["simulate", *bad])
    assert exc.value.code == 2


def test_help_documents_the_partition_grammar(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["simulate", "--help"])
    out = capsys.readouterr().out
    assert "GROUP|GROUP" in out and "0-1|2-3@1000:5000" in out


def test_poa_report_is_the_same_line_shape_and_deterministic(capsys):
    argv = ["--engine", "poa", "--validators", "4", "--duplicate", "0.05", "--crash", "1", "--delay", "10:150",
            "--slot-ms", "500", "--seeds", "3", "--blocks", "6", "--no-progress"]
    assert main(argv) == 0
    first = _last_line(capsys)
    assert main(argv) == 0
    assert _last_line(capsys) == first
    report = json.loads(first)
    assert list(report)[:len(REPORT_KEYS)] == REPORT_KEYS
    assert report["engine"] == "poa" and report["runs"] == 3 and report["slot_ms"] == 500
    assert report["safety_violations"] == 0 and report["honest_double_signs"] == 0
    assert report["min_final_height"] >= 6 and report["messages"] > 0
    assert 0 < report["median_time_to_finality_ms"] <= report["p99_time_to_finality_ms"]


def test_poa_violation_exits_1_and_the_replay_reproduces_it(capsys):
    assert main(["--engine", "poa", "--validators", "4", "--byzantine", "2", "--seeds", "6", "--blocks", "4",
                 "--budget-ms", "10000", "--no-progress"]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[-1])["safety_violations"] > 0
    replays = [line for line in lines if line.startswith("replay: chameleon simulate --engine poa ")
               and "agreement" in line]
    assert replays and "--slot-ms 1000" in replays[0]
    command = [part.strip("'") for part in replays[0].split("  #")[0].split()[3:]]
    assert main([*command, "--no-progress"]) == 1
    again = json.loads(_last_line(capsys))
    assert again["engine"] == "poa" and again["runs"] == 1 and again["safety_violations"] > 0


def test_inconsistent_arguments_exit_2(capsys):
    assert main(["--validators", "4", "--byzantine", "5"]) == 2
    assert main(["--validators", "4", "--partition", "0|7@0:10"]) == 2


def _last_line(capsys) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_report_is_one_json_line_with_the_issue_keys_and_is_deterministic(capsys):
    argv = ["--validators", "4", "--drop", "0.1", "--duplicate", "0.05", "--crash", "1",
            "--partition", "0|1-3@500:3000", "--seeds", "4", "--blocks", "5", "--no-progress"]
    assert main(argv) == 0
    first = _last_line(capsys)
    assert main(argv) == 0
    assert _last_line(capsys) == first
    report = json.loads(first)
    assert list(report)[:len(REPORT_KEYS)] == REPORT_KEYS
    assert report["engine"] == "bft" and report["runs"] == 4 and report["safety_violations"] == 0
    assert report["min_final_height"] >= 5 and report["messages"] > 0
    assert 0 < report["median_time_to_finality_ms"] <= report["p99_time_to_finality_ms"]


def test_violation_exits_1_and_prints_replays_that_reproduce(capsys):
    assert main(["--validators", "4", "--byzantine", "2", "--seeds", "3", "--blocks", "4",
                 "--budget-ms", "10000", "--no-progress"]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    report = json.loads(lines[-1])
    assert report["safety_violations"] > 0
    replays = [line for line in lines if line.startswith("replay: chameleon simulate ")]
    assert replays
    # The replay line (minus the program name) runs that one seed and fails the same way.
    command = replays[0].split("  #")[0].split()[3:]
    command = [part.strip("'") for part in command]
    assert main([*command, "--no-progress"]) == 1
    again = json.loads(_last_line(capsys))
    assert again["runs"] == 1 and again["safety_violations"] > 0


def test_same_line_across_processes_and_hash_seeds():
    import os
    import subprocess
    import sys

    argv = [sys.executable, "-m", "consensus.sim.cli", "--validators", "7", "--byzantine", "2", "--drop", "0.05",
            "--duplicate", "0.05", "--crash", "1", "--partition", "0-1|2-6@500:4000", "--seeds", "2", "--blocks", "4",
            "--budget-ms", "20000", "--no-progress"]
    lines = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(argv, capture_output=True, text=True, env=env, check=False).stdout
        lines.add(out.strip().splitlines()[-1])
    assert len(lines) == 1
