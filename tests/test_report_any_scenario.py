"""`analysis.load` and `societas report` work for any scenario, not only the Donor Game.

A tiny scenario is built here (a `World` with one SimPy process writing a table of its own)
and registered only for these tests, once declaring nothing and once declaring its analysis;
a run of a scenario that is not installed must still load and report. Donor Game runs check
the grouping: two conditions are two groups, named by the key that differs, and seeds of one
condition are one group.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

import analysis
import sim.registry
from analysis._plotting import Palette
from analysis.report import build_report, write_report
from analysis.scenario import group_label, grouping_keys, report_context
from sim.cli import main
from sim.config import RunConfig, load_config
from sim.registry import ScenarioSpec, get_scenario
from sim.runs.runner import run_scenario
from sim.scenario_analysis import HeadlineSeries, ReportSection, RunFigure, ScenarioAnalysis
from sim.world import World

DONOR_GAME = get_scenario("donor-game")
BROWSER_FLAGS = [  # as tests/test_report.py: offline, no profile state, time to decode images
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--virtual-time-budget=10000",
]


def chromium() -> str | None:
    found = (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome"))
    return next((path for path in found if path), None)


class TossConfig(RunConfig):
    rounds: int = 3


class CoinToss(World):
    """Each step every one of three coins is tossed; heads are counted in `tosses`."""

    def __init__(self, config: TossConfig, *, store=None, gateway=None) -> None:
        super().__init__(config, store=store, gateway=gateway)
        if store is not None:
            store.define_table("tosses", {"step": "INTEGER", "coin": "INTEGER",
                                          "heads": "INTEGER"})
        self.process(self.toss(config.rounds))

    def toss(self, rounds: int):
        for step in range(rounds):
            rows = [{"step": step, "coin": c, "heads": int(self.rng.integers(2))}
                    for c in range(3)]
            if self.store is not None:
                self.store.insert("tosses", rows)
                self.store.commit()
            yield self.env.timeout(1)


def heads_per_step(run) -> pd.DataFrame:
    tosses = run.table("tosses")
    return tosses.groupby("step", as_index=False)["heads"].mean().rename(
        columns={"heads": "value"})


def tosses_section(runs, context) -> list:
    frame = pd.concat([r.table("tosses").assign(run=r.path.name) for r in runs])
    fig = Figure()
    fig.add_subplot().plot(frame.groupby("step")["heads"].mean())
    return ["Heads per step, all runs.", frame.groupby("run")["heads"].sum().to_frame(), fig]


DECLARED = ScenarioAnalysis(
    tables={"never_written": ["a", "b"]},
    headline=(HeadlineSeries("heads", "share of heads", heads_per_step, x="step",
                             bounds=(0, 1)),),
    sections=(ReportSection("tosses", "Tosses", tosses_section),
              ReportSection("quiet", "A quiet section", lambda runs, context: [])),
    figures=(RunFigure("heads.png", "heads per step",
                       lambda run: tosses_section([run], None)[2]),),
)
BARE = ScenarioSpec(name="coin-toss", summary="coins", config_type=TossConfig, model=CoinToss)
DECLARING = ScenarioSpec(name="coin-toss", summary="coins", config_type=TossConfig,
                         model=CoinToss, analysis=DECLARED)


def register(monkeypatch, attribute: str) -> ScenarioSpec:
    """Make 'coin-toss' findable by the registry, as an entry point would, for one test."""
    targets = sim.registry._targets()
    monkeypatch.setattr(sim.registry, "_targets",
                        lambda: {**targets, "coin-toss": f"{__name__}:{attribute}"})
    return get_scenario("coin-toss")


def toss_runs(root: Path, spec: ScenarioSpec, seeds=(0, 1)) -> list[Path]:
    return [run_scenario(spec, load_config(TossConfig, values={"seed": seed}),
                         run_dir=root / f"toss-s{seed}", progress=False).run_dir
            for seed in seeds]


def notes(page: str) -> list[str]:
    return [n.replace("&#x27;", "'") for n in re.findall(r'<p class="note">([^<]*)</p>', page)]


def test_a_scenario_that_declares_nothing_loads_and_reports(tmp_path, monkeypatch, capsys):
    spec = register(monkeypatch, "BARE")
    dirs = toss_runs(tmp_path, spec)
    run = analysis.load(dirs[0])
    assert run.scenario == "coin-toss" and run.scenario_known
    assert len(run.tosses) == 9 and list(run.tosses.columns) == ["step", "coin", "heads"]
    assert run.strategies.empty and list(run.generation_scores.columns)[:3] == [
        "generation", "agent_id", "brain"]
    with pytest.raises(AttributeError, match="tosses"):
        run.donations  # noqa: B018  (not a table of this run; the message lists them)
    assert analysis.load_many(dirs, "tosses").groupby("seed").size().to_dict() == {0: 9, 1: 9}
    with pytest.raises(KeyError, match="tosses"):  # in none of the runs: says what there is
        analysis.load_many(dirs, "donations")

    assert main(["report", *map(str, dirs), "--out", str(tmp_path / "r.html")]) == 0
    assert "scenario coin-toss declares no figures" in capsys.readouterr().out
    said = notes((tmp_path / "r.html").read_text(encoding="utf-8"))
    for sentence in ("The scenario 'coin-toss' declares no headline series.",
                     "The scenario 'coin-toss' declares no report sections of its own.",
                     "No strategy texts were recorded in these runs.",
                     "The scenario 'coin-toss' declares no figures of a run.",
                     "No model calls: these runs used rule brains only."):
        assert sentence in said
    assert any("no strategy survival" in n for n in said)
    assert any(n.startswith("One group") for n in said)  # two seeds, one condition


def test_a_run_of_a_scenario_not_installed_here_still_loads_and_reports(tmp_path, monkeypatch):
    dirs = toss_runs(tmp_path, register(monkeypatch, "BARE"), seeds=(0,))
    monkeypatch.undo()  # the scenario is gone, as on a colleague's machine
    run = analysis.load(dirs[0])
    assert not run.scenario_known
    assert run.tosses["heads"].isin([0, 1]).all()  # every table in the store still reads
    said = notes(write_report(dirs).read_text(encoding="utf-8"))
    assert any("'coin-toss' is not installed here" in n and "sections are missing" in n
               for n in said)


def test_a_declared_analysis_is_what_the_report_shows(tmp_path, monkeypatch):
    dirs = toss_runs(tmp_path, register(monkeypatch, "DECLARING"))
    assert (dirs[0] / "figures" / "heads.png").is_file()  # the runner drew the declared figure
    run = analysis.load(dirs[0])
    assert run.never_written.empty and list(run.never_written.columns) == ["a", "b"]
    page = build_report([analysis.load(d) for d in dirs])
    for anchor in ("tosses", "quiet", "headline", "figures"):
        assert f'<section id="{anchor}">' in page
    quiet = page[page.index('id="quiet"'):page.index("</section>", page.index('id="quiet"'))]
    assert "No data for this section" in quiet
    headline = page[page.index('id="headline"'):page.index('id="tosses"')]
    assert "share of heads" in headline and "<img" in headline
    assert re.search(r"<td>all runs</td>\s*<td>0</td>\s*<td>2</td>", headline)  # 2 seeds


def test_a_third_party_report_displays_in_headless_chromium(tmp_path, monkeypatch):
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed (CI installs it: apt-get install chromium)")
    report = write_report(toss_runs(tmp_path, register(monkeypatch, "DECLARING")))
    dom = subprocess.run(
        [browser, *BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
         report.resolve().as_uri()], capture_output=True, text=True, timeout=120).stdout
    n_images = report.read_text(encoding="utf-8").count("<img ")
    assert n_images >= 4 and f'data-images="{n_images}/{n_images}"' in dom


def donor_runs(root: Path, conditions: list[dict]) -> list[Path]:
    dirs = []
    for i, values in enumerate(conditions):
        config = load_config(DONOR_GAME.config_type, values={
            "agents": 4, "generations": 2, "rounds": 3, "games": 1, **values})
        dirs.append(run_scenario(DONOR_GAME, config, run_dir=root / f"dg-{i}", progress=False,
                                 figures=False).run_dir)
    return dirs


def test_two_conditions_are_two_groups_named_by_the_key_that_differs(tmp_path):
    dirs = donor_runs(tmp_path, [{"punishment": p, "seed": s}
                                 for p in ("none", "costly") for s in (0, 1)])
    runs = [analysis.load(d) for d in dirs]
    context = report_context(runs)
    assert context.group_keys == ["punishment"]
    assert sorted(set(context.groups.values())) == ["punishment=costly", "punishment=none"]
    page = build_report(runs)
    assert any(n.startswith("2 groups of runs") and n.count("punishment") == 1
               for n in notes(page))
    headline = page[page.index('id="headline"'):page.index("</section>",
                                                         page.index('id="headline"'))]
    for group in ("punishment=none", "punishment=costly"):  # each pools its two seeds only
        assert re.search(rf"<td>{group}</td>\s*<td>1</td>\s*<td>2</td>", headline)


def test_seeds_of_one_condition_are_one_group(tmp_path):
    # the seed never counts, nor does a key that cannot change results (timeout_s)
    dirs = donor_runs(tmp_path, [{"seed": 0}, {"seed": 1, "timeout_s": 5.0}])
    runs = [analysis.load(d) for d in dirs]
    assert report_context(runs).group_keys == []
    said = notes(build_report(runs))
    assert any(n.startswith("One group") for n in said)
    assert "Punishment was not allowed in these runs." in said  # the default: 'none'


def test_grouping_ignores_only_keys_that_cannot_change_results():
    base = {"seed": 0, "model": "m", "api_key_env": "A", "max_concurrency": 4,
            "log_decisions": "all", "outage_patience_s": 60, "timeout_s": 30,
            "brains": {"llm": 1, "rule": 1}}
    other = {**base, "seed": 1, "api_key_env": "B", "max_concurrency": 8,
             "log_decisions": "none", "outage_patience_s": 5, "timeout_s": 9,
             "brains": {"llm": 2, "rule": 2}}  # the same mix, written differently
    assert grouping_keys([base, other]) == []
    assert grouping_keys([base, {**other, "temperature": 0.2}]) == ["temperature"]
    assert grouping_keys([base, {**base, "brains": {"llm": 1}}]) == ["brains"]
    # a table of keys groups by the key inside it that differs, not by the whole table
    settings = {"preset": "paper", "reflection_threshold": 150.0}
    no_reflection = {**base, "memory_settings": {**settings, "reflection_threshold": 1e5}}
    configs = [{**base, "memory_settings": settings}, no_reflection]
    assert grouping_keys(configs) == ["memory_settings.reflection_threshold"]
    assert group_label(no_reflection, grouping_keys(configs)) \
        == "memory_settings.reflection_threshold=100000.0"


def test_strategy_colours_are_distinct_and_stable():
    labels = [f"family_{i}" for i in range(60)] + ["llm"]
    palette = Palette(labels)
    assert len(set(palette.colors.values())) == len(labels)  # no two labels share a colour
    assert Palette(reversed(labels)).colors == palette.colors  # order given does not matter
    few = Palette(["standing", "llm", "always_defect"])
    assert len({few.color(k) for k in ("standing", "llm", "always_defect")}) == 3


def test_analysis_imports_no_scenario_and_the_declaration_no_plotting():
    code = ("import sys, sim.scenario_analysis, sim.registry\n"
            "assert 'pandas' not in sys.modules and 'matplotlib' not in sys.modules\n"
            "import analysis, analysis.report, analysis.metrics, analysis.figures\n"
            "assert not [m for m in sys.modules if m.startswith('scenarios')]\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_a_spec_drawing_its_own_figures_still_works_but_is_deprecated(tmp_path: Path) -> None:
    def draw(run_dir: Path) -> list[Path]:
        (Path(run_dir) / "figures").mkdir()
        (Path(run_dir) / "figures" / "mine.png").write_bytes(b"not really a png")
        return [Path(run_dir) / "figures" / "mine.png"]

    with pytest.warns(DeprecationWarning, match="declare the figures as RunFigure"):
        old_style = dataclasses.replace(BARE, draw_figures=draw)
    result = run_scenario(old_style, TossConfig(seed=1), run_dir=tmp_path / "run",
                          progress=False)
    assert [p.name for p in result.figures] == ["mine.png"]
