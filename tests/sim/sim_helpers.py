"""Shared helpers for the simulator suites."""
from __future__ import annotations

from consensus.sim.runner import SeedResult, SimConfig, replay_command, run_seeds


def run_and_explain(config: SimConfig, seeds: int, first_seed: int = 0, *,
                    engine: str = "bft") -> tuple[list[SeedResult], str]:
    """Run the seeds; return the results and, for the failures, their replay lines."""
    results = run_seeds(config, seeds, first_seed, engine=engine)
    lines = [f"{replay_command(config, r.seed, engine=engine)}  # {'; '.join(r.problems[:3])}" for r in results if not r.ok]
    return results, "\n".join(lines)
