"""What each `selection` rule of the Donor Game ranks players on.

- `top`, `proportional`, `random`: `selection_score`, the final resources of the last game (the
  study) or their mean over the games (`random` ignores it but the ranking is recorded).
- `reputation`: the study's reputation score (the released notebook's reputation selection). A
  player starts each game without a score. Its first gift sets the score to the share given;
  each later gift mixes in how closely that share matched the recipient's own score,
  `1 - |share - recipient's score|` (a recipient without a score counts as 0), weighing the
  score so far by the discount 0.5: `(match + 0.5 * score) / 1.5`. So a gift two steps back
  counts half as much as the latest, three steps back a quarter, and so on. Punishments and
  refusals leave the score as it was. The selection score is the mean over the generation's
  games of the score each game ended with (games in which the player never gave are left
  out; a player who never gave scores 0). It rewards discriminating givers: giving much to
  those with a high score and little to those with a low one.
- `generosity`: the mean share of its resources a player gave as donor (punishments and
  refusals count as 0), Societas' earlier "reputation".

Within a round all gifts are scored from the scores held at the start of the round, as the
resources are (in the round-robin nobody gives and receives in the same round, so this is the
study's order too).
"""

from __future__ import annotations

from collections.abc import Sequence

#: How much a player's score so far weighs against its latest gift's match (the study's 0.5).
DISCOUNT = 0.5


def updated_reputation(score: float | None, share: float, recipient: float | None) -> float:
    """A donor's reputation score after giving `share` of its resources to a recipient whose
    score is `recipient` (None: no score yet, counted as 0)."""
    if score is None:
        return share
    match = 1.0 - abs(share - (recipient or 0.0))
    return (match + DISCOUNT * score) / (1.0 + DISCOUNT)


def generation_reputation(game_scores: Sequence[float | None]) -> float:
    """The score reputation selection ranks on: the mean of the games' final scores."""
    scored = [score for score in game_scores if score is not None]
    return sum(scored) / len(scored) if scored else 0.0
