"""A node from a poa or bft chain spec runs its engine through the real driver (one validator)."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.e2e.nodes import DEV_ADDRESSES, DEV_KEYS, raw_hex, run_cli, sign_transfer

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
AUTHORITY = DEV_ADDRESSES[0]

SECTIONS = {
    "poa": {"engine": "poa", "authorities": [AUTHORITY], "slotDuration": 1},
    "bft": {"engine": "bft", "validators": [AUTHORITY], "blockTime": 1},
}


def write_spec(tmp_path: Path, engine: str, section: dict | None = None) -> Path:
    spec = json.loads((ROOT / "genesis" / "dev.json").read_text())
    spec["name"] = f"{engine}-one"
    spec["consensus"] = section or SECTIONS[engine]
    path = tmp_path / f"{engine}.json"
    path.write_text(json.dumps(spec))
    return path


def write_key(tmp_path: Path) -> Path:
    path = tmp_path / "validator.key"
    path.write_text(DEV_KEYS[0] + "\n")
    return path


def wait_for(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("engine", ["poa", "bft"])
def test_single_validator_seals_finalizes_and_resumes(node_factory, tmp_path, engine):
    spec, key = write_spec(tmp_path, engine), write_key(tmp_path)
    node = node_factory("--chain", str(spec), "--validator-key", str(key), command="run", name=engine)
    sent = node.send_raw(raw_hex(sign_transfer(DEV_KEYS[1], 0, DEV_ADDRESSES[2], 10**18)))
    receipt = wait_for(lambda: node.receipt(sent))
    assert receipt["status"] == "0x1"
    included = int(receipt["blockNumber"], 16)
    # The engine's finality reaches the block (RPC `finalized`), and blocks keep coming.
    wait_for(lambda: int(node.rpc("eth_getBlockByNumber", "finalized", False)["number"], 16) >= included)
    head_before = node.block_number()
    assert (node.datadir / "consensus" / "sign_state").stat().st_size > 0

    assert node.stop() == 0
    node.start()
    assert node.block_number() >= head_before
    wait_for(lambda: node.block_number() > head_before + 1)
    assert node.balance(DEV_ADDRESSES[2]) == 10_000 * 10**18 + 10**18
    log = node.stderr_text()
    assert "Traceback" not in log and "sealed_block_dropped" not in log


def test_without_a_validator_key_the_node_follows_and_seals_nothing(node_factory, tmp_path):
    node = node_factory("--chain", str(write_spec(tmp_path, "poa")), command="run", name="follower")
    time.sleep(2.5)
    assert node.block_number() == 0
    assert "no_validator_key" in node.stderr_text()


@pytest.mark.parametrize(
    "engine,section,field",
    [
        ("poa", {"engine": "poa", "slotDuration": 1}, "consensus.authorities"),
        ("bft", {"engine": "bft", "validators": [{"address": AUTHORITY, "power": 0}]}, "consensus.validators[0].power"),
    ],
)
def test_a_bad_engine_section_is_refused_naming_the_field(tmp_path, engine, section, field):
    spec = write_spec(tmp_path, engine, section)
    result = run_cli("run", "--chain", str(spec), "--datadir", str(tmp_path / "d"), "--port", "0",
                     "--validator-key", str(write_key(tmp_path)))
    assert result.returncode == 1
    assert field in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_dev_methods_are_not_offered_under_an_engine(node_factory, tmp_path):
    node = node_factory("--chain", str(write_spec(tmp_path, "poa")), "--validator-key", str(write_key(tmp_path)),
                        command="run", name="nodev")
    from tests.e2e.nodes import RpcFailure

    for method in ("evm_mine", "evm_snapshot", "evm_revert"):
        with pytest.raises(RpcFailure) as failure:
            node.rpc(method)
        assert failure.value.code == -32601


def test_a_bft_validator_killed_mid_height_resumes_from_its_wal_and_never_double_signs(node_factory, tmp_path):
    """kill -9 a bft validator in the middle of heights (after it signed nil rounds there,
    before it committed), four times: each restart replays its WAL back to the round it
    was in, no two messages it ever signed conflict, and it keeps finalizing."""
    import re
    import shutil

    from consensus.bft.core import ProposalReceived, VoteReceived
    from consensus.bft.engine import BftEngine
    from consensus.messages import Vote
    from consensus.types import VoteType
    from consensus.wal import compute_last_signed, compute_replay
    from node.consensus_wal import ConsensusWal

    # Short timeouts against a 1 s block time: most heights go through nil rounds first.
    timeouts = {"proposeMs": 300, "proposeDeltaMs": 0, "prevoteMs": 200, "prevoteDeltaMs": 0,
                "precommitMs": 200, "precommitDeltaMs": 0}
    spec = write_spec(tmp_path, "bft", {"engine": "bft", "validators": [AUTHORITY], "blockTime": 1,
                                        "timeouts": timeouts})
    node = node_factory("--chain", str(spec), "--validator-key", str(write_key(tmp_path)), command="run",
                        name="bft-kill")
    address = bytes.fromhex(AUTHORITY[2:])
    wal_path = node.datadir / "consensus" / "wal"
    state_path = node.datadir / "consensus" / "sign_state"
    signed: dict[tuple, object] = {}  # (height, round, kind) -> the one message signed there

    def collect(path: Path):
        copy = tmp_path / "wal-snapshot"
        shutil.copyfile(path, copy)
        records = ConsensusWal(copy).load().records
        for record in records:
            if isinstance(record, VoteReceived) and record.vote.validator == address:
                key, message = (record.vote.height, record.vote.round, int(record.vote.type)), record.vote
            elif isinstance(record, ProposalReceived) and record.proposal.proposer == address:
                key, message = (record.proposal.height, record.proposal.round, 0), record.proposal
            else:
                continue
            assert signed.setdefault(key, message) == message, f"double-sign at {key}"
        return records

    def mid_height() -> bool:
        consensus = node.rpc("chameleon_consensus")
        return consensus["round"] is not None and int(consensus["round"], 16) >= 1

    sign_states, logs, resumed = [], [], 0
    for kill in range(4):
        wait_for(mid_height, timeout=30)
        time.sleep(0.05 * kill)  # land on different steps
        node.kill9()
        logs.append(node.stderr_text())
        replay = compute_replay(collect(wal_path))
        assert replay is not None
        state = BftEngine.decode_sign_state(state_path.read_bytes())
        assert not sign_states or state >= sign_states[-1]  # the sign state never goes back
        sign_states.append(state)
        last = compute_last_signed(replay.inputs, address)
        node.start()
        if last is not None and last.height == replay.height:
            # It resumed the height at (at least) the round it had signed in, not at round 0.
            line = wait_for(lambda: re.search(r"consensus_wal_replayed\s.*height=(\d+).*round=(\d+)",
                                              node.stderr_text()))
            assert int(line.group(1)) == replay.height and int(line.group(2)) >= last.round, line.group(0)
            resumed += 1
    assert resumed >= 2  # most kills landed mid-height, after signing

    head = node.block_number()
    wait_for(lambda: int(node.rpc("eth_getBlockByNumber", "finalized", False)["number"], 16) >= head + 3, timeout=30)
    assert node.stop() == 0
    collect(wal_path)
    logs.append(node.stderr_text())
    # The commits on the chain are precommits it signed: none conflicts with a logged one.
    node.start()
    for number in range(1, head + 4):
        consensus = node.rpc("chameleon_getBlockConsensus", hex(number))
        seal = consensus["seal"]
        [entry] = seal["signatures"]
        vote = Vote(VoteType.PRECOMMIT, number, int(seal["round"], 16), bytes.fromhex(consensus["hash"][2:]),
                    address, bytes.fromhex(entry["signature"][2:]))
        logged = signed.get((number, vote.round, int(VoteType.PRECOMMIT)))
        assert logged is None or logged == vote, f"the commit of block {number} conflicts with a logged precommit"
    for log in logs:
        assert "Traceback" not in log and "sealed_block_dropped" not in log and "wal_block_dropped" not in log
