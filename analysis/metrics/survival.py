"""Which strategies survive selection, generation after generation.

Strategy labels (rule families, 'llm', or what a scenario declares) are the heritable types of
a population: a rule newcomer copies a survivor's family. Following each type's share of the
population and its survival rate shows which norms selection favours (in the Donor Game, the
classic result is that discriminators take over once defectors have been exploited).
"""

from __future__ import annotations

import pandas as pd

COLUMNS = ["agents", "share", "survivors", "survival_rate", "mean_score"]


def strategy_survival(generation_scores: pd.DataFrame, by: str = "kind") -> pd.DataFrame:
    """Per generation and strategy type (`by`, default the rule family): how it fared.

    Columns: agents (alive that generation), share (of the population), survivors (kept for
    the next generation), survival_rate (survivors / agents) and mean_score. Indexed by
    (generation, type); types absent from a generation have no row. A generation that no
    selection followed (the study's last) has NaN survivors and survival rate.
    """
    frame = generation_scores.assign(
        generation=generation_scores["generation"].astype(int),
        survived=pd.to_numeric(generation_scores["survived"]).astype(float),
        score=pd.to_numeric(generation_scores["score"]).astype(float),
    )
    grouped = frame.groupby(["generation", by])
    table = pd.DataFrame({
        "agents": grouped.size(),
        "survivors": grouped["survived"].sum(min_count=1),
        "mean_score": grouped["score"].mean(),
    })
    population = table["agents"].groupby(level="generation").transform("sum")
    table["share"] = table["agents"] / population
    table["survival_rate"] = table["survivors"] / table["agents"]
    return table[COLUMNS]
