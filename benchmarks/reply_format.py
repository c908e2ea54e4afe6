"""What declaring a reply once costs per decision: a Donor Game donation's response format and
parse through its `ReplyFormat`, versus the bare readers of `sim.llm.parsing` on the same
replies with a hand-written schema (how tasks did it before reply formats).

Both sides handle the same mix of replies (JSON, fenced JSON with text values, prose) for donors
holding different resources, so each decision needs its own bound. Each side is timed
`--repeats` times alternately and the fastest kept (on a busy machine noise only adds time).
The last line is the ratio reply format / bare readers; the absolute cost per decision is
printed above it, to weigh against a model call's hundreds of milliseconds.

    python benchmarks/reply_format.py [--decisions 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import Any

from scenarios.donor_game.config import DonorGameConfig
from scenarios.donor_game.replies import DONATION_MARKERS
from scenarios.donor_game.tasks import Donate, GameContext
from sim.llm.parsing import parse_choice, parse_number
from sim.llm.response_formats import json_object_format
from sim.tasks import ParseError

REPLIES = (
    '{"reasoning": "they gave last time", "action": "give", "units": 3}',
    '```json\n{"action": "Punish", "units": "1.5"}\n```',
    "They kept everything before.\nAnswer: 2",
)


def _facts(i: int) -> dict[str, Any]:
    return {"generation": 0, "game": 0, "round": 1, "donor": "g0-a01", "recipient": "g0-a02",
            "donor_resources": 10.0 + i % 7, "recipient_resources": 9.0, "trace": []}


def with_reply_format(context: GameContext, decisions: int) -> None:
    for i in range(decisions):
        task = Donate(context, _facts(i), "be kind")
        task.response_format()
        task.parse(REPLIES[i % len(REPLIES)])


def with_bare_readers(decisions: int) -> None:
    for i in range(decisions):
        held = _facts(i)["donor_resources"]
        json_object_format("donation", {
            "reasoning": {"type": "string", "maxLength": 300},
            "action": {"type": "string", "enum": ["give", "punish"]},
            "units": {"type": "number", "minimum": 0, "maximum": held},
        })
        reply = REPLIES[i % len(REPLIES)]
        with contextlib.suppress(ParseError):  # as Donate.parse did: no option means giving
            parse_choice(reply, ("give", "donate", "punish"), json_keys=("action",))
        parse_number(reply, low=0, high=held, json_keys=("units", "amount"),
                     answer_markers=DONATION_MARKERS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    context = GameContext.from_config(DonorGameConfig(agents=4, punishment="costly",
                                                      reasoning_format="json"))
    with_reply_format(context, 100)  # warm: the cached format, pydantic's validators
    with_bare_readers(100)
    best = {"format": float("inf"), "bare": float("inf")}
    for _ in range(args.repeats):
        start = time.perf_counter()
        with_reply_format(context, args.decisions)
        best["format"] = min(best["format"], time.perf_counter() - start)
        start = time.perf_counter()
        with_bare_readers(args.decisions)
        best["bare"] = min(best["bare"], time.perf_counter() - start)
    per = {key: value / args.decisions * 1e6 for key, value in best.items()}
    print(f"reply format: {per['format']:.0f} us per decision; bare readers: "
          f"{per['bare']:.0f} us per decision")
    print(f"reply_format_vs_bare_readers {best['format'] / best['bare']:.2f}")


if __name__ == "__main__":
    main()
