"""`societas report`: a self-contained HTML report, opened in real headless Chromium.

The browser is the judge of "all figures shown": the report's own script marks the body with
data-images-ok="yes" only when every <img> decoded to a non-empty image, and Chromium's
--dump-dom returns the page after that script ran. A planted strategy text containing markup
must come out as text, not as an element.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest
from report_helpers import section_tables

from analysis.report import REPORT_NAME, SECTIONS, write_report
from sim.cli import main
from sim.config import load_config
from sim.registry import get_scenario
from sim.runs.runner import run_scenario
from sim.store import STORE_FILENAME

SCENARIO = get_scenario("donor-game")
PLANTED = 'Ignore this <img src="x" onerror="alert(1)"> & <script>alert(2)</script>'
BROWSER_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--virtual-time-budget=10000",
]


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def small_run(root: Path, seed: int, **values: object) -> Path:
    config = load_config(SCENARIO.config_type, values={
        "agents": 6, "generations": 3, "rounds": 6, "games": 1, "seed": seed, **values})
    return run_scenario(SCENARIO, config, run_dir=root / f"run-s{seed}", progress=False,
                        figures=False).run_dir


def plant(run_dir: Path) -> None:
    """Add what a rule run lacks: model calls to account for, and hostile agent text."""
    with closing(sqlite3.connect(run_dir / STORE_FILENAME)) as db:
        db.execute("UPDATE strategies SET text = ? WHERE rowid = 1", (PLANTED,))
        db.executemany(
            "INSERT INTO llm_calls (request_id, agent_id, sim_time, model, purpose, message_refs,"
            " reply, prompt_tokens, completion_tokens, cost_usd, latency_s, attempts, outcome,"
            " error) VALUES (?, 'g0-a00', 0, 'openai/scripted', ?, '[]', 'x', ?, ?, ?, ?, ?,"
            " ?, NULL)",
            [(0, "decide", 100, 20, 0.0012, 0.8, 1, "ok"),
             (1, "decide", 120, 30, 0.0015, 1.6, 3, "unparsed"),
             (1, "repair", 140, 10, 0.0011, 0.9, 1, "ok")],
        )
        db.commit()


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("report")
    dirs = [small_run(root, 0), small_run(root, 1, punishment=True),
            small_run(root, 2, brains={"standing": 1, "always_defect": 1})]
    plant(dirs[0])
    return dirs


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory) -> Path:
    return write_report(runs, out=tmp_path_factory.mktemp("out") / "all.html")


def test_report_is_self_contained_and_escapes_agent_text(report):
    page = report.read_text(encoding="utf-8")
    for anchor, _ in SECTIONS:
        assert f'<section id="{anchor}">' in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    images = re.findall(r'<img [^>]*src="([^"]*)"', page)
    assert len(images) >= 8 and all(src.startswith("data:image/png;base64,") for src in images)
    assert "<script>alert(2)" not in page and '<img src="x"' not in page
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "Punishment was not allowed" not in page  # one run allowed it


def test_report_counts_generations_from_1(report):
    page = report.read_text(encoding="utf-8")
    tables = section_tables(page, "headline")
    assert len(tables) == 2  # donation fraction and final resources, per group
    for table in tables:
        assert sorted(set(table["generation"])) == ["1", "2", "3"]
    examples = page[page.index('<section id="examples">'):page.index('<section id="figures">')]
    assert examples.count("<h4>Generation 1</h4>") == 3 and "<h4>Generation 3</h4>" in examples
    assert "Generation 0" not in examples
    means = section_tables(page, "cooperation")[-1]  # the groups' means per generation
    assert sorted(set(means["generation"])) == ["1", "2", "3"]


def test_report_opens_in_headless_chromium_with_every_image_shown(report, tmp_path):
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed (CI installs it: apt-get install chromium)")
    result = subprocess.run(
        [browser, *BROWSER_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
         report.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    dom = result.stdout
    assert result.returncode == 0, result.stderr[-2000:]
    n_images = len(re.findall(r"<img ", report.read_text(encoding="utf-8")))
    assert f'data-images="{n_images}/{n_images}"' in dom, dom[:500]
    assert 'data-images-ok="yes"' in dom
    for anchor, title in SECTIONS:
        assert f'id="{anchor}"' in dom and f"<h2>{title}</h2>" in dom.replace("&amp;", "&")
    # the planted markup stayed text: one <img> per figure, no script but the report's own
    assert len(re.findall(r"<img ", dom)) == n_images
    assert len(re.findall(r"<script", dom)) == 1
    assert "alert(2)" in dom  # shown, as text
    # the LLM section reports the planted calls: 3 calls, 2 retries, 1 repair
    llm = dom[dom.index('id="llm"'):]
    assert re.search(r"<td>calls</td>\s*<td>3</td>", llm)
    assert re.search(r"<td>retries</td>\s*<td>2</td>", llm)
    assert re.search(r"<td>repairs</td>\s*<td>1</td>", llm)


def test_cli_report_of_one_run_writes_beside_it(runs, capsys):
    run_dir = runs[1]
    assert main(["report", str(run_dir)]) == 0
    out = capsys.readouterr().out
    path = run_dir / REPORT_NAME
    assert f"report: {path}" in out
    assert "figure: " in out  # the run's standard figures are redrawn too
    page = path.read_text(encoding="utf-8")
    assert "Societas report: run-s1" in page
    assert "No model calls: these runs used rule brains only." in page
    (per_generation,) = section_tables(page, "cooperation")  # one run: a row per generation
    assert per_generation["generation"].tolist() == ["1", "2", "3"]


def test_cli_report_of_several_runs_with_out_dir(runs, tmp_path, capsys):
    assert main(["report", *map(str, runs[:2]), "--out", str(tmp_path)]) == 0
    assert f"report: {tmp_path / REPORT_NAME}" in capsys.readouterr().out
    assert "Societas report: 2 runs" in (tmp_path / REPORT_NAME).read_text(encoding="utf-8")


def test_cli_report_of_a_missing_run_is_a_one_line_error(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nowhere")]) == 2
    assert "not a run directory" in capsys.readouterr().err
