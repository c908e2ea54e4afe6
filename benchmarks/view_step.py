"""How fast `societas view` serves one step of a large run: the state of a step (every panel,
generic and the scenario's, read from the store) for a 100-resident town and a 10,000-agent
Donor Game, against the 200 ms the view promises.

Both runs are made here with rule brains (a 100-resident town of one day, generated as in
`town_day.py`; a Donor Game of 10,000 agents, 2 generations of 4 rounds, every decision logged).
Then `analysis.viewer.state.step_state` is timed at random steps of each, a resident or an agent
selected as a user would have one, after one warm-up step (the first look reads what a run
never changes: the town's places, the agents' kinds). Headline series are computed in the
background and are not part of a step. The last line is the worse of the two medians in ms.

    python benchmarks/view_step.py [--steps 15] [--residents 100] [--agents 10000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from town_day import town_file

from analysis.viewer.source import RunSource
from analysis.viewer.state import step_state
from sim.config import load_config
from sim.registry import get_scenario
from sim.runs.runner import RunOptions, run_scenario

BUDGET_MS = 200.0


def town_run(root: Path, residents: int) -> Path:
    scenario = get_scenario("town")
    config = load_config(scenario.config_type, values={
        "town_file": str(town_file(root / "town.toml", residents)), "days": 1, "seed": 1,
        "intentions": [
            {"agent": "p00", "topic": "party", "kind": "event", "place": "cafe", "day": 0,
             "start": "17:00", "end": "19:00", "description": "is hosting a party at the "
             "cafe today from 17:00 to 19:00"},
            {"agent": "p01", "topic": "mayor", "kind": "announcement",
             "description": "is running for mayor"}]})
    return run_scenario(scenario, config, run_dir=root / "town",
                        options=RunOptions(progress=False, figures=False)).run_dir


def donor_run(root: Path, agents: int) -> Path:
    scenario = get_scenario("donor-game")
    config = load_config(scenario.config_type, values={
        "agents": agents, "generations": 2, "rounds": 4, "games": 1, "seed": 1})
    return run_scenario(scenario, config, run_dir=root / "donor",
                        options=RunOptions(progress=False, figures=False)).run_dir


def time_steps(run_dir: Path, steps: int, selected: str, seed: int = 0
               ) -> tuple[list[float], list[float]]:
    """Milliseconds of `step_state` at `steps` random steps (after one warm-up): wall time,
    and this process's CPU time (what a shared, loaded machine does not inflate)."""
    source = RunSource(run_dir)
    first = step_state(source, 0, selected)
    rng = random.Random(seed)
    wall, cpu = [], []
    for _ in range(steps):
        step = rng.randint(first.first, first.last)
        started, used = time.perf_counter(), time.process_time()
        step_state(source, step, selected)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--residents", type=int, default=100)
    parser.add_argument("--agents", type=int, default=10_000)
    args = parser.parse_args()
    medians = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name, make, selected in (
                (f"town of {args.residents}", lambda: town_run(root, args.residents), "p00"),
                (f"Donor Game of {args.agents:,}", lambda: donor_run(root, args.agents),
                 "g0-a0000")):
            started = time.perf_counter()
            run_dir = make()
            made = time.perf_counter() - started
            wall, cpu = time_steps(run_dir, args.steps, selected)
            medians[name] = (statistics.median(wall), statistics.median(cpu))
            size = (run_dir / "run.sqlite").stat().st_size / 1e6
            print(f"{name}: run made in {made:.1f} s ({size:.0f} MB store); one step "
                  f"{medians[name][0]:.0f} ms median ({statistics.median(cpu):.0f} ms CPU), "
                  f"{max(wall):.0f} ms max over {len(wall)} random steps")
    worst = max(medians.values())
    print(f"view step, worse median of the two: {worst[0]:.0f} ms ({worst[1]:.0f} ms CPU; "
          f"budget {BUDGET_MS:.0f} ms)")


if __name__ == "__main__":
    main()
