"""`societas report`: one self-contained HTML page about one or several runs of any scenario.

A report is what a researcher sends a colleague: it must open anywhere, offline, years later.
So every figure is embedded as a base64 PNG, there is no JavaScript beyond a check that the
images decoded, and every piece of text a run produced is escaped.

The generic sections read only the engine's and the population's tables, so they work for
every scenario; the scenario's own sections come from its `ScenarioAnalysis`. A section with
nothing to show says so in one sentence. Several runs are grouped by the config keys that
differ between them (`analysis.scenario.grouping_keys`), so two conditions are never pooled
as seeds, and each strategy label keeps one colour throughout the report.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from contextlib import ExitStack
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from analysis import _html as h
from analysis.counting import shown, shown_columns
from analysis.figures import (
    plot_cluster_shares,
    plot_lineage,
    plot_strategy_shares,
    plot_text_similarity,
)
from analysis.figures.headline import across_seeds, plot_headline
from analysis.figures.lineage import FULL_TREE_MAX, SAMPLE_LINES, TOP_FAMILIES
from analysis.many import RunLike, as_run, run_info
from analysis.metrics import (
    call_statistics,
    cluster_shares,
    strategies_in_force,
    strategy_clusters,
    strategy_survival,
    text_convergence,
)
from analysis.run import Run
from analysis.scenario import (
    NON_RESULT_KEYS,
    Html,
    ReportContext,
    config_text,
    report_context,
    strategy_labels,
)
from analysis.sweep import expand_sweeps
from sim.llm.redaction import scrub

REPORT_NAME = "report.html"
MAX_RUNS_DETAILED = 3  # lineage trees, run figures and strategy examples for this many runs
EXAMPLES_PER_GENERATION = 3
EXAMPLE_CHARS = 600
#: The generic sections, in the order they appear (the scenario's own follow the headline).
SECTIONS = [
    ("runs", "Runs"), ("headline", "Headline series"), ("survival", "Strategy survival"),
    ("lineage", "Lineage"), ("strategies", "Strategy texts"),
    ("examples", "Example strategies"), ("figures", "Figures of each run"),
    ("llm", "LLM calls and cost"),
]


def default_path(run_dirs: Sequence[Path]) -> Path:
    """`RUN_DIR/report.html` for one run; for several, `report.html` in their common parent."""
    if len(run_dirs) == 1:
        return run_dirs[0] / REPORT_NAME
    parents = [str(Path(d).resolve().parent) for d in run_dirs]
    return Path(os.path.commonpath(parents)) / REPORT_NAME


def write_report(run_dirs: Iterable[str | Path | Run], out: str | Path | None = None) -> Path:
    """Write the HTML report of `run_dirs` (directories or loaded `Run`s) and return its path.

    `out` is a file (ending in .html) or a directory to put `report.html` in; by default the
    report goes beside the run (`default_path`; a sweep's goes in the sweep directory). A sweep
    directory among `run_dirs` stands for the runs it holds.
    """
    runs = [entry if isinstance(entry, Run) else as_run(d)  # FileNotFoundError: not a run
            for entry in run_dirs
            for d in ([entry] if isinstance(entry, Run) else expand_sweeps([entry]))]
    if not runs:  # a sweep directory above stood for its runs
        raise ValueError("a report needs at least one run directory")
    dirs = [run.path for run in runs]
    if out is None:
        path = default_path(dirs)
    else:
        path = Path(out)
        if path.suffix.lower() != ".html":
            path = path / REPORT_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(scrub(build_report(runs)), encoding="utf-8")  # agent texts are model output
    return path


def build_report(runs: Sequence[RunLike]) -> str:
    """The report's HTML text. Each run's tables are read once for the whole report
    (`Run.cached`)."""
    runs = [as_run(r) for r in runs]
    with ExitStack() as reading:
        for run in runs:
            reading.enter_context(run.cached())
        return _build(runs)


def _build(runs: list[Run]) -> str:
    context = report_context(runs)
    title = (f"Societas report: {runs[0].path.name}" if len(runs) == 1
             else f"Societas report: {len(runs)} runs")
    scenario_nav, scenario_sections = _scenario_sections(runs, context)
    nav = [SECTIONS[0], SECTIONS[1], *scenario_nav, *SECTIONS[2:]]
    sections = [
        _runs_section(runs, context),
        _headline_section(runs, context),
        *scenario_sections,
        _survival_section(runs, context),
        _lineage_section(runs, context),
        _strategies_section(runs),
        _examples_section(runs),
        _figures_section(runs),
        _llm_section(runs),
    ]
    return h.page(title, nav, sections)


def by_scenario(runs: Sequence[Run]) -> dict[str, list[Run]]:
    """The runs of each scenario, in the order they were given."""
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.scenario or "(unnamed)", []).append(run)
    return groups


def render_parts(parts: Sequence[object], caption: str) -> list[str]:
    """A section body from what a scenario's section returned (see `ReportSection`)."""
    body = []
    for part in parts:
        if isinstance(part, Html):
            body.append(str(part))
        elif isinstance(part, str):
            body.append(h.note(part))
        elif isinstance(part, pd.DataFrame):
            # a table's index is shown unless it is the unnamed 0, 1, 2, ... of a plain frame
            # (a generation index 0..n-1 is a RangeIndex too, but a named one)
            plain = isinstance(part.index, pd.RangeIndex) and part.index.name is None
            body.append(h.table(part, index=not plain))
        elif isinstance(part, Figure):
            body.append(h.figure(part, caption))
        else:
            raise TypeError(f"a report section returned a {type(part).__name__}; expected "
                            "str, Html, DataFrame or Figure")
    return body


def _scenario_sections(runs: Sequence[Run], context: ReportContext
                       ) -> tuple[list[tuple[str, str]], list[str]]:
    nav, sections = [], []
    for scenario, members in by_scenario(runs).items():
        declared = members[0].analysis_spec
        if not members[0].scenario_known:
            anchor = f"scenario-{scenario}"
            nav.append((anchor, f"{scenario}: scenario sections"))
            sections.append(h.section(anchor, f"{scenario}: scenario sections", [h.note(
                f"The scenario {scenario!r} is not installed here, so its own sections are "
                "missing: only the generic sections are shown.")]))
            continue
        if not declared.sections:
            anchor = f"scenario-{scenario}"
            nav.append((anchor, f"{scenario}: scenario sections"))
            sections.append(h.section(anchor, f"{scenario}: scenario sections", [h.note(
                f"The scenario {scenario!r} declares no report sections of its own.")]))
            continue
        for section in declared.sections:
            body = render_parts(section.render(members, context), section.title)
            if not body:
                body = [h.note(f"No data for this section in these runs of {scenario!r}.")]
            nav.append((section.key, section.title))
            sections.append(h.section(section.key, section.title, body))
    return nav, sections


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- generic sections --------------------------------------------------------------------------
def _runs_section(runs: Sequence[Run], context: ReportContext) -> str:
    info = pd.DataFrame([run_info(r) for r in runs])
    info["group"] = [context.groups[r.path.name] for r in runs]
    columns = [c for c in ("run", "scenario", "seed", "group", "model", "status") if c in info]
    body = []
    if context.group_keys:
        body.append(h.note(
            f"{info['group'].nunique()} groups of runs, defined by the config keys whose "
            f"values differ between the runs: {', '.join(context.group_keys)}. Runs pool as "
            f"seeds only within a group. Never counted: {', '.join(sorted(NON_RESULT_KEYS))}."))
    else:
        body.append(h.note(
            f"One group: no config key other than the seed (and keys that cannot change "
            f"results: {', '.join(sorted(NON_RESULT_KEYS - {'seed'}))}) differs between the "
            f"runs, so the {len(runs)} run{'s are seeds' if len(runs) != 1 else ' is one seed'}"
            " of one condition."))
    body.append(h.table(info[columns], index=False, text_cells=True))
    keys = sorted({key for r in runs for key in r.config})
    config = pd.DataFrame({r.path.name: [config_text(r.config.get(k, "–")) for k in keys]
                           for r in runs}, index=pd.Index(keys, name="config key"))
    if not config.empty:
        body.append(h.note("Each run's resolved config:"))
        body.append(h.table(config, text_cells=True))
    return h.section("runs", "Runs", body)


def _headline_section(runs: Sequence[Run], context: ReportContext) -> str:
    body = []
    for scenario, members in by_scenario(runs).items():
        headline = members[0].analysis_spec.headline
        if not members[0].scenario_known:
            body.append(h.note(f"The scenario {scenario!r} is not installed here, so its "
                               "headline series are unknown."))
            continue
        if not headline:
            body.append(h.note(f"The scenario {scenario!r} declares no headline series."))
            continue
        for series in headline:
            parts = [series.compute(r).assign(run=r.path.name, group=context.groups[r.path.name])
                     for r in members]
            frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
            if frame.empty or frame["value"].dropna().empty:
                body.append(h.note(f"No data recorded for {series.label}."))
                continue
            body.append(h.figure(plot_headline(frame, series.label, x=series.x,
                                               bounds=series.bounds),
                                 f"{series.label} per {series.x}, by group"))
            table = shown_columns(across_seeds(frame, series.x)).set_index(["group", series.x])
            body.append(h.note(f"{series.label}: mean across the group's runs and its 95% "
                               "t interval (none for a group of one run)."))
            body.append(h.table(table))
    return h.section("headline", "Headline series", body)


def labelled_scores(run: Run) -> pd.DataFrame:
    """`generation_scores` with each agent's strategy `label`."""
    scores = run.generation_scores
    labels = strategy_labels(run)
    return scores.assign(label=scores["agent_id"].map(labels).fillna(scores["kind"]))


def _has_population(runs: Sequence[Run]) -> bool:
    return any(not r.generation_scores.empty for r in runs)


def _survival_section(runs: Sequence[Run], context: ReportContext) -> str:
    if not _has_population(runs):
        return h.section("survival", "Strategy survival", [h.note(
            "These runs recorded no generations (no generation_scores rows), so there is no "
            "strategy survival to show.")])
    body = []
    for group, members in _by_group(runs, context).items():
        scores = pd.concat([labelled_scores(r).assign(run=r.path.name) for r in members],
                           ignore_index=True)
        if scores.empty:
            continue
        survival = strategy_survival(scores, by="label")
        if len(runs) > 1:
            body.append(f"<h3>{h.text(group)}</h3>")
        body.append(h.figure(plot_strategy_shares(survival, palette=context.palette),
                             f"population share of each strategy per generation ({group})"))
        totals = survival.groupby(level=1)[["agents", "survivors"]].sum()
        totals["survival_rate"] = totals["survivors"] / totals["agents"]
        body.append(h.note("Survival of each strategy over all generations"
                           + (" and the group's runs:" if len(members) > 1 else ":")))
        body.append(h.table(totals.rename_axis("strategy")))
    return h.section("survival", "Strategy survival", body)


def _by_group(runs: Sequence[Run], context: ReportContext) -> dict[str, list[Run]]:
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(context.groups[run.path.name], []).append(run)
    return groups


def _lineage_section(runs: Sequence[Run], context: ReportContext) -> str:
    if not _has_population(runs):
        return h.section("lineage", "Lineage", [h.note(
            "These runs recorded no generations, so there is no lineage to draw.")])
    body = []
    if max(r.generation_scores["generation"].nunique() for r in runs) < 2:
        body.append(h.note("These runs have one generation: no agent has inherited anything "
                           "yet, so the lineage trees have no links."))
    for run in runs[:MAX_RUNS_DETAILED]:
        body.append(f"<h3>{h.text(run.path.name)}</h3>")
        agents = run.agents
        if len(agents) > FULL_TREE_MAX:
            body.append(h.note(
                f"{len(agents)} agents are too many for a bar each, so the lineage is drawn in "
                "aggregate: left, each generation by its family lines (an agent's family is its "
                "founder, reached along primary parents), stacked by the founders' strategies, "
                f"the {TOP_FAMILIES} largest lines solid and the number of lines still alive "
                f"above each bar; right, a sample of {SAMPLE_LINES} lines, not all of them: "
                "the agents alive in the last generation at evenly spaced positions in family "
                "order (so large families get more lines; the same run always gives the same "
                "sample), with their ancestors."))
        body.append(h.figure(plot_lineage(agents, run.generation_scores,
                                          labels=strategy_labels(run), palette=context.palette,
                                          full_tree_max=FULL_TREE_MAX),
                             f"lineage of {run.path.name}"))
    if len(runs) > MAX_RUNS_DETAILED:
        body.append(h.note(f"Lineage trees of the first {MAX_RUNS_DETAILED} runs only."))
    return h.section("lineage", "Lineage", body)


def _pooled(runs: Sequence[Run], extract) -> pd.DataFrame:
    """`extract(run)` for each run, concatenated with a `run` column."""
    parts = [extract(r).assign(run=r.path.name) for r in runs]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _strategies_section(runs: Sequence[Run]) -> str:
    force = _pooled(runs, lambda r: strategies_in_force(r.strategies, r.generation_scores))
    if force.empty:
        return h.section("strategies", "Strategy texts", [h.note(
            "No strategy texts were recorded in these runs.")])
    body = []
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
    return h.section("strategies", "Strategy texts", body)


def _examples_section(runs: Sequence[Run]) -> str:
    if all(r.strategies.empty for r in runs):
        return h.section("examples", "Example strategies", [h.note(
            "No strategy texts were recorded in these runs.")])
    body = [h.note(f"Up to {EXAMPLES_PER_GENERATION} strategies written in each generation "
                   "(survivors keep theirs and are not repeated). Agent text is shown as "
                   "written, escaped.")]
    for i, run in enumerate(runs[:MAX_RUNS_DETAILED]):
        strategies = run.strategies
        labels = strategy_labels(run)
        parts = [f"<details{' open' if i == 0 else ''}><summary>{h.text(run.path.name)}"
                 f" ({len(strategies)} strategies)</summary>"]
        for generation, written in strategies.groupby("generation"):
            parts.append(f"<h4>Generation {shown(int(generation))}</h4>")
            for row in written.head(EXAMPLES_PER_GENERATION).itertuples(index=False):
                label = labels.get(row.agent_id, "?")
                by = "" if row.source in (label, "rule", "llm") else f", {row.source}"
                parts.append(f"<p>{h.text(f'{row.agent_id} ({label}{by})')}</p>"
                             f"<blockquote class=\"strategy\">"
                             f"{h.text(_clip(row.text, EXAMPLE_CHARS))}</blockquote>")
        parts.append("</details>")
        body.append("\n".join(parts))
    return h.section("examples", "Example strategies", body)


def _figures_section(runs: Sequence[Run]) -> str:
    body = []
    for run in runs[:MAX_RUNS_DETAILED]:
        figures = run.analysis_spec.figures
        if not figures:
            body.append(h.note(f"The scenario {run.scenario!r} declares no figures of a run."))
            continue
        body.append(f"<h3>{h.text(run.path.name)}</h3>")
        # a figure `societas report` has just drawn into RUN_DIR/figures is not drawn again
        drawn = ((run.figure_files.get(f.file) or f.draw(run), f) for f in figures)
        body += [h.figure(made, f"{f.caption} ({run.path.name})") for made, f in drawn
                 if made is not None]  # None: the run has nothing for this figure
    if len(runs) > MAX_RUNS_DETAILED:
        body.append(h.note(f"Figures of the first {MAX_RUNS_DETAILED} runs only."))
    return h.section("figures", "Figures of each run", body)


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
