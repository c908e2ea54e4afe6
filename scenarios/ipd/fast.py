"""Matches between two rule players, each played in one loop over its turns.

A tournament of the classics is 450 matches of 200 turns; asked through the barrier, each of
its 180,000 moves is a task, an event and a gateway answer. A match between two rule players
needs none of that: its moves follow from the two policies, the noise and the chance draws
alone. So, when the run does not log rule decisions, those matches are played here, each in
one loop over its turns, with the very policies (`IPDStrategy.move`) the brains would have
asked; matches with an LLM player still go through the barrier turn by turn, side by side
with them. The randomness is drawn up front in the order the turn-by-turn play draws it (each
turn: the chance numbers of the players that need one, in match and seat order, then the
noise of every seat), which numpy's generator makes the same numbers. Every move is still
recorded turn by turn, each turn committed as before: the store is the one the asked path
writes (`IPDTournament.fast_matches = False`), which tests check table by table.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from scenarios.ipd.tasks import Move
from sim import RuleBrain

if TYPE_CHECKING:
    from scenarios.ipd.game import IPDTournament, Match

__all__ = ["play_fast"]

_FLIPPED = {"C": "D", "D": "C"}


def play_fast(model: IPDTournament, matches: list[Match]
              ) -> Generator[Any, Any, list[dict[str, Any]]]:
    """`IPDTournament.play_matches`, with the rule players' matches played in one loop each."""
    config = model.config
    turns, noisy = config.turns, config.noise > 0
    chance_seats = [(m, seat) for m, match in enumerate(matches) for seat in (0, 1)
                    if match.players[seat].uses_chance]
    width = len(chance_seats) + (2 * len(matches) if noisy else 0)
    draws = model.rng.random((turns, width)) if width else np.zeros((turns, 0))
    chance: dict[tuple[int, int], list[float]] = {
        seat: draws[:, j].tolist() for j, seat in enumerate(chance_seats)}
    flips = (draws[:, len(chance_seats):].reshape(turns, len(matches), 2) < config.noise
             ).tolist() if noisy else None
    played = {m: _play_match(model, match, m, chance, flips)
              for m, match in enumerate(matches) if _rule_only(match)}
    for turn in range(turns):
        if model.turn_index:
            yield model.env.timeout(1)  # one turn, one unit of simulated time
        asked, skipped = [], 0
        for m, match in enumerate(matches):
            if m in played:
                skipped += 2
                continue
            if skipped:
                model.count_rule_decisions(skipped)
                skipped = 0
            for seat, player in enumerate(match.players):
                facts = {"player": player.name, "match": match.match_id, "turn": turn,
                         "own": match.moves[seat], "opponent": match.moves[1 - seat]}
                if player.uses_chance:
                    facts["chance"] = chance[m, seat][turn]
                asked.append(player.decide(Move(model.rules, facts)))
        if skipped:
            model.count_rule_decisions(skipped)
        if asked:
            yield model.env.all_of(asked)
        answers = iter([event.value for event in asked])
        _settle(model, matches, turn, played, answers, flips)
    for m, match in enumerate(matches):
        if m in played:
            match.moves = [played[m][0][1], played[m][1][1]]
            match.scores = [played[m][0][2], played[m][1][2]]
    rows = [model._match_row(match) for match in matches]
    model.record("matches", rows)
    model.commit()
    return rows


def _rule_only(match: Match) -> bool:
    return all(isinstance(player.brain, RuleBrain) for player in match.players)


def _play_match(model: IPDTournament, match: Match, m: int,
                chance: dict[tuple[int, int], list[float]], flips: list | None
                ) -> tuple[tuple[str, str, float, list[float]], ...]:
    """One match's moves, turn after turn: per seat (intended, played, score, payoffs)."""
    first, second = (player.brain.policy for player in match.players)
    chances = [chance.get((m, seat)) for seat in (0, 1)]
    payoff = model.payoff
    own, other = "", ""
    intended = [[], []]
    payoffs: list[list[float]] = [[], []]
    scores = [0.0, 0.0]
    for turn in range(model.config.turns):
        a = first.move(own, other, chances[0][turn] if chances[0] else None)
        b = second.move(other, own, chances[1][turn] if chances[1] else None)
        intended[0].append(a)
        intended[1].append(b)
        if flips is not None:
            flip = flips[turn][m]
            a = _FLIPPED[a] if flip[0] else a
            b = _FLIPPED[b] if flip[1] else b
        pay_a, pay_b = payoff[a, b], payoff[b, a]
        payoffs[0].append(pay_a)
        payoffs[1].append(pay_b)
        scores[0] += pay_a
        scores[1] += pay_b
        own += a
        other += b
    return (("".join(intended[0]), own, scores[0], payoffs[0]),
            ("".join(intended[1]), other, scores[1], payoffs[1]))


def _settle(model: IPDTournament, matches: list[Match], turn: int,
            played: dict[int, tuple], answers: Any, flips: list | None) -> None:
    """Turn `turn` of every match recorded as `IPDTournament._settle` records it (the same
    rows, metrics and commit), the rule matches' moves read from their loops."""
    payoff, record = model.payoff, model.config.record_moves
    rows: list[tuple] = []
    cooperated, paid = 0, 0.0
    for m, match in enumerate(matches):
        done = played.get(m)
        if done is not None:
            for seat in (0, 1):
                intended, moves, _, payoffs = done[seat]
                move, pay = moves[turn], payoffs[turn]
                cooperated += move == "C"
                paid += pay
                if record:
                    rows.append((match.match_id, turn, seat, match.players[seat].name,
                                 intended[turn], move, pay, "rule"))
            continue
        pair = [next(answers), next(answers)]
        chosen = [str(c) for c in pair]
        if flips is not None:
            chosen = [_FLIPPED[c] if flips[turn][m][seat] else c
                      for seat, c in enumerate(chosen)]
        for seat in (0, 1):
            pay = payoff[chosen[seat], chosen[1 - seat]]
            match.moves[seat] += chosen[seat]
            match.scores[seat] += pay
            cooperated += chosen[seat] == "C"
            paid += pay
            if record:
                player = match.players[seat]
                rows.append((match.match_id, turn, seat, player.name, str(pair[seat]),
                             chosen[seat], pay, "fallback" if getattr(
                                 pair[seat], "fallback", False) else player.brain.brain_type))
    model.finish_turn(turn, rows, cooperated, paid, 2 * len(matches))
