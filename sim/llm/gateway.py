"""The gateway: resolves one batch of pending decisions, the only road to any model.

Rule brains are answered inline (they never touch litellm, which costs milliseconds of CPU per
call). LLM requests of a batch run concurrently on one event loop kept for the whole run; each
reply is parsed by its task, a reply that cannot be parsed gets repair re-prompts, and one that
still cannot becomes the task's fallback, recorded and counted. Results and log rows are
produced in request order, never in completion order, so a run is a function of its replies.

The loop runs in a thread of its own (`sim.llm.event_loop`), so a run works the same from a
script and from a Jupyter kernel, whose own loop already occupies the calling thread.

Where a reply comes from: while a resumed (or replayed) run re-executes rounds its store has
already committed, from the store itself (the `llm_calls` rows of each request, failures
included, so what happened is reproduced even though failures are never cached); otherwise from
the response cache when this run asked the same before (successful replies only); otherwise
from the model.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.brains import LLMBrain
from sim.errors import ParseError
from sim.llm.cache import CacheMiss, ResponseCache, request_key
from sim.llm.client import LLMClient
from sim.llm.event_loop import LoopThread
from sim.llm.fallback_guard import FallbackGuard, ask_plainly
from sim.llm.outcomes import Completion
from sim.llm.ratelimit import Limiter
from sim.llm.settings import LLMSettings
from sim.rule_answers import (
    answer_rules,
    reference_decision_rows,
    rule_decision_rows,
    split_by_brain,
)
from sim.store import ResumeDiverged

if TYPE_CHECKING:
    from sim.decisions import DecisionRequest
    from sim.store import RunStore


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


#: Which decisions `_log` writes to the store: every one, those of LLM brains, or none.
LOG_DECISIONS = ("all", "llm", "none")


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
    replayed_calls: int = 0  # answered from the run's own store while catching up
    breaker_trips: int = 0  # times a failing provider made the client pause dispatch
    probes: int = 0  # "does the provider answer at all?" requests (not in llm_calls)
    probe_cost_usd: float = 0.0
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
        log_decisions: str = "all",
        limiter: Limiter | None = None,
    ) -> None:
        """`replay_only`: no model is asked; a call neither the store (catching up) nor the
        cache (if any) can answer raises `CacheMiss`. `limiter`: asked before every request
        (`sim.llm.ratelimit`), e.g. shared with the other runs of a sweep."""
        self.max_repairs = max_repairs
        self.cache = cache
        self.replay_only = replay_only
        self.budget = budget or Budget()
        self.seed = seed
        if log_decisions not in LOG_DECISIONS:
            raise ValueError(f"log_decisions must be one of {LOG_DECISIONS}, not {log_decisions!r}")
        self.log_decisions = log_decisions
        self.limiter = limiter
        self.stats = GatewayStats()
        self._clients: dict[LLMSettings, LLMClient] = {}
        self._loop: LoopThread | None = None
        self._next_call_id = 0
        self._requests_by_agent: Counter[str] = Counter()
        self._scope = ""  # a session's prefix to every call ordinal (`begin_session`)
        self.fallback_guard = FallbackGuard()  # stops a run whose real decisions all fall back
        self._plain_only: set[LLMSettings] = set()  # answered only without a response format

    def begin_session(self, scope: str, *, first_call_id: int) -> None:
        """Ask further questions of a finished run's agents (an interview session, written
        after the run's last round): call ids go on from `first_call_id`, the next free id of
        the run's `llm_calls`, and each agent's calls are counted afresh inside `scope`, which
        becomes part of their cache keys. So a session's replies are cached apart from the
        run's and from other sessions', and a replay that re-executes the session with the
        same scope and first call id finds its logged calls again."""
        if not scope:
            raise ValueError("a session needs a scope of its own")
        self._scope = f"{scope}/"
        self._next_call_id = first_call_id
        self._requests_by_agent = Counter()

    def resolve(self, batch: list[DecisionRequest], store: RunStore | None = None) -> list[Any]:
        """Answer every request of the batch; returns decisions in the batch's order."""
        decisions: list[Any] = [None] * len(batch)
        rules, llm_positions = split_by_brain(batch)
        if rules:
            if getattr(batch[0].agent.model, "bulk_decisions", True):
                answered = answer_rules(batch, rules)
            else:  # the reference path (World.bulk_decisions off): one question at a time
                answered = [batch[i].agent.brain.answer(batch[i].task) for i in rules]
            for position, decision in zip(rules, answered, strict=True):
                decisions[position] = decision
            self.stats.decisions["rule"] += len(rules)
        resolutions: dict[int, Resolution] = {}
        if llm_positions:
            self._check_budget(len(llm_positions))
            asked = [batch[i] for i in llm_positions]
            # Rows of a round the store has committed: this batch was answered before.
            recorded = self._recorded(asked, store) if store and store.catching_up else None
            try:
                answered = self._event_loop().run(self._ask_models(asked, recorded))
            finally:  # also when the provider is down: the account says what it went through
                clients = self._clients.values()
                self.stats.breaker_trips = sum(c.breaker.trips for c in clients)
                self.stats.probes = sum(c.probes for c in clients)
                self.stats.probe_cost_usd = sum(c.probe_cost_usd for c in clients)
            self.fallback_guard.observe_batch(  # stops a run of fallbacks on failed calls
                answered, replaying=recorded is not None, settings=asked[0].agent.brain.settings)
            for position, resolution in zip(llm_positions, answered, strict=True):
                resolutions[position] = resolution
                decisions[position] = resolution.decision
                self._account(batch[position], resolution)
        if store is not None:  # one insert per table and batch: big populations log fast
            self._log(batch, decisions, resolutions, store)
        return decisions

    async def _ask_models(
        self, requests: list[DecisionRequest], recorded: dict[int, list[Completion]] | None
    ) -> list[Resolution]:
        ordinals = []
        for request in requests:  # an agent's n-th request: its identity for the cache
            ordinals.append(self._requests_by_agent[request.agent.name])
            self._requests_by_agent[request.agent.name] += 1
        tasks = [
            asyncio.ensure_future(self._ask_model(
                r, n, None if recorded is None else recorded.get(r.request_id, [])
            ))
            for r, n in zip(requests, ordinals, strict=True)
        ]
        try:
            return await asyncio.gather(*tasks)  # in request order, whatever finished first
        except BaseException:
            # A fatal error (or Ctrl-C) ends the batch: its other calls must not keep running
            # on the loop, sending requests for a run that is stopping.
            for task in tasks:
                task.cancel()
            raise

    def _recorded(
        self, requests: list[DecisionRequest], store: RunStore
    ) -> dict[int, list[Completion]]:
        """The completions the store logged for these requests, in call order.

        Call ids are handed out in request order, so this batch's calls are the stored rows
        from the next call id on, as long as they belong to its requests.
        """
        wanted = {request.request_id for request in requests}
        recorded: dict[int, list[Completion]] = {}
        for row in store.logged_calls(self._next_call_id, wanted):
            recorded.setdefault(row["request_id"], []).append(Completion(
                text=row["reply"] if row["outcome"] != "error" else None,
                prompt_tokens=row["prompt_tokens"] or 0,
                completion_tokens=row["completion_tokens"] or 0,
                cost_usd=row["cost_usd"] or 0.0,
                latency_s=row["latency_s"] or 0.0,
                attempts=row["attempts"] or 0,
                error=row["error"],
            ))
        return recorded

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
                settings=settings.reply_identity(),
                messages=messages,
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
            where = "cached" if self.cache is not None else "stored"
            raise CacheMiss(
                f"replay-only run: no {where} reply for {request.agent.name}'s call {ordinal}"
                f" ({request.task.kind} at simulated time {request.sim_time:g})"
            )
        client = self._client(settings)  # failing structured output: asked again plainly
        completion, plainly = await ask_plainly(
            lambda form: client.complete(messages, response_format=form), response_format,
            settings in self._plain_only)
        if plainly:
            self._plain_only.add(settings)
        if self.cache is not None and key is not None and completion.text is not None:
            self.cache.put(key, settings.model, completion)  # never a failure: see sim.llm.cache
        return completion

    async def _ask_model(
        self, request: DecisionRequest, ordinal: int, recorded: list[Completion] | None
    ) -> Resolution:
        """Decide, repair, or fall back; `recorded` replays the calls a store logged."""
        brain = request.agent.brain
        assert isinstance(brain, LLMBrain)
        task = request.task
        messages = task.messages()
        response_format = task.response_format()
        calls: list[CallRecord] = []
        for attempt in range(self.max_repairs + 1):
            purpose = "decide" if attempt == 0 else "repair"
            if recorded is not None:
                completion = self._replayed(request, recorded, attempt)
            else:
                completion = await self._complete(
                    request, brain.settings, messages, response_format,
                    f"{self._scope}{ordinal}.{attempt}",
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
            self._check_all_replayed(request, recorded, attempt)
            return Resolution(decision, "llm" if attempt == 0 else "repaired", calls)
        self._check_all_replayed(request, recorded, len(calls) - 1)
        return Resolution(task.fallback(), "fallback", calls)

    def _replayed(self, request: DecisionRequest, recorded: list[Completion], attempt: int
                  ) -> Completion:
        if attempt >= len(recorded):
            raise ResumeDiverged(
                f"re-executing the run asked {request.agent.name} (request "
                f"{request.request_id}) for call {attempt + 1}, but the store logged "
                f"{len(recorded)}: the code or config differ from the original run's"
            )
        self.stats.replayed_calls += 1
        return recorded[attempt]

    @staticmethod
    def _check_all_replayed(
        request: DecisionRequest, recorded: list[Completion] | None, last: int
    ) -> None:
        if recorded is not None and len(recorded) != last + 1:
            raise ResumeDiverged(
                f"re-executing the run used {last + 1} of the {len(recorded)} calls the store "
                f"logged for {request.agent.name} (request {request.request_id}): the code or "
                "config differ from the original run's"
            )

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

    def _log(self, batch: list[DecisionRequest], decisions: list[Any],
             resolutions: dict[int, Resolution], store: RunStore) -> None:
        """The batch's `decisions` rows (those `log_decisions` asks for) and `llm_calls` rows,
        in request order, one insert per table."""
        bulk = getattr(batch[0].agent.model, "bulk_decisions", True)
        rows = rule_decision_rows if bulk else reference_decision_rows
        if self.log_decisions == "all" and not resolutions:
            store.insert_rows("decisions", rows(batch, decisions))
            return
        decision_rows: list[tuple] = []
        call_rows: list[dict[str, Any]] = []
        for position, request in enumerate(batch):
            resolution = resolutions.get(position)
            if resolution is None:
                if self.log_decisions == "all":
                    decision_rows += rows([request], [decisions[position]])
                continue
            if self.log_decisions != "none":
                decision_rows += rows([request], [resolution.decision],
                                      resolution.source, len(resolution.calls))
            self._call_rows(request, resolution, call_rows)
        store.insert_rows("decisions", decision_rows)
        store.insert_calls(call_rows)

    def _call_rows(self, request: DecisionRequest, resolution: Resolution,
                   call_rows: list[dict[str, Any]]) -> None:
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
                    "messages": call.messages,
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
            client = self._clients[settings] = LLMClient(settings, self.limiter)
        return client

    def _event_loop(self) -> LoopThread:
        # One loop for the whole run: litellm's HTTP clients are bound to the loop they were
        # created on, so a fresh loop per batch would leave them dangling.
        if self._loop is None or self._loop.closed:
            self._loop = LoopThread()
        return self._loop

    def transports(self) -> dict[str, str]:
        """How each model's calls travelled ('direct' or 'litellm', `sim.llm.transport`), for
        the models that were called."""
        return {settings.model: client.transport_name
                for settings, client in self._clients.items() if client.transport_name}

    def close(self) -> None:
        """End the run's event loop, cancelling calls in flight and litellm's workers first."""
        loop, self._loop = self._loop, None
        for client in self._clients.values():
            if loop is not None and not loop.closed:
                with contextlib.suppress(Exception):  # its sessions live on this loop
                    loop.run(client.aclose())
            client.close()  # e.g. stops the server of a local model (sim.llm.local_model)
        if loop is not None and not loop.closed and hasattr(self.limiter, "aclose"):
            with contextlib.suppress(Exception):  # its connections live on this loop
                loop.run(self.limiter.aclose())
        if loop is not None:
            loop.close()
