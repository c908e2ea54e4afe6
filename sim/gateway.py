"""The gateway: resolves one batch of pending decisions, the only road to any model.

Rule brains are answered inline (they never touch litellm, which costs milliseconds of CPU per
call). LLM requests of a batch run concurrently on one event loop kept for the whole run; each
reply is parsed by its task, a reply that cannot be parsed gets repair re-prompts, and one that
still cannot becomes the task's fallback, recorded and counted. Results and log rows are
produced in request order, never in completion order, so a run is a function of its replies.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.brains import LLMBrain, RuleBrain
from sim.llm_client import Completion, LLMClient, LLMSettings
from sim.store import to_json
from sim.tasks import ParseError

if TYPE_CHECKING:
    from sim.store import RunStore
    from sim.world import DecisionRequest


@dataclass
class CallRecord:
    """One model call as logged in the store's `llm_calls` table."""

    purpose: str
    messages: list[dict[str, str]]
    completion: Completion
    outcome: str
    error: str | None


@dataclass
class Resolution:
    decision: Any
    source: str  # 'rule' | 'llm' | 'repaired' | 'fallback'
    calls: list[CallRecord] = field(default_factory=list)


@dataclass
class GatewayStats:
    """Running totals for the end-of-run account."""

    decisions: Counter = field(default_factory=Counter)  # by source
    calls: int = 0
    failed_calls: int = 0
    retries: int = 0
    repairs: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    call_seconds: float = 0.0  # sum of call latencies: what a sequential run would wait

    @property
    def fallbacks(self) -> int:
        return self.decisions["fallback"]


class Gateway:
    """Resolves batches of `DecisionRequest`s; see the module docstring."""

    def __init__(self, *, max_repairs: int = 1) -> None:
        self.max_repairs = max_repairs
        self.stats = GatewayStats()
        self._clients: dict[LLMSettings, LLMClient] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_call_id = 0

    def resolve(self, batch: list[DecisionRequest], store: RunStore | None = None) -> list[Any]:
        """Answer every request of the batch; returns decisions in the batch's order."""
        resolutions: list[Resolution | None] = [None] * len(batch)
        llm_indices = []
        for index, request in enumerate(batch):
            brain = request.agent.brain
            if isinstance(brain, RuleBrain):
                resolutions[index] = Resolution(brain.answer(request.task), "rule")
            elif isinstance(brain, LLMBrain):
                llm_indices.append(index)
            else:
                raise TypeError(f"agent {request.agent.name} has no usable brain: {brain!r}")
        if llm_indices:
            answered = self._event_loop().run_until_complete(
                self._ask_models([batch[i] for i in llm_indices])
            )
            for index, resolution in zip(llm_indices, answered, strict=True):
                resolutions[index] = resolution
        for request, resolution in zip(batch, resolutions, strict=True):
            assert resolution is not None
            self._account(resolution)
            if store is not None:
                self._log(store, request, resolution)
        return [resolution.decision for resolution in resolutions]  # type: ignore[union-attr]

    async def _ask_models(self, requests: list[DecisionRequest]) -> list[Resolution]:
        # gather() must be created inside the running loop: outside one it binds its futures
        # to asyncio's default loop, which run_until_complete on our own loop then rejects.
        return await asyncio.gather(*(self._ask_model(request) for request in requests))

    async def _ask_model(self, request: DecisionRequest) -> Resolution:
        brain = request.agent.brain
        assert isinstance(brain, LLMBrain)
        client = self._client(brain.settings)
        task = request.task
        messages = task.messages()
        response_format = task.response_format()
        calls: list[CallRecord] = []
        for attempt in range(self.max_repairs + 1):
            purpose = "decide" if attempt == 0 else "repair"
            completion = await client.complete(messages, response_format=response_format)
            if completion.text is None:
                calls.append(CallRecord(purpose, messages, completion, "error", completion.error))
                break
            try:
                decision = task.parse(completion.text)
            except ParseError as error:
                calls.append(CallRecord(purpose, messages, completion, "unparsed", str(error)))
                messages = [
                    *messages,
                    {"role": "assistant", "content": completion.text},
                    {"role": "user", "content": task.repair_message(error)},
                ]
                continue
            calls.append(CallRecord(purpose, messages, completion, "ok", None))
            return Resolution(decision, "llm" if attempt == 0 else "repaired", calls)
        return Resolution(task.fallback(), "fallback", calls)

    def _account(self, resolution: Resolution) -> None:
        stats = self.stats
        stats.decisions[resolution.source] += 1
        for call in resolution.calls:
            completion = call.completion
            stats.calls += 1
            stats.failed_calls += call.outcome == "error"
            stats.retries += max(completion.attempts - 1, 0)
            stats.repairs += call.purpose == "repair"
            stats.prompt_tokens += completion.prompt_tokens
            stats.completion_tokens += completion.completion_tokens
            stats.cost_usd += completion.cost_usd
            stats.call_seconds += completion.latency_s

    def _log(self, store: RunStore, request: DecisionRequest, resolution: Resolution) -> None:
        task = request.task
        store.insert(
            "decisions",
            [
                {
                    "request_id": request.request_id,
                    "sim_time": request.sim_time,
                    "agent_id": request.agent.name,
                    "task": task.kind,
                    "observation": to_json(task.observation()),
                    "decision": to_json(task.encode(resolution.decision)),
                    "source": resolution.source,
                    "n_calls": len(resolution.calls),
                }
            ],
        )
        rows = []
        model = getattr(request.agent.brain, "model", None)
        for call in resolution.calls:
            completion = call.completion
            rows.append(
                {
                    "call_id": self._next_call_id,
                    "request_id": request.request_id,
                    "agent_id": request.agent.name,
                    "sim_time": request.sim_time,
                    "model": model,
                    "purpose": call.purpose,
                    "messages": to_json(call.messages),
                    "reply": completion.text,
                    "prompt_tokens": completion.prompt_tokens,
                    "completion_tokens": completion.completion_tokens,
                    "cost_usd": completion.cost_usd,
                    "latency_s": completion.latency_s,
                    "attempts": completion.attempts,
                    "outcome": call.outcome,
                    "error": call.error,
                }
            )
            self._next_call_id += 1
        store.insert("llm_calls", rows)

    def _client(self, settings: LLMSettings) -> LLMClient:
        client = self._clients.get(settings)
        if client is None:
            client = self._clients[settings] = LLMClient(settings)
        return client

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        # One loop for the whole run: litellm's HTTP clients are bound to the loop they were
        # created on, so a fresh asyncio.run() per batch would leave them dangling.
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop

    def close(self) -> None:
        """End the run's event loop, cancelling litellm's background workers first."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
