"""Each reply is priced once, by litellm, and that figure is what the run records.

litellm prices every response before returning it (`_hidden_params["response_cost"]`, from its
bundled price table, offline); the client used to price it a second time with
`litellm.completion_cost`, a few ms of CPU per call for the same number.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sim.llm.client import LLMClient
from sim.llm.outcomes import Completion
from sim.llm.settings import LLMSettings
from sim.testing.scripted_server import Fault, ScriptedLLMServer, count_tokens

MESSAGES = [{"role": "user", "content": "How much do you give?"}]
PRICED_MODEL = "openai/gpt-4o-mini"  # in litellm's bundled price table


def complete(url: str, model: str, **overrides: Any) -> Completion:
    settings = LLMSettings(model=model, api_base=url, timeout_s=5.0, backoff_base_s=0.01,
                           backoff_max_s=0.05, **overrides)
    return asyncio.run(LLMClient(settings).complete(MESSAGES))


@pytest.fixture
def pricing_calls(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every call of litellm.completion_cost from here on (the second pricing)."""
    import litellm

    calls: list[object] = []
    real = litellm.completion_cost

    def counted(*args: Any, **kwargs: Any) -> float:
        calls.append(kwargs.get("completion_response"))
        return real(*args, **kwargs)

    monkeypatch.setattr(litellm, "completion_cost", counted)
    return calls


def test_cost_is_litellms_figure_for_the_reply(pricing_calls: list[object]) -> None:
    import litellm

    reply = "I give forty percent of my resources."
    with ScriptedLLMServer([Fault("status", status=500), reply]) as server:
        result = complete(server.url, PRICED_MODEL, max_retries=1)
    assert result.text == reply and result.attempts == 2
    price = litellm.model_cost[PRICED_MODEL.split("/", 1)[1]]
    expected = (count_tokens(MESSAGES[0]["content"]) * price["input_cost_per_token"]
                + count_tokens(reply) * price["output_cost_per_token"])
    assert expected > 0
    assert result.cost_usd == pytest.approx(expected, rel=1e-9)  # the failed attempt is free
    assert pricing_calls == [], "the reply was priced a second time"


def test_a_model_without_a_price_costs_nothing(pricing_calls: list[object]) -> None:
    with ScriptedLLMServer() as server:
        result = complete(server.url, "openai/scripted")
    assert result.text == "OK" and result.cost_usd == 0.0
    assert pricing_calls == []
