"""`societas view` in real headless Chromium (Debian's, driven through playwright; no browser
download), on runs the tests make: a finished town, a Donor Game, a run another process is
still writing, and an LLM run whose scripted model planted markup in its strategy.

One view server for the whole module serves a directory of those runs (`/?run=NAME`). Every
page the tests open fails them on a console error, an uncaught exception, a failed response or
any request that leaves 127.0.0.1. With SOCIETAS_VIEW_SCREENSHOTS=DIR set, the screenshots
the tests take (docs/view.md shows them) are written there.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from run_helpers import quiet

from sim.config import load_config
from sim.registry import get_scenario
from sim.runs.runner import run_scenario
from sim.store import snapshot
from sim.testing.scripted_server import ChatRequest, ScriptedLLMServer

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser",
                                                 "google-chrome"))), None)
MISSING = [why for why, absent in (
    ("the 'view' extra (pip install 'societas[view]')", importlib.util.find_spec("solara")
     is None),
    ("playwright (the 'test' extra)", importlib.util.find_spec("playwright") is None),
    ("chromium (CI installs it: apt-get install chromium)", CHROMIUM is None)) if absent]
pytestmark = pytest.mark.skipif(bool(MISSING), reason="the view's browser tests need "
                                + ", ".join(MISSING))

DONOR = get_scenario("donor-game")
TOWN = get_scenario("town")
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "blob:http://127.0.0.1", "data:", "about:")
PLANTED = ('<script>window.__planted = 1</script><img src="x" '
           'onerror="window.__planted = 2">')
LIVE = {"agents": 4, "generations": 3, "rounds": 4, "games": 1, "seed": 5}
WAIT_MS = 60_000


def donor_config(**values: Any):
    return load_config(DONOR.config_type, values=values)


def planting_player(request: ChatRequest) -> str:
    from scenarios.donor_game.scripted_player import is_strategy_request, scripted_player

    if is_strategy_request(request):
        return '{"strategy": "I give half. ' + PLANTED.replace('"', '\\"') + '"}'
    return scripted_player(request)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """The runs the module's server shows."""
    root = tmp_path_factory.mktemp("runs")
    town = load_config(TOWN.config_type, values={"residents": 4, "days": 1, "seed": 2})
    run_scenario(TOWN, town, run_dir=root / "town", options=quiet())
    run_scenario(DONOR, donor_config(agents=6, generations=4, rounds=4, games=1, seed=3),
                 run_dir=root / "donor", options=quiet())
    with ScriptedLLMServer(planting_player) as server:
        run_scenario(DONOR, donor_config(agents=2, generations=1, rounds=2, games=1,
                                         model="openai/scripted", api_base=server.url),
                     run_dir=root / "planted", options=quiet(use_cache=False))
    return root


@pytest.fixture(scope="module")
def server(root: Path, tmp_path_factory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("w") as out:  # a file, not a pipe nobody reads: a full pipe would block it
        process = subprocess.Popen(
            [sys.executable, "-m", "analysis.viewer", str(root), "--port", "0", "--no-browser"],
            stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        yield _announced_url(process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _announced_url(process: subprocess.Popen, log: Path) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        match = re.search(r"view: (http://127\.0\.0\.1:\d+/)", log.read_text())
        if match:
            return match.group(1)
        if process.poll() is not None:
            raise AssertionError(f"the view server ended: {log.read_text()[-2000:]}")
        time.sleep(0.05)
    raise AssertionError("the view server did not announce its address in 120 s")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu",
                                            "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


class Watched:
    """A page and everything it did wrong: console errors, page errors, failed responses,
    requests beyond 127.0.0.1."""

    def __init__(self, browser: Any):
        self.page = browser.new_page(viewport={"width": 1280, "height": 1400})
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(
            f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(
            f"{r.status} {r.url}"))
        self.page.on("request", lambda r: not r.url.startswith(LOCAL) and self.problems.append(
            f"left 127.0.0.1: {r.url}"))

    def step(self) -> int:
        return int(self.page.locator("[data-step]").get_attribute("data-step"))

    def go_to(self, text: str, step: int) -> None:
        box = self.page.get_by_label("go to")
        box.fill(text)
        box.press("Enter")
        self.page.locator(f'[data-step="{step}"]').wait_for(timeout=WAIT_MS)

    def shot(self, name: str) -> None:
        folder = os.environ.get("SOCIETAS_VIEW_SCREENSHOTS")
        if folder:
            self.page.screenshot(path=str(Path(folder) / name))  # the first screenful

    def check(self) -> None:
        assert not self.problems, self.problems


@pytest.fixture
def open_run(browser, server) -> Iterator[Callable[[str], Watched]]:
    pages: list[Watched] = []

    def open_(name: str) -> Watched:
        watched = Watched(browser)
        pages.append(watched)
        watched.page.goto(f"{server}?run={name}")
        watched.page.locator("[data-step]").wait_for(timeout=WAIT_MS)
        return watched

    yield open_
    for watched in pages:
        watched.page.close()


def settled(read: Callable[[], Any], expected: Any, timeout_s: float = WAIT_MS / 1000) -> Any:
    """What `read()` returns once it equals `expected`, or its last value after `timeout_s`.

    The page's step label and its panels are separate widgets, updated by separate messages:
    a panel may show the step before for a moment after the label moved on, so what the page
    shows is read again until it settles (as playwright's own `expect` retries)."""
    deadline = time.monotonic() + timeout_s
    value = read()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        value = read()
    return value


def rows(run_dir: Path, sql: str, params: tuple = ()) -> list[tuple]:
    with closing(sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True)) as db:
        return db.execute(sql, params).fetchall()


def test_a_town_replays_with_every_resident_where_the_store_puts_them(open_run, root):
    view = open_run("town")
    # a minute when someone is on the way between two places
    start, end = rows(root / "town", "SELECT clock_start, clock_end FROM activities WHERE "
                      "activity = 'walk' AND clock_end - clock_start >= 2 ORDER BY rowid "
                      "LIMIT 1")[0]
    minute = (start + end) // 2
    view.go_to(f"day 1 {minute // 60:02d}:{minute % 60:02d}", minute)
    expected = {agent: place for agent, place in rows(
        root / "town", "SELECT agent_id, place_id FROM activities WHERE clock_start <= ? AND "
        "? < clock_end ORDER BY rowid", (minute, minute))}
    walkers = view.page.locator("[data-walker]")
    shown = settled(lambda: {w.get_attribute("data-walker"): w.get_attribute("data-place")
                             for w in walkers.all()}, expected)
    assert shown == expected and len(shown) == 4
    assert "yes" in [w.get_attribute("data-walking") for w in walkers.all()]
    # the slider moves the clock one minute at a time
    view.page.get_by_role("slider").focus()
    view.page.keyboard.press("ArrowRight")
    view.page.locator(f'[data-step="{minute + 1}"]').wait_for(timeout=WAIT_MS)
    # clicking a resident shows their plan for the day
    agent = sorted(shown)[0]
    view.page.locator(f'circle[data-walker="{agent}"]').click()
    panel = view.page.locator('[data-panel="resident"]')
    panel.get_by_text("plan for day 1").wait_for(timeout=WAIT_MS)
    planned = rows(root / "town", "SELECT description FROM plans WHERE agent_id = ? AND day = 0 "
                   "AND level = 'day' AND revision = (SELECT MAX(revision) FROM plans WHERE "
                   "agent_id = ? AND day = 0)", (agent, agent))
    text = panel.inner_text()
    assert planned and all(description in text for (description,) in planned)
    view.shot("view_town.png")
    view.check()


def test_a_donor_game_steps_to_generation_3_with_its_gifts_and_survivors(open_run, root):
    view = open_run("donor")
    (end,) = rows(root / "donor", "SELECT MAX(step) FROM agent_rounds WHERE generation = 2")[0]
    view.go_to("generation 3", end)
    assert "generation 3" in view.page.locator("[data-step]").inner_text()
    network = view.page.locator('svg[data-drawing="gifts"]')
    expected = set(rows(root / "donor", "SELECT DISTINCT donor, recipient FROM donations WHERE "
                        "generation = 2 AND action = 'donate'"))
    edges = settled(lambda: {(e.get_attribute("data-source"), e.get_attribute("data-target"))
                             for e in network.locator("line[data-source]").all()}, expected)
    assert edges == expected and expected
    survivors = {a for (a,) in rows(root / "donor", "SELECT agent_id FROM generation_scores "
                                    "WHERE generation = 2 AND survived = 1")}
    marked = settled(lambda: {n.get_attribute("data-node") for n in
                              network.locator('circle[data-marked="yes"]').all()}, survivors)
    assert marked == survivors and survivors
    living = {a for (a,) in rows(root / "donor", "SELECT agent_id FROM agent_rounds "
                                 "WHERE step = ?", (end,))}
    nodes = settled(lambda: {n.get_attribute("data-node") for n in
                             network.locator("circle[data-node]").all()}, living)
    assert nodes == living
    view.shot("view_donor_game.png")
    # play steps through the rounds from the first; pause stops it
    view.go_to("1", 0)
    view.page.get_by_role("button", name="play").click()
    view.page.locator('[data-step="2"]').wait_for(timeout=WAIT_MS)
    view.page.get_by_role("button", name="pause").click()
    stopped = view.step()
    time.sleep(1.5)
    assert view.step() in (stopped, stopped + 1)  # at most the tick already under way
    view.check()


def test_planted_markup_in_a_model_reply_stays_text(open_run):
    view = open_run("planted")
    panel = view.page.locator('[data-panel="strategies"]')
    panel.get_by_text("window.__planted = 1", exact=False).first.wait_for(timeout=WAIT_MS)
    assert "<script>window.__planted = 1</script>" in panel.inner_text()
    assert view.page.evaluate("window.__planted") is None
    assert view.page.locator('img[src="x"]').count() == 0
    assert view.page.locator("[data-panel] script").count() == 0
    # the latest decisions show an LLM agent's prompt and the model's reply
    decisions = view.page.locator('[data-panel="decisions"]').inner_text()
    assert "prompt: " in decisions and "reply: " in decisions
    view.check()


def test_a_run_being_written_is_followed_and_left_as_it_would_be(open_run, root, tmp_path):
    from scenarios.donor_game.scripted_player import scripted_player

    with ScriptedLLMServer(scripted_player) as model:
        reference = run_scenario(
            DONOR, donor_config(**LIVE, model="openai/scripted", api_base=model.url),
            run_dir=tmp_path / "reference", options=quiet(use_cache=False))
        expected = snapshot(reference.run_dir / "run.sqlite")
        model.delay = 2.0  # the run waits on its model until the page is watching
        args = [sys.executable, "-m", "sim.cli", "run", "donor-game", "--quiet", "--no-figures",
                "--out", str(root), "--no-cache", "--model", "openai/scripted",
                "--set", f'api_base="{model.url}"']
        for key, value in LIVE.items():
            args += ["--set", f"{key}={value}"]
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
        try:
            deadline = time.monotonic() + 60
            while not list(root.glob("donor-game-*/run.sqlite")):
                assert process.poll() is None, process.stderr.read()
                assert time.monotonic() < deadline, "the run did not start"
                time.sleep(0.05)
            (run_dir,) = (p.parent for p in root.glob("donor-game-*/run.sqlite"))
            view = open_run(run_dir.name)
            first = view.step()
            model.delay = 0.3
            seen = {first}
            while process.poll() is None and time.monotonic() < deadline + 120:
                seen.add(view.step())
                time.sleep(0.1)
            assert len(seen) >= 3, f"the page's step did not follow the run: {sorted(seen)}"
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            process.wait(timeout=60)
    assert process.returncode == 0, process.stderr.read()
    assert snapshot(run_dir / "run.sqlite") == expected
    assert not (run_dir / "run.sqlite-wal").exists()  # closed into one file despite the viewer
    view.page.locator(f'[data-step="{rows(run_dir, "SELECT MAX(step) FROM agent_rounds")[0][0]}"]'
                      ).wait_for(timeout=WAIT_MS)
    view.check()
