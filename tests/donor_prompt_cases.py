"""The `legacy` protocol's prompts in many variants, and small legacy runs' stores, as digests,
to pin them to Societas 0.1's.

`tests/data/donor_game_legacy.json` holds these digests as main rendered and ran them
before the `vh2024` prompts were reworded (issue 21); `test_donor_game_prompts.py` renders and
runs the same cases and compares. This module uses only what that code had too, so the digests
can be made again from an old checkout:
`PYTHONPATH=OLD_CHECKOUT python tests/donor_prompt_cases.py OUT.json reputation` (the last
argument: what that code called the `generosity` selection).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

from scenarios.donor_game.config import DonorGameConfig
from scenarios.donor_game.tasks import Donate, GameContext, WriteStrategy

#: A trace with each kind of act, across two games (legacy traces last a generation).
ACTS = [
    {"donor": "g0-a03", "recipient": "g0-a05", "action": "donate", "fraction": 0.456,
     "step": 4, "game": 1, "round": 4},
    {"donor": "g0-a05", "recipient": "g1-a00", "action": "punish", "fraction": 0.2, "step": 3,
     "game": 1, "round": 3},
    {"donor": "g1-a00", "recipient": "g0-a02", "action": "refuse", "fraction": 0.0, "step": 1,
     "game": 0, "round": 9},
]
TRACES = {"empty": [], "short": ACTS[:1], "full": ACTS}
SURVIVORS = [("g0-a04", "Give <b>half</b> & more."), ("g0-a02", "Give nothing.")]


def _facts(trace: list[dict], held: float) -> dict:
    return {"generation": 2, "game": 1, "round": 5, "donor": "g0-a01", "recipient": "g0-a03",
            "donor_resources": held, "recipient_resources": 31.256, "multiplier": 2.0,
            "punishment": False, "partner_choice": False, "punishment_multiplier": 2.0,
            "trace": trace}


def legacy_prompts(generosity: str = "generosity") -> Iterator[tuple[str, str]]:
    """(case, prompt text) for every variant: system prompts by sanction and selection rule,
    user prompts by sanction, answer unit, strategy format and whether rounds are shown."""
    for punishment, selection in itertools.product(("none", "costly", "partner_choice"),
                                                   ("top", "random", "generosity")):
        config = DonorGameConfig(protocol="legacy", agents=12, punishment=punishment,
                                 selection=generosity if selection == "generosity" else selection)
        system = Donate(GameContext.from_config(config), _facts([], 10.0), "plan").messages()[0]
        yield f"system/{punishment}/{selection}", system["content"]
    for punishment, unit, fmt, show_round in itertools.product(
            ("none", "costly", "partner_choice"), ("percent", "units"), ("json", "reasoned"),
            (True, False)):
        config = DonorGameConfig(protocol="legacy", agents=12, punishment=punishment,
                                 answer_unit=unit, strategy_format=fmt, show_round=show_round)
        context = GameContext.from_config(config)
        case = f"{punishment}/{unit}/{fmt}/{'round' if show_round else 'no-round'}"
        for (name, trace), held in itertools.product(TRACES.items(), (12.5, 7.25)):
            task = Donate(context, _facts(trace, held), "I give <b>half</b> & more.")
            yield f"{case}/donate/{name}/{held}", task.messages()[1]["content"]
        memories = '<agent_text author="g0-a01">\nI gave.\n</agent_text>'
        task = Donate(context, _facts(ACTS, 10.0), "plan", memories)
        yield f"{case}/donate/memories", task.messages()[1]["content"]
        yield f"{case}/first", WriteStrategy(context, "g0-a01", 0).messages()[1]["content"]
        inherit = WriteStrategy(context, "g1-a01", 1, SURVIVORS)
        yield f"{case}/inherit", inherit.messages()[1]["content"]
        lessons = WriteStrategy(context, "g1-a01", 1, SURVIVORS, True)
        yield f"{case}/inherit_memory", lessons.messages()[1]["content"]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: What a legacy run's store is compared on: the game's own tables whole, and of the engine's
#: the columns the Donor Game decides (not timings, versions or columns other work may add).
STORE_COLUMNS = {
    "agents": "*", "strategies": "*", "donations": "*", "agent_rounds": "*",
    "generation_scores": "*", "metrics": "*",
    "decisions": "request_id, agent_id, task, observation, decision, source, n_calls",
    "llm_calls": "request_id, agent_id, purpose, messages, reply, outcome",
}


def legacy_runs(run_parent: Path) -> Iterator[tuple[str, str]]:
    """(case, digest of a table) for small legacy runs: LLM brains (the scripted player) under
    each sanction, and a rule-brained run."""
    from scenarios.donor_game.scripted_player import scripted_player
    from sim.registry import get_scenario
    from sim.runs.runner import run_scenario
    from sim.testing.scripted_server import ScriptedLLMServer

    try:
        from sim.message_texts import read_calls
    except ImportError:  # a checkout from before message texts were stored once: inline
        def read_calls(db: sqlite3.Connection, columns: list[str], where: str) -> list[tuple]:
            return db.execute(f"SELECT {', '.join(columns)} FROM llm_calls {where}").fetchall()

    scenario = get_scenario("donor-game")
    with ScriptedLLMServer(scripted_player) as server:
        runs = {f"llm-{punishment}": {"model": "openai/scripted", "api_base": server.url,
                                      "timeout_s": 5.0, "punishment": punishment}
                for punishment in ("none", "costly", "partner_choice")}
        runs["rule-costly"] = {"punishment": "costly", "agents": 8, "generations": 3}
        for name, values in runs.items():
            config = scenario.config_type.model_validate({
                "protocol": "legacy", "agents": 4, "generations": 2, "rounds": 3, "games": 2,
                "seed": 5, **values})
            result = run_scenario(scenario, config, run_dir=run_parent / name, progress=False,
                                  figures=False)
            assert result.status == "finished", result.message
            with closing(sqlite3.connect(run_parent / name / "run.sqlite")) as db:
                for table, columns in STORE_COLUMNS.items():
                    rows = (read_calls(db, columns.split(", "), "ORDER BY rowid")
                            if table == "llm_calls" else  # the messages as sent
                            db.execute(f"SELECT {columns} FROM {table} ORDER BY rowid"
                                       ).fetchall())
                    yield f"store/{name}/{table}", digest(json.dumps(rows))


if __name__ == "__main__":
    digests = {case: digest(text) for case, text in legacy_prompts(*sys.argv[2:3])}
    with tempfile.TemporaryDirectory() as runs:
        digests.update(legacy_runs(Path(runs)))
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        json.dump(digests, out, indent=0, sort_keys=True)
        out.write("\n")
    print(f"{len(digests)} cases")
