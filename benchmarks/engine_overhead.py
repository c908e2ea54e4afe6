"""What the engine costs on top of litellm: a Donor Game with LLM brains against a zero-latency
server, versus the very same requests sent straight through `litellm.acompletion`.

At zero latency a run's wall time is all CPU: litellm's (building, sending and parsing each
HTTP exchange) and the engine's (the world, prompts, reply parsing, the store, the gateway's
loop thread). The baseline is made honest by replaying exactly what the engine sent:

- same requests: the bodies the scripted server received during the engine's run (model,
  messages, sampling, response format), with the same litellm arguments as `LLMClient`;
- same concurrency and structure: the engine's batches one after another (a batch's calls can
  only start once the previous batch is answered), each batch's calls concurrently under a
  semaphore of `max_concurrency`;
- same server, same process, warm: litellm imported and its first call made before timing,
  each side run `--repeats` times alternately on a fresh event loop, the fastest kept (on a
  busy machine noise only ever adds time).

No response cache is used (every call goes to the server). The last line is the ratio engine
wall time / direct litellm wall time (target: <= 1.15).

    python benchmarks/engine_overhead.py [--agents 24] [--generations 2] [--rounds 4]
                                         [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from scenarios.donor_game.scripted_player import scripted_player
from sim.config import RunConfig, load_config
from sim.llm.client import _load_litellm
from sim.llm.gateway import Gateway
from sim.llm.settings import LOCAL_DUMMY_KEY
from sim.registry import ScenarioSpec, get_scenario
from sim.runs.runner import RunOptions, run_scenario
from sim.testing.scripted_server import ScriptedLLMServer

QUIET = RunOptions(use_cache=False, progress=False, figures=False)


def engine_run(scenario: ScenarioSpec, config: RunConfig, server: ScriptedLLMServer,
               run_dir: Path) -> tuple[float, list[list[dict[str, Any]]]]:
    """Wall time of the run, and the request bodies of each of its batches, in order."""
    bounds: list[tuple[int, int]] = []
    resolve = Gateway.resolve

    def recording(self: Gateway, batch: Any, store: Any = None) -> Any:
        before = server.request_count
        try:
            return resolve(self, batch, store)
        finally:
            if server.request_count > before:
                bounds.append((before, server.request_count))

    Gateway.resolve = recording  # type: ignore[method-assign]
    try:
        first = server.request_count
        started = time.perf_counter()
        result = run_scenario(scenario, config, run_dir=run_dir, options=QUIET)
        wall = time.perf_counter() - started
    finally:
        Gateway.resolve = resolve  # type: ignore[method-assign]
    assert result.status == "finished", result.message
    assert result.stats.fallbacks == 0 and result.stats.retries == 0
    requests = server.requests[first:]
    batches = [[r.body for r in requests[a - first:b - first]] for a, b in bounds]
    assert sum(map(len, batches)) == len(requests) == result.stats.calls
    return wall, batches


async def direct_run(batches: list[list[dict[str, Any]]], url: str, config: RunConfig) -> float:
    """The same requests through litellm alone, batch after batch, bounded like the engine."""
    litellm = _load_litellm()
    semaphore = asyncio.Semaphore(config.max_concurrency)

    async def send(body: dict[str, Any]) -> None:
        kwargs = {
            "model": f"openai/{body['model']}", "messages": body["messages"],
            "temperature": body["temperature"], "max_tokens": body["max_tokens"],
            "timeout": config.timeout_s, "api_base": url, "api_key": LOCAL_DUMMY_KEY,
            "max_retries": 0, "drop_params": True,
        }
        if "response_format" in body:
            kwargs["response_format"] = body["response_format"]
        async with semaphore:
            response = await litellm.acompletion(**kwargs)
        assert response.choices[0].message.content

    started = time.perf_counter()
    for batch in batches:
        await asyncio.gather(*(send(body) for body in batch))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=24)
    parser.add_argument("--generations", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    scenario = get_scenario("donor-game")
    with ScriptedLLMServer(scripted_player) as server, tempfile.TemporaryDirectory() as tmp:
        values = {"model": "openai/scripted", "api_base": server.url, "agents": args.agents,
                  "generations": args.generations, "rounds": args.rounds, "games": 1,
                  "pairing": "random", "max_concurrency": args.agents, "seed": 0}
        config = load_config(scenario.config_type, values=values)
        warm = load_config(scenario.config_type, values={**values, "agents": 2,
                                                          "generations": 1, "rounds": 1})
        _, warm_batches = engine_run(scenario, warm, server, Path(tmp) / "warm")
        asyncio.run(direct_run(warm_batches, server.url, config))
        engine, direct = [], []
        batches: list[list[dict[str, Any]]] = []
        for repeat in range(args.repeats):
            wall, batches = engine_run(scenario, config, server, Path(tmp) / f"run{repeat}")
            engine.append(wall)
            before = server.request_count
            direct.append(asyncio.run(direct_run(batches, server.url, config)))
            assert server.request_count - before == sum(map(len, batches))
    calls = sum(map(len, batches))
    best_engine, best_direct = min(engine), min(direct)
    print(f"agents={args.agents} generations={args.generations} rounds={args.rounds} "
          f"calls={calls} batches={len(batches)} max_concurrency={args.agents} latency=0")
    print(f"engine run: {best_engine:.2f} s ({best_engine / calls * 1000:.1f} ms/call); "
          f"same requests through litellm alone: {best_direct:.2f} s "
          f"({best_direct / calls * 1000:.1f} ms/call); best of {args.repeats}")
    print(f"engine overhead per call: {(best_engine - best_direct) / calls * 1000:.2f} ms")
    print(f"engine_vs_litellm {best_engine / best_direct:.2f}")


if __name__ == "__main__":
    main()
