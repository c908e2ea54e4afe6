"""The gateway: resolves one batch of pending decisions, the only road to any model.

Rule brains are answered inline (they never touch litellm, which costs milliseconds of CPU per
call). LLM requests of a batch run concurrently on one event loop kept for the whole run; each
reply is parsed by its task, a reply that cannot be parsed gets repair re-prompts, and one that
still cannot becomes the task's fallback, recorded and counted. Results and log rows are
produced in request order, never in completion order, so a run is a function of its replies.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.brains import LLMBrain, RuleBrain
from sim.cache import CacheMiss, ResponseCache, request_key
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


class BudgetExhausted(RuntimeError):
    """The run reached its call or cost budget; it stops before the next batch of calls."""


@dataclass(frozen=True)
class Budget:
    """Limits on what a run may spend on models (None: no limit)."""

    max_cost_usd: float | None = None
    max_calls: int | None = None


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
    cache_hits: int = 0
    breaker_trips: int = 0  # times a failing provider made the client pause dispatch
    by_model: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def fallbacks(self) -> int:
        return self.decisions["fallback"]


class Gateway:
    """Resolves batches of `DecisionRequest`s; see the module docstring."""

    def __init__(
        self,
        *,
        max_repairs: int = 1,
        cache: ResponseCache | None = None,
        replay_only: bool = False,
        budget: Budget | None = None,
        seed: int | None = None,
    ) -> None:
        if replay_only and cache is None:
            raise ValueError("replay-only needs a response cache")
        self.max_repairs = max_repairs
        self.cache = cache
        self.replay_only = replay_only
        self.budget = budget or Budget()
        self.seed = seed
        self.stats = GatewayStats()
        self._clients: dict[LLMSettings, LLMClient] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next_call_id = 0
        self._requests_by_agent: Counter[str] = Counter()

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
            self._check_budget(len(llm_indices))
            answered = self._event_loop().run_until_complete(
                self._ask_models([batch[i] for i in llm_indices])
            )
            for index, resolution in zip(llm_indices, answered, strict=True):
                resolutions[index] = resolution
            self.stats.breaker_trips = sum(c.breaker.trips for c in self._clients.values())
        decision_rows: list[dict[str, Any]] = []
        call_rows: list[dict[str, Any]] = []
        for request, resolution in zip(batch, resolutions, strict=True):
            assert resolution is not None
            self._account(request, resolution)
            if store is not None:
                self._log(request, resolution, decision_rows, call_rows)
        if store is not None:  # one insert per table and batch: big populations log fast
            store.insert("decisions", decision_rows)
            store.insert("llm_calls", call_rows)
        return [resolution.decision for resolution in resolutions]  # type: ignore[union-attr]

    async def _ask_models(self, requests: list[DecisionRequest]) -> list[Resolution]:
        # gather() must be created inside the running loop: outside one it binds its futures
        # to asyncio's default loop, which run_until_complete on our own loop then rejects.
        ordinals = []
        for request in requests:  # an agent's n-th request: its identity for the cache
            ordinals.append(self._requests_by_agent[request.agent.name])
            self._requests_by_agent[request.agent.name] += 1
        return await asyncio.gather(
            *(self._ask_model(r, n) for r, n in zip(requests, ordinals, strict=True))
        )

    def _check_budget(self, batch_calls: int) -> None:
        budget, stats = self.budget, self.stats
        if budget.max_calls is not None and stats.calls + batch_calls > budget.max_calls:
            raise BudgetExhausted(
                f"call budget reached: {stats.calls} calls made, the next batch needs "
                f"{batch_calls} more, limit {budget.max_calls}"
            )
        if budget.max_cost_usd is not None and stats.cost_usd >= budget.max_cost_usd:
            raise BudgetExhausted(
                f"cost budget reached: ${stats.cost_usd:.4f} spent, limit ${budget.max_cost_usd}"
            )

    async def _complete(
        self, request: DecisionRequest, settings: LLMSettings, messages: list[dict[str, str]],
        response_format: dict[str, Any] | None, ordinal: str,
    ) -> Completion:
        """One call, answered from the cache when this run asked it before."""
        key = None
        if self.cache is not None:
            key = request_key(
                model=settings.model,
                messages=messages,
                sampling={"temperature": settings.temperature, "max_tokens": settings.max_tokens},
                response_format=response_format,
                seed=self.seed,
                agent=request.agent.name,
                ordinal=ordinal,
            )
            cached = self.cache.get(key)
            if cached is not None:
                self.stats.cache_hits += 1
                return cached
            if self.replay_only:
                raise CacheMiss(
                    f"replay-only run: no cached reply for {request.agent.name}'s call {ordinal}"
                    f" ({request.task.kind} at simulated time {request.sim_time:g})"
                )
        completion = await self._client(settings).complete(
            messages, response_format=response_format
        )
        if self.cache is not None and key is not None:
            self.cache.put(key, settings.model, completion)
        return completion

    async def _ask_model(self, request: DecisionRequest, ordinal: int) -> Resolution:
        brain = request.agent.brain
        assert isinstance(brain, LLMBrain)
        task = request.task
        messages = task.messages()
        response_format = task.response_format()
        calls: list[CallRecord] = []
        for attempt in range(self.max_repairs + 1):
            purpose = "decide" if attempt == 0 else "repair"
            completion = await self._complete(
                request, brain.settings, messages, response_format, f"{ordinal}.{attempt}"
            )
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

    def _account(self, request: DecisionRequest, resolution: Resolution) -> None:
        stats = self.stats
        stats.decisions[resolution.source] += 1
        model = getattr(request.agent.brain, "model", None)
        for call in resolution.calls:
            completion = call.completion
            usage = stats.by_model.setdefault(
                model or "?", {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0,
                               "cost_usd": 0.0}
            )
            usage["calls"] += 1
            usage["prompt_tokens"] += completion.prompt_tokens
            usage["completion_tokens"] += completion.completion_tokens
            usage["cost_usd"] += completion.cost_usd
            stats.calls += 1
            stats.failed_calls += call.outcome == "error"
            stats.retries += max(completion.attempts - 1, 0)
            stats.repairs += call.purpose == "repair"
            stats.prompt_tokens += completion.prompt_tokens
            stats.completion_tokens += completion.completion_tokens
            stats.cost_usd += completion.cost_usd
            stats.call_seconds += completion.latency_s

    def _log(
        self,
        request: DecisionRequest,
        resolution: Resolution,
        decision_rows: list[dict[str, Any]],
        call_rows: list[dict[str, Any]],
    ) -> None:
        task = request.task
        decision_rows.append(
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
        )
        model = getattr(request.agent.brain, "model", None)
        for call in resolution.calls:
            completion = call.completion
            call_rows.append(
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
            self._loop.set_exception_handler(_quiet_about_interrupts)
        return self._loop

    def close(self) -> None:
        """End the run's event loop, cancelling litellm's background workers first."""
        for client in self._clients.values():
            client.close()  # e.g. stops the server of a local model (sim.local_model)
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        try:
            remaining = pending
            for _ in range(len(pending)):  # gather() of nothing would bind to the default loop
                # a task cut short by Ctrl-C/SIGTERM re-raises it here: drain the rest
                with contextlib.suppress(KeyboardInterrupt):
                    loop.run_until_complete(_drain(remaining))
                remaining = {task for task in remaining if not task.done()}
                if not remaining:
                    break
            loop.run_until_complete(loop.shutdown_asyncgens())
        except KeyboardInterrupt:
            pass  # the run is stopping anyway
        finally:
            loop.close()


def _quiet_about_interrupts(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Ctrl-C or SIGTERM raised inside a task (ours or litellm's/aiohttp's) leaves it holding the
    interrupt; the run is stopping already, and asyncio's "Task exception was never retrieved"
    traceback would bury the one line that says how to resume."""
    if isinstance(context.get("exception"), KeyboardInterrupt):
        return
    loop.default_exception_handler(context)


async def _drain(tasks: set[asyncio.Task]) -> None:
    """Wait for cancelled tasks to finish, whatever they end with (Ctrl-C included)."""
    for task in tasks:
        with contextlib.suppress(BaseException):  # shutting down: outcomes no longer matter
            await task
