"""A 1,000-agent Donor Game round of LLM decisions against its dependent-wave bound.

The scripted server (the Donor Game player, `--delay` seconds per reply, 50 ms by default)
runs in a child process, so its CPU is not this process's. A Donor Game of `--agents` LLM
agents plays one generation of one game; after the strategies, every round is one batch of
agents/2 donation calls, `--max-concurrency` in flight (200 by default), over the direct
transport. A round can finish no sooner than its dependent waves allow: each request's calls
follow one another (a decision, then its repair re-prompts), and at most max_concurrency go at
once, so the bound is max(longest chain of calls, ceil(calls / max_concurrency)) x delay. The
figure is each measured round's wall time (from one round's commit to the next's, read from
the world's progress reports) over that bound, counted from the round's own `llm_calls`. The
last round's requests are then sent again by raw aiohttp with the same concurrency, over warm
connections: what the server allows any client, printed beside the bound with the CPU both
sides spend per decision.

Each round is split in two: its batch of calls (from its first request to its last reply, on
the gateway's event loop) and the rest (the game's own work, logging the calls and the commit,
on the world's thread, while no call is out), with the CPU the loop's thread spent on the calls.

Last lines: the floor over the bound (the median of five sends), then the median measured
round's time over its bound (target <= 1.2); every round is printed (an early one also pays
the collector's one pass over litellm's import, imported at the run's first call: about 0.2 s
here).

    python benchmarks/llm_round.py [--agents 1000] [--rounds 6] [--delay 0.05]
                                   [--max-concurrency 200] [--transport direct]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from child_server import child_server

from sim.config import load_config
from sim.llm.gateway import Gateway
from sim.llm.ratelimit import LocalLimiter
from sim.message_texts import read_calls
from sim.registry import get_scenario
from sim.store import RunStore

#: Times the floor is measured (its median is printed): the machine's load moves it.
FLOOR_REPEATS = 5


def _cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (Linux; 0 where /proc cannot tell)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _raw_client(url: str, bodies: list[bytes], concurrency: int, repeats: int
                      ) -> list[tuple[float, float]]:
    """(seconds, this process's CPU seconds) raw aiohttp takes to send `bodies` with
    `concurrency` in flight over warm connections, `repeats` times: what this server allows
    any client, the bound's practical floor."""
    import aiohttp

    limit = asyncio.Semaphore(concurrency)
    headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-societas-local"}
    # no cap on connections, as the direct transport's session (aiohttp's default is 100)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                     headers=headers) as session:

        async def one(body: bytes) -> None:
            async with limit, session.post(f"{url}/chat/completions", data=body) as reply:
                await reply.read()

        await asyncio.gather(*(one(body) for body in bodies))  # warm the connections
        taken = []
        for _ in range(repeats):
            started, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(one(body) for body in bodies))
            taken.append((time.perf_counter() - started, time.process_time() - cpu))
        return taken


class TimedGateway(Gateway):
    """The gateway, noting each batch of model calls: when it started and ended on the event
    loop, and the CPU the loop's thread spent on it. The rest of a round (the game's own work,
    logging, the commit) runs on the world's thread between batches, while no call is out."""

    batches: list[tuple[float, float, float]]

    async def _ask_models(self, requests, recorded):  # type: ignore[no-untyped-def]
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return await super()._ask_models(requests, recorded)
        finally:
            self.batches.append((started, time.perf_counter(), time.thread_time() - cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=6, help="rounds played (the first is "
                        "not measured: its start is not reported)")
    parser.add_argument("--delay", type=float, default=0.05)
    parser.add_argument("--max-concurrency", type=int, default=200)
    parser.add_argument("--transport", default="direct")
    args = parser.parse_args()
    with child_server("--player", "donor-game", "--delay", str(args.delay)) as (url, pid):
        scenario = get_scenario("donor-game")
        config = load_config(scenario.config_type, values={
            "model": "openai/scripted", "api_base": url, "agents": args.agents,
            "generations": 1, "games": 1, "rounds": args.rounds,
            "max_concurrency": args.max_concurrency, "transport": args.transport})
        with tempfile.TemporaryDirectory() as tmp:
            store = RunStore(Path(tmp) / "run.sqlite")
            gateway = TimedGateway(limiter=LocalLimiter(), max_repairs=config.max_repairs,
                                   seed=config.seed, log_decisions=config.log_decisions)
            gateway.batches = []
            ends: list[float] = []
            cpu: list[float] = []
            served: list[float] = []

            def progress(done: int, label: str, detail: str) -> None:
                ends.append(time.perf_counter())
                cpu.append(time.process_time())
                served.append(_cpu_seconds(pid))

            world = scenario.model(config, store=store, gateway=gateway)
            world.on_progress = progress
            try:
                world.run_model()
            finally:
                world.close()
            calls = store.rows("SELECT sim_time, request_id FROM llm_calls")
            last = float(len(ends) - 1)
            bodies = [json.dumps({"model": "scripted", "messages": json.loads(messages),
                                  "temperature": config.temperature,
                                  "max_tokens": config.max_tokens}).encode()
                      for (messages,) in read_calls(store, ["messages"],
                                                    "WHERE sim_time = ?", (last,))]
            store.close()
        floors = asyncio.run(_raw_client(url, bodies, args.max_concurrency, FLOOR_REPEATS))
    per_round = Counter(t for t, _ in calls)
    chains = Counter(calls)
    print(f"{args.agents} LLM agents, {args.delay * 1000:.0f} ms a reply, "
          f"max_concurrency {args.max_concurrency}, transport {args.transport}")
    ratios, calls_part, loop_cpu = [], [], []
    for index in range(1, len(ends)):
        step = float(index)  # round k is simulated time k (the strategies share round 0's)
        longest = max(n for (t, _), n in chains.items() if t == step)
        waves = max(longest, math.ceil(per_round[step] / args.max_concurrency))
        bound = waves * args.delay
        took = ends[index] - ends[index - 1]
        ratios.append(took / bound)
        # the round's batch of calls: the one that ran between its start and its end
        batch = [b for b in gateway.batches if ends[index - 1] <= b[0] < ends[index]]
        on_loop = sum(end - start for start, end, _ in batch)
        calls_part.append(on_loop)
        loop_cpu.append(sum(c for _, _, c in batch))
        print(f"round {index + 1}: {per_round[step]} calls, {waves} dependent waves, "
              f"bound {bound * 1000:.0f} ms, took {took * 1000:.0f} ms "
              f"({took / bound:.2f}x; its calls {on_loop * 1000:.0f} ms, the rest "
              f"{(took - on_loop) * 1000:.0f} ms; CPU: {(cpu[index] - cpu[index - 1]) * 1000:.0f}"
              f" ms here, {(served[index] - served[index - 1]) * 1000:.0f} ms in the server)")
    floor, floor_cpu = statistics.median(floors)
    rounds_cpu = [cpu[index] - cpu[index - 1] for index in range(1, len(ends))]
    print(f"the last round's {len(bodies)} requests from raw aiohttp, {args.max_concurrency} in "
          f"flight, median of {FLOOR_REPEATS}: {floor * 1000:.0f} ms, {floor_cpu * 1000:.0f} ms "
          f"of CPU (this server's floor: {floor / bound:.2f}x the bound)")
    per_decision = statistics.median(rounds_cpu) / len(bodies)
    print(f"CPU per decision here, median round: {per_decision * 1e3:.3f} ms (raw aiohttp's "
          f"for the same request: {floor_cpu / len(bodies) * 1e3:.3f} ms)")
    middle = sorted(range(len(ratios)), key=ratios.__getitem__)[len(ratios) // 2]
    round_cpu = rounds_cpu[middle] / len(bodies)
    print(f"the median round ({ratios[middle]:.2f}x): its calls took "
          f"{calls_part[middle] / bound:.2f}x the bound, the rest of the round "
          f"{(ratios[middle] * bound - calls_part[middle]) / bound:.2f}x; CPU per decision "
          f"{round_cpu * 1e3:.3f} ms, {loop_cpu[middle] / len(bodies) * 1e3:.3f} ms of it on "
          f"the calls' loop")
    print(f"llm_round_floor_vs_wave_bound {floor / bound:.2f}")
    print(f"llm_round_vs_wave_bound {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
