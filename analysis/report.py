"""`societas report`: one self-contained HTML page about one or several runs.

A report is what a researcher sends a colleague: it must open anywhere, offline, years later.
So every figure is embedded as a base64 PNG, there is no JavaScript beyond a check that the
images decoded, and every piece of text a run produced is escaped. With several runs (seeds,
models, brain mixes) the figures show all of them together, grouped by the config value that
differs between them.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from analysis import _html as h
from analysis.donor_game import plot_per_generation
from analysis.figures import (
    plot_cluster_shares,
    plot_comparison,
    plot_cooperation_across_seeds,
    plot_gift_heatmap,
    plot_lineage,
    plot_strategy_shares,
    plot_text_similarity,
)
from analysis.many import RunLike, as_run, load_many, run_info
from analysis.metrics import (
    call_statistics,
    cluster_shares,
    per_generation,
    punishment_use,
    reciprocity,
    strategies_in_force,
    strategy_clusters,
    strategy_survival,
    text_convergence,
    with_donor,
)
from analysis.metrics.reciprocity import DecisionsNotLogged, missing_decisions, pairs_from_run
from analysis.run import Run
from sim.llm.redaction import scrub

REPORT_NAME = "report.html"
#: Config keys that may tell a set of runs apart, in the order they are tried for grouping.
GROUPING_KEYS = ("model", "brains", "protocol", "punishment", "pairing", "selection",
                 "selection_score", "trace_reset", "show_horizon", "show_recipient_resources",
                 "own_strategy", "answer_unit", "strategy_format", "trace_depth", "agents",
                 "multiplier", "survivor_fraction", "generations")
MAX_RUNS_DETAILED = 3  # lineage trees and strategy examples for at most this many runs
EXAMPLES_PER_GENERATION = 3
EXAMPLE_CHARS = 600
SECTIONS = [
    ("runs", "Runs"), ("cooperation", "Cooperation"), ("reciprocity", "Reciprocity"),
    ("punishment", "Punishment"), ("strategies", "Strategies and norms"),
    ("examples", "Example strategies"), ("llm", "LLM calls and cost"),
]


def default_path(run_dirs: Sequence[Path]) -> Path:
    """`RUN_DIR/report.html` for one run; for several, `report.html` in their common parent."""
    if len(run_dirs) == 1:
        return run_dirs[0] / REPORT_NAME
    parents = [str(Path(d).resolve().parent) for d in run_dirs]
    return Path(os.path.commonpath(parents)) / REPORT_NAME


def write_report(run_dirs: Iterable[str | Path], out: str | Path | None = None) -> Path:
    """Write the HTML report of `run_dirs` and return its path.

    `out` is a file (ending in .html) or a directory to put `report.html` in; by default the
    report goes beside the run (`default_path`).
    """
    dirs = [Path(d) for d in run_dirs]
    if not dirs:
        raise ValueError("a report needs at least one run directory")
    runs = [as_run(d) for d in dirs]  # FileNotFoundError for a path that is not a run
    if out is None:
        path = default_path(dirs)
    else:
        path = Path(out)
        if path.suffix.lower() != ".html":
            path = path / REPORT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(scrub(build_report(runs)), encoding="utf-8")  # agent texts are model output
    return path


def grouping_column(info: pd.DataFrame) -> str | None:
    """The first config key whose value differs between the runs (None if they agree)."""
    for key in GROUPING_KEYS:
        if key in info and info[key].astype(str).nunique() > 1:
            return key
    return None


def build_report(runs: Sequence[RunLike]) -> str:
    """The report's HTML text."""
    runs = [as_run(r) for r in runs]
    info = pd.DataFrame([run_info(r) for r in runs])
    group = grouping_column(info)
    with warnings.catch_warnings():  # the sections below say what is missing
        warnings.simplefilter("ignore", DecisionsNotLogged)
        pairs = _pooled(runs, lambda r: with_donor(pairs_from_run(r), r.agents))
    missing = [m for m in (missing_decisions(r) for r in runs) if m is not None]
    title = (f"Societas report: {info.loc[0, 'run']}" if len(runs) == 1
             else f"Societas report: {len(runs)} runs")
    sections = [
        _runs_section(info),
        _cooperation_section(runs, group),
        _reciprocity_section(runs, pairs, missing),
        _punishment_section(info, pairs, missing),
        _strategies_section(runs),
        _examples_section(runs),
        _llm_section(runs),
    ]
    return h.page(title, SECTIONS, sections)


def _pooled(runs: Sequence[Run], extract) -> pd.DataFrame:
    """`extract(run)` for each run, concatenated with a `run` column."""
    parts = [extract(r).assign(run=r.path.name) for r in runs]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


# -- sections --------------------------------------------------------------------------------
def _runs_section(info: pd.DataFrame) -> str:
    columns = [c for c in ("run", "scenario", "seed", "model", "brains", "protocol", "agents",
                           "generations", "games", "rounds", "pairing", "punishment",
                           "trace_depth", "status")
               if c in info]
    return h.section("runs", "Runs", [h.table(info[columns], index=False, text_cells=True)])


def _cooperation_section(runs: Sequence[Run], group: str | None) -> str:
    frame = load_many(runs, per_generation)
    body = []
    if len(runs) == 1:
        body.append(h.figure(plot_per_generation(runs[0]),
                             "final resources and donation fraction per generation"))
        table = frame.set_index("generation")[["donation_fraction", "final_resources", "gini"]]
        body.append(h.table(table))
        return h.section("cooperation", "Cooperation", body)
    for value in ("donation_fraction", "final_resources"):
        body.append(h.figure(plot_cooperation_across_seeds(frame, value, by=group),
                             f"{value} per generation across seeds"))
    if group is not None:
        body.append(h.figure(plot_comparison(frame, by=group, value="final_resources"),
                             f"final resources per generation by {group}"))
    keys = [group, "generation"] if group else ["generation"]
    means = frame.groupby(keys)[["donation_fraction", "final_resources", "gini"]].mean()
    means["runs"] = frame.groupby(keys)["run"].nunique()
    body.append(h.note("Means across runs per generation"
                       + (f", by {group}." if group else ".")))
    body.append(h.table(means))
    return h.section("cooperation", "Cooperation", body)


def _reciprocity_section(runs: Sequence[Run], pairs: pd.DataFrame, missing: list[str]) -> str:
    body = [h.note(
        "How strongly a donor's gift follows the recipient's last share given: the OLS slope "
        "of gift on last share and Spearman's rho, each with a 95% interval; decisions about "
        "recipients without a record and fallbacks are left out.")]
    body += [h.note(text) for text in missing]
    rows = {r.path.name: reciprocity(pairs[pairs["run"] == r.path.name]).as_dict()
            for r in runs}
    if len(runs) > 1:
        rows["all runs"] = reciprocity(pairs).as_dict()
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "run"
    body.append(h.table(table))
    body.append(h.figure(plot_gift_heatmap(pairs, by="donor_kind"),
                         "mean share given by donor strategy and recipient reputation"))
    return h.section("reciprocity", "Reciprocity", body)


def _punishment_section(info: pd.DataFrame, pairs: pd.DataFrame, missing: list[str]) -> str:
    allowed = bool(info.get("punishment", pd.Series([False])).astype(bool).any())
    punished = bool((pairs["action"] == "punish").any()) if not pairs.empty else False
    if not allowed and not punished:
        return h.section("punishment", "Punishment",
                         [h.note("Punishment was not allowed in these runs.")])
    body = [h.note("Punishments by the target's last act: stingy = gave less than 25% (or "
                   "punished), generous = gave at least 25%. rate = punishments / acts toward "
                   "that class; share = part of all punishments.")]
    body += [h.note(text) for text in missing]
    if pairs.empty:
        return h.section("punishment", "Punishment", body)
    body.append(h.table(punishment_use(pairs, per_generation=False)))
    by_generation = punishment_use(pairs).xs("all", level="target")
    body.append(h.note("Per generation, all targets:"))
    body.append(h.table(by_generation))
    return h.section("punishment", "Punishment", body)


def _strategies_section(runs: Sequence[Run]) -> str:
    scores = _pooled(runs, lambda r: r.generation_scores)
    body = []
    if max((r.generation_scores["generation"].nunique() for r in runs), default=0) < 2:
        body.append(h.note("Culture passes between generations, and these runs have one: no "
                           "agent has inherited a strategy yet, so the lineage trees have no "
                           "links and strategy texts are not compared between generations."))
    if not scores.empty:
        survival = strategy_survival(scores)
        body.append(h.figure(plot_strategy_shares(survival),
                             "population share of each strategy type per generation"))
        totals = survival.groupby(level=1)[["agents", "survivors"]].sum()
        totals["survival_rate"] = totals["survivors"] / totals["agents"]
        body.append(h.note("Survival of each strategy type over all generations"
                           + (" and runs:" if len(runs) > 1 else ":")))
        body.append(h.table(totals))
    force = _pooled(runs, lambda r: strategies_in_force(r.strategies, r.generation_scores))
    if force.empty:
        body.append(h.note("No strategy texts were recorded."))
        return h.section("strategies", "Strategies and norms", body)
    clusters = strategy_clusters(force["text"].tolist())
    names = clusters.names()
    body.append(h.figure(plot_cluster_shares(cluster_shares(force["generation"], clusters.labels),
                                             names),
                         "share of strategy texts in each text cluster per generation"))
    examples = [force["text"].iloc[int((clusters.labels == c).argmax())]
                for c in range(clusters.k)]
    table = pd.DataFrame({
        "cluster": names, "texts": clusters.sizes,
        "telling words": [", ".join(w) for w in clusters.words],
        "example": [_clip(t, 240) for t in examples],
    })
    body.append(h.table(table, index=False, text_cells=True))
    convergence = _pooled(runs, lambda r: text_convergence(
        strategies_in_force(r.strategies, r.generation_scores)).reset_index())
    body.append(h.figure(plot_text_similarity(convergence),
                         "TF-IDF cosine similarity of strategy texts within and between "
                         "generations"))
    for run in runs[:MAX_RUNS_DETAILED]:
        body.append(f"<h3>Lineage: {h.text(run.path.name)}</h3>")
        body.append(h.figure(plot_lineage(run.agents, run.generation_scores),
                             f"lineage tree of {run.path.name}"))
    if len(runs) > MAX_RUNS_DETAILED:
        body.append(h.note(f"Lineage trees of the first {MAX_RUNS_DETAILED} runs only."))
    return h.section("strategies", "Strategies and norms", body)


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _examples_section(runs: Sequence[Run]) -> str:
    body = [h.note(f"Up to {EXAMPLES_PER_GENERATION} strategies written in each generation "
                   "(survivors keep theirs and are not repeated). Agent text is shown as "
                   "written, escaped.")]
    for i, run in enumerate(runs[:MAX_RUNS_DETAILED]):
        strategies = run.strategies
        kinds = dict(zip(run.agents["agent_id"], run.agents["kind"], strict=True))
        parts = [f"<details{' open' if i == 0 else ''}><summary>{h.text(run.path.name)}"
                 f" ({len(strategies)} strategies)</summary>"]
        for generation, written in strategies.groupby("generation"):
            parts.append(f"<h4>Generation {int(generation)}</h4>")
            for row in written.head(EXAMPLES_PER_GENERATION).itertuples(index=False):
                kind = kinds.get(row.agent_id, "?")
                by = "" if row.source in (kind, "rule", "llm") else f", {row.source}"
                label = f"{row.agent_id} ({kind}{by})"
                parts.append(f"<p>{h.text(label)}</p><blockquote class=\"strategy\">"
                             f"{h.text(_clip(row.text, EXAMPLE_CHARS))}</blockquote>")
        parts.append("</details>")
        body.append("\n".join(parts))
    return h.section("examples", "Example strategies", body)


def _llm_section(runs: Sequence[Run]) -> str:
    stats = pd.DataFrame({r.path.name: call_statistics(r.llm_calls, r.decisions) for r in runs})
    stats = stats.T
    stats.index.name = "run"
    if int(stats["calls"].sum()) == 0:
        return h.section("llm", "LLM calls and cost", [h.note(
            "No model calls: these runs used rule brains only.")])
    if len(runs) > 1:
        total = stats.drop(columns=["latency_median_s", "latency_p95_s", "fallback_rate"]).sum()
        stats.loc["all runs"] = total
        decided = stats.loc["all runs", "decisions"]
        stats.loc["all runs", "fallback_rate"] = (
            stats.loc["all runs", "fallbacks"] / decided if decided else float("nan"))
    body = [h.note("calls by outcome; retries = extra HTTP attempts; repairs = re-prompts "
                   "after an unusable reply; latency in seconds (wall time); fallbacks = "
                   "decisions the engine made because the model gave no usable answer."),
            h.table(stats.T.rename_axis("statistic"), digits=4)]
    return h.section("llm", "LLM calls and cost", body)
