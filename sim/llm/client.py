"""One chat completion with deadlines, retries and backoff, whichever transport carries it
(litellm, or straight to an OpenAI-compatible server: `sim.llm.transport`).

Everything that can go wrong between a prompt and a reply is decided here, so the rest of the
engine sees only the three outcomes of `sim.llm.outcomes`: a `Completion` (with `text=None`
when this request failed while the provider otherwise works, and the caller should fall back),
`ModelUnreachable` (the model cannot be used as configured; the run stops with one line) or
`ProviderDown` (the provider has failed everything for longer than the breaker's patience; the
run stops resumably rather than fill a population with fallbacks). What each exception litellm
raises means is read in `sim.llm.failures`; this module is the control flow around it.

Misconfiguration shows on the first call, so a client's first call goes alone (the run's
preflight): the others wait until it has an answer, and a misconfigured model costs one request,
not one per agent. When a call runs out of retries, one tiny probe request (shared by the calls
asking at the same moment) asks whether the provider answers at all: if it does, the failure
belongs to this request (fallback); if not, the provider is down and the call keeps waiting
for it, up to the patience. A run therefore never fills up with fallbacks during an outage.

Each request (retries and probes included) waits for a permit from the run's limiter
(`sim.llm.ratelimit`), which a sweep shares among its runs, and a 429 is reported to it, so
that every run using the endpoint pauses, not only the call that got it.

litellm is imported lazily, after `sim._offline`, because importing it costs seconds and
rule-only runs must not pay for it. Retries are ours, not litellm's: its inner client is told
`max_retries=0` (otherwise each attempt silently becomes three and timeouts triple), and its
cache is never used (the project keeps its own, keyed for replay).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
import weakref
from typing import TYPE_CHECKING, Any

import sim._offline  # noqa: F401  (sets litellm's offline environment; cheap, unlike litellm)
from sim.llm.breaker import CircuitBreaker
from sim.llm.failures import (
    EmptyReply,
    Outcome,
    classify,
    describe,
    one_line,
    rate_limited,
    retry_after,
)
from sim.llm.outcomes import Completion, ModelUnreachable, ProviderDown
from sim.llm.ratelimit import Limiter, Permit, endpoint_key, estimate_tokens
from sim.llm.redaction import scrub_values
from sim.llm.settings import LOCAL_DUMMY_KEY, LLMSettings

if TYPE_CHECKING:
    from sim.llm.local_model import Endpoint
    from sim.llm.transport import DirectTransport, LiteLLMTransport

__all__ = ["LLMClient"]

#: What a probe asks: the cheapest question any chat model answers.
_PROBE_MESSAGES = [{"role": "user", "content": "Reply with OK."}]
_PROBE_MAX_TOKENS = 8


def _load_litellm() -> Any:
    """Import litellm on first use, offline-configured and quiet."""
    import litellm

    # Its "Give Feedback / Get Help" banners go to stdout on every failure; ours are enough.
    litellm.suppress_debug_info = True
    return litellm


class LLMClient:
    """Completes chat prompts against one model, bounded to `max_concurrency` in flight."""

    def __init__(self, settings: LLMSettings, limiter: Limiter | None = None) -> None:
        self.settings = settings
        #: Shared with other runs (`sim.llm.ratelimit`): asked before every request.
        self.limiter = limiter
        self._limit_key = endpoint_key(settings.model, settings.api_base)
        self._litellm: Any = None
        self._rng = random.Random()  # jitter only; never a simulation rng
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._semaphores = weakref.WeakKeyDictionary()
        #: The first call in flight on each loop, which the others wait for (the preflight).
        self._first_calls: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event]
        self._first_calls = weakref.WeakKeyDictionary()
        self._probes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task]
        self._probes = weakref.WeakKeyDictionary()
        self._api_key: str | None = None
        self._api_key_resolved = False
        self._endpoint: Endpoint | None = None  # resolved on first use (sim.llm.local_model)
        #: litellm, or straight to an OpenAI-compatible server (sim.llm.transport); first use
        self._transport: LiteLLMTransport | DirectTransport | None = None
        self._endpoint_error: ModelUnreachable | None = None
        self._answered = False  # the provider has answered once: the configuration works
        self._stopped: ModelUnreachable | ProviderDown | None = None  # ends every later call
        self.probes = 0  # "does the provider answer at all?" requests, for the account
        self.probe_cost_usd = 0.0
        #: Pauses dispatch when the provider fails repeatedly, and says when to stop waiting.
        self.breaker = CircuitBreaker(
            threshold=settings.breaker_threshold,
            cooldown_s=settings.breaker_cooldown_s,
            patience_s=settings.outage_patience_s,
        )

    def __repr__(self) -> str:
        return f"LLMClient(model={self.settings.model!r}, api_base={self.settings.api_base!r})"

    async def complete(
        self, messages: list[dict], *, response_format: dict | None = None
    ) -> Completion:
        """Ask the model once, retrying transient failures; see the module docstring."""
        settings = self.settings
        endpoint = self._ensure_endpoint()  # first: a missing local extra fails fast
        api_key = self._resolve_api_key()  # then a missing key, before seconds of import
        self._ensure_litellm()
        self._ensure_transport(endpoint, endpoint.api_key or api_key)
        kwargs: dict[str, Any] = {
            "model": endpoint.model,
            "messages": messages,
            "temperature": settings.temperature,
            "max_tokens": settings.max_tokens,
            "timeout": settings.timeout_s,
            "api_base": endpoint.api_base,
            "api_key": endpoint.api_key or api_key,
            "max_retries": 0,
            # Lets e.g. reasoning models that reject `temperature` still be used.
            "drop_params": True,
        }
        if response_format is not None:
            kwargs["response_format"] = endpoint.adapt_response_format(response_format)
        loop = asyncio.get_running_loop()
        while not self._answered and self._stopped is None:
            first = self._first_calls.get(loop)
            if first is None:  # this call is the preflight: the others wait for its outcome
                first = self._first_calls[loop] = asyncio.Event()
                try:
                    return await self._attempts(kwargs)
                finally:
                    del self._first_calls[loop]
                    first.set()
            await first.wait()
        if self._stopped is not None:
            raise self._stopped
        return await self._attempts(kwargs)

    async def _attempts(self, kwargs: dict[str, Any]) -> Completion:
        """One call: attempts with backoff until a reply, a fallback, or a reason to stop."""
        settings, breaker, transport = self.settings, self.breaker, self._transport
        assert transport is not None
        semaphore = self._semaphore()
        result = Completion(text=None)
        elapsed = 0.0
        attempt = 0
        probed = False
        while True:
            elapsed += await breaker.wait_until_closed()
            if self._stopped is not None:  # another call found the model unusable meanwhile
                raise self._stopped
            async with semaphore:
                permit = await self._permit(kwargs)
                started = time.perf_counter()
                outcome: Outcome | None = None
                asked_wait: float | None = None
                spent = result.cost_usd
                try:
                    response = await asyncio.wait_for(
                        transport.send(kwargs),
                        # A guard for provider paths that ignore `timeout`; the transport's
                        # own deadline normally fires first.
                        timeout=settings.timeout_s + 1.0,
                    )
                    self._account(result, response)
                    result.text = scrub_values(_reply_text(response))
                except Exception as exc:
                    outcome = classify(exc, self._litellm)
                    result.error = describe(exc, outcome, self.settings, self._litellm)
                    asked_wait = retry_after(exc)
                    if self.limiter is not None and rate_limited(exc):
                        # Every run on this endpoint waits, not only this call (module doc).
                        await self.limiter.pause(self._limit_key,
                                                 self._backoff(attempt, asked_wait))
                finally:
                    result.attempts += 1
                    elapsed += time.perf_counter() - started
                    if permit is not None:
                        await self.limiter.release(permit, result.cost_usd - spent)
            if outcome is None:
                breaker.record_success()
                self._answered = True
                result.error = None
                break
            if outcome == "fatal":
                raise self._stop(ModelUnreachable(self._unreachable_message(result.error)))
            if outcome == "give_up":
                break  # this prompt cannot be answered, but the model works
            breaker.record_failure()
            if outcome == "connection" and not self._answered:
                # Nothing has ever answered at this address: a wrong api_base or a server that
                # is not running. Waiting would only delay the message.
                raise self._stop(ModelUnreachable(self._unreachable_message(result.error)))
            attempt += 1
            if attempt > settings.max_retries:
                # Out of retries. Fall back only if the provider demonstrably works right now
                # (other calls' successes could predate the failure: an outage's first moments);
                # a refused connection never belongs to one request.
                if outcome != "connection" and not probed:
                    probed = True
                    if await self._provider_answers(kwargs):
                        break
                if breaker.out_of_patience:
                    raise self._stop(ProviderDown(self._down_message(result.error)))
            wait = self._backoff(attempt - 1, asked_wait)
            if attempt > settings.max_retries:  # waiting out an outage: not past the patience
                left = settings.outage_patience_s - breaker.down_for()
                wait = min(wait, max(left, 0.0) + 0.01)
            await asyncio.sleep(wait)
            elapsed += wait
        result.latency_s = elapsed
        return result

    async def _provider_answers(self, kwargs: dict[str, Any]) -> bool:
        """Whether the provider answers a trivial request; one probe in flight per loop."""
        loop = asyncio.get_running_loop()
        task = self._probes.get(loop)
        if task is None:
            task = self._probes[loop] = loop.create_task(self._probe(kwargs))
            task.add_done_callback(lambda _: self._probes.pop(loop, None))
        return await task

    async def _probe(self, kwargs: dict[str, Any]) -> bool:
        probe = {**kwargs, "messages": _PROBE_MESSAGES,
                 "max_tokens": min(self.settings.max_tokens, _PROBE_MAX_TOKENS)}
        probe.pop("response_format", None)
        self.probes += 1
        spent = Completion(text=None)
        async with self._semaphore():
            permit = await self._permit(probe)
            try:
                assert self._transport is not None
                response = await asyncio.wait_for(
                    self._transport.send(probe), timeout=self.settings.timeout_s + 1.0
                )
                self._account(spent, response)
            except Exception as exc:
                if classify(exc, self._litellm) == "fatal":  # e.g. the key was revoked mid-run
                    error = describe(exc, "fatal", self.settings, self._litellm)
                    raise self._stop(ModelUnreachable(self._unreachable_message(error))) from None
                return False
            finally:
                if permit is not None:
                    await self.limiter.release(permit, spent.cost_usd)
        self.probe_cost_usd += spent.cost_usd
        self.breaker.record_success()
        self._answered = True
        return True

    def _stop(self, error: ModelUnreachable | ProviderDown) -> ModelUnreachable | ProviderDown:
        """Remember why the model cannot be used, so calls still queued end the same way."""
        if self._stopped is None:
            self._stopped = error
        return error

    def close(self) -> None:
        """Give back what the client holds outside this process: a local model's server."""
        endpoint, self._endpoint = self._endpoint, None
        if endpoint is not None:
            endpoint.close()

    async def aclose(self) -> None:
        """Close what the transport holds on the running loop (the direct one's session)."""
        if self._transport is not None:
            await self._transport.aclose()

    @property
    def transport_name(self) -> str | None:
        """'direct' or 'litellm' once the first call chose; None before."""
        return None if self._transport is None else self._transport.name

    # -- helpers -------------------------------------------------------------------------------

    async def _permit(self, kwargs: dict[str, Any]) -> Permit | None:
        """Wait for the shared limiter's leave to send this request (None: no limiter)."""
        if self.limiter is None:
            return None
        tokens = estimate_tokens(kwargs["messages"], kwargs["max_tokens"])
        return await self.limiter.acquire(self._limit_key, tokens, self.settings.timeout_s + 5)

    def _ensure_endpoint(self) -> Endpoint:
        """Where calls go: the settings' model as given, or (`local/...`) a server started
        for it. A failure to start is kept, so a batch does not try once per request."""
        if self._endpoint is None:
            if self._endpoint_error is not None:
                raise self._endpoint_error
            from sim.llm.local_model import endpoint_for

            try:
                self._endpoint = endpoint_for(self.settings)
            except ModelUnreachable as error:
                self._endpoint_error = error
                raise
        return self._endpoint

    def _ensure_litellm(self) -> Any:
        if self._litellm is None:
            self._litellm = _load_litellm()
        return self._litellm

    def _ensure_transport(self, endpoint: Endpoint, api_key: str | None) -> None:
        """Choose how this client's requests travel, once (`sim.llm.transport`)."""
        if self._transport is None:
            from sim.llm.transport import choose_transport

            self._transport = choose_transport(self.settings, endpoint, self._litellm, api_key)

    def _semaphore(self) -> asyncio.Semaphore:
        """One semaphore per running loop: a semaphore cannot be shared across event loops."""
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            limit = self.settings.max_concurrency
            if self._endpoint is not None and self._endpoint.max_concurrency is not None:
                limit = min(limit, self._endpoint.max_concurrency)
            semaphore = asyncio.Semaphore(limit)
            self._semaphores[loop] = semaphore
        return semaphore

    def _resolve_api_key(self) -> str | None:
        """The key to send, read from the environment once; None lets litellm find its own."""
        if not self._api_key_resolved:
            settings = self.settings
            if settings.api_key_env:
                key = os.environ.get(settings.api_key_env)
                if not key:
                    raise ModelUnreachable(
                        f"model {settings.model!r}: environment variable "
                        f"{settings.api_key_env} (api_key_env) is not set"
                    )
                self._api_key = key
            elif (
                settings.model.startswith("openai/")
                and settings.api_base
                and not os.environ.get("OPENAI_API_KEY")
            ):
                self._api_key = LOCAL_DUMMY_KEY
            self._api_key_resolved = True
        return self._api_key

    def _account(self, result: Completion, response: Any) -> None:
        usage = getattr(response, "usage", None)
        if usage is not None:
            result.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
            result.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)
        assert self._transport is not None
        result.cost_usd += self._transport.cost(response)

    def _backoff(self, attempt: int, asked_wait: float | None) -> float:
        """Exponential backoff with jitter, or the server's Retry-After; capped either way."""
        cap = self.settings.backoff_max_s
        if asked_wait is not None:
            return min(cap, max(0.0, asked_wait))
        base = self.settings.backoff_base_s * (2**attempt)
        return min(cap, base + self._rng.uniform(0.0, base * 0.25))

    def _down_message(self, error: str | None) -> str:
        where = f" at {self.settings.api_base}" if self.settings.api_base else ""
        return one_line(
            f"model {self.settings.model!r}{where} has failed every call for "
            f"{self.breaker.down_for():.0f} s (outage_patience_s = "
            f"{self.settings.outage_patience_s:g}); last error: {error}"
        )

    def _unreachable_message(self, error: str | None) -> str:
        where = f" at {self.settings.api_base}" if self.settings.api_base else ""
        return one_line(f"cannot use model {self.settings.model!r}{where}: {error}")


def _reply_text(response: Any) -> str:
    """The assistant's text, or `EmptyReply` when there is none (litellm raises nothing)."""
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise EmptyReply("the response had no choices")
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    if not isinstance(content, str) or not content.strip():
        raise EmptyReply("the response had no content")
    return content
