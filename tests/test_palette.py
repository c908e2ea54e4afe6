"""Strategy colours a reader can follow: families grouped, parameters in numeric order, and
one palette for every figure of a report, the scenario's own figures included."""

from __future__ import annotations

import colorsys
from pathlib import Path

import pytest
from matplotlib.colors import to_hex, to_rgb
from run_helpers import quiet

import analysis
from analysis import figures as fig
from analysis import metrics as m
from analysis.palette import UNKNOWN, Palette, family_of
from analysis.scenario import report_context, run_palette
from sim import get_scenario, load_config
from sim.runs.runner import run_scenario

LABELS = ["llm", "generous(g=10)", "always_defect", "generous(g=2)", "generous(g=0.5)",
          "tit_for_tat-10", "tit_for_tat-2", "tit_for_tat"]


def hls(color: str) -> tuple[float, float, float]:
    return colorsys.rgb_to_hls(*to_rgb(color))


def test_labels_are_ordered_by_family_then_by_their_parameters_as_numbers():
    palette = Palette(LABELS)
    assert palette.labels == ["always_defect", "generous(g=0.5)", "generous(g=2)",
                              "generous(g=10)", "llm", "tit_for_tat", "tit_for_tat-2",
                              "tit_for_tat-10"]
    assert Palette(reversed(LABELS)).colors == palette.colors  # the order given does not matter
    assert palette.order(["llm", "unknown", "generous(g=10)", "always_defect"]) == [
        "always_defect", "generous(g=10)", "llm", "unknown"]
    assert family_of("generous(g=0.3)") == "generous" and family_of("llm:gpt-4o") == "llm"
    assert palette.color("unknown") == UNKNOWN


def test_a_family_shares_a_hue_in_shades_dark_to_light_and_families_differ():
    palette = Palette(LABELS)
    colors = [palette.color(label) for label in palette.labels]
    assert len(set(colors)) == len(colors)  # no two labels share a colour
    generous = [hls(palette.color(f"generous(g={g})")) for g in ("0.5", "2", "10")]
    assert max(h for h, _, _ in generous) - min(h for h, _, _ in generous) < 0.01
    assert [lightness for _, lightness, _ in generous] == sorted(
        lightness for _, lightness, _ in generous)  # lowest parameter darkest
    hues = {round(hls(palette.color(label))[0], 2) for label in
            ("always_defect", "generous(g=2)", "llm", "tit_for_tat")}
    assert len(hues) == 4
    # a label alone in its family keeps the family's colour itself, the first tabulated one
    assert palette.color("always_defect") == to_hex("tab:blue")


def test_many_families_stay_distinct():
    labels = [f"family_{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(60)] + ["llm"]
    palette = Palette(labels)
    assert len(set(palette.colors.values())) == len(labels)


@pytest.fixture(scope="module")
def commons_run(tmp_path_factory) -> Path:
    scenario = get_scenario("commons")
    config = load_config(scenario.config_type, values={
        "seed": 1, "seasons": 3, "generations": 2,
        "brains": {"greedy": 2, "sustainable": 2, "conditional": 1}})
    return run_scenario(scenario, config, run_dir=tmp_path_factory.mktemp("commons") / "run",
                        options=quiet()).run_dir


def test_every_figure_of_a_report_colours_a_strategy_alike(commons_run: Path):
    run = analysis.load(commons_run)
    context = report_context([run])
    assert run_palette(run) is context.palette  # the report hands its palette to the run
    catches = next(f for f in run.analysis_spec.figures if f.file == "catches_per_agent.png")
    lines = catches.draw(run).axes[0].get_lines()
    drawn = {line.get_label(): to_hex(line.get_color()) for line in lines
             if not line.get_label().startswith("_") and line.get_label() != "sustainable share"}
    assert set(drawn) == {"greedy", "sustainable", "conditional"}
    assert drawn == {kind: context.color(kind) for kind in drawn}
    survival = m.strategy_survival(run.generation_scores)
    shares = fig.plot_strategy_shares(survival, palette=context.palette)
    legend = shares.axes[0].get_legend()
    entries = {t.get_text(): to_hex(h.get_facecolor())
               for t, h in zip(legend.get_texts(), legend.legend_handles, strict=True)}
    assert entries == {kind: context.color(kind) for kind in entries}
    # stacked bottom-up, and listed top-down, in the palette's order
    assert [t.get_text() for t in legend.get_texts()][::-1] == context.palette.order(entries)
    tree = fig.plot_lineage(run.agents, run.generation_scores, palette=context.palette)
    names = [t.get_text() for t in tree.axes[0].get_legend().get_texts()]
    assert names[:3] == context.palette.order(["greedy", "sustainable", "conditional"])
