"""How well the Donor Game's memory estimate (`ScenarioSpec.memory_estimate`) predicts real runs.

Each population size runs in a fresh process (peak RSS only ever grows), as a rule-brained
Donor Game with few rounds, so that the population, not the schedule, decides the memory. The
growth of peak RSS between the smallest and the largest population, divided by the growth the
estimate predicts, is the last line (1.0: exact; above 1: the estimate is too low and a run it
lets through could still exhaust the machine; the check refuses only runs above the memory
available, so modest overestimates cost nothing).

    python benchmarks/memory_estimate.py [--agents 8000 32000] [--generations 3] [--memory]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, resource, sys, tempfile
from sim.config import load_config
from sim.registry import get_scenario
from sim.runs.runner import RunOptions, run_scenario
values = json.loads(sys.argv[1])
scenario = get_scenario("donor-game")
config = load_config(scenario.config_type, values=values)
with tempfile.TemporaryDirectory() as tmp:
    run_scenario(scenario, config, run_dir=tmp + "/run",
                 options=RunOptions(use_cache=False, progress=False, figures=False))
print(json.dumps({"peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "estimate": scenario.memory_estimate(config)}))
"""


def measure(values: dict[str, object]) -> dict[str, int]:
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(values)], check=True,
                          capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, nargs=2, default=[8000, 32000])
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--memory", action="store_true", help="with memory streams")
    args = parser.parse_args()

    results = []
    for agents in args.agents:
        values = {"agents": agents, "generations": args.generations, "rounds": args.rounds,
                  "games": 1, "memory": args.memory}
        result = measure(values)
        results.append(result)
        print(f"agents={agents}: peak RSS {result['peak'] / 2**20:.0f} MiB, "
              f"estimate {result['estimate'] / 2**20:.0f} MiB (+ interpreter)")
    small, large = results
    measured = large["peak"] - small["peak"]
    estimated = large["estimate"] - small["estimate"]
    per_agent = measured / (args.agents[1] - args.agents[0])
    print(f"measured {per_agent:,.0f} bytes per agent")
    print(f"measured_over_estimated {measured / estimated:.2f}")


if __name__ == "__main__":
    main()
