"""The fishery's arithmetic, as pure functions a test can check on hand-made seasons.

A season: every fisher asks for a catch; if the requests add up to more than the stock they are
rationed; what is left must reach the collapse threshold, else the fishery has collapsed; the
rest regrows, multiplied by the growth factor but never beyond capacity (GovSim's fishery:
doubling, capped at 100 tons, collapse below 5).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

#: Requests within this of a bound count as on it, so float noise never flips a verdict.
EPSILON = 1e-9


def sustainable_share(stock: float, *, growth: float, fishers: int) -> float:
    """One fisher's share of the season's surplus: if every fisher takes at most this, what is
    left (at least stock / growth) regrows to the current stock (capacity caps both)."""
    return max(0.0, stock * (1.0 - 1.0 / growth) / fishers)


def ration(requests: Sequence[float], stock: float, method: str = "equal") -> list[float]:
    """The catches granted for these requests from a stock.

    Requests that fit are granted whole. Otherwise `equal` gives everyone the same amount, up
    to what each asked, and shares out what the modest leave (the uniform rule: asking for
    more than the others never gets more than an equal part, the expected outcome of GovSim's
    one-ton-at-a-time random allocation); `proportional` gives each the stock times its share
    of the requests (asking for more gets more).
    """
    wanted = [max(0.0, float(r)) for r in requests]
    total = sum(wanted)
    if total <= stock + EPSILON:
        return wanted
    if method == "proportional":
        return [stock * r / total for r in wanted]
    if method != "equal":
        raise ValueError(f"unknown rationing {method!r}")
    level, left, unserved = 0.0, float(stock), len(wanted)
    for r in sorted(wanted):
        if r * unserved <= left:
            left -= r
            unserved -= 1
        else:
            level = left / unserved
            break
    return [min(r, level) for r in wanted]


def regrow(remaining: float, *, growth: float, capacity: float, noise: float = 1.0) -> float:
    """Next season's stock: what was left, times the growth factor (and a noise factor, 1 when
    regrowth is deterministic), never beyond capacity."""
    return min(capacity, remaining * growth * noise)


@dataclass(frozen=True)
class SeasonOutcome:
    """What one season did to the stock; `collapsed` when fewer than `threshold` were left."""

    stock: float
    requested: list[float]
    caught: list[float]
    remaining: float
    collapsed: bool
    next_stock: float


def play_season(requests: Sequence[float], stock: float, *, growth: float, capacity: float,
                threshold: float, rationing: str = "equal", noise: float = 1.0
                ) -> SeasonOutcome:
    """Grant the requests (each at most the whole stock), check for collapse, regrow."""
    asked = [min(max(0.0, float(r)), stock) for r in requests]
    caught = ration(asked, stock, rationing)
    remaining = max(0.0, stock - math.fsum(caught))
    collapsed = remaining < threshold - EPSILON
    next_stock = 0.0 if collapsed else regrow(remaining, growth=growth, capacity=capacity,
                                              noise=noise)
    return SeasonOutcome(stock, asked, caught, remaining, collapsed, next_stock)


def gini(values: Sequence[float]) -> float:
    """Inequality of catches: 0 when all caught the same (or nothing), (n-1)/n when one caught
    everything."""
    n = len(values)
    if n == 0:
        return math.nan
    total = math.fsum(values)
    if total <= 0:
        return 0.0
    diffs = math.fsum(abs(a - b) for a in values for b in values)
    return diffs / (2 * n * total)
