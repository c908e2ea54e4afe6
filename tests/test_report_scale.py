"""What keeps a report of a large population fast gives the same answers: the lineage drawn in
aggregate (family lines and a deterministic sample of lines), clusters of texts computed from
their distinct vectors, similarities from sums. Speed itself is measured in
benchmarks/report_scale.py."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pytest
from run_helpers import quiet
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist

import analysis
from analysis import report as report_module
from analysis.figures.lineage import family_order, family_shares, plot_lineage, sample_lines
from analysis.metrics import clustering, similarity_matrix, strategy_clusters
from analysis.metrics.lineage import founders
from analysis.metrics.texts import tfidf
from analysis.scenario import report_context
from sim import get_scenario, load_config
from sim.runs.runner import run_scenario


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> analysis.Run:
    scenario = get_scenario("donor-game")
    config = load_config(scenario.config_type, values={
        "agents": 8, "generations": 4, "rounds": 2, "games": 1, "seed": 3})
    result = run_scenario(scenario, config, run_dir=tmp_path_factory.mktemp("dg") / "run",
                          options=quiet())
    return analysis.load(result.run_dir)


def test_a_large_lineage_is_drawn_as_family_lines_and_a_described_sample(run):
    agents, scores = run.agents, run.generation_scores
    figure = plot_lineage(agents, scores, full_tree_max=5)
    families, sample = figure.axes
    assert "Family lines" in families.get_title()
    counts = [t.get_text() for t in families.texts]  # lines still alive, per generation
    assert counts[0] == "8 lines" and len(counts) == scores["generation"].nunique()
    assert f"a sample of {min(40, 8)} lines" in sample.get_title()
    assert f"of {len(agents)} agents drawn" in sample.get_title()
    again = plot_lineage(agents, scores, full_tree_max=5)
    first, second = (f.axes[1].collections[0].get_segments() for f in (figure, again))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    # a small run keeps its full tree: one bar per agent
    assert len(plot_lineage(agents, scores).axes[0].collections[0].get_segments()) == len(agents)


def test_the_sample_is_evenly_spaced_in_family_order_with_every_ancestor(run):
    agents, scores = run.agents, run.generation_scores
    order = family_order(agents)
    last = scores["generation"].max()
    alive = [a for a in order if a in set(scores[scores["generation"] == last]["agent_id"])]
    drawn, text = sample_lines(agents, scores, lines=3)
    picked = [alive[(i * len(alive)) // 3] for i in range(3)]
    parents = dict(zip(agents["agent_id"], agents["parents"].map(json.loads),
                       strict=True))
    expected = set()
    for agent in picked:
        while agent in parents and agent not in expected:
            expected.add(agent)
            agent = parents[agent][0] if parents[agent] else None
    assert set(drawn) == expected and drawn == [a for a in order if a in expected]
    assert text.startswith("a sample of 3 lines") and f"among the {len(alive)} alive in " \
        f"generation {last + 1}" in text


def test_family_shares_follow_each_founder_line(run):
    shares = family_shares(run.agents, run.generation_scores)
    assert np.allclose(shares.sum(axis=1), 1.0)
    assert shares.iloc[0].gt(0).sum() == 8  # every first-generation agent founds a line
    last = shares.iloc[-1]
    assert list(last) == sorted(last, reverse=True)  # largest line first
    alive = run.generation_scores[run.generation_scores["generation"] == last.name]
    line = founders(run.agents)
    for founder, share in last.items():  # a line's share: its descendants alive
        assert share == (alive["agent_id"].map(line) == founder).mean()


def test_the_report_says_when_its_lineage_is_a_sample(run, monkeypatch):
    monkeypatch.setattr(report_module, "FULL_TREE_MAX", 5)
    html = report_module._lineage_section([run], report_context([run]))
    assert "drawn in aggregate" in html and "a sample of 40 lines, not all of them" in html
    monkeypatch.setattr(report_module, "FULL_TREE_MAX", 300)
    assert "drawn in aggregate" not in report_module._lineage_section([run],
                                                                      report_context([run]))


def _partition(labels) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(int(label), set()).add(i)
    return {frozenset(g) for g in groups.values()}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clusters_of_distinct_texts_weighted_equal_clusters_of_every_text(seed):
    rng = random.Random(seed)
    words = ["give", "punish", "generous", "stingy", "never", "always", "record", "last",
             "half", "reward", "help"]
    base = [" ".join(rng.choice(words) for _ in range(rng.randint(2, 6))) for _ in range(12)]
    texts = [rng.choice(base) + f" {rng.randint(0, 99)}%" for _ in range(150)]
    matrix, _ = tfidf(texts)
    dense = matrix.toarray()
    reference = linkage(pdist(dense, "cosine"), method="average")  # every text, all pairs
    for threshold in (0.35, 0.6, 0.85):
        raw, approximate = clustering.cluster_rows(matrix, k=None, max_distance=threshold)
        expected = fcluster(reference, t=threshold, criterion="distance")
        assert not approximate and _partition(raw) == _partition(expected)
    for k in (2, 4):
        raw, _ = clustering.cluster_rows(matrix, k=k, max_distance=0.5)
        assert _partition(raw) == _partition(fcluster(reference, t=k, criterion="maxclust"))


def test_beyond_the_exact_limit_every_text_joins_its_closest_cluster(monkeypatch):
    texts = (["always give half"] * 5 + ["never give to the stingy"] * 4
             + ["punish the stingy always"] * 3 + ["give half to the generous"] * 2
             + ["reward generous record"])
    exact = strategy_clusters(texts)
    monkeypatch.setattr(clustering, "MAX_DISTINCT", 3)
    rough = strategy_clusters(texts)
    assert rough.approximate and not exact.approximate
    assert len(rough.labels) == len(texts) and sum(rough.sizes) == len(texts)
    for text in set(texts):  # identical texts stay together
        assert len({rough.labels[i] for i, t in enumerate(texts) if t == text}) == 1


def test_similarity_from_sums_equals_the_mean_over_all_pairs():
    rng = random.Random(4)
    words = ["give", "punish", "generous", "stingy", "never", "always", "record", "last"]
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 5))) for _ in range(60)]
    texts += ["40%", "55%"]  # texts without words have zero vectors
    frame = pd.DataFrame({"generation": [rng.randint(0, 3) for _ in texts], "text": texts})
    frame.loc[len(frame)] = [4, "never give"]  # a generation of one text
    matrix = tfidf(frame["text"].tolist())[0].toarray()
    cosine = matrix @ matrix.T
    result = similarity_matrix(frame)
    where = frame["generation"].to_numpy()
    for g in result.index:
        for h in result.columns:
            block = cosine[np.ix_(where == g, where == h)]
            if g == h:
                pairs = block[np.triu_indices(len(block), k=1)]
                expected = pairs.mean() if pairs.size else np.nan
            else:
                expected = block.mean()
            assert result.loc[g, h] == pytest.approx(expected, nan_ok=True)
