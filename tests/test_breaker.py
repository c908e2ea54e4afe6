"""The circuit breaker pauses dispatch to a provider that keeps failing, and only delays."""

from __future__ import annotations

import asyncio
import time

from sim.llm.breaker import CircuitBreaker
from sim.llm.client import LLMClient
from sim.llm.settings import LLMSettings
from sim.testing.scripted_server import Fault, ScriptedLLMServer


def test_opens_after_threshold_and_closes_on_success() -> None:
    breaker = CircuitBreaker(threshold=3, cooldown_s=0.2)
    for _ in range(2):
        breaker.record_failure()
    assert not breaker.is_open
    breaker.record_failure()
    assert breaker.is_open and breaker.trips == 1
    started = time.monotonic()
    waited = asyncio.run(breaker.wait_until_closed())
    assert 0.15 <= time.monotonic() - started < 1.0 and waited > 0.15
    assert not breaker.is_open
    breaker.record_failure()  # still failing right after the pause: re-open, twice as long
    assert breaker.is_open and breaker.trips == 2
    breaker.record_success()
    assert breaker.consecutive_failures == 0


def test_failing_provider_is_paused_then_served() -> None:
    """Six 503s in a row trip the breaker; the calls still succeed once the server recovers."""
    script = [Fault("status", status=503)] * 6 + ["ok"]
    settings = LLMSettings(model="openai/scripted", max_retries=4, backoff_base_s=0.0,
                           backoff_max_s=0.0, breaker_threshold=3, breaker_cooldown_s=0.3)
    with ScriptedLLMServer(script) as server:
        client = LLMClient(LLMSettings(**{**settings.__dict__, "api_base": server.url}))

        async def two_calls() -> list:
            return await asyncio.gather(*(client.complete([{"role": "user", "content": str(i)}])
                                          for i in range(2)))

        started = time.monotonic()
        results = asyncio.run(two_calls())
        took = time.monotonic() - started
    assert [r.text for r in results] == ["ok", "ok"]
    assert client.breaker.trips >= 1
    assert took >= 0.3  # the pause really happened


def test_patience_runs_from_the_first_failure_and_a_success_resets_it() -> None:
    breaker = CircuitBreaker(threshold=1, cooldown_s=30.0, patience_s=0.2)
    assert breaker.down_for() == 0.0 and not breaker.out_of_patience
    breaker.record_failure()  # opens for 30 s, but nobody waits past the patience
    started = time.monotonic()
    asyncio.run(breaker.wait_until_closed())
    assert 0.15 <= time.monotonic() - started < 1.0
    assert breaker.out_of_patience and breaker.down_for() >= 0.2
    breaker.record_success()
    assert breaker.down_for() == 0.0 and not breaker.out_of_patience and not breaker.is_open
