"""The `legacy` protocol's prompts in many variants, as digests, to pin them to Societas 0.1's.

`tests/data/donor_game_legacy_prompts.json` holds these digests as main rendered them before
the `vh2024` prompts were reworded (issue 21); `test_donor_game_prompts.py` renders the same
cases and compares. This module uses only what that code had too (`DonorGameConfig`,
`GameContext`, `Donate`, `WriteStrategy`), so the digests can be made again from an old
checkout: `PYTHONPATH=OLD_CHECKOUT python tests/donor_prompt_cases.py OUT.json reputation`
(the last argument: what that code called the `generosity` selection).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import sys
from collections.abc import Iterator

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


if __name__ == "__main__":
    digests = {case: digest(text) for case, text in legacy_prompts(*sys.argv[2:3])}
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        json.dump(digests, out, indent=0, sort_keys=True)
        out.write("\n")
    print(f"{len(digests)} cases")
