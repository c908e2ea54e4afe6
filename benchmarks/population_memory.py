"""Peak memory of a large rule-brained Donor Game, and how it grows with the population.

Each population size runs in a fresh child process (so one size's garbage cannot inflate the
next, and the figure is the process's own peak resident set, `ru_maxrss`): a Donor Game of N
rule-brained agents, two generations (the second one's newcomers inherit strategies from the
survivors, the step that once built a list of every survivor for every newcomer), one game of a
few rounds, the store on a temporary disk directory, no response cache. A child with 2 agents
gives the fixed cost (Python, numpy, pandas, mesa, simpy, SQLite) beside it.

Memory that grows linearly grows by the same amount from 5,000 to 10,000 agents as twice that
from 2,500 to 5,000: the printed growth ratio is then about 2 (quadratic: 4). The last line
printed is the peak at the largest size in MB (target: < 300 at 10,000 agents).

    python benchmarks/population_memory.py [--sizes 2500 5000 10000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(agents: int, rounds: int) -> None:
    """Run one Donor Game and print {"peak_mb", "wall_s", "decisions"} as JSON."""
    from sim.config import load_config
    from sim.registry import get_scenario
    from sim.runs.runner import RunOptions, run_scenario

    scenario = get_scenario("donor-game")
    config = load_config(scenario.config_type, values={
        "agents": agents, "generations": 2, "games": 1, "rounds": rounds, "seed": 0})
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = run_scenario(scenario, config, run_dir=Path(tmp) / "run",
                              options=RunOptions(use_cache=False, progress=False, figures=False))
    assert result.status == "finished", result.message
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"peak_mb": peak_kb / 1024, "wall_s": time.perf_counter() - started,
                      "decisions": sum(result.stats.decisions.values())}))


def measure(agents: int, rounds: int) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, __file__, "--child", str(agents), "--rounds", str(rounds)],
        capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"{agents} agents: the run failed:\n{completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2500, 5000, 10000])
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the one game per "
                        "generation (round robin: agents/2 donations each)")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child, args.rounds)
        return

    base = measure(2, 1)
    print(f"fixed cost (2 agents): {base['peak_mb']:.0f} MB")
    sizes = sorted(args.sizes)
    peaks = []
    for agents in sizes:
        figures = measure(agents, args.rounds)
        peaks.append(figures["peak_mb"])
        print(f"{agents:>6} agents: peak {figures['peak_mb']:7.1f} MB "
              f"({figures['peak_mb'] - base['peak_mb']:7.1f} MB over the fixed cost), "
              f"{figures['decisions']:.0f} decisions, {figures['wall_s']:.1f} s")
    if len(sizes) >= 3:
        a, b, c = sizes[-3:]
        growth = (peaks[-1] - peaks[-2]) / max(peaks[-2] - peaks[-3], 1e-9)
        print(f"growth {b}->{c} / {a}->{b}: {growth:.1f} (linear: {(c - b) / (b - a):.1f}, "
              f"quadratic: {(c * c - b * b) / (b * b - a * a):.1f})")
    print(f"peak_rss_mb_{sizes[-1]} {peaks[-1]:.0f}")


if __name__ == "__main__":
    main()
