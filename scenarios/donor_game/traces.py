"""The recipient's trace in words: what a donor reads about the player it is paired with.

Two formats (`trace_format`): 'plain' writes one line per act, most recent first, with shares
to two decimals and, for a punishment, the units it cost and the fine the punished player paid,
under no heading (the study's traces read so); 'bulleted' is Societas 0.1's: a heading, then
bullets with whole percentages. The same writer renders the worked example the rules give
(`worked_example`), so the example always looks exactly like the traces donors then see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TraceStyle:
    """What decides how a trace reads; taken from the config by `GameContext`."""

    depth: int = 3
    scope: str = "game"  # when traces start empty again: 'game' | 'generation'
    show_round: bool = True
    format: str = "plain"  # 'plain' | 'bulleted'


#: The worked example's chain (P gave to Q, Q before that to R, R before that to S), dated
#: rounds 4, 3 and 2 of a game; invented shares, one of them a gift of nothing.
EXAMPLE_ACTS = (
    {"donor": "P", "recipient": "Q", "action": "donate", "fraction": 0.3, "game": 0, "round": 3},
    {"donor": "Q", "recipient": "R", "action": "donate", "fraction": 0.0, "game": 0, "round": 2},
    {"donor": "R", "recipient": "S", "action": "donate", "fraction": 0.8, "game": 0, "round": 1},
)


def describe_trace(recipient: str, trace: list[dict[str, Any]], style: TraceStyle) -> str:
    """The recipient's behavioural trace in plain words, most recent first.

    With `show_round`, each act is dated by its round (as the study's traces are); an act of an
    earlier game (traces kept across games) says which game. A chain that ends before the
    trace depth says that its last partner had not been a donor before.
    """
    scope = style.scope
    if style.depth == 0:  # the rules say donors learn nothing: "no record" would be false
        return f"You are told nothing about what {recipient} did before."
    if not trace:
        return f"{recipient} has not been a donor yet in this {scope}: there is no record."
    lines = act_lines(trace, style)
    if len(trace) < style.depth:
        lines.append(f"{trace[-1]['recipient']} had not been a donor before that in this "
                     f"{scope}.")
    if style.format == "plain":
        return "\n".join(lines)
    header = f"What {recipient} and their earlier partners did, most recent first:"
    return header + "\n" + "\n".join(f"- {line}" for line in lines)


def act_lines(trace: list[dict[str, Any]], style: TraceStyle) -> list[str]:
    """One sentence per act of a trace, dated by round when the round is shown."""
    game = trace[0].get("game")
    lines = []
    for depth, act in enumerate(trace):
        what = _describe_act(act, style.format)
        if style.show_round and "round" in act:
            when = f"In round {act['round'] + 1}"
            if act.get("game") != game or style.scope == "generation":
                when += f" of game {act.get('game', 0) + 1}"
            lines.append(f"{when}, {act['donor']} {what}.")
        elif depth == 0:
            lines.append(f"The last time {act['donor']} was a donor, they {what}.")
        else:
            lines.append(f"Before that, {act['donor']} {what}.")
    return lines


def example_lines(style: TraceStyle) -> list[str]:
    """The worked example's acts as a donor would read them: as many as the trace shows, at
    most three (enough to go several rounds back), at least one."""
    steps = max(1, min(style.depth, len(EXAMPLE_ACTS)))
    # an example is one game's chain, whatever the reset: no "of game 1" on every line
    return act_lines(list(EXAMPLE_ACTS[:steps]), TraceStyle(style.depth, "game",
                                                            style.show_round, style.format))


def _describe_act(act: dict[str, Any], format: str) -> str:
    recipient = act["recipient"]
    if format == "plain":
        share = f"{act['fraction']:.2%}"
        if act["action"] == "punish":
            paid, lost = act.get("units"), act.get("lost")
            if paid is None or lost is None:  # an act recorded without its amounts
                return f"spent {share} of their resources to punish {recipient}"
            return (f"spent {paid:.2f} units ({share} of their resources) to punish "
                    f"{recipient}, who lost {lost:.2f} units")
        if act["action"] == "refuse":
            return f"refused to play with {recipient}"
        return f"gave {share} of their resources to {recipient}"
    if act["action"] == "punish":
        return f"spent {act['fraction']:.0%} of their resources to punish {recipient}"
    if act["action"] == "refuse":
        return f"refused to play with {recipient}"
    return f"gave {act['fraction']:.0%} of their resources to {recipient}"
