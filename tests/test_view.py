"""`societas view` without a browser: the step a page shows (every panel, read-only), the
large-run aggregates, the command line, the store closing while someone reads it, and
`societas run --view` serving a run as it is written.

The page itself is tested in headless Chromium (tests/test_view_browser.py).
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest
from run_helpers import query, quiet

from analysis.viewer.parts import Choices, Network, TownMap
from analysis.viewer.source import RunSource
from analysis.viewer.state import parse_step, step_state
from scenarios.donor_game.analysis import view as donor_view
from scenarios.town import view as town_view
from sim import store as store_module
from sim.cli import main
from sim.config import load_config
from sim.registry import get_scenario
from sim.runs.runner import run_scenario
from sim.store import STORE_FILENAME, RunStore

DONOR = get_scenario("donor-game")
TOWN = get_scenario("town")
HAS_VIEW = importlib.util.find_spec("solara") is not None


@pytest.fixture(scope="module")
def donor(tmp_path_factory) -> Path:
    config = load_config(DONOR.config_type, values={
        "agents": 6, "generations": 3, "rounds": 3, "games": 1, "seed": 4})
    return run_scenario(DONOR, config, run_dir=tmp_path_factory.mktemp("d") / "run",
                        options=quiet()).run_dir


@pytest.fixture(scope="module")
def town(tmp_path_factory) -> Path:
    config = load_config(TOWN.config_type, values={"residents": 5, "days": 1, "seed": 1})
    return run_scenario(TOWN, config, run_dir=tmp_path_factory.mktemp("t") / "run",
                        options=quiet()).run_dir


# -- one step, as the page gets it -----------------------------------------------------------
def test_a_donor_game_step_has_its_round_gifts_strategies_and_series(donor: Path) -> None:
    source = RunSource(donor)
    end = parse_step(source, "generation 2", 0)
    assert end == query(donor, "SELECT MAX(step) FROM agent_rounds WHERE generation = 1")[0][0]
    state = step_state(source, end, "g0-a01")
    assert state.label.startswith("generation 2 · game 1 · round 3")
    assert [label for label, _ in state.marks] == [f"end of generation {g}" for g in (1, 2, 3)]
    assert {p.key for p in state.panels} >= {"gifts", "strategies", "cooperation", "headline",
                                             "agents", "decisions", "selected"}
    assert not [p.error for p in state.panels if p.error]
    (decisions,) = state.panel("decisions").parts  # the round counted from 1, as the label
    assert state.label in set(decisions["time"])
    assert {t[:len("generation 2 · game 1 · round ")] for t in decisions["time"]} \
        == {"generation 2 · game 1 · round "}
    (network,) = state.panel("gifts").parts
    gifts = set(query(donor, "SELECT DISTINCT donor, recipient FROM donations WHERE "
                      "generation = 1 AND action = 'donate'"))
    assert {(e.source, e.target) for e in network.edges} == gifts
    assert {n.id for n in network.nodes if n.marked} == {a for (a,) in query(
        donor, "SELECT agent_id FROM generation_scores WHERE generation = 1 AND survived = 1")}
    # one round earlier the generation is not over: nobody is marked yet
    (earlier,) = step_state(source, end - 1).panel("gifts").parts
    assert not any(n.marked for n in earlier.nodes) and len(earlier.edges) <= len(gifts)
    assert step_state(source, 10**6).step == state.last  # past the end: the last round


def test_above_forty_agents_the_gifts_and_strategies_are_grouped(donor: Path, monkeypatch
                                                                 ) -> None:
    monkeypatch.setattr(donor_view, "MAX_AGENTS", 3)
    state = step_state(RunSource(donor), 2)
    (network,) = state.panel("gifts").parts
    kinds = query(donor, "SELECT a.kind, COUNT(*) FROM agent_rounds r JOIN agents a ON "
                  "a.agent_id = r.agent_id WHERE r.step = 2 GROUP BY a.kind")
    assert {(n.id, n.size) for n in network.nodes} == {(k, float(c)) for k, c in kinds}
    text, table = state.panel("strategies").parts
    assert "6 agents" in text and table["agents"].sum() == 6


def test_a_town_minute_puts_everyone_at_their_span_and_shows_the_clicked_plan(town: Path
                                                                               ) -> None:
    source = RunSource(town)
    minute = parse_step(source, "day 1 09:00", 0)
    assert minute == 540
    # 'day 2' is that day's midnight, not the second minute; there is no day 0
    assert (parse_step(source, "day 2", 540), parse_step(source, "Day 1", 540)) == (1440, 0)
    assert parse_step(source, "day 0 10:00", 540) is None
    state = step_state(source, minute, "mara")
    assert state.label == "day 1 09:00" and not [p.error for p in state.panels if p.error]
    # jump marks within the day the run lived; decisions timed as the label shows a minute
    assert [label for label, _ in state.marks] == ["day 1 08:00"]
    (decisions,) = state.panel("decisions").parts
    assert set(decisions["time"]) <= {f"day 1 {h:02d}:{m:02d}" for h in range(24)
                                      for m in range(60)} and len(decisions) > 0
    (town_map,) = state.panel("map").parts
    assert isinstance(town_map, TownMap)
    expected = dict(query(town, "SELECT agent_id, place_id FROM activities WHERE clock_start "
                          "<= 540 AND 540 < clock_end"))
    assert {w.id: w.place for w in town_map.walkers} == expected
    text = "\n".join(str(p) for p in state.panel("resident").parts)
    assert "Mara Quill" in text and "plan for day 1" in text
    assert "news" in {p.key for p in state.panels}


def test_news_says_who_inherited_a_topic_rather_than_heard_it(town: Path,
                                                              tmp_path: Path) -> None:
    copy = tmp_path / "run"
    copy.mkdir()
    for path in town.iterdir():
        if path.is_file():
            (copy / path.name).write_bytes(path.read_bytes())
    with closing(sqlite3.connect(copy / STORE_FILENAME)) as db:  # a newcomer, as the run writes
        db.execute("INSERT INTO knowledge (topic, agent_id, day, minute, clock, source_agent, "
                   "how) VALUES ('mayor', 'heir', 0, 600, 600, 'mara', 'inherited')")
        db.commit()
    parts = step_state(RunSource(copy), 601).panel("news").parts  # per topic: a line, a table
    known = parts[next(i for i, p in enumerate(parts) if str(p).startswith("mayor:")) + 1]
    assert list(known[known["resident"] == "heir"]["from"]) \
        == ["inherited from Mara Quill (mara)"]


def test_a_residents_reflections_come_with_their_evidence(town: Path) -> None:
    reflection, owner, created, text = query(
        town, "SELECT memory_id, owner, created, text FROM memories WHERE kind = 'reflection' "
        "ORDER BY memory_id DESC LIMIT 1")[0]
    evidence = [text for (text,) in query(
        town, f"SELECT m.text FROM memory_evidence e JOIN memories m ON m.memory_id = "
        f"e.evidence_id WHERE e.memory_id = {reflection} AND e.relation = 'evidence' ORDER BY "
        "e.position")]
    parts = step_state(RunSource(town), int(created) + 1, owner).panel("resident").parts
    (shown,) = [p for p in parts if isinstance(p, str) and p.startswith("reflection (")
                and text in p]
    assert evidence and shown.count("because: ") == len(evidence)
    assert all(f"because: {text}" in shown for text in evidence)


def test_a_crowded_town_map_shows_people_per_place(town: Path, monkeypatch) -> None:
    monkeypatch.setattr(town_view, "MAX_WALKERS", 2)
    state = step_state(RunSource(town), 600)
    (town_map,) = state.panel("map").parts
    assert sum(w.count for w in town_map.walkers) == 5
    assert all(w.pick and w.pick.startswith(town_view.PLACE_PICK) for w in town_map.walkers)
    crowded = max(town_map.walkers, key=lambda w: w.count)
    (choices,) = step_state(RunSource(town), 600, crowded.pick).panel("resident").parts
    assert isinstance(choices, Choices) and len(choices.options) == crowded.count


def test_network_norms_shows_its_graph_by_strategy(tmp_path: Path) -> None:
    scenario = get_scenario("network-norms")
    run_dir = run_scenario(scenario, load_config(scenario.config_type, values={"seed": 1}),
                           run_dir=tmp_path / "run", options=quiet()).run_dir
    source = RunSource(run_dir)
    start, end = step_state(source, 0), step_state(source, 10**6)
    (first,), (last,) = start.panel("graph").parts, end.panel("graph").parts
    assert isinstance(first, Network) and len(first.nodes) == 24 and len(first.edges) == 36
    initial = dict(query(run_dir, "SELECT agent_id, initial FROM nodes"))
    final = dict(query(run_dir, "SELECT agent_id, strategy FROM final_states"))
    assert "at the start" in first.caption and "at the end" in last.caption
    assert [n.title for n in first.nodes] == [f"{a}: {s}" for a, s in initial.items()]
    assert [n.title for n in last.nodes] == [f"{a}: {s}" for a, s in final.items()]


# -- the store and its readers ----------------------------------------------------------------
def test_closing_waits_for_a_reader_and_leaves_one_file(tmp_path: Path) -> None:
    path = tmp_path / STORE_FILENAME
    store = RunStore(path)
    store.insert("metrics", [{"scope": "step", "step": 0, "name": "x", "value": 1.0}])
    store.commit()
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    reader.execute("SELECT COUNT(*) FROM metrics").fetchone()
    threading.Timer(0.3, reader.close).start()
    store.close()  # a reader had the file open: switching back from WAL waited for it
    assert sorted(p.name for p in tmp_path.iterdir()) == [STORE_FILENAME]


def test_a_reader_that_never_lets_go_cannot_fail_a_finished_run(tmp_path: Path,
                                                                  monkeypatch) -> None:
    monkeypatch.setattr(store_module, "JOURNAL_SWITCH_PATIENCE_S", 0.2)
    path = tmp_path / STORE_FILENAME
    store = RunStore(path)
    store.insert("metrics", [{"scope": "step", "step": 0, "name": "x", "value": 1.0}])
    store.commit()
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as reader:
        reader.execute("SELECT 1").fetchone()
        store.close()  # no error: the data went into the main file, the mode stays WAL
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as other:
            assert other.execute("SELECT value FROM metrics").fetchall() == [(1.0,)]


# -- the command line ---------------------------------------------------------------------------
def test_without_the_view_extra_view_is_one_line_and_exit_2(donor: Path, tmp_path: Path,
                                                             monkeypatch, capsys) -> None:
    from sim.cli import view_process

    monkeypatch.setattr(view_process, "VIEW_MODULES", ("solara", "no_such_module_for_the_view"))
    assert main(["view", str(donor)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pip install 'societas[view]'" in err
    out = tmp_path / "runs"
    assert main(["run", "donor-game", "--view", "--out", str(out), "--quiet"]) == 2
    assert "pip install 'societas[view]'" in capsys.readouterr().err
    assert not out.exists()  # refused before the run started


def test_view_of_a_directory_without_runs_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["view", str(tmp_path)]) == 2
    assert "not a run directory" in capsys.readouterr().err
    store = tmp_path / "run" / STORE_FILENAME  # the store itself, not its directory
    store.parent.mkdir()
    store.write_bytes(b"")
    assert main(["view", str(store)]) == 2
    assert f"is a file: give the run's directory ({store.parent})" in capsys.readouterr().err
    assert main(["run", "donor-game", "--no-browser"]) == 2
    assert "--no-browser go with --view" in capsys.readouterr().err


@pytest.mark.skipif(not HAS_VIEW, reason="needs the 'view' extra (pip install "
                    "'societas[view]')")
def test_a_port_in_use_or_a_wrong_host_is_one_line_and_exit_2(donor: Path, capfd) -> None:
    with closing(socket.socket()) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        assert main(["view", str(donor), "--port", str(port), "--no-browser"]) == 2
        err = capfd.readouterr().err.strip()
        assert err.count("\n") == 0 and "Traceback" not in err
        assert err.startswith("societas: error: ") and "--port" in err
    from analysis.viewer.server import bind

    with pytest.raises(SystemExit) as refused:
        bind("no-such-host.invalid", 0)
    assert refused.value.code == 2 and "--host" in capfd.readouterr().err


@pytest.mark.skipif(not HAS_VIEW, reason="needs the 'view' extra (pip install "
                    "'societas[view]')")
def test_run_with_view_serves_the_run_and_keeps_it_until_ctrl_c(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "sim.cli", "run", "donor-game", "--set", "agents=4",
               "--set", "generations=2", "--set", "rounds=3", "--out", str(tmp_path),
               "--quiet", "--no-figures", "--view", "--view-port", "0", "--no-browser"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        url = _line(process.stdout, r"view: (http://127\.0\.0\.1:\d+/)")
        with urllib.request.urlopen(url, timeout=30) as page:
            assert page.status == 200 and b"solara" in page.read().lower()
        _line(process.stderr, r"the run has ended; its view stays open until Ctrl-C")
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
        assert process.wait(timeout=30) == 0
        assert "Traceback" not in process.stderr.read()  # the view's process ends quietly too
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    (run_dir,) = tmp_path.iterdir()
    assert query(run_dir, "SELECT value FROM meta WHERE key = 'status'") == [("finished",)]
    with pytest.raises(OSError):  # the view went with the command
        urllib.request.urlopen(url, timeout=5)


def _line(stream, pattern: str, timeout: float = 120.0) -> str:
    """The first group of the first line of `stream` matching `pattern` (or the line)."""
    found: list[str] = []

    def read() -> None:
        for line in stream:
            match = re.search(pattern, line)
            if match:
                found.append(match.group(1) if match.groups() else line)
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    assert found, f"no line matching {pattern!r} within {timeout} s"
    return found[0]


@pytest.mark.skipif(not HAS_VIEW, reason="needs the 'view' extra (pip install "
                    "'societas[view]')")
def test_view_of_a_run_renders_as_notebook_widgets(donor: Path) -> None:
    """What a notebook cell ending in `view(run)` displays: Solara renders the page into
    widgets, here without a browser."""
    import ipyvue
    import solara

    from analysis import load, view

    _box, context = solara.render(view(load(donor)), handle_error=False)
    try:
        (label,) = [w for w in context.find(ipyvue.Html, tag="span").widgets
                    if "data-step" in (w.attributes or {})]
        assert label.attributes["data-status"] == "finished"
        assert label.children == ["generation 1 · game 1 · round 1 (round 1 of the run)"]
        drawings = [w for w in context.find(ipyvue.VueTemplate).widgets
                    if getattr(w, "name", None) == "gifts"]
        assert drawings and any(s["attrs"].get("data-node") == "g0-a00"
                                for s in drawings[0].shapes)
    finally:
        context.close()
