"""Every reproduction scheme in a real run: LLM brains beside rule brains, resumed after a stop
and replayed, on a tiny public goods game through the scripted model server.

What a user relies on: a run stopped part-way (here by a call budget) and resumed ends with
the same store as an uninterrupted one, `societas replay` reproduces every checkpoint, and an
LLM newcomer's recorded parents are exactly the players whose strategies it was shown.
"""

from __future__ import annotations

import json
import re

import pytest
from run_helpers import query, quiet

from scenarios.public_goods import SCENARIO
from scenarios.public_goods.config import PublicGoodsConfig
from sim import Budget, load_config, snapshot
from sim.runs.replay import replay_run
from sim.runs.runner import resume_run, run_scenario
from sim.testing import ChatRequest, ScriptedLLMServer

QUOTED_AUTHOR = re.compile(r'<agent_text author="([^"]+)">')


def player(request: ChatRequest) -> str:
    """Contributes 10; a strategy names its author, so advice can be traced to it."""
    prompt = request.messages[1]["content"]
    if "How many of them do you contribute" in prompt:
        return '{"reasoning": "fair", "contribution": 10}'
    name = re.search(r"Your name is (\S+)\.", prompt).group(1)  # type: ignore[union-attr]
    return json.dumps({"strategy": f"the strategy of {name}"})


def config(server: ScriptedLLMServer, reproduction: str) -> PublicGoodsConfig:
    return load_config(PublicGoodsConfig, values={
        "model": "openai/scripted", "api_base": server.url, "timeout_s": 5.0, "seed": 3,
        "agents": 4, "group_size": 2, "multiplier": 1.5, "generations": 3, "rounds": 2,
        "brains": {"llm": 1, "rule": 1}, "reproduction": reproduction,
        "fitness": "exponential" if reproduction == "moran" else "payoff"})


@pytest.mark.parametrize("reproduction", ["truncation", "wright_fisher", "moran", "tournament"])
def test_every_scheme_resumes_replays_and_records_the_parents_newcomers_read(
        tmp_path, reproduction: str) -> None:
    with ScriptedLLMServer(player) as server:
        reference = run_scenario(SCENARIO, config(server, reproduction),
                                 run_dir=tmp_path / "ref", options=quiet(use_cache=False))
        stopped = run_scenario(SCENARIO, config(server, reproduction), run_dir=tmp_path / "run",
                               options=quiet(budget=Budget(max_calls=9)))
        assert stopped.status == "budget"
        resumed = resume_run(stopped.run_dir, quiet())
        inherit_prompts = [r.messages[1]["content"] for r in server.requests
                           if "you learn from" in r.messages[1]["content"]]
    assert resumed.status == "finished" and resumed.replayed_checkpoints > 0
    expected = snapshot(reference.run_dir / "run.sqlite")
    assert snapshot(resumed.run_dir / "run.sqlite") == expected
    assert replay_run(resumed.run_dir).checkpoints == len(expected["checkpoints"])

    newcomers = {agent: json.loads(parents) for agent, parents in query(
        reference.run_dir, "SELECT agent_id, parents FROM agents "
                           "WHERE generation > 0 AND brain = 'llm'")}
    shown = {re.search(r"Your name is (\S+)\.", p).group(1): QUOTED_AUTHOR.findall(p)
             for p in inherit_prompts}
    assert newcomers  # (seed 3: Moran too replaces LLM players, twice)
    for agent, parents in newcomers.items():
        assert len(parents) == 1  # one parent, drawn, never the whole surviving population
        assert shown[agent] == parents  # and its strategy is exactly what the newcomer read
