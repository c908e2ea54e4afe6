"""Reciprocity: does a donor give more to recipients whose record shows more giving?

Indirect reciprocity means a gift depends on what the recipient did to others. Each donation
decision stores the trace the donor saw; `trace[0]` is the recipient's own last act as a donor.
Pairing that act with the donor's gift gives one point per decision; the slope of gift on the
recipient's last share (OLS, with a t-interval) and Spearman's rank correlation (with a
Fisher-z interval) say how strongly gifts follow the record. A slope of 1 means a donor gives
one extra percentage point for each point the recipient gave; 0 means the record is ignored.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.run import Run
from scenarios.donor_game.analysis.cooperation import gift_share
from scenarios.donor_game.analysis.tables import game_table

PAIR_COLUMNS = [
    "generation", "game", "round", "donor", "recipient", "recipient_last",
    "recipient_last_action", "action", "given", "source",
]
_KEYS = ["generation", "game", "round", "donor", "recipient"]
Z_95 = 1.959963984540054  # two-sided 95% normal quantile


def _last_act(observation: str | dict) -> tuple[float, str | None]:
    """(share the recipient last gave, its action) from a decision's observation (its JSON,
    or the JSON already decoded).

    A punishment counts as a share of 0; no record (empty trace) is (NaN, None).
    """
    seen = json.loads(observation) if isinstance(observation, str) else observation
    trace = seen.get("trace") or []
    if not trace:
        return float("nan"), None
    last = trace[0]
    action = last.get("action", "donate")
    return (float(last.get("fraction", 0.0)) if action == "donate" else 0.0), action


def gift_pairs(decisions: pd.DataFrame, donations: pd.DataFrame) -> pd.DataFrame:
    """One row per donation decision: what the recipient last gave, and what the donor gave.

    The recipient's record comes from the observation the donor saw (`decisions`, task
    'donate'); the donor's act from `donations` (what was applied), matched on generation,
    game, round, donor and recipient. `given` and `recipient_last` count a punishment as 0;
    `recipient_last` is NaN when the recipient had no record yet.
    """
    if decisions.empty or donations.empty:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    asked = decisions[decisions["task"] == "donate"]
    rows = []
    for observation in asked["observation"]:
        seen = json.loads(observation)  # decoded once: a large run logs many decisions
        last, last_action = _last_act(seen)
        rows.append({
            "generation": int(seen["generation"]), "game": int(seen["game"]),
            "round": int(seen["round"]), "donor": seen["donor"], "recipient": seen["recipient"],
            "recipient_last": last, "recipient_last_action": last_action,
        })
    seen_frame = pd.DataFrame(rows, columns=[*_KEYS, "recipient_last", "recipient_last_action"])
    acts = donations[[*_KEYS, "action", "source"]].assign(given=gift_share(donations))
    acts = acts.astype({"generation": int, "game": int, "round": int})
    pairs = seen_frame.merge(acts, on=_KEYS, how="inner")
    return pairs[PAIR_COLUMNS].reset_index(drop=True)


class DecisionsNotLogged(UserWarning):
    """The run did not log every decision (`log_decisions`), so pairs are missing."""


def missing_decisions(run: Run) -> str | None:
    """What reciprocity cannot see in this run, in a sentence; None when nothing is missing."""
    if run.log_decisions == "none":
        return (f"{run.path.name} logged no decisions (log_decisions = 'none'): the "
                "recipient's record each donor saw is not stored, so reciprocity and "
                "punishment by target cannot be computed for it.")
    if run.log_decisions == "llm" and (run.agents["brain"] == "rule").any():
        return (f"{run.path.name} logged only LLM brains' decisions (log_decisions = 'llm'): "
                "reciprocity and punishment by target cover LLM donors only.")
    return None


def pairs_from_run(run: Run) -> pd.DataFrame:
    """`gift_pairs` of one run's decisions and donations.

    Warns (`DecisionsNotLogged`) when the run logged only some decisions, or none: the pairs
    then cover only LLM donors, or nobody.
    """
    missing = missing_decisions(run)
    if missing is not None:
        warnings.warn(missing, DecisionsNotLogged, stacklevel=2)
    return gift_pairs(run.decisions, game_table(run, "donations"))


@dataclass(frozen=True)
class Reciprocity:
    """How gifts depend on the recipient's last share, with 95% intervals.

    n counts the decisions used (recipients with a record, fallbacks excluded by default).
    """

    n: int
    slope: float
    slope_low: float
    slope_high: float
    intercept: float
    rho: float
    rho_low: float
    rho_high: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def ols_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float, float]:
    """(slope, low, high, intercept): least squares with a 95% t-interval on n − 2 df."""
    n = x.size
    nan = float("nan")
    if n < 3 or np.ptp(x) == 0:
        return nan, nan, nan, nan
    fit = stats.linregress(x, y)
    half = stats.t.ppf(0.975, n - 2) * fit.stderr
    return float(fit.slope), float(fit.slope - half), float(fit.slope + half), float(
        fit.intercept)


def spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(rho, low, high): Spearman's rho with a Fisher-z 95% interval.

    The interval uses the standard error sqrt(1.06 / (n − 3)) of Fieller, Hartley and Pearson
    (1957) for rank correlations; with |rho| = 1 it collapses to rho.
    """
    n = x.size
    nan = float("nan")
    if n < 4 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return nan, nan, nan
    rho = float(stats.spearmanr(x, y).statistic)
    if abs(rho) >= 1.0:
        return rho, rho, rho
    z = math.atanh(rho)
    half = Z_95 * math.sqrt(1.06 / (n - 3))
    return rho, math.tanh(z - half), math.tanh(z + half)


def reciprocity(pairs: pd.DataFrame, *, include_fallbacks: bool = False) -> Reciprocity:
    """Slope and rank correlation of `given` on `recipient_last` over `pairs`.

    Decisions about recipients without a record carry no information about reciprocity and are
    left out, as are fallbacks (a refusal the engine made for a model that gave no usable
    answer) unless `include_fallbacks`.
    """
    rows = pairs.dropna(subset=["recipient_last"])
    if not include_fallbacks:
        rows = rows[rows["source"] != "fallback"]
    x = rows["recipient_last"].to_numpy(float)
    y = rows["given"].to_numpy(float)
    slope, low, high, intercept = ols_slope(x, y)
    rho, rho_low, rho_high = spearman(x, y)
    return Reciprocity(int(x.size), slope, low, high, intercept, rho, rho_low, rho_high)


def reciprocity_by_generation(pairs: pd.DataFrame, **options: bool) -> pd.DataFrame:
    """`reciprocity` within each generation, one row per generation."""
    rows = {
        int(generation): reciprocity(group, **options).as_dict()
        for generation, group in pairs.groupby("generation")
    }
    frame = pd.DataFrame.from_dict(rows, orient="index",
                                   columns=list(Reciprocity.__dataclass_fields__))
    frame.index.name = "generation"
    return frame.sort_index()


def with_donor(pairs: pd.DataFrame, agents: pd.DataFrame) -> pd.DataFrame:
    """`pairs` plus the donor's `donor_kind` (rule family or 'llm') and `donor_brain`."""
    donors = agents[["agent_id", "kind", "brain"]].rename(
        columns={"agent_id": "donor", "kind": "donor_kind", "brain": "donor_brain"})
    return pairs.merge(donors, on="donor", how="left")
