"""Client CPU per model call: Societas's client over the direct transport against raw aiohttp
sending the same requests (and against the litellm transport, for the record).

A scripted server answers in a child process (its CPU is not counted; this process's is, by
`time.process_time`). The requests are real ones: a Donor Game donation prompt with its JSON
response format, as a run sends them, `--calls` of them, `--concurrency` in flight. Societas's
side is `LLMClient.complete` with the run's limiter (preflight, semaphore, breaker, limiter,
deadline, reading the reply, accounting, redaction) as the gateway calls it; the baseline is one
aiohttp session posting the same JSON body and reading the reply's content and usage. The
figure is the CPU of the whole batch over the calls, after a warm-up batch of each; the two
sides run alternately `--repeats` times and each keeps its best.

Last lines: milliseconds of CPU per call with the direct transport (target <= 0.5) and its
ratio to raw aiohttp (target <= 2).

    python benchmarks/client_cpu.py [--calls 2000] [--concurrency 20] [--repeats 3]
                                    [--litellm-calls 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any

from child_server import child_server

from scenarios.donor_game.config import DonorGameConfig
from scenarios.donor_game.tasks import Donate, GameContext
from sim.llm.client import LLMClient
from sim.llm.ratelimit import LocalLimiter
from sim.llm.settings import LLMSettings

REPLY = '{"reasoning": "They gave before; I reciprocate.", "units": 4.5}'


def requests(count: int) -> list[tuple[list[dict[str, str]], dict[str, Any] | None]]:
    """`count` donation prompts (different donors and resources) and their response formats."""
    context = GameContext.from_config(DonorGameConfig(agents=12))
    trace = [{"donor": "g0-a07", "recipient": "g0-a02", "action": "donate", "fraction": 0.4,
              "step": 2, "game": 0, "round": 2}]
    made = []
    for i in range(count):
        facts = {"generation": 0, "game": 0, "round": 3, "donor": f"g0-a{i % 12:02d}",
                 "recipient": "g0-a07", "donor_resources": 10.0 + i % 7,
                 "recipient_resources": 12.5, "multiplier": 2.0, "punishment": False,
                 "partner_choice": False, "punishment_multiplier": 2.0, "trace": trace}
        task = Donate(context, facts, "I give half to those who gave.")
        made.append((task.messages(), task.response_format()))
    return made


def cpu_of(batch: Callable[[], Coroutine[Any, Any, None]]) -> float:
    started = time.process_time()
    asyncio.run(batch())
    return time.process_time() - started


def societas(url: str, transport: str, prompts: list, concurrency: int) -> float:
    async def batch() -> None:
        client = LLMClient(LLMSettings(model="openai/scripted", api_base=url,
                                       max_concurrency=concurrency, transport=transport),
                           LocalLimiter())
        try:
            replies = await asyncio.gather(*(client.complete(m, response_format=f)
                                             for m, f in prompts))
        finally:
            await client.aclose()
        assert all(r.text == REPLY for r in replies), replies[0]
        assert client.transport_name == transport

    return cpu_of(batch)


def raw_aiohttp(url: str, prompts: list, concurrency: int) -> float:
    import aiohttp

    async def batch() -> None:
        limit = asyncio.Semaphore(concurrency)
        headers = {"Authorization": "Bearer sk-societas-local",
                   "Content-Type": "application/json"}
        async with aiohttp.ClientSession(headers=headers) as session:

            async def one(messages: list, response_format: dict | None) -> str:
                body = {"model": "scripted", "messages": messages, "temperature": 0.8,
                        "max_tokens": 400, "response_format": response_format}
                async with limit, session.post(f"{url}/chat/completions",
                                               data=json.dumps(body).encode()) as reply:
                    data = json.loads(await reply.read())
                assert data["usage"]["prompt_tokens"] > 0
                return data["choices"][0]["message"]["content"]

            replies = await asyncio.gather(*(one(m, f) for m, f in prompts))
        assert all(r == REPLY for r in replies)

    return cpu_of(batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--litellm-calls", type=int, default=300,
                        help="calls through the litellm transport (0: skip it)")
    args = parser.parse_args()
    with child_server("--reply", REPLY) as (url, _):
        prompts = requests(args.calls)
        warm = prompts[:100]
        societas(url, "direct", warm, args.concurrency)
        raw_aiohttp(url, warm, args.concurrency)
        direct = raw = float("inf")
        for _ in range(args.repeats):  # alternately, keeping the best of each (least disturbed)
            direct = min(direct, societas(url, "direct", prompts, args.concurrency) / args.calls)
            raw = min(raw, raw_aiohttp(url, prompts, args.concurrency) / args.calls)
        print(f"{args.calls} donation calls, {args.concurrency} in flight, server in a child "
              "process")
        if args.litellm_calls:
            few = prompts[:args.litellm_calls]
            societas(url, "litellm", warm, args.concurrency)
            through = societas(url, "litellm", few, args.concurrency) / len(few)
            print(f"client CPU per call through litellm: {1000 * through:.2f} ms "
                  f"({through / raw:.1f}x raw aiohttp)")
    print(f"client CPU per call, raw aiohttp: {1000 * raw:.3f} ms")
    print(f"client CPU per call, direct transport: {1000 * direct:.3f} ms")
    print(f"client_cpu_direct_ms {1000 * direct:.3f}")
    print(f"client_cpu_direct_vs_aiohttp {direct / raw:.2f}")


if __name__ == "__main__":
    main()
