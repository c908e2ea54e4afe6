"""The public goods game: its economics, the classic results its rule brains reproduce, its
config errors, determinism, an LLM run through the scripted server, resume and replay, figures.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from run_helpers import query, quiet

from scenarios.public_goods import SCENARIO
from scenarios.public_goods.config import PublicGoodsConfig
from scenarios.public_goods.figures import FIGURE_FILES
from scenarios.public_goods.game import PublicGoodsGame, group_payoffs
from scenarios.public_goods.rules import ConditionalCooperator, Punisher
from scenarios.public_goods.tasks import GameRules, Punish
from sim import Budget, ConfigError, ParseError, get_scenario, load_config, snapshot
from sim.cli import main
from sim.runs.replay import replay_run
from sim.runs.runner import RunOptions, resume_run, run_scenario
from sim.testing import ChatRequest, ScriptedLLMServer

GARBAGE = "🙂 lovely weather today"


def config(**values: object) -> PublicGoodsConfig:
    return load_config(PublicGoodsConfig, values=values)


# -- economics ---------------------------------------------------------------------------------
def test_payoff_formula_on_a_hand_made_group() -> None:
    # pot 0+10+20+10 = 40, times 1.6 = 64, 16 each
    payoffs = group_payoffs([0, 10, 20, 10], endowment=20, multiplier=1.6)
    assert payoffs.tolist() == pytest.approx([36, 26, 16, 26])
    # member 2 gives member 0 three points and member 3 one point (cost 1, fine 3 each)
    points = np.zeros((4, 4))
    points[2, 0], points[2, 3] = 3, 1
    punished = group_payoffs([0, 10, 20, 10], endowment=20, multiplier=1.6, points=points,
                             punishment_cost=1, punishment_fine=3)
    assert punished.tolist() == pytest.approx([36 - 9, 26, 16 - 4, 26 - 3])


def test_groups_are_full_shuffled_each_round_and_cover_everyone() -> None:
    model = PublicGoodsGame(config(agents=12, generations=1, rounds=3, seed=3))
    model.step()  # the population exists once the first round has started
    seen = []
    for _ in range(3):
        groups = model.groups()
        assert sorted(len(g) for g in groups) == [4, 4, 4]
        assert sorted(a.name for g in groups for a in g) == sorted(a.name for a in model.members)
        seen.append([sorted(a.name for a in g) for g in groups])
    assert seen[0] != seen[1] or seen[1] != seen[2]


def test_rules_contribute_and_punish_as_described() -> None:
    observation = {"endowment": 20.0, "previous": None}
    assert ConditionalCooperator(initial=0.5).contribute(observation) == 10.0
    observation["previous"] = {"own": 10.0, "others": [0.0, 6.0, 9.0], "others_mean": 5.0}
    assert ConditionalCooperator(slope=0.8).contribute(observation) == pytest.approx(4.0)
    # the group's mean is 10: member 0 is 10 short, member 3 two short, member 2 is the punisher
    points = Punisher(severity=0.5).punish(
        {"me": 2, "contributions": [0.0, 16.0, 16.0, 8.0], "max_points": 4.0})
    assert points == pytest.approx((4.0, 0.0, 0.0, 1.0))  # 5 points capped at 4


# -- the classic results -----------------------------------------------------------------------
def mean_share_by_generation(seed: int, **values: object) -> tuple[list[float], list[float]]:
    """Mean contribution share per generation, and per round of the first generation."""
    model = PublicGoodsGame(config(seed=seed, agents=24, generations=6, rounds=10, **values))
    model.run_model()
    frame = model.datacollector.get_model_vars_dataframe()
    return (frame.groupby("generation")["mean_share"].mean().tolist(),
            frame[frame["generation"] == 0]["mean_share"].tolist())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_contributions_decay_with_free_riders_and_are_sustained_by_punishers(seed: int) -> None:
    decaying, first = mean_share_by_generation(
        seed, brains={"conditional_cooperator": 2, "free_rider": 1})
    # within a generation: conditional cooperators follow the free riders down
    assert first[-1] < 0.5 * first[0]
    # across generations: free riders out-earn and replace the cooperators
    assert np.mean(decaying[-3:]) < 0.05
    sustained, _ = mean_share_by_generation(
        seed, brains={"conditional_cooperator": 1, "punisher": 1, "free_rider": 1},
        punishment="costly")
    assert np.mean(sustained[-3:]) > 0.25
    assert np.mean(sustained[-3:]) > np.mean(decaying[-3:]) + 0.2


def test_without_punishment_punishers_are_just_conditional_cooperators() -> None:
    model = PublicGoodsGame(config(seed=4, generations=1, rounds=4, brains={"punisher": 1}))
    model.run_model()
    assert model.datacollector.get_model_vars_dataframe()["punishment_points"].sum() == 0


# -- config errors -----------------------------------------------------------------------------
@pytest.mark.parametrize("values, message", [
    ({"multiplier": 1.0}, "multiplier must lie strictly between 1 and group_size"),
    ({"multiplier": 4.0}, "multiplier must lie strictly between 1 and group_size"),
    ({"group_size": 16}, "group_size (16) is larger than the population"),
    ({"agents": 10}, "must be a multiple of group_size"),
    ({"brains": {"tit_for_tat": 1}}, "unknown brain kind"),
])
def test_config_errors_are_one_clear_line(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config(**values)


def test_cli_reports_a_bad_multiplier_in_one_line(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["run", "public-goods", "--set", "multiplier=5", "--out", str(tmp_path),
                   "--quiet"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("societas: error:") and "multiplier" in err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())  # no run directory left behind


# -- runs through the engine -------------------------------------------------------------------
def test_registered_and_deterministic(tmp_path: Path) -> None:
    assert get_scenario("public_goods") is SCENARIO
    runs = []
    for name in ("a", "b"):
        result = run_scenario(SCENARIO, config(seed=5, generations=3, rounds=4,
                                               punishment="costly"),
                              run_dir=tmp_path / name, options=quiet())
        assert result.status == "finished"
        runs.append(snapshot(result.run_dir / "run.sqlite"))
    assert runs[0] == runs[1]
    assert len(runs[0]["contributions"]) == 3 * 4 * 12
    assert runs[0]["punishments"]
    other = run_scenario(SCENARIO, config(seed=6, generations=3, rounds=4, punishment="costly"),
                         run_dir=tmp_path / "c", options=quiet())
    assert snapshot(other.run_dir / "run.sqlite")["contributions"] != runs[0]["contributions"]


def test_run_writes_tables_metrics_summary_and_figures(tmp_path: Path) -> None:
    result = run_scenario(SCENARIO, config(seed=1, generations=3, rounds=5),
                          run_dir=tmp_path / "r", options=RunOptions(progress=False))
    assert [p.name for p in result.figures] == list(FIGURE_FILES)
    assert all(p.stat().st_size > 10_000 for p in result.figures)
    headers, rows = result.summary
    assert headers[:2] == ["generation", "contribution share"] and len(rows) == 3
    shares = dict(query(result.run_dir, "SELECT generation, AVG(share) FROM contributions "
                                        "GROUP BY generation"))
    for generation, share, *_ in rows:
        assert share == pytest.approx(shares[generation - 1])
    steps = query(result.run_dir, "SELECT COUNT(DISTINCT step) FROM metrics WHERE scope='step'")
    assert steps == [(15,)]
    survived = query(result.run_dir, "SELECT generation, SUM(survived) FROM generation_scores "
                                     "GROUP BY generation")
    assert survived == [(0, 6), (1, 6), (2, None)]


def test_model_time_and_steps_count_rounds() -> None:
    model = PublicGoodsGame(config(generations=2, rounds=3))
    model.run_model()
    assert model.steps == 6 and model.time == 6 and not model.running


# -- LLM brains --------------------------------------------------------------------------------
def player(request: ChatRequest) -> str:
    """A scripted model: contributes 10, punishes member 1 unless that is itself, and answers
    everything from g0-a01 with garbage."""
    prompt = request.messages[1]["content"]
    deciding = "How many of them do you contribute" in prompt or "punishment points" in prompt
    if deciding and "Your name is g0-a01." in prompt:
        return GARBAGE
    if "punishment points" in prompt:
        me = "- member 1 (you)" in prompt
        return json.dumps({"reasoning": "member 1 gave least",
                           "points": {"1": 0 if me else 2}})
    if "How many of them do you contribute" in prompt:
        return 'I will match the group. {"reasoning": "fair", "contribution": 10}'
    return json.dumps({"strategy": "I contribute half and punish whoever gives nothing."})


def llm_config(server: ScriptedLLMServer, **values: object) -> PublicGoodsConfig:
    return config(model="openai/scripted", api_base=server.url, agents=4, generations=2,
                  rounds=3, seed=7, timeout_s=5.0, punishment="costly", **values)


def test_llm_run_with_garbage_falls_back_with_a_recorded_reason(tmp_path: Path) -> None:
    with ScriptedLLMServer(player) as server:
        result = run_scenario(SCENARIO, llm_config(server), run_dir=tmp_path / "r",
                              options=quiet())
    assert result.status == "finished"
    run_dir = result.run_dir
    by_task = Counter(query(run_dir, "SELECT task, source FROM decisions"))
    # g0-a01 survives or not; either way its 3 first-generation rounds fell back twice each
    assert by_task[("contribute", "fallback")] >= 3 and by_task[("punish", "fallback")] >= 3
    assert by_task[("contribute", "llm")] > 0 and by_task[("punish", "llm")] > 0
    reasons = dict(query(run_dir, "SELECT d.task, c.error FROM llm_calls c JOIN decisions d "
                                  "USING (request_id) WHERE c.outcome = 'unparsed' "
                                  "AND c.agent_id = 'g0-a01'"))
    assert reasons["contribute"].startswith("no number found")
    assert reasons["punish"].startswith("no punishment points found")
    fallen = query(run_dir, "SELECT contribution FROM contributions WHERE agent_id = 'g0-a01' "
                            "AND generation = 0")
    assert fallen == [(0.0,)] * 3  # the fallback contributes nothing
    kept = {c for (c,) in query(run_dir, "SELECT contribution FROM contributions "
                                         "WHERE agent_id != 'g0-a01'")}
    assert kept == {10.0}
    texts = {t for (t,) in query(run_dir, "SELECT text FROM strategies")}
    assert texts == {"I contribute half and punish whoever gives nothing."}


def test_llm_prompts_quote_survivor_strategies_and_state_the_rules(tmp_path: Path) -> None:
    with ScriptedLLMServer(player) as server:
        run_scenario(SCENARIO, llm_config(server), run_dir=tmp_path / "r", options=quiet())
        requests = server.requests
    system = {r.messages[0]["content"] for r in requests}
    assert len(system) == 1
    (rules,) = system
    assert "multiplied by 1.6" in rules and "costs the member who assigns it 1 units" in rules
    inherit = [r.messages[1]["content"] for r in requests
               if "strategies of the players of the last generation" in r.messages[1]["content"]]
    assert inherit and all('<agent_text author="g0-a0' in p for p in inherit)


def test_punish_parser_reads_leniently_and_refuses_what_it_cannot_read() -> None:
    rules = GameRules.from_config(config(punishment="costly"))
    task = Punish(rules, {"generation": 0, "round": 0, "agent": "x", "me": 1,
                          "contributions": [0.0, 10.0, 5.0, 10.0], "max_points": 10.0,
                          "cost": 1.0, "fine": 3.0})
    assert task.parse('{"points": {"1": 4, "3": 1, "4": 0}}') == (4.0, 0.0, 1.0, 0.0)
    assert task.parse('```json\n{"points": {"member 1": 2}}\n```') == (2.0, 0.0, 0.0, 0.0)
    assert task.parse("Member 1: 3 points, member 3: 0") == (3.0, 0.0, 0.0, 0.0)
    assert task.parse("I do not punish anyone this time.") == (0.0,) * 4
    assert task.parse('{"reasoning": "all fine", "points": {}}') == (0.0,) * 4
    for reply, problem in [(GARBAGE, "no punishment points"), ('{"points": {"2": 3}}',
                           "cannot punish yourself"), ('{"points": {"7": 1}}', "no member 7"),
                           ('{"points": {"1": 50}}', "outside 0 to 10")]:
        with pytest.raises(ParseError, match=problem):
            task.parse(reply)


def test_llm_run_resumes_and_replays_to_the_same_store(tmp_path: Path) -> None:
    with ScriptedLLMServer(player) as server:
        reference = run_scenario(SCENARIO, llm_config(server), run_dir=tmp_path / "ref",
                                 options=quiet(use_cache=False))
        stopped = run_scenario(SCENARIO, llm_config(server), run_dir=tmp_path / "run",
                               options=quiet(budget=Budget(max_calls=20)))
        assert stopped.status == "budget"
        resumed = resume_run(stopped.run_dir, quiet())
    assert resumed.status == "finished" and resumed.replayed_checkpoints > 0
    expected = snapshot(reference.run_dir / "run.sqlite")
    assert snapshot(resumed.run_dir / "run.sqlite") == expected
    replayed = replay_run(resumed.run_dir)
    assert replayed.checkpoints == len(expected["checkpoints"]) and replayed.calls > 0


# -- analysis ----------------------------------------------------------------------------------
def test_declared_analysis_reads_runs_groups_conditions_and_draws(tmp_path: Path) -> None:
    import analysis
    from analysis.scenario import report_context

    runs = []
    for name, punishment in (("none", "none"), ("costly", "costly")):
        result = run_scenario(SCENARIO, config(seed=2, generations=2, rounds=3,
                                               punishment=punishment),
                              run_dir=tmp_path / name, options=quiet())
        runs.append(analysis.load(result.run_dir))
    spec = runs[0].analysis_spec
    headline = spec.headline[0].compute(runs[0])
    shares = runs[0].table("contributions").groupby("generation")["share"].mean()
    assert headline["value"].tolist() == pytest.approx(shares.tolist())
    assert spec.strategy_labels(runs[1]) == dict(query(runs[1].path,
                                                       "SELECT agent_id, kind FROM agents"))
    context = report_context(runs)
    assert set(context.groups.values()) == {"punishment=none", "punishment=costly"}
    parts = spec.sections[0].render(runs, context)
    tables = [p for p in parts if hasattr(p, "columns")]
    assert len(tables) == 2  # one per condition, never pooled
    assert [f.file for f in spec.figures] == list(FIGURE_FILES)
    assert all(f.draw(runs[1]).axes for f in spec.figures)


def test_usage_estimate_counts_every_llm_question() -> None:
    cfg = config(model="openai/x", brains={"llm": 1, "rule": 1}, agents=8, generations=3,
                 rounds=5, punishment="costly")
    estimate = SCENARIO.estimate(cfg)
    # half the members are LLMs: 3 x 5 rounds x 8 members x 2 questions, plus strategies of
    # 8 founders and 4 newcomers in each later generation
    assert estimate.calls == round(0.5 * (3 * 5 * 8 * 2 + 8 + 2 * 4))
    assert estimate.prompt_tokens > 100 * estimate.calls  # the rules alone are ~200 tokens
    assert estimate.max_completion_tokens == estimate.calls * cfg.max_tokens
