"""Who meets whom: the pairing schemes of the Donor Game.

`round_robin` follows the authors' released code: the population is split into two random
halves A and B and plays a bipartite round-robin in which every agent meets every agent of the
other half once as donor and once as recipient. Roles alternate every round, as the paper's
rules tell the agents ("a donor in one round is a recipient in the next"): in round 2k member i
of A gives to member (i + k) mod h of B; in round 2k + 1 the members of B give to the A members
of the *next* forward round's pairs, so a donor never answers a gift it has just received (that
would be direct, not indirect, reciprocity) and the recipient's trace can reach three links back.
A later game reverses every pairing of the game before it.
`random` lets every agent donate once per round to a uniformly drawn other agent (recipients may
receive several gifts in a round), the encounter model of Nowak & Sigmund's simulations.
"""

from __future__ import annotations

import numpy as np

Pair = tuple[int, int]  # (donor index, recipient index) into the generation's agent list


def round_robin_round(order: list[int], index: int) -> list[Pair]:
    """Round `index` (mod 2h) of the bipartite round-robin for agents in `order` (length 2h)."""
    half = len(order) // 2
    first, second = order[:half], order[half:]
    index %= 2 * half
    k = index // 2
    if index % 2 == 0:
        return [(first[i], second[(i + k) % half]) for i in range(half)]
    k = (k + 1) % half  # B answers along the next forward round's pairs, reversed
    return [(second[(i + k) % half], first[i]) for i in range(half)]


def round_robin_schedule(order: list[int]) -> list[list[Pair]]:
    """All 2h rounds of one pass of the round-robin."""
    return [round_robin_round(order, r) for r in range(len(order))]


def game_schedule(
    pairing: str, n_agents: int, rounds: int, game: int, rng: np.random.Generator,
    order: list[int] | None = None,
) -> list[list[Pair]]:
    """The pairs of each round of one game.

    For round_robin, `order` is the generation's split into halves (drawn once per generation)
    and the schedule is repeated cyclically if `rounds` exceeds it; odd-numbered games reverse
    every pair. For random, pairs are drawn afresh from `rng`.
    """
    if pairing == "round_robin":
        assert order is not None
        schedule = [round_robin_round(order, r) for r in range(rounds)]
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
