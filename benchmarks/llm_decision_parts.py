"""The engine's CPU per LLM decision, part by part, on one real round of the LLM Donor Game.

`llm_round.py` says how long a round takes beside its bound and the server's floor; this says
where the engine's own CPU goes. A Donor Game of `--agents` LLM agents plays a few rounds
against the scripted server (a child process, no latency); the last round's donation requests,
their replies and what the gateway resolved are kept, and each part of a decision that is the
engine's (not the HTTP exchange) is then timed alone over those requests, best of `--repeats`:

- the prompt: the task's `messages()` (templates, the recipient's trace, the question);
- reading the reply: the task's `parse()` (its answer line or JSON, validated);
- redaction: `scrub_values` of the reply;
- the request body: its JSON, as the direct transport sends it;
- logging: the gateway's `_log` of the batch (decision and call rows, prompts' paragraphs,
  the digest) and the commit, into a fresh store.

The HTTP exchange itself is what `client_cpu.py` measures (the client around raw aiohttp).
Last line: the sum of the parts, in microseconds per decision.

    python benchmarks/llm_decision_parts.py [--agents 1000] [--repeats 15]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from child_server import child_server

from sim.config import load_config
from sim.llm.gateway import Gateway
from sim.llm.ratelimit import LocalLimiter
from sim.llm.redaction import scrub_values
from sim.registry import get_scenario
from sim.store import RunStore


class KeepingGateway(Gateway):
    """The gateway, keeping the last batch it logged and how it resolved it."""

    kept: tuple[Any, Any, Any] | None = None

    def _log(self, batch, decisions, resolutions, store):  # type: ignore[no-untyped-def]
        self.kept = (batch, decisions, resolutions)
        super()._log(batch, decisions, resolutions, store)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    scenario = get_scenario("donor-game")
    with tempfile.TemporaryDirectory() as tmp, \
            child_server("--player", "donor-game", "--delay", "0") as (url, _):
        config = load_config(scenario.config_type, values={
            "model": "openai/scripted", "api_base": url, "agents": args.agents,
            "generations": 1, "games": 1, "rounds": 4, "transport": "direct"})
        gateway = KeepingGateway(limiter=LocalLimiter(), max_repairs=config.max_repairs,
                                 seed=config.seed, log_decisions=config.log_decisions)
        world = scenario.model(config, store=RunStore(Path(tmp) / "run.sqlite"),
                               gateway=gateway)
        try:
            world.run_model()
        finally:
            world.close()
            world.store.close()
        assert gateway.kept is not None
        batch, decisions, resolutions = gateway.kept
        replies = [resolutions[i].calls[-1].completion.text for i in range(len(batch))]
        tasks = [request.task for request in batch]

        def per_decision(work: Callable[[], Any]) -> float:
            """Best CPU time of `work` over the batch, per decision, in microseconds; each
            task made afresh (its reply format is worked out once per task)."""
            spent = []
            for _ in range(args.repeats):
                for task in tasks:
                    task.__dict__.pop("reply_format", None)
                started = time.process_time()
                work()
                spent.append(time.process_time() - started)
            return min(spent) / len(batch) * 1e6

        def logged() -> float:
            store = RunStore(Path(tmp) / f"log-{time.perf_counter_ns()}.sqlite")
            started = time.process_time()
            Gateway(log_decisions=config.log_decisions)._log(batch, decisions, resolutions,
                                                             store)
            store.commit()
            spent = time.process_time() - started
            store.close()
            return spent / len(batch) * 1e6

        messages = [task.messages() for task in tasks]
        parts = {
            "the prompt (messages)": per_decision(lambda: [t.messages() for t in tasks]),
            "reading the reply (parse)": per_decision(
                lambda: [t.parse(r) for t, r in zip(tasks, replies, strict=True)]),
            "redaction (scrub_values)": per_decision(lambda: [scrub_values(r) for r in replies]),
            "the request body (JSON)": per_decision(lambda: [json.dumps({
                "model": "scripted", "messages": m, "temperature": config.temperature,
                "max_tokens": config.max_tokens}).encode("utf-8") for m in messages]),
            "logging and commit": min(logged() for _ in range(max(3, args.repeats // 2))),
        }
    print(f"{args.agents} LLM agents, the last round's {len(batch)} donation decisions, "
          f"best of {args.repeats}")
    for name, spent in parts.items():
        print(f"{name:28s} {spent:6.1f} us a decision")
    print(f"llm_decision_parts_us {sum(parts.values()):.1f}")


if __name__ == "__main__":
    main()
