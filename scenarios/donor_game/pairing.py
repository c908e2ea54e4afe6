"""Who meets whom: the pairing schemes of the Donor Game.

All round-robin schedules split the generation's shuffled population into halves A and B
(`order[:h]`, `order[h:]`) and let every agent meet every agent of the other half once as donor
and once as recipient per game; a later game reverses every pairing of the game before it.
They differ in the order of the rounds, which decides what kind of reciprocity the game tests:

- `round_robin`, the study's released code: in round i of the first h rounds, A[j] is paired
  with B[(j - i) mod h], A donating in even rounds and B in odd ones; rounds h..2h-1 repeat
  rounds 0..h-1 with every pair reversed. A donor never meets, as recipient, the agent that
  gave to it in the round before, so a gift can only be repaid to someone else: the game stays
  about *indirect* reciprocity.
- `round_robin_alternating`, Societas 0.1's order: roles alternate every round and B answers
  along the pairs of the next forward round. Measured: 60 of the 144 donations of a 12-agent
  generation go to the donor's benefactor of the round before, so part of the game becomes
  direct reciprocity. Kept so earlier runs can be compared, never as a default.
- `random`: every agent donates once per round to a uniformly drawn other agent (recipients
  may receive several gifts in a round), the encounter model of Nowak & Sigmund's simulations.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Pair = tuple[int, int]  # (donor index, recipient index) into the generation's agent list


def _halves(order: list[int]) -> tuple[list[int], list[int], int]:
    half = len(order) // 2
    return order[:half], order[half:], half


def study_round(order: list[int], index: int) -> list[Pair]:
    """Round `index` (mod 2h) of the released code's schedule for agents in `order`."""
    first, second, half = _halves(order)
    index %= 2 * half
    rotation, reverse = index % half, index >= half
    pairs = [(first[j], second[(j - rotation) % half]) for j in range(half)]
    if rotation % 2 == 1:
        pairs = [(b, a) for a, b in pairs]  # B donates in the odd rounds of each half
    return [(b, a) for a, b in pairs] if reverse else pairs


def alternating_round(order: list[int], index: int) -> list[Pair]:
    """Round `index` (mod 2h) of Societas 0.1's alternating round-robin."""
    first, second, half = _halves(order)
    index %= 2 * half
    k = index // 2
    if index % 2 == 0:
        return [(first[i], second[(i + k) % half]) for i in range(half)]
    k = (k + 1) % half  # B answers along the next forward round's pairs, reversed
    return [(second[(i + k) % half], first[i]) for i in range(half)]


ROUND_ROBINS: dict[str, Callable[[list[int], int], list[Pair]]] = {
    "round_robin": study_round,
    "round_robin_alternating": alternating_round,
}


def game_schedule(
    pairing: str, n_agents: int, rounds: int, game: int, rng: np.random.Generator,
    order: list[int] | None = None,
) -> list[list[Pair]]:
    """The pairs of each round of one game.

    For the round-robins, `order` is the generation's shuffled population (drawn once per
    generation) and the schedule repeats cyclically if `rounds` exceeds it; odd-numbered games
    reverse every pair. For random, pairs are drawn afresh from `rng`.
    """
    if pairing in ROUND_ROBINS:
        assert order is not None
        schedule = [ROUND_ROBINS[pairing](order, r) for r in range(rounds)]
        if game % 2 == 1:
            schedule = [[(b, a) for a, b in pairs] for pairs in schedule]
        return schedule
    if pairing == "random":
        schedule = []
        for _ in range(rounds):
            offsets = rng.integers(1, n_agents, size=n_agents)
            schedule.append([(d, int((d + off) % n_agents)) for d, off in enumerate(offsets)])
        return schedule
    raise ValueError(f"unknown pairing {pairing!r}")


def repaid_benefactor(schedule: list[list[Pair]]) -> int:
    """How many donations of a run of rounds go to the donor's benefactor of the round before
    (the gift that answers a gift directly). 0 for the study's schedule."""
    repaid, gave_to_me = 0, {}
    for pairs in schedule:
        repaid += sum(gave_to_me.get(donor) == recipient for donor, recipient in pairs)
        gave_to_me = {recipient: donor for donor, recipient in pairs}
    return repaid
