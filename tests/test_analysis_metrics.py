"""Every metric of `analysis.metrics` against a tiny table whose answer was worked out by hand.

The arithmetic is in the comments next to each expected value, so a reader can check the
definition (not only the code) and a change of definition fails here first.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from analysis.metrics import (
    call_statistics,
    cluster_shares,
    founder_shares,
    gini,
    gini_by_generation,
    lineage_edges,
    lineage_graph,
    similarity_matrix,
    strategies_in_force,
    strategy_clusters,
    strategy_survival,
    text_convergence,
)
from analysis.metrics.lineage import founders
from scenarios.donor_game.analysis import (
    donation_fraction,
    final_resources,
    gift_by_reputation,
    gift_pairs,
    punishment_use,
    reciprocity,
    reciprocity_by_generation,
    reputation_bin,
    target_class,
)

NAN = float("nan")


# -- cooperation -----------------------------------------------------------------------------
def test_donation_fraction_counts_punishment_as_zero():
    donations = pd.DataFrame({
        "generation": [0, 0, 0, 1, 1],
        "action": ["donate", "donate", "punish", "donate", "donate"],
        "fraction": [0.5, 0.0, 0.3, 1.0, 0.5],
    })
    # gen 0: (0.5 + 0.0 + 0 [punish]) / 3 = 0.1667; gen 1: (1.0 + 0.5) / 2 = 0.75
    assert donation_fraction(donations).to_dict() == pytest.approx({0: 0.5 / 3, 1: 0.75})


def test_final_resources_is_mean_score_per_generation():
    scores = pd.DataFrame({"generation": [0, 0, 0, 1, 1], "score": [10, 20, 30, 5, 15]})
    # gen 0: (10 + 20 + 30) / 3 = 20; gen 1: (5 + 15) / 2 = 10
    assert final_resources(scores).to_dict() == {0: 20.0, 1: 10.0}


# -- inequality ------------------------------------------------------------------------------
def test_gini_by_hand():
    assert gini([1, 1, 1, 1]) == 0.0  # all equal
    # [0, 0, 0, 4]: 6 ordered pairs (3 zeros × the 4, both ways) differ by 4 -> 24;
    # 24 / (2 · n² · mean) = 24 / (2 · 16 · 1) = 0.75 = (n − 1) / n
    assert gini([0, 0, 0, 4]) == pytest.approx(0.75)
    # [1, 2, 3]: |1−2| + |1−3| + |2−3| = 4, both ways 8; 8 / (2 · 9 · 2) = 0.2222
    assert gini([3, 1, 2]) == pytest.approx(8 / 36)
    assert gini([0, 0]) == 0.0  # equal, if poor
    assert math.isnan(gini([]))


def test_gini_by_generation():
    scores = pd.DataFrame({"generation": [0, 0, 0, 0, 1, 1, 1], "score": [0, 0, 0, 4, 1, 2, 3]})
    assert gini_by_generation(scores).to_dict() == pytest.approx({0: 0.75, 1: 8 / 36})


# -- reciprocity -----------------------------------------------------------------------------
def _observation(generation, rnd, donor, recipient, trace):
    return json.dumps({"generation": generation, "game": 0, "round": rnd, "donor": donor,
                       "recipient": recipient, "trace": trace})


def test_gift_pairs_reads_the_recipients_last_act_from_the_trace():
    decisions = pd.DataFrame({
        "task": ["write_strategy", "donate", "donate", "donate"],
        "observation": [
            json.dumps({"agent": "a"}),
            _observation(0, 0, "a", "b", []),  # no record yet
            _observation(0, 1, "b", "c", [
                {"donor": "c", "recipient": "a", "action": "donate", "fraction": 0.4},
                {"donor": "a", "recipient": "d", "action": "donate", "fraction": 0.9},
            ]),
            _observation(0, 2, "c", "a", [
                {"donor": "a", "recipient": "b", "action": "punish", "fraction": 0.3},
            ]),
        ],
    })
    donations = pd.DataFrame({
        "generation": [0, 0, 0], "game": [0, 0, 0], "round": [0, 1, 2],
        "donor": ["a", "b", "c"], "recipient": ["b", "c", "a"],
        "action": ["donate", "donate", "punish"], "fraction": [0.5, 0.25, 0.2],
        "source": ["rule", "llm", "rule"],
    })
    pairs = gift_pairs(decisions, donations)
    assert list(pairs["donor"]) == ["a", "b", "c"]
    # trace[0] only: c's last gift 0.4 (not the 0.9 further down); a punished -> 0
    assert pairs["recipient_last"].tolist()[1:] == [0.4, 0.0]
    assert math.isnan(pairs["recipient_last"].iloc[0])
    assert pairs["recipient_last_action"].tolist()[1:] == ["donate", "punish"]
    assert pd.isna(pairs["recipient_last_action"].iloc[0])
    assert pairs["given"].tolist() == [0.5, 0.25, 0.0]  # c punished: gave 0


def _pairs(x, y, source=None, generation=None):
    n = len(x)
    return pd.DataFrame({
        "generation": generation or [0] * n, "recipient_last": x, "given": y,
        "action": ["donate"] * n, "source": source or ["rule"] * n,
    })


# x: recipient's last share; y: donor's gift
X = [0.0, 0.0, 0.5, 0.5, 1.0, 1.0]
Y = [0.0, 0.2, 0.4, 0.4, 0.6, 1.0]


def test_reciprocity_slope_and_rank_correlation_by_hand():
    # Rows that must be ignored: no record (NaN) and a fallback that would pull the slope down.
    pairs = _pairs([*X, NAN, 1.0], [*Y, 1.0, 0.0], source=["rule"] * 7 + ["fallback"])
    result = reciprocity(pairs)
    assert result.n == 6
    # OLS: mean x = 0.5, mean y = 2.6 / 6 = 0.4333; Sxx = 4 × 0.25 = 1.0
    # Sxy = 0.5 × (0.4333 + 0.2333 + 0.1667 + 0.5667) = 0.7 -> slope 0.7
    # intercept = 0.4333 − 0.7 × 0.5 = 0.0833
    assert result.slope == pytest.approx(0.7)
    assert result.intercept == pytest.approx(1 / 12)
    # residuals −1/12, 7/60, −1/30, −1/30, −11/60, 13/60 -> SSE = 31/300 = 0.10333
    # s² = SSE / (n − 2) = 0.025833; se = sqrt(s² / Sxx) = 0.160728; t(0.975, 4) = 2.776445
    # half-width 2.776445 × 0.160728 = 0.446251 -> [0.253749, 1.146251]
    assert result.slope_low == pytest.approx(0.253749, abs=1e-5)
    assert result.slope_high == pytest.approx(1.146251, abs=1e-5)
    # Spearman: ranks x = 1.5 1.5 3.5 3.5 5.5 5.5, y = 1 2 3.5 3.5 5 6 (mean 3.5 both)
    # Σdx·dy = 5 + 3 + 0 + 0 + 3 + 5 = 16; Σdx² = 16; Σdy² = 17 -> rho = 16 / sqrt(272)
    rho = 16 / math.sqrt(272)  # 0.970143
    assert result.rho == pytest.approx(rho)
    # Fisher z = ½ ln(1.970143 / 0.029857) = ½ ln(65.986) = 2.094713
    # se = sqrt(1.06 / (6 − 3)) = 0.594419; z ± 1.959964 × 0.594419 = z ± 1.165039
    # tanh(0.929674) = (e^1.859348 − 1) / (e^1.859348 + 1) = 5.41963 / 7.41963 = 0.730442
    # tanh(3.259751) = (e^6.519503 − 1) / (e^6.519503 + 1) = 677.24 / 679.24 = 0.997056
    assert result.rho_low == pytest.approx(0.730442, abs=1e-5)
    assert result.rho_high == pytest.approx(0.997056, abs=1e-5)
    with_fallback = reciprocity(pairs, include_fallbacks=True)
    assert with_fallback.n == 7 and with_fallback.slope < result.slope


def test_reciprocity_without_variation_is_nan_not_an_error():
    flat = reciprocity(_pairs([0.5] * 5, [0.1, 0.2, 0.3, 0.4, 0.5]))
    assert flat.n == 5 and math.isnan(flat.slope) and math.isnan(flat.rho)
    assert reciprocity(_pairs([], [])).n == 0


def test_reciprocity_by_generation_splits_the_pairs():
    pairs = _pairs(X + X, Y + [1.0 - v for v in Y], generation=[0] * 6 + [1] * 6)
    table = reciprocity_by_generation(pairs)
    assert list(table.index) == [0, 1]
    # generation 1 gives 1 − y: the slope flips sign, −0.7
    assert table["slope"].tolist() == pytest.approx([0.7, -0.7])


# -- reputation and punishment ---------------------------------------------------------------
def test_reputation_bins_and_target_classes():
    last = pd.Series([NAN, 0.0, 0.1, 0.24, 0.25, 0.5, 0.75, 1.0])
    assert reputation_bin(last).astype(str).tolist() == [
        "no record", "0–10%", "10–25%", "10–25%", "25–50%", "50–75%", "75–100%", "75–100%",
    ]
    assert target_class(last).astype(str).tolist() == [
        "no record", "stingy", "stingy", "stingy", "generous", "generous", "generous",
        "generous",
    ]
    assert target_class(last, cutoff=0.6).astype(str).tolist()[5:] == [
        "stingy", "generous", "generous"]


def test_gift_by_reputation_means_per_group_and_bin():
    pairs = pd.DataFrame({
        "kind": ["a", "a", "a", "b"],
        "recipient_last": [0.0, 0.05, 0.6, NAN],
        "given": [0.0, 0.2, 0.5, 0.4],
    })
    table = gift_by_reputation(pairs, by="kind").set_index(["group", "reputation"])
    # a × 0–10%: (0.0 + 0.2) / 2 = 0.1 over 2 decisions; a × 50–75%: 0.5; b × no record: 0.4
    assert table.loc[("a", "0–10%"), "given"] == pytest.approx(0.1)
    assert table.loc[("a", "0–10%"), "n"] == 2
    assert table.loc[("a", "50–75%"), "given"] == pytest.approx(0.5)
    assert table.loc[("b", "no record"), "n"] == 1
    assert len(table) == 3  # unmet bins are left out


def test_punishment_use_by_target_class():
    pairs = pd.DataFrame({
        "generation": [0, 0, 0, 0, 0, 0, 1, 1],
        "recipient_last": [NAN, 0.0, 0.1, 0.1, 0.6, 0.6, 0.6, 0.0],
        "action": ["donate", "punish", "punish", "donate", "punish", "donate", "donate",
                   "donate"],
    })
    use = punishment_use(pairs)
    gen0 = use.loc[0]
    # gen 0 has 3 punishments: 2 of the 3 acts toward stingy targets, 1 of 2 toward generous
    assert gen0.loc["no record"].tolist() == [1, 0, 0.0, 0.0]
    assert gen0.loc["stingy"].tolist() == pytest.approx([3, 2, 2 / 3, 2 / 3])
    assert gen0.loc["generous"].tolist() == pytest.approx([2, 1, 0.5, 1 / 3])
    assert gen0.loc["all"].tolist() == pytest.approx([6, 3, 0.5, 1.0])
    # gen 1: nobody punished -> rate 0, share undefined
    assert use.loc[(1, "all"), "rate"] == 0.0 and math.isnan(use.loc[(1, "all"), "share"])
    pooled = punishment_use(pairs, per_generation=False)
    # pooled: stingy acts 3 + 1 = 4, punished 2 -> rate 0.5; all: 8 acts, 3 punishments
    assert pooled.loc["stingy"].tolist() == pytest.approx([4, 2, 0.5, 2 / 3])
    assert pooled.loc["all", "acts"] == 8


# -- survival --------------------------------------------------------------------------------
def test_strategy_survival_by_family():
    scores = pd.DataFrame({
        "generation": [0, 0, 0, 0, 1, 1, 1, 1],
        "agent_id": ["a", "b", "c", "d", "a", "c", "e", "f"],
        "kind": ["image_scoring", "image_scoring", "always_defect", "always_cooperate",
                 "image_scoring", "always_defect", "image_scoring", "image_scoring"],
        "score": [10, 20, 30, 0, 12, 8, 6, 4],
        "survived": [1, 0, 1, 0, 1, 0, 1, 0],
    })
    table = strategy_survival(scores)
    # gen 0 image_scoring: 2 of 4 agents (share 0.5), 1 survived (rate 0.5), mean (10+20)/2
    assert table.loc[(0, "image_scoring")].tolist() == [2, 0.5, 1, 0.5, 15.0]
    assert table.loc[(0, "always_cooperate")].tolist() == [1, 0.25, 0, 0.0, 0.0]
    # gen 1 image_scoring: a, e, f = 3 of 4 (0.75); a and e survive (2/3); (12+6+4)/3
    assert table.loc[(1, "image_scoring")].tolist() == pytest.approx([3, 0.75, 2, 2 / 3,
                                                                       22 / 3])
    assert (1, "always_cooperate") not in table.index  # extinct: no row


# -- strategy texts --------------------------------------------------------------------------
def test_strategies_in_force_include_survivors_older_texts():
    strategies = pd.DataFrame({"agent_id": ["a", "b", "c"], "generation": [0, 0, 1],
                               "text": ["A", "B", "C"], "source": "llm", "parents": "[]"})
    scores = pd.DataFrame({"generation": [0, 0, 1, 1], "agent_id": ["a", "b", "a", "c"],
                           "kind": "llm"})
    force = strategies_in_force(strategies, scores)
    assert force[["generation", "agent_id", "text"]].values.tolist() == [
        [0, "a", "A"], [0, "b", "B"], [1, "a", "A"], [1, "c", "C"]]


def test_similarity_within_and_between_generations():
    frame = pd.DataFrame({
        "generation": [0, 0, 1, 1],
        "text": ["punish cheats", "reward helpers", "punish cheats", "Punish cheats!"],
    })
    matrix = similarity_matrix(frame)
    # no shared word between gen 0's two texts -> 0; gen 1's texts are identical -> 1
    # between: pairs (pc,pc) = 1 twice, (rh,pc) = 0 twice -> 2 / 4 = 0.5
    assert matrix.to_numpy().ravel().tolist() == pytest.approx([0.0, 0.5, 0.5, 1.0])
    convergence = text_convergence(frame)
    assert convergence.loc[1, ["texts", "within", "to_previous", "to_first"]].tolist() == (
        pytest.approx([2, 1.0, 0.5, 0.5]))
    assert math.isnan(convergence.loc[0, "to_previous"])


def test_similarity_partial_overlap_and_numbers_ignored():
    # df(punish) = df(cheats) = 2 -> equal idf, so "punish cheats" = (1, 1)/√2:
    # cos with "punish" = 1/√2, with "cheats" = 1/√2; "punish"·"cheats" = 0
    # within = (0.7071 + 0.7071 + 0) / 3 = 0.4714
    frame = pd.DataFrame({"generation": [0, 0, 0], "text": ["punish cheats", "punish", "cheats"]})
    assert similarity_matrix(frame).loc[0, 0] == pytest.approx(2 / math.sqrt(2) / 3)
    # numbers are not words: texts that differ only in their shares read the same
    numbers = pd.DataFrame({"generation": [0, 0],
                            "text": ["punish 40% cheats", "punish 55% cheats"]})
    assert similarity_matrix(numbers).loc[0, 0] == pytest.approx(1.0)
    single = pd.DataFrame({"generation": [0], "text": ["punish"]})
    assert math.isnan(similarity_matrix(single).loc[0, 0])  # no pair within


TEXTS = ["punish stingy", "punish stingy", "punish cheats", "share gifts"]


def test_strategy_clusters_and_their_telling_words():
    clusters = strategy_clusters(TEXTS, k=2)
    # cosine("punish stingy", "punish cheats"): idf (n = 4, smooth) punish ln(5/4)+1 = 1.2231,
    # stingy ln(5/3)+1 = 1.5108, cheats ln(5/2)+1 = 1.9163; unit rows (0.6292, 0.7772) and
    # (0.5380, 0.8429) -> 0.6292 × 0.5380 = 0.3385; "share gifts" shares nothing (0).
    # Two clusters: the three punish texts, and "share gifts".
    assert clusters.labels.tolist() == [0, 0, 0, 1]
    assert clusters.sizes == [3, 1]
    # telling words of cluster 0, mean tf-idf inside minus outside (outside = 0):
    # punish (0.6292 × 2 + 0.5380) / 3 = 0.5988 > stingy 0.7772 × 2 / 3 = 0.5181
    # > cheats 0.8429 / 3 = 0.2810; cluster 1: share = gifts = 0.7071, alphabetical
    assert clusters.words == [["punish", "stingy", "cheats"], ["gifts", "share"]]
    assert clusters.names() == ["1: punish, stingy, cheats", "2: gifts, share"]
    # without k: merged only while mean similarity ≥ 0.5; 0.3385 < 0.5 keeps "punish cheats"
    # apart: {1, 2} (size 2), then {3} and {4} by first appearance
    found = strategy_clusters(TEXTS)
    assert found.labels.tolist() == [0, 0, 1, 2]
    # ... but with min_similarity 0.3 the three punish texts form one cluster again
    assert strategy_clusters(TEXTS, min_similarity=0.3).labels.tolist() == [0, 0, 0, 1]


def test_cluster_shares_per_generation():
    shares = cluster_shares([0, 0, 1, 1], np.array([0, 0, 0, 1]))
    # gen 0: both texts in cluster 0; gen 1: one each
    assert shares.values.tolist() == [[1.0, 0.0], [0.5, 0.5]]


def test_clusters_of_degenerate_inputs():
    assert strategy_clusters([]).k == 0
    assert strategy_clusters(["punish"]).labels.tolist() == [0]
    assert strategy_clusters(["40%", "55%"]).sizes == [2]  # no words at all: one cluster


# -- lineage ---------------------------------------------------------------------------------
AGENTS = pd.DataFrame({
    "agent_id": ["a", "b", "c", "d"],
    "generation": [0, 0, 1, 2],
    "brain": ["rule", "rule", "rule", "llm"],
    "kind": ["standing", "generous", "standing", "llm"],
    "parents": ["[]", "[]", '["a"]', '["c", "b"]'],
})


def test_lineage_edges_and_graph():
    edges = lineage_edges(AGENTS)
    assert edges.values.tolist() == [
        ["a", "c", 1, True], ["c", "d", 2, True], ["b", "d", 2, False]]
    graph = lineage_graph(AGENTS)
    assert graph.number_of_nodes() == 4 and graph.number_of_edges() == 3
    assert graph.nodes["d"]["kind"] == "llm"
    assert graph.edges["b", "d"]["primary"] is False


def test_lineage_of_founders_only_has_typed_empty_edges():
    # a one-generation run: nobody has parents, and selecting primary links must still work
    edges = lineage_edges(AGENTS[AGENTS["generation"] == 0])
    assert edges.empty
    assert str(edges.dtypes["primary"]) == "bool" and str(edges.dtypes["generation"]) == "int64"
    assert list(edges[edges["primary"]].columns) == ["parent", "child", "generation", "primary"]


def test_founders_and_founder_shares():
    # d's primary parent is c, whose primary parent is a: founder a
    assert founders(AGENTS).to_dict() == {"a": "a", "b": "b", "c": "a", "d": "a"}
    scores = pd.DataFrame({"generation": [0, 0, 1, 1, 2, 2],
                           "agent_id": ["a", "b", "a", "c", "c", "d"]})
    shares = founder_shares(AGENTS, scores)
    # gen 0: a, b -> 0.5 each; gen 1: a, c (both a's line) -> a 1.0; gen 2: c, d -> a 1.0
    assert shares.to_dict(orient="index") == {
        0: {"a": 0.5, "b": 0.5}, 1: {"a": 1.0, "b": 0.0}, 2: {"a": 1.0, "b": 0.0}}


# -- LLM calls -------------------------------------------------------------------------------
def test_call_statistics_by_hand():
    calls = pd.DataFrame({
        "outcome": ["ok", "unparsed", "ok"], "attempts": [1, 2, 1],
        "purpose": ["decide", "decide", "repair"], "prompt_tokens": [10, 20, 30],
        "completion_tokens": [5, 10, 5], "cost_usd": [0.001, 0.002, 0.003],
        "latency_s": [1.0, 3.0, 2.0],
    })
    decisions = pd.DataFrame({"source": ["rule", "llm", "repaired", "fallback"]})
    stats = call_statistics(calls, decisions)
    assert stats[["calls", "ok", "unparsed", "error"]].tolist() == [3, 2, 1, 0]
    assert stats["retries"] == 1  # attempts beyond the first: 0 + 1 + 0
    assert stats["repairs"] == 1
    assert (stats["prompt_tokens"], stats["completion_tokens"]) == (60, 20)
    assert stats["cost_usd"] == pytest.approx(0.006)
    # latency: median of 1, 2, 3 = 2; p95 (linear) = 2 + 0.9 × (3 − 2) = 2.9
    assert stats["latency_median_s"] == 2.0
    assert stats["latency_p95_s"] == pytest.approx(2.9)
    # 3 non-rule decisions, 1 fallback -> 1/3
    assert (stats["decisions"], stats["fallbacks"]) == (3, 1)
    assert stats["fallback_rate"] == pytest.approx(1 / 3)
