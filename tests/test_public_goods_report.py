"""`societas report` on public goods runs: the scenario's declared analysis rendered, with its
figures, two conditions as two groups, checked in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from scenarios.public_goods import SCENARIO
from sim import load_config
from sim.cli import main
from sim.runs.runner import RunOptions, run_scenario

BROWSER_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--virtual-time-budget=10000",
]


def chromium() -> str | None:
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                "google-chrome"))), None)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pg")
    for seed, punishment in ((0, "none"), (1, "none"), (0, "costly")):
        config = load_config(SCENARIO.config_type, values={
            "seed": seed, "generations": 3, "rounds": 4, "punishment": punishment})
        run_scenario(SCENARIO, config, run_dir=root / f"{punishment}-s{seed}",
                     options=RunOptions(progress=False, figures=False))
    out = root / "report.html"
    assert main(["report", *map(str, sorted(root.iterdir())), "--out", str(out)]) == 0
    return out


def test_report_renders_the_public_goods_sections_and_figures(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    titles = re.findall(r"<h2>(.*?)</h2>", page)
    assert "Contributions and punishment" in titles and "Headline series" in titles
    assert "mean contribution (share of the endowment)" in page
    # two conditions, never pooled as seeds: one block of the section per group
    section = page[page.index('<section id="contributions">'):]
    section = section[:section.index("</section>")]
    assert "punishment=none (2 runs)" in section and "punishment=costly (1 run)" in section
    # every run's declared figures are in the report
    for caption in ("mean contribution in each round, by strategy",
                    "payoffs and population by strategy, per generation"):
        assert page.count(caption) == 3


def test_report_opens_in_headless_chromium_with_every_image_shown(report: Path,
                                                                  tmp_path: Path) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed (CI installs it: apt-get install chromium)")
    result = subprocess.run(
        [browser, *BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
         report.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    n_images = len(re.findall(r"<img ", report.read_text(encoding="utf-8")))
    assert n_images >= 2 * 3 + 2  # the runs' figures and the section's, at least
    assert f'data-images="{n_images}/{n_images}"' in result.stdout
    assert 'data-images-ok="yes"' in result.stdout
