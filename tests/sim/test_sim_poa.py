"""Aura-style PoA (``PoaCore``, Casper-FFG finality) under the simulator: 4, 7 and 10 authorities.

Every suite asserts zero safety violations (agreement, validity, finality proofs that check
without the core) and zero honest double-signs (two seals in one slot, two finality votes
with one target number, or a surround vote); and that every honest node's finalized number
reached ``blocks`` after the heal.

Votes split across two sibling blocks at one number (a dropped block at 4 authorities, or an
equivocating author) used to stall the old finality rule for good; with FFG links the voters
vote again at the next block's number from the same justified source, so those schedules are
live now (``test_split_votes_*``, ``test_*equivocating*``). With byzantine authorities at 1/3
or more, the equivocating adversary double-votes its way to two finalized forks, and the
agreement check must catch it.

Crashed authorities restart from their sign state, stored blocks and WAL: the votes they held
(their peers' and their own, which they may not sign again) come back, so with 3 authorities,
where every link needs every vote, a restart costs no slot (``test_*_wal_*``).
"""
from __future__ import annotations

import pytest
from sim_helpers import run_and_explain

from consensus.engine import Finalized
from consensus.poa.core import FinalityVoteReceived
from consensus.poa.messages import FinalityVote
from consensus.sim import poa as sim_poa
from consensus.sim.network import parse_partition
from consensus.sim.poa import PoaSimulation, verified_poa_signature_cache
from consensus.sim.runner import SimConfig, run_seed

SIZES = [(4, 30), (7, 20), (10, 12)]  # (authorities, seeds): this file stays well under 20 s
LOSSY = dict(drop=0.1, duplicate=0.05, delay_ms=(10, 150))


def f_max(n: int) -> int:
    return (n - 1) // 3


def minority_partition(n: int, start: int = 500, end: int = 5000):
    return parse_partition(f"0-{f_max(n) - 1}|{f_max(n)}-{n - 1}@{start}:{end}")


def run(config: SimConfig, seeds: int, first_seed: int = 0):
    return run_and_explain(config, seeds, first_seed, engine="poa")


def assert_safe(results, replays):
    assert sum(r.safety_violations for r in results) == 0, replays
    assert sum(r.honest_double_signs for r in results) == 0, replays


def assert_safe_and_live(results, replays):
    assert_safe(results, replays)
    assert all(r.live for r in results), replays


@pytest.mark.parametrize("n,seeds", [(7, 20), (10, 12)])
def test_drops_delays_duplicates(n, seeds):
    assert_safe_and_live(*run(SimConfig(validators=n, blocks=8, **LOSSY), seeds))


def test_four_authorities_delays_duplicates_and_drops():
    assert_safe_and_live(*run(SimConfig(validators=4, blocks=8, duplicate=0.05, delay_ms=(10, 150)), 30))
    assert_safe_and_live(*run(SimConfig(validators=4, blocks=8, **LOSSY), 30, first_seed=100))


@pytest.mark.parametrize("n,seeds", SIZES)
def test_minority_partition_heals(n, seeds):
    lossy = LOSSY if n > 4 else dict(duplicate=0.05, delay_ms=(10, 150))
    config = SimConfig(validators=n, partitions=(minority_partition(n),), blocks=8, **lossy)
    assert_safe_and_live(*run(config, seeds, first_seed=200))


@pytest.mark.parametrize("n,seeds", SIZES)
def test_crash_and_restart_from_persisted_sign_state(n, seeds):
    results, replays = run(SimConfig(validators=n, crash=1, blocks=8, **LOSSY), seeds, first_seed=300)
    assert_safe_and_live(results, replays)
    assert all(r.restarts == 1 for r in results)  # every seed really crashed and restarted one


@pytest.mark.parametrize("n,seeds", SIZES)
def test_silent_byzantine_below_a_third_is_safe_and_live(n, seeds):
    lossy = dict(drop=0.1) if n > 4 else dict(delay_ms=(10, 150))
    config = SimConfig(validators=n, byzantine=f_max(n), byzantine_mode="silent", blocks=8, **lossy)
    assert_safe_and_live(*run(config, seeds, first_seed=400))


@pytest.mark.parametrize("n,seeds", SIZES)
def test_equivocating_byzantine_below_a_third_is_safe_and_live(n, seeds):
    # They seal two blocks in their slots and echo each honest vote to its sender's half only,
    # so some nodes know of a justification others do not: gossip of justifications heals it.
    config = SimConfig(validators=n, byzantine=f_max(n), blocks=8, budget_ms=30_000, drop=0.05)
    assert_safe_and_live(*run(config, seeds, first_seed=500))


@pytest.mark.parametrize("n,seeds", [(4, 20), (7, 10), (10, 6)])
def test_one_equivocating_author_does_not_stall_finality(n, seeds):
    config = SimConfig(validators=n, byzantine=1, blocks=10, budget_ms=20_000, **LOSSY)
    assert_safe_and_live(*run(config, seeds, first_seed=550))


@pytest.mark.parametrize("n,k", [(4, 2), (7, 3), (10, 4)])
def test_equivocating_byzantine_at_a_third_or_more_is_caught(n, k):
    config = SimConfig(validators=n, byzantine=k, blocks=4, budget_ms=10_000)
    results, _ = run(config, 10, first_seed=600)
    assert sum(r.safety_violations for r in results) > 0
    assert any("agreement" in p for r in results for p in r.problems)
    assert sum(r.honest_double_signs for r in results) == 0  # the violation is the byzantine ones' doing


def test_same_seed_same_result():
    config = SimConfig(validators=7, byzantine=2, crash=1, partitions=(minority_partition(7),), blocks=6,
                       budget_ms=20_000, **LOSSY)
    a, b = run_seed(config, 7, engine="poa"), run_seed(config, 7, engine="poa")
    assert (a.finality_ms, a.messages, a.delivered, a.problems, a.min_final_height) == \
           (b.finality_ms, b.messages, b.delivered, b.problems, b.min_final_height)


def test_slot_ms_sets_the_block_interval():
    fast = run_seed(SimConfig(validators=4, blocks=10, slot_ms=200), 1, engine="poa")
    slow = run_seed(SimConfig(validators=4, blocks=10, slot_ms=2000), 1, engine="poa")
    assert fast.ok and slow.ok
    assert fast.virtual_ms < slow.virtual_ms / 5


def test_split_votes_at_one_number_no_longer_stall_finality():
    # Was the strict xfail of the old rule: honest votes split 2-2 at one number stalled finality
    # for ever. Replay: chameleon simulate --engine poa --validators 4 --drop 0.2 --duplicate 0.05
    # --delay 10:150 --blocks 10 --seeds 1 --first-seed 48
    config = SimConfig(validators=4, blocks=10, drop=0.2, duplicate=0.05, delay_ms=(10, 150))
    result = run_seed(config, 48, engine="poa")
    assert result.safety_violations == 0 and result.honest_double_signs == 0
    assert result.live, result.problems
    assert_safe_and_live(*run(config, 20, first_seed=40))  # and its neighbours


def test_the_honest_vote_check_catches_double_and_surround_votes():
    sim = PoaSimulation(SimConfig(validators=4), 0)
    node = sim.nodes[sim.honest[0]]

    def link(source: int, target: int, tag: int = 0) -> FinalityVote:
        return FinalityVote(source, bytes([source]) * 32, target, bytes([target + tag]) * 32, node.address)

    for vote in (link(0, 2), link(2, 3), link(2, 5)):
        sim._check_vote(node, vote)
    assert sim.result.honest_double_signs == 0
    sim._check_vote(node, link(3, 4))  # inside 2 -> 5
    sim._check_vote(node, link(1, 6))  # around 2 -> 3 (and 2 -> 5)
    sim._check_vote(node, link(2, 3, tag=100))  # another link to target 3
    assert sim.result.honest_double_signs == 3
    assert [p.split(":")[0] for p in sim.result.problems] == [
        "honest surround vote 2->5 and 3->4", "honest surround vote 2->3 and 1->6",
        "honest double finality vote at target 3"]


def test_the_proof_check_catches_a_finalized_effect_its_votes_do_not_prove():
    sim = PoaSimulation(SimConfig(validators=4), 0)
    node = sim.nodes[sim.honest[0]]
    sim._boot(node)
    sim._check_proof(node, Finalized(1, b"\x01" * 32, ()))
    assert sim.result.safety_violations == 1 and sim.result.problems[0].startswith("proof: ")


class CrashOneVoteShort(PoaSimulation):
    """Authority 0 crashes as soon as it holds a peer's vote for a link to block ``target`` (one
    vote short of it, with 3 authorities) and restarts 1 ms later; records when each honest node
    finalizes each block."""

    def __init__(self, *args, target: int = 4, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.target = target
        self.crashed_at: int | None = None
        self.finalized_at: dict[tuple[int, int], int] = {}  # (node, number) -> virtual ms

    def _feed(self, node, event, *, replaying=False):
        handled = super()._feed(node, event, replaying=replaying)
        if (self.crashed_at is None and node.index == 0 and type(event) is FinalityVoteReceived
                and event.vote.validator != node.address and event.vote.target_number == self.target):
            self.crashed_at = self.net.now
            self.net.schedule(0, 0, (sim_poa.CRASH,))
            self.net.schedule(1, 0, (sim_poa.RESTART,))
        return handled

    def _on_finalized(self, node, number, block_hash):
        super()._on_finalized(node, number, block_hash)
        for n in range(1, number + 1):
            self.finalized_at.setdefault((node.index, n), self.net.now)


@pytest.mark.parametrize("seed", range(4))
def test_a_restarted_authority_votes_on_from_its_wal_and_without_it_finality_waits(seed):
    config = SimConfig(validators=3, blocks=10, delay_ms=(10, 150))
    with verified_poa_signature_cache():
        runs = {wal: CrashOneVoteShort(config, seed, wal=wal) for wal in (True, False)}
        results = {wal: sim.run() for wal, sim in runs.items()}
    for wal, result in results.items():
        assert_safe_and_live([result], f"seed {seed}, wal={wal}")
        assert result.restarts == 1 and runs[wal].crashed_at is not None
    after = {wal: {key: at - sim.crashed_at for key, at in sim.finalized_at.items()} for wal, sim in runs.items()}
    # With its WAL the restarted node holds its vote and the peer's for 3 -> 4: the last one,
    # one network delay away, finalizes 3 there.
    assert after[True][(0, 3)] <= config.delay_ms[1]
    # Without it both are gone and it cannot sign its own again: every node waits for its
    # votes on the later links, and block 4 is final everywhere at least a slot later.
    assert after[False][(0, 3)] > after[True][(0, 3)]
    last = {wal: max(after[wal][(i, 4)] for i in range(3)) for wal in runs}
    assert last[False] - last[True] >= config.slot_ms, last
