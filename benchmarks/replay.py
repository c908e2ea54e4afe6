"""How much faster a replay from the response cache is than the original run.

A Donor Game with LLM agents runs against a loopback OpenAI-compatible server that answers every
call after a fixed delay, writing its replies to a fresh response cache; then the same run is
replayed with `replay_only` (every reply from the cache, zero HTTP requests, asserted) and the
two stores are checked to be identical. The last line printed is the ratio original wall time /
replay wall time (target: >= 50).

    python benchmarks/replay.py [--agents 12] [--generations 2] [--delay 0.2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from scenarios.donor_game.scripted_player import scripted_player
from sim.config import load_config
from sim.registry import get_scenario
from sim.runs.runner import RunOptions, run_scenario
from sim.store import snapshot
from sim.testing.scripted_server import ScriptedLLMServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=12)
    parser.add_argument("--generations", type=int, default=2)
    parser.add_argument("--delay", type=float, default=0.2, help="server latency per call (s)")
    args = parser.parse_args()

    scenario = get_scenario("donor-game")
    with tempfile.TemporaryDirectory() as tmp, \
            ScriptedLLMServer(scripted_player, delay=args.delay) as server:
        cache = Path(tmp) / "cache.sqlite"
        config = load_config(scenario.config_type, values={
            "model": "openai/scripted", "api_base": server.url, "agents": args.agents,
            "generations": args.generations, "max_concurrency": args.agents,
        })
        options = RunOptions(cache_path=cache, progress=False, figures=False)
        warm = load_config(scenario.config_type, values={
            **config.model_dump(), "agents": 2, "generations": 1, "rounds": 1, "seed": 99})
        run_scenario(scenario, warm, run_dir=Path(tmp) / "warm", options=options)

        started = time.perf_counter()
        original = run_scenario(scenario, config, run_dir=Path(tmp) / "original",
                                options=options)
        original_s = time.perf_counter() - started
        requests_before = server.request_count

        replay_options = RunOptions(cache_path=cache, replay_only=True, progress=False,
                                    figures=False)
        started = time.perf_counter()
        replay = run_scenario(scenario, config, run_dir=Path(tmp) / "replay",
                              options=replay_options)
        replay_s = time.perf_counter() - started
        assert server.request_count == requests_before, "the replay reached the server"
        assert snapshot(original.run_dir / "run.sqlite") == snapshot(
            replay.run_dir / "run.sqlite"), "the replay's store differs from the original's"
    print(f"agents={args.agents} generations={args.generations} delay={args.delay}s "
          f"calls={original.stats.calls}")
    print(f"original run: {original_s:.2f} s; replay from cache: {replay_s:.3f} s "
          f"(0 requests, identical store)")
    print(f"replay_speedup {original_s / replay_s:.0f}")


if __name__ == "__main__":
    main()
