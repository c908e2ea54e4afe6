"""The direct transport: the same stores, outcomes and messages as litellm, at a fraction of
the CPU per call. Every scenario is run against the scripted server twice, once per transport,
and the stores compared table by table; every fault the server can inject must come back from
the client the same way, whichever transport met it."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from run_helpers import query, quiet
from test_commons import player as commons_player
from test_ipd import tit_for_tat_model
from test_network_norms import player as network_player
from test_public_goods import player as public_goods_player
from town_helpers import party, tiny_town, town_player

from scenarios.donor_game.scripted_player import scripted_player
from sim import ConfigError, get_scenario, load_config, snapshot
from sim.llm.client import LLMClient
from sim.llm.local_model import Endpoint
from sim.llm.outcomes import ModelUnreachable
from sim.llm.ratelimit import LocalLimiter
from sim.llm.settings import LLMSettings
from sim.llm.transport import choose_transport
from sim.runs.replay import replay_run
from sim.runs.runner import run_scenario
from sim.testing import ChatRequest, Fault, ScriptedLLMServer


def scenario_runs(tmp_path: Path) -> dict[str, tuple[Any, dict[str, Any]]]:
    return {
        "donor-game": (scripted_player, {"agents": 4, "generations": 2, "rounds": 2,
                                         "brains": {"llm": 1, "rule": 1}}),
        "ipd-tournament": (tit_for_tat_model, {
            "strategies": ["llm", "llm", "random", "defector"], "turns": 3, "repetitions": 1,
            "noise": 0.1}),
        "network-norms": (network_player, {"graph": "ring", "nodes": 6, "degree": 2,
                                           "steps": 2, "llm_revision_probability": 1.0,
                                           "brains": {"llm": 1, "rule": 1}}),
        "public-goods": (public_goods_player, {"agents": 4, "generations": 1, "rounds": 2,
                                               "punishment": "costly"}),
        "commons": (commons_player, {"agents": 3, "seasons": 2,
                                     "brains": {"llm": 2, "sustainable": 1}}),
        "town": (town_player, {"town_file": str(tiny_town(tmp_path / "town.toml", 2)),
                               "days": 1, "intentions": party()}),
    }


SCENARIOS = ["donor-game", "ipd-tournament", "network-norms", "public-goods", "commons", "town"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_scenario_stores_the_same_whichever_transport_carried_its_calls(
        name: str, tmp_path: Path) -> None:
    player, values = scenario_runs(tmp_path)[name]
    scenario = get_scenario(name)
    stores = {}
    with ScriptedLLMServer(player) as server:
        for transport in ("litellm", "direct"):
            config = load_config(scenario.config_type, values={
                "model": "openai/scripted", "api_base": server.url, "timeout_s": 5.0,
                "seed": 3, "transport": transport, **values})
            result = run_scenario(scenario, config, run_dir=tmp_path / transport,
                                  options=quiet(use_cache=False))
            assert result.status == "finished", result.message
            stores[transport] = snapshot(result.run_dir / "run.sqlite")
            recorded = query(result.run_dir, "SELECT value FROM meta WHERE key = 'transport'")
            assert json.loads(recorded[0][0]) == {"openai/scripted": transport}
    assert stores["litellm"] == stores["direct"]
    assert stores["direct"]["llm_calls"]


def test_auto_goes_direct_to_a_local_server_and_replays_from_its_store(tmp_path: Path) -> None:
    scenario = get_scenario("donor-game")
    with ScriptedLLMServer(scripted_player) as server:
        config = load_config(scenario.config_type, values={
            "model": "openai/scripted", "api_base": server.url, "agents": 4, "generations": 1,
            "rounds": 2})
        result = run_scenario(scenario, config, run_dir=tmp_path / "r", options=quiet())
        asked = server.request_count
        replayed = replay_run(result.run_dir)
        assert server.request_count == asked  # the replay asked nothing
    assert query(result.run_dir, "SELECT value FROM meta WHERE key = 'transport'") == [
        ('{"openai/scripted":"direct"}',)]
    assert replayed.calls == asked


FAULTS = {
    "429": Fault("status", status=429, retry_after=0.2),
    "500": Fault("status", status=500),
    "503": Fault("status", status=503, message="overloaded"),
    "timeout": Fault("timeout", delay=1.0),
    "malformed": Fault("malformed_json"),
    "empty": Fault("empty_choices"),
    "blank": "   ",
    "401": Fault("status", status=401, message="bad key sk-abcdefghijklmnopqrstuvwx"),
    "404": Fault("status", status=404, message="no such model"),
    "400": Fault("status", status=400, message="maximum context length exceeded"),
}


def call_with(fault: Any, transport: str) -> tuple[list[Any], float]:
    """A warm-up call, then one met by `fault` on both attempts (a probe answers OK):
    what the client returns or raises, and how long it took."""

    def responder(request: ChatRequest) -> Any:
        content = request.messages[-1]["content"]
        return fault if content == "x" and request.index > 0 else "ok"

    async def go(url: str) -> list[Any]:
        limiter = LocalLimiter()
        client = LLMClient(LLMSettings(
            model="openai/scripted", api_base=url, timeout_s=0.3, max_retries=1,
            backoff_base_s=0.0, backoff_max_s=1.0, breaker_threshold=100,
            transport=transport), limiter)
        try:
            await client.complete([{"role": "user", "content": "warm up"}])
            try:
                r = await client.complete([{"role": "user", "content": "x"}])
                outcome = [r.text, r.error, r.attempts, r.prompt_tokens, r.completion_tokens]
            except ModelUnreachable as error:
                outcome = ["unreachable", str(error)]
            return [*outcome, client.probes, limiter.core.pauses, client.transport_name]
        finally:
            await client.aclose()

    with ScriptedLLMServer(responder) as server:
        started = time.monotonic()
        outcome = asyncio.run(go(server.url))
        url = server.url
    return json.loads(json.dumps(outcome).replace(url, "URL")), time.monotonic() - started


@pytest.mark.parametrize("name", list(FAULTS))
def test_every_fault_ends_the_same_way_whichever_transport_met_it(name: str) -> None:
    (litellm, _), (direct, direct_s) = (call_with(FAULTS[name], t) for t in ("litellm",
                                                                            "direct"))
    assert litellm[-1] == "litellm" and direct[-1] == "direct"
    assert litellm[:-1] == direct[:-1]
    if name == "429":  # Retry-After: both 429s paused the endpoint for what the server asked
        assert direct[-2] == 2 and direct_s >= 0.4
    if name == "401":
        assert "***" in direct[1] and "sk-abcdefghijklmnopqrstuvwx" not in direct[1]


def test_a_refused_connection_is_the_same_one_line(tmp_path: Path) -> None:
    messages = []
    for transport in ("litellm", "direct"):
        client = LLMClient(LLMSettings(model="openai/scripted",
                                       api_base="http://127.0.0.1:9/v1", timeout_s=1.0,
                                       transport=transport))

        async def call(client: LLMClient = client) -> None:
            try:
                await client.complete([{"role": "user", "content": "x"}])
            finally:
                await client.aclose()

        with pytest.raises(ModelUnreachable) as error:
            asyncio.run(call())
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert "ConnectionRefusedError" in messages[0]


def test_direct_is_refused_for_providers_it_cannot_reach() -> None:
    scenario = get_scenario("donor-game")
    for values in ({"model": "anthropic/claude-3-5-sonnet-20241022"},
                   {"model": "openai/gpt-4o-mini"}):  # no api_base: OpenAI itself
        with pytest.raises(ConfigError, match="transport 'direct' reaches OpenAI-compatible"):
            load_config(scenario.config_type, values={**values, "transport": "direct"})
    assert load_config(scenario.config_type, values={
        "model": "local/smollm2", "transport": "direct"}).transport == "direct"


def test_auto_leaves_priced_and_rewritten_models_to_litellm() -> None:
    from sim.llm.client import _load_litellm

    litellm = _load_litellm()

    def chosen(model: str, transport: str = "auto") -> str:
        settings = LLMSettings(model=model, api_base="http://127.0.0.1:9/v1",
                               transport=transport)
        return choose_transport(settings, Endpoint(model, settings.api_base), litellm,
                                "k").name

    assert chosen("openai/scripted") == "direct"
    assert chosen("openai/gpt-4o-mini") == "litellm"  # priced by litellm
    assert chosen("openai/o1") == "litellm"  # its parameters rewritten
    assert chosen("openai/scripted", "litellm") == "litellm"
    assert chosen("openai/gpt-4o-mini", "direct") == "direct"  # priced, but plain: allowed
    with pytest.raises(ModelUnreachable, match="rewrites its parameters"):
        chosen("openai/o1", "direct")


def test_a_priced_model_costs_the_same_whichever_transport() -> None:
    costs = []
    with ScriptedLLMServer("four words of reply") as server:
        for transport in ("litellm", "direct"):
            client = LLMClient(LLMSettings(model="openai/gpt-4o-mini", api_base=server.url,
                                           transport=transport))

            async def call(client: LLMClient = client) -> Any:
                try:
                    return await client.complete([{"role": "user", "content": "a b c"}])
                finally:
                    await client.aclose()

            completion = asyncio.run(call())
            costs.append((completion.cost_usd, completion.prompt_tokens,
                          completion.completion_tokens, client.transport_name))
    assert costs[0][:3] == costs[1][:3] and costs[0][0] > 0
    assert re.fullmatch("litellm|direct", costs[1][3])
