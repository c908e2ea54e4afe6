"""How much the decision barrier saves: wall time of a Donor Game run with 24 LLM agents
against the sequential sum of its model-call latencies.

A loopback OpenAI-compatible server answers every call after a fixed delay. With `random`
pairing all 24 agents donate in every round, so each round is one batch of 24 concurrent calls.
If calls ran one after another (as in the Generative Agents code), the run would take the sum of
the latencies; the barrier makes a round cost about one latency. The last line printed is the
speed-up: the same run made one call at a time / the batched run (target: >= N/2 = 12).

Neither run reads or writes a response cache: with one, the second run would be answered from
the replies the first just stored (it printed 0.0 that way), and the user's cache would fill up
with benchmark replies. `--max-concurrency 1` makes the "batched" run sequential too, so the
figure must drop to about 1: a check that it measures what it says.

    python benchmarks/concurrency.py [--agents 24] [--rounds 2] [--delay 0.25]
                                     [--max-concurrency N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from scenarios.donor_game.scripted_player import scripted_player
from sim.config import RunConfig, load_config
from sim.registry import ScenarioSpec, get_scenario
from sim.runs.runner import RunOptions, RunResult, run_scenario
from sim.testing.scripted_server import ScriptedLLMServer


def timed_run(scenario: ScenarioSpec, config: RunConfig, run_dir: Path) -> tuple[RunResult, float]:
    started = time.perf_counter()
    options = RunOptions(use_cache=False, progress=False, figures=False)  # every call is real
    result = run_scenario(scenario, config, run_dir=run_dir, options=options)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--delay", type=float, default=0.25, help="server latency per call (s)")
    parser.add_argument("--max-concurrency", type=int,
                        help="calls in flight in the batched run (default: one per agent)")
    args = parser.parse_args()
    concurrency = args.max_concurrency or args.agents

    scenario = get_scenario("donor-game")
    with ScriptedLLMServer(scripted_player, delay=args.delay) as server, \
            tempfile.TemporaryDirectory() as tmp:
        values = {
            "model": "openai/scripted", "api_base": server.url, "agents": args.agents,
            "generations": 1, "games": 1, "rounds": args.rounds, "pairing": "random",
        }
        config = load_config(scenario.config_type, values={
            **values, "max_concurrency": concurrency})
        sequential = load_config(scenario.config_type, values={**values, "max_concurrency": 1})
        # warm-up, the size of the measured run: litellm's import and its first-call setup
        # (a connection per concurrent call) are once per process, not part of the measurement
        timed_run(scenario, config, Path(tmp) / "warm")
        result, wall = timed_run(scenario, config, Path(tmp) / "batched")
        one_by_one, wall_sequential = timed_run(scenario, sequential, Path(tmp) / "sequential")
    stats = result.stats
    batches = 1 + args.rounds
    # every run's first call goes alone, as its preflight (sim.llm.client): one more latency
    ideal = (batches + 1) * args.delay
    for run in (result, one_by_one):
        assert run.stats.calls > 0 and run.stats.cache_hits == 0, "every call must be real"
    print(f"agents={args.agents} rounds={args.rounds} delay={args.delay}s "
          f"max_concurrency={concurrency} calls={stats.calls} batches={batches}")
    print(f"batched run: {wall:.2f} s (ideal, preflight included: {ideal:.2f} s); "
          f"same run one call at a time: {wall_sequential:.2f} s")
    print(f"sum of call latencies / batched wall time: {stats.call_seconds / wall:.1f}")
    print(f"speedup_vs_sequential {wall_sequential / wall:.1f}")


if __name__ == "__main__":
    main()
