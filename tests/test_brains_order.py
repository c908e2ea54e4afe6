"""`brains` given in any order works with replay and resume, in every scenario that has it.

The mix's order decides which population slot gets which brain, so the run must store the
order it used: the store once recorded the config with sorted keys, and a run whose mix was not
alphabetical (`brains={standing=1, always_defect=1}`, the scaffold README's own example) was
then refused by `replay` and `resume` as if its code or config had changed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from run_helpers import query, quiet

from sim.config import load_config
from sim.registry import get_scenario
from sim.runs.replay import replay_run
from sim.runs.runner import resume_run, run_scenario
from sim.store import snapshot
from sim.testing.scripted_server import ChatRequest, ScriptedLLMServer

#: Each scenario with a `brains` mix, a mix not in alphabetical order, and a small run.
CASES = {
    "donor-game": ({"standing": 1, "always_defect": 1}, {"agents": 4, "generations": 2}),
    "public-goods": ({"punisher": 1, "free_rider": 1},
                     {"agents": 4, "generations": 2, "rounds": 3}),
    "commons": ({"sustainable": 1, "greedy": 1}, {"agents": 4, "generations": 2}),
    "network-norms": ({"rule": 1, "llm": 1},
                      {"graph": "ring", "nodes": 6, "degree": 2, "steps": 3,
                       "llm_revision_probability": 1.0, "stop_at_fixation": False}),
}


def cooperate(request: ChatRequest) -> str:
    return '{"reasoning": "my neighbours earn more", "strategy": "cooperate"}'


class StopAfterFirstStep:
    """Stands in for the runner's progress display: Ctrl-C once the run is under way."""

    def __init__(self, total: int, **_: object) -> None:
        pass

    def update(self, done: int, label: str, detail: str = "") -> None:
        if done >= 1:
            raise KeyboardInterrupt

    def finish(self) -> None:
        pass


@pytest.mark.parametrize("name", list(CASES))
def test_an_unsorted_brains_mix_replays_and_resumes(
        name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    brains, sizes = CASES[name]
    scenario = get_scenario(name)
    with ScriptedLLMServer(cooperate) as server:
        values: dict[str, Any] = {"brains": brains, "seed": 1, **sizes}
        if "llm" in brains:
            values.update(model="openai/scripted", api_base=server.url, timeout_s=5.0)
        config = load_config(scenario.config_type, values=values)
        assert list(config.brains) == list(brains)  # as given: validation keeps the order
        whole = run_scenario(scenario, config, run_dir=tmp_path / "whole", options=quiet())
        assert whole.status == "finished"
        recorded = json.loads(query(whole.run_dir, "SELECT value FROM meta "
                                                   "WHERE key = 'config'")[0][0])
        assert list(recorded["brains"]) == list(brains)  # the order the run used
        assert list(json.loads((whole.run_dir / "config.json").read_text())["brains"]) == list(
            brains)
        assert replay_run(whole.run_dir).checkpoints > 0

        monkeypatch.setattr("sim.runs.runner.Progress", StopAfterFirstStep)
        stopped = run_scenario(scenario, config, run_dir=tmp_path / "stopped", options=quiet())
        monkeypatch.undo()
        assert stopped.status == "interrupted"
        resumed = resume_run(stopped.run_dir, quiet())
    assert resumed.status == "finished" and resumed.replayed_checkpoints > 0
    assert snapshot(resumed.run_dir / "run.sqlite") == snapshot(whole.run_dir / "run.sqlite")
