"""Norm diffusion on a network: the b/c > k rule of Ohtsuki et al. (2006) from the scenario's
own update code, graph construction, config errors, determinism, the LLM path through the
scripted server, figures and the report.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from run_helpers import query, quiet
from scipy.stats import binomtest

from scenarios.network_norms import SCENARIO
from scenarios.network_norms.config import NetworkNormsConfig
from scenarios.network_norms.dynamics import Populations, fixation_runs
from scenarios.network_norms.game import NetworkNorms
from scenarios.network_norms.graphs import build_graph, neighbour_table
from sim import Budget, ConfigError, get_scenario, load_config, snapshot
from sim.cli import main
from sim.runs.runner import RunOptions, resume_run, run_scenario
from sim.testing import ChatRequest, ScriptedLLMServer

GARBAGE = "🙂 lovely weather today"


def config(**values: object) -> NetworkNormsConfig:
    return load_config(NetworkNormsConfig, values=values)  # type: ignore[return-value]


# -- the classic result ------------------------------------------------------------------------
def fixation_of_one_cooperator(benefit_to_cost: float, runs: int = 2000) -> tuple[int, float]:
    """Runs (of `runs`) in which a single cooperator took over a random 3-regular graph of 24
    nodes under death-birth updating and weak selection (w = 0.05), and 1/N."""
    cfg = config(graph="random_regular", nodes=24, degree=3, selection=0.05,
                 update_rule="death_birth", benefit=benefit_to_cost, cost=1.0, seed=11)
    graph = neighbour_table(build_graph(cfg.graph, cfg.nodes, cfg.degree, cfg.rewiring,
                                        cfg.seed))
    estimate = fixation_runs(graph, cfg.payoff_matrix(), runs=runs, w=cfg.selection,
                             rule=cfg.update_rule, rng=np.random.default_rng(2006))
    assert estimate.unfinished == 0 and estimate.fixed + estimate.lost == runs
    return estimate.fixed, 1 / cfg.nodes


def test_cooperation_is_favoured_on_a_regular_graph_when_b_over_c_exceeds_k() -> None:
    """Ohtsuki, Hauert, Lieberman & Nowak (2006): under weak selection and death-birth
    updating a single cooperator on a regular graph of degree k fixes with probability above
    1/N when b/c > k; for N = 24, k = 3 the finite-N threshold (N-2)/(N/k-2) is 3.67.
    Measured (2000 runs each, these seeds): b/c = 8 fixes 0.1095 of runs (99% Clopper-Pearson
    interval 0.092-0.129), b/c = 1.5 fixes 0.0110 (0.006-0.019), against 1/N = 0.0417: both
    intervals exclude 1/N on the predicted side."""
    assert config(nodes=24, degree=3).threshold() == pytest.approx(22 / 6)
    fixed, neutral = fixation_of_one_cooperator(8.0)  # b/c well above k
    above = binomtest(fixed, 2000).proportion_ci(confidence_level=0.99)
    assert above.low > neutral, (fixed / 2000, above, neutral)
    fixed, neutral = fixation_of_one_cooperator(1.5)  # b/c well below k
    below = binomtest(fixed, 2000).proportion_ci(confidence_level=0.99)
    assert below.high < neutral, (fixed / 2000, below, neutral)


def test_the_model_plays_the_same_dynamics_as_the_fixation_estimate() -> None:
    """A rule-brained run is `Populations.advance` on one replicate: replaying its initial
    state with the same generator state gives the same final state, step for step."""
    cfg = config(seed=3, steps=30, stop_at_fixation=False)
    model = NetworkNorms(cfg)
    initial = model.populations.strategies().copy()
    generator = np.random.default_rng()
    generator.bit_generator.state = model.rng.bit_generator.state
    model.run_model()
    replay = Populations(neighbour_table(model.graph), initial, cfg.payoff_matrix(),
                         w=cfg.selection)
    for _ in range(cfg.steps):
        replay.advance(cfg.nodes, generator)
    assert (replay.strategies() == model.populations.strategies()).all()
    assert model.steps == cfg.steps


# -- graphs and config errors ------------------------------------------------------------------
@pytest.mark.parametrize("kind, degree", [("ring", 4), ("small_world", 4),
                                          ("scale_free", 4), ("random_regular", 3)])
def test_graphs_have_the_asked_nodes_and_degrees_and_are_connected(kind: str,
                                                                   degree: int) -> None:
    graph = build_graph(kind, 40, degree, 0.2, seed=5)
    degrees = [d for _, d in graph.degree()]
    assert sorted(graph.nodes) == list(range(40)) and nx.is_connected(graph)
    if kind in ("ring", "random_regular"):
        assert set(degrees) == {degree}
    elif kind == "small_world":  # rewiring moves links, never adds or drops them
        assert graph.number_of_edges() == 40 * degree // 2 and len(set(degrees)) > 1
    else:  # Barabási–Albert: degree/2 links from every new node, hubs well above
        assert graph.number_of_edges() == (degree // 2) * (40 - degree // 2)
        assert max(degrees) >= 2 * degree and min(degrees) >= degree // 2
    same = build_graph(kind, 40, degree, 0.2, seed=5)
    assert sorted(same.edges) == sorted(graph.edges)
    if kind != "ring":
        assert sorted(build_graph(kind, 40, degree, 0.2, seed=6).edges) != sorted(graph.edges)


@pytest.mark.parametrize("values, message", [
    ({"graph": "ring", "degree": 3}, "ring needs an even degree"),
    ({"nodes": 10, "degree": 10}, "degree (10) must be less than nodes (10)"),
    ({"nodes": 25, "degree": 3}, "nodes × degree to be even"),
    ({"graph": "scale_free", "degree": 5}, "scale_free needs an even degree"),
    ({"benefit": 0.5}, "benefit (0.5) must exceed cost (1)"),
    ({"selection": 1.0, "benefit": 20}, "selection 1 is too strong"),
    ({"game": "coordination", "payoff_bb": -1}, "a coordination game needs"),
    ({"initial": "share", "initial_share": 0.01}, "seeds 0 deviants"),
    ({"brains": {"llm": 1}}, "no model is set"),
])
def test_impossible_configs_are_one_clear_line(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        config(**values)


def test_cli_refuses_an_impossible_graph_with_exit_2(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["run", "network-norms", "--set", "graph=random_regular", "--set", "nodes=9",
                   "--set", "degree=3", "--out", str(tmp_path), "--quiet"])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("societas: error:") and "even" in err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


# -- runs through the engine -------------------------------------------------------------------
def test_registered_deterministic_and_counts_add_up(tmp_path: Path) -> None:
    assert get_scenario("network_norms") is SCENARIO
    cfg = config(seed=4, game="coordination", graph="small_world", nodes=30, degree=4,
                 selection=0.3, steps=60)
    stores = []
    for name in ("a", "b"):
        result = run_scenario(SCENARIO, cfg, run_dir=tmp_path / name, options=quiet())
        assert result.status == "finished"
        stores.append(snapshot(result.run_dir / "run.sqlite"))
    assert stores[0] == stores[1]
    run_dir = tmp_path / "a"
    assert query(run_dir, "SELECT COUNT(*) FROM edges") == [(60,)]
    assert query(run_dir, "SELECT SUM(degree), COUNT(*) FROM nodes") == [(120, 30)]
    assert query(run_dir, "SELECT initial, COUNT(*) FROM nodes GROUP BY initial") == [
        ("A", 29), ("B", 1)]
    per_step = query(run_dir, "SELECT step, SUM(count), SUM(share) FROM shares GROUP BY step")
    assert all(total == 30 and share == pytest.approx(1.0) for _, total, share in per_step)
    assert [step for step, *_ in per_step] == list(range(len(per_step)))
    (result, winner, step, deviant_share), = query(
        run_dir, "SELECT result, winner, step, deviant_share FROM outcome")
    final = dict(query(run_dir, "SELECT strategy, COUNT(*) FROM final_states GROUP BY strategy"))
    assert final.get("B", 0) == round(30 * deviant_share)
    assert (result == "coexistence") == (step == 60 and len(final) == 2)
    assert winner in (None, *final)
    other = run_scenario(SCENARIO, config(**{**cfg.model_dump(), "seed": 5}),
                         run_dir=tmp_path / "c", options=quiet())
    assert snapshot(other.run_dir / "run.sqlite")["edges"] != stores[0]["edges"]


# -- LLM brains --------------------------------------------------------------------------------
def player(request: ChatRequest) -> str:
    """A scripted model: everyone chooses to cooperate, except n1, which answers garbage."""
    prompt = request.messages[1]["content"]
    if "Your name is n1." in prompt:
        return GARBAGE
    return 'Cooperation pays here. {"reasoning": "my neighbours earn more", ' \
           '"strategy": "cooperate"}'


def test_llm_nodes_choose_from_their_neighbourhood_garbage_falls_back_and_resumes(
        tmp_path: Path) -> None:
    with ScriptedLLMServer(player) as server:
        cfg = config(model="openai/scripted", api_base=server.url, timeout_s=5.0, seed=1,
                     graph="ring", nodes=6, degree=2, steps=3, llm_revision_probability=1.0,
                     stop_at_fixation=False)
        result = run_scenario(SCENARIO, cfg, run_dir=tmp_path / "r", options=quiet())
        prompts = [r.messages[1]["content"] for r in server.requests]
        # stopped by a call budget mid-run and resumed: the same store as an unbroken run
        stopped = run_scenario(SCENARIO, cfg, run_dir=tmp_path / "s",
                               options=quiet(budget=Budget(max_calls=9)))
        assert stopped.status == "budget"
        resumed = resume_run(stopped.run_dir, quiet())
    assert resumed.status == "finished" and resumed.replayed_checkpoints > 0
    assert snapshot(resumed.run_dir / "run.sqlite") == snapshot(result.run_dir / "run.sqlite")
    assert result.status == "finished"
    run_dir = result.run_dir
    sources = Counter(query(run_dir, "SELECT agent_id, source FROM decisions"))
    assert sources[("n1", "fallback")] == 3  # asked every step, never usable
    assert sum(n for (agent, source), n in sources.items() if source == "llm") == 15
    (reason,), = set(query(run_dir, "SELECT error FROM llm_calls WHERE agent_id = 'n1' "
                                    "AND outcome = 'unparsed'"))
    assert "strategy" in reason
    initial = dict(query(run_dir, "SELECT agent_id, initial FROM nodes"))
    final = dict(query(run_dir, "SELECT agent_id, strategy FROM final_states"))
    assert final.pop("n1") == initial["n1"]  # the fallback keeps its strategy
    assert set(final.values()) == {"cooperate"}
    # the prompt shows the neighbours' strategies and payoffs as data, on the ring
    first = next(p for p in prompts if "Your name is n0." in p)
    assert "- n1: plays" in first and "- n5: plays" in first and "payoff" in first
    assert "n2:" not in first
    decision = json.loads(query(run_dir, "SELECT observation FROM decisions "
                                         "WHERE agent_id = 'n0' LIMIT 1")[0][0])
    assert [n["name"] for n in decision["neighbours"]] == ["n1", "n5"]


# -- figures and the report --------------------------------------------------------------------
def test_figures_are_written_and_the_report_renders_each_condition(tmp_path: Path) -> None:
    runs = []
    for name, graph in (("ring", "ring"), ("sw", "small_world")):
        cfg = config(seed=2, graph=graph, degree=4, nodes=20, game="coordination",
                     selection=0.3, steps=40)
        result = run_scenario(SCENARIO, cfg, run_dir=tmp_path / name,
                              options=RunOptions(progress=False, figures=graph == "ring"))
        runs.append(str(result.run_dir))
        if graph == "ring":
            assert [p.name for p in result.figures] == ["strategy_share.png", "graph.png"]
            assert all(p.stat().st_size > 10_000 for p in result.figures)
    out = tmp_path / "report.html"
    assert main(["report", *runs, "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "Spread or die: the seeded deviant" in re.findall(r"<h2>(.*?)</h2>", page)
    section = page[page.index('<section id="spread">'):]
    section = section[:section.index("</section>")]
    assert "graph=ring (1 run)" in section and "graph=small_world (1 run)" in section
    assert section.count("<img") == 4  # per condition: the share curves and the graph
    assert "fixation probability" in section
