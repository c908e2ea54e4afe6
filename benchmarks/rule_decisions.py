"""Rule decisions of a 10,000-agent Donor Game: the engine against a plain Python loop.

The engine runs the scenario as a user would (`run_scenario`: store, world, population, every
table, figures off), with rule brains only. The baseline is a plain Python loop over the same
rounds with sqlite3, doing the same logging: it rebuilds every agent's rule from the engine's
`agents` table, plays the engine's pairings round by round (each donor's trace, its rule's
decision, resources), and writes the same rows (`agents`, `strategies` and the strategy
decisions; per round the `decisions` rows with the observation as JSON, `donations`,
`agent_rounds`, the round's `metrics`) with one `executemany` per table and a commit per round.
The script checks that the loop's decisions, donations and agent_rounds tables equal the
engine's, so both sides did the same work. Both are timed in this process, after a warm-up run.

Last lines: decisions per second of the engine (target >= 50,000) and the engine's time over
the loop's (target <= 5).

`--breakdown` runs the engine once more with its parts timed (the functions that do each part
wrapped in timers, a few hundred calls a run) and prints the microseconds per decision each
took, beside the plain loop's time in SQLite and in its own Python: where the engine's time
goes, and how much of it a loop writing the same rows pays too.

    python benchmarks/rule_decisions.py [--agents 10000] [--rounds 10] [--breakdown]
"""

from __future__ import annotations

import argparse
import gc
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sim.llm.gateway
from scenarios.donor_game.game import DonorGame
from scenarios.donor_game.strategies import FAMILIES
from scenarios.donor_game.tables import RUN_TABLES
from sim.config import load_config
from sim.population import Population
from sim.registry import get_scenario
from sim.runs.progress import Progress
from sim.runs.runner import RunOptions, run_scenario
from sim.store import ENGINE_TABLES, RunStore
from sim.world import World

OPTIONS = RunOptions(use_cache=False, progress=False, figures=False)


def engine_run(directory: Path, agents: int, rounds: int) -> tuple[float, int, float]:
    """The run's wall time and decisions, and the wall time of its rounds after the first
    (from the first round's end to the last's, read from the progress reports)."""
    scenario = get_scenario("donor-game")
    config = load_config(scenario.config_type, values={
        "agents": agents, "generations": 1, "games": 1, "rounds": rounds, "seed": 0})
    ends: list[float] = []
    update = Progress.update

    def timed(self: Progress, *args: Any, **kwargs: Any) -> None:
        ends.append(time.perf_counter())
        update(self, *args, **kwargs)

    Progress.update = timed  # type: ignore[method-assign]
    try:
        started = time.perf_counter()
        result = run_scenario(scenario, config, run_dir=directory, options=OPTIONS)
        elapsed = time.perf_counter() - started
    finally:
        Progress.update = update  # type: ignore[method-assign]
    assert result.status == "finished", result.message
    return elapsed, sum(result.stats.decisions.values()), ends[-1] - ends[0]


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def plain_loop(engine_db: Path, path: Path,
               sqlite_s: list[float] | None = None) -> tuple[float, int]:
    """The same rounds and rows as the engine's run, in a plain loop (see the module doc).
    `sqlite_s`: when given, the seconds of its round's inserts and commits are added to it."""
    source = sqlite3.connect(engine_db)
    members = source.execute("SELECT agent_id, kind, params FROM agents ORDER BY rowid").fetchall()
    schedule: dict[int, list[tuple[str, str]]] = {}
    for step, donor, recipient in source.execute(
            "SELECT step, donor, recipient FROM donations ORDER BY rowid"):
        schedule.setdefault(step, []).append((donor, recipient))
    endowment = float(json.loads(source.execute(
        "SELECT value FROM meta WHERE key = 'config'").fetchone()[0])["endowment"])
    source.close()

    started = time.perf_counter()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    tables = {**ENGINE_TABLES, **RUN_TABLES}
    for name in ("agents", "decisions", "strategies", "donations", "agent_rounds", "metrics"):
        columns = ", ".join(f"{column} {kind}" for column, kind in tables[name].items())
        db.execute(f"CREATE TABLE {name} ({columns})")
    insert = {name: f"INSERT INTO {name} VALUES ({', '.join('?' * len(tables[name]))})"
              for name in tables}
    policies = {name: FAMILIES.make(kind, **json.loads(params)) for name, kind, params in members}
    names = list(policies)
    request_id = 0
    db.execute("BEGIN")
    db.executemany(insert["agents"], [(n, 0, "rule", policies[n].family, None, dumps(
        policies[n].params()), "[]") for n in names])
    texts = {n: policies[n].describe() for n in names}
    decision_rows = []
    for n in names:
        decision_rows.append((request_id, 0, n, "write_strategy", dumps(
            {"agent": n, "generation": 0, "survivor_strategies_shown": 0}),
            dumps({"text": texts[n]}), "rule", 0))
        request_id += 1
    db.executemany(insert["decisions"], decision_rows)
    db.executemany(insert["strategies"], [(n, 0, texts[n], "rule", "[]") for n in names])
    db.execute("COMMIT")
    resources = dict.fromkeys(names, endowment)
    acts: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    decisions = 0
    for step, pairs in sorted(schedule.items()):
        db.execute("BEGIN")
        start = dict(resources)
        decision_rows, donation_rows = [], []
        for donor, recipient in pairs:
            trace, agent, before = [], recipient, step
            while agent is not None and len(trace) < 3:
                earlier = [a for a in acts[agent][-2:] if a["step"] < before]
                if not earlier:
                    break
                trace.append(earlier[-1])
                agent, before = earlier[-1]["recipient"], earlier[-1]["step"]
            facts = {"generation": 0, "game": 0, "round": step, "donor": donor,
                     "recipient": recipient, "donor_resources": round(start[donor], 10),
                     "recipient_resources": round(start[recipient], 10), "multiplier": 2.0,
                     "punishment": False, "partner_choice": False,
                     "punishment_multiplier": 2.0, "trace": trace}
            decision = policies[donor].decide(facts)
            decision_rows.append((request_id, step, donor, "donate", dumps(facts), dumps(
                {"action": decision.action, "fraction": decision.fraction}), "rule", 0))
            request_id += 1
            amount = decision.fraction * start[donor]
            resources[donor] -= amount
            resources[recipient] += 2.0 * amount
            acts[donor].append({"donor": donor, "recipient": recipient,
                                "action": decision.action, "fraction": decision.fraction,
                                "step": step, "game": 0, "round": step})
            donation_rows.append((step, 0, 0, step, donor, recipient, decision.action,
                                  decision.fraction, amount, 2.0 * amount, start[donor],
                                  start[recipient], "rule"))
        for n in names:
            resources[n] = max(0.0, resources[n])
        decisions += len(pairs)
        written = time.perf_counter()
        db.executemany(insert["decisions"], decision_rows)
        db.executemany(insert["donations"], donation_rows)
        db.executemany(insert["agent_rounds"], [(step, 0, 0, step, n, resources[n])
                                                for n in names])
        held = list(resources.values())
        given = [row[7] for row in donation_rows]
        db.executemany(insert["metrics"], [
            ("step", step, 0, name, float(value)) for name, value in (
                ("mean_resources", sum(held) / len(held)), ("min_resources", min(held)),
                ("max_resources", max(held)), ("mean_fraction", sum(given) / len(given)),
                ("min_fraction", min(given)), ("max_fraction", max(given)),
                ("punishments", 0))])
        db.execute("COMMIT")
        if sqlite_s is not None:  # the metrics' few values are computed inside it: negligible
            sqlite_s[0] += time.perf_counter() - written
    closing = time.perf_counter()
    db.close()
    if sqlite_s is not None:
        sqlite_s[0] += time.perf_counter() - closing
    return time.perf_counter() - started, decisions + len(names)


#: The engine's parts the breakdown times, and the functions that do each: called a few hundred
#: times a run (per round or per batch, not per decision), so the timers cost nothing that
#: shows. A part's time excludes the other parts' functions it calls.
PARTS: dict[str, list[tuple[Any, str]]] = {
    "SQLite: inserts (executemany), COMMITs, WAL checkpoints, closing": [
        (RunStore, "_write_queued"), (RunStore, "commit"), (RunStore, "close")],
    "checkpoint digest (repr of every row, sha256)": [(RunStore, "insert_rows")],
    "decisions rows: the observation's and decision's JSON": [
        (sim.llm.gateway, "rule_decision_rows")],
    "rule answers (each policy deciding)": [
        (sim.llm.gateway, "answer_rules"), (sim.llm.gateway, "split_by_brain")],
    "dict rows as tuples (metrics, agents, strategies)": [(RunStore, "insert")],
    "population: newcomers, strategy rows, selection": [
        (Population, "populate"), (Population, "record_strategies"),
        (DonorGame, "_select")],
    "the world's barrier: requests, the batch, answers delivered": [
        (World, "decide_many"), (World, "_resolve_pending")],
    "a round's agent_rounds rows and metrics": [(DonorGame, "_record_round")],
}


@contextmanager
def timed_parts(seconds: dict[str, float]) -> Iterator[None]:
    """Wrap every function of `PARTS` in a timer adding its exclusive time to `seconds`."""
    stack: list[list[float]] = []  # per open call: its start, and its nested parts' time

    def timer(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            stack.append([time.perf_counter(), 0.0])
            try:
                return function(*args, **kwargs)
            finally:
                started, nested = stack.pop()
                elapsed = time.perf_counter() - started
                seconds[label] = seconds.get(label, 0.0) + elapsed - nested
                if stack:
                    stack[-1][1] += elapsed
        return timed

    saved = []
    for label, functions in PARTS.items():
        for owner, name in functions:
            original = getattr(owner, name)
            saved.append((owner, name, original))
            setattr(owner, name, timer(label, original))
    try:
        yield
    finally:
        for owner, name, original in saved:
            setattr(owner, name, original)


def breakdown(directory: Path, agents: int, rounds: int) -> list[str]:
    """The microseconds per decision of each part of the engine's run (`PARTS`), of garbage
    collection, and of the plain loop's SQLite and Python, as lines to print."""
    seconds: dict[str, float] = {}
    collecting: list[float] = [0.0, 0.0]  # start of the pass under way, total

    def collector(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collecting[0] = time.perf_counter()
        else:
            collecting[1] += time.perf_counter() - collecting[0]

    gc.callbacks.append(collector)
    try:
        with timed_parts(seconds):
            total, decisions, _ = engine_run(directory / "parts", agents, rounds)
    finally:
        gc.callbacks.remove(collector)
    loop_sqlite = [0.0]
    loop_s, _ = plain_loop(directory / "parts" / "run.sqlite", directory / "parts-loop.sqlite",
                           loop_sqlite)

    def per(value: float) -> str:
        return f"{value / decisions * 1e6:6.1f}"

    return [
        f"breakdown, microseconds per decision ({decisions} decisions):",
        f"  engine, its parts timed: {per(total)}",
        *(f"  {per(seconds.get(label, 0.0))}  {label}" for label in PARTS),
        f"  {per(total - sum(seconds.values()))}  the rest: the rounds' facts, traces, tasks, "
        "acts and donation rows, freeing them, SimPy, set-up",
        f"  ({per(collecting[1])}  of all the above: garbage collection)",
        f"  plain loop: {per(loop_s)}",
        f"  {per(loop_sqlite[0])}  SQLite: inserts, COMMITs, closing",
        f"  {per(loop_s - loop_sqlite[0])}  its Python: traces, rules, JSON, rows",
    ]

def same_rows(engine_db: Path, loop_db: Path) -> None:
    a, b = sqlite3.connect(engine_db), sqlite3.connect(loop_db)
    for table in ("decisions", "donations", "agent_rounds", "strategies"):
        query = f"SELECT * FROM {table} ORDER BY rowid"
        assert a.execute(query).fetchall() == b.execute(query).fetchall(), table
    a.close()
    b.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the engine's parts (a separate run)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine_run(Path(tmp) / "warm-up", 200, 2)
        plain_loop(Path(tmp) / "warm-up" / "run.sqlite", Path(tmp) / "warm-up.sqlite")
        engine_s, decisions, rounds_s = engine_run(Path(tmp) / "engine", args.agents,
                                                   args.rounds)
        loop_s, loop_decisions = plain_loop(Path(tmp) / "engine" / "run.sqlite",
                                            Path(tmp) / "loop.sqlite")
        same_rows(Path(tmp) / "engine" / "run.sqlite", Path(tmp) / "loop.sqlite")
        parts = breakdown(Path(tmp), args.agents, args.rounds) if args.breakdown else []
    assert decisions == loop_decisions
    print(f"{args.agents} rule agents, {args.rounds} rounds: {decisions} decisions")
    print(f"engine (run_scenario, every table): {engine_s:.2f} s, "
          f"{decisions / engine_s:,.0f} decisions/s; its rounds after the first alone: "
          f"{(args.rounds - 1) * args.agents // 2 / rounds_s:,.0f} decisions/s")
    print(f"plain Python loop with sqlite3, the same rows (checked): {loop_s:.2f} s, "
          f"{decisions / loop_s:,.0f} decisions/s")
    for line in parts:
        print(line)
    print(f"rule_decisions_per_s {decisions / engine_s:.0f}")
    print(f"rule_decisions_vs_plain_loop {engine_s / loop_s:.2f}")


if __name__ == "__main__":
    main()
