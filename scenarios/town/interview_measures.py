"""What the interviews of a town run measured (tables `interview_knowledge`,
`interview_acquaintance`, `interviews`; docs/town_analysis.md, 'Interviews'): plain functions of
frames, like `scenarios.town.measures`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pandas as pd

from scenarios.town.interview_config import INTERVIEW_TABLES

if TYPE_CHECKING:
    from analysis.run import Run

KNOWLEDGE_COLUMNS = ["topic", "day", "asked", "said_yes", "knows", "hallucinated",
                     "unrecalled", "in_memory", "keyword", "share", "keyword_share"]
DENSITY_COLUMNS = ["moment", "clock", "pairs", "mutual", "density", "mutual_in_memory",
                   "density_in_memory", "answers", "said_yes", "hallucinated"]


def _ints(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    return frame.assign(**{c: pd.to_numeric(frame[c], errors="coerce").fillna(0).astype(int)
                           for c in columns})


def knowledge_by_day(knowledge: pd.DataFrame) -> pd.DataFrame:
    """Per topic and day (0-based; the interview at its end): residents asked, who said they
    know, who knows by the paper's count (said so and remembers it), who said so without any
    memory of it (hallucinated), who remembers it but said no (unrecalled), who remembers it,
    who the keyword measure had knowing by then; `share` = knows / asked and `keyword_share`
    = keyword / asked."""
    if knowledge.empty:
        return pd.DataFrame(columns=KNOWLEDGE_COLUMNS)
    rows = _ints(knowledge, ["day", "answer", "knows", "hallucinated", "unrecalled",
                             "in_memory", "keyword"])
    table = rows.groupby(["topic", "day"], sort=False).agg(
        asked=("agent_id", "size"), said_yes=("answer", "sum"), knows=("knows", "sum"),
        hallucinated=("hallucinated", "sum"), unrecalled=("unrecalled", "sum"),
        in_memory=("in_memory", "sum"), keyword=("keyword", "sum")).reset_index()
    table["share"] = table["knows"] / table["asked"]
    table["keyword_share"] = table["keyword"] / table["asked"]
    return table[KNOWLEDGE_COLUMNS]


def acquaintance_density(acquaintance: pd.DataFrame) -> pd.DataFrame:
    """Per moment asked ('start', 'end'): pairs of residents who were both asked about each
    other, the pairs where both said yes (`mutual`) and the paper's density mutual / pairs;
    the same from memory (both remember the other); answers, yes answers and the yes answers
    given without any memory of the person (`hallucinated`)."""
    if acquaintance.empty:
        return pd.DataFrame(columns=DENSITY_COLUMNS)
    rows = _ints(acquaintance, ["clock", "answer", "in_memory"])
    result = []
    for moment, at in rows.groupby("moment", sort=False):
        said = {(a, b): (yes, mem) for a, b, yes, mem in zip(
            at["agent_id"].astype(str), at["other_id"].astype(str), at["answer"],
            at["in_memory"], strict=True)}
        pairs = [(a, b) for a, b in said if a < b and (b, a) in said]
        mutual = sum(bool(said[a, b][0] and said[b, a][0]) for a, b in pairs)
        remembered = sum(bool(said[a, b][1] and said[b, a][1]) for a, b in pairs)
        result.append({
            "moment": moment, "clock": int(at["clock"].max()), "pairs": len(pairs),
            "mutual": mutual, "density": mutual / len(pairs) if pairs else float("nan"),
            "mutual_in_memory": remembered,
            "density_in_memory": remembered / len(pairs) if pairs else float("nan"),
            "answers": len(at), "said_yes": int(at["answer"].sum()),
            "hallucinated": int(((at["answer"] == 1) & (at["in_memory"] == 0)).sum())})
    return pd.DataFrame(result, columns=DENSITY_COLUMNS)


def latest_answers(answers: pd.DataFrame) -> pd.DataFrame:
    """The interviews' answers, one per resident and question: the latest session's. A
    battery question is named by its key, one asked by hand by its text."""
    columns = ["agent_id", "category", "key", "question", "answer", "source", "session",
               "clock"]
    if answers.empty:
        return pd.DataFrame(columns=columns)
    rows = answers.assign(key=[k if isinstance(k, str) and k else q for k, q in zip(
        answers["question_key"], answers["question"], strict=True)])
    rows = _ints(rows, ["session", "clock"])
    rows = rows.sort_values("session", kind="stable").drop_duplicates(
        ["agent_id", "category", "key"], keep="last")
    return rows[columns].reset_index(drop=True)


def side_by_side(named: Sequence[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """The latest answers of several runs (label, `interviews` table), one column per run,
    one row per resident and question, in the order the first run asked them."""
    frames = [latest_answers(answers).assign(run=label) for label, answers in named]
    pooled = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if pooled.empty:
        return pd.DataFrame()
    questions = pooled.drop_duplicates(["agent_id", "category", "key"])[
        ["agent_id", "category", "key", "question"]]
    table = pooled.pivot_table(index=["agent_id", "category", "key"], columns="run",
                               values="answer", aggfunc="last", sort=False)
    table = questions.set_index(["agent_id", "category", "key"]).join(table).reset_index()
    table = table.rename(columns={"agent_id": "resident"}).drop(columns="key")
    labels = [label for label, _ in named if label in table.columns]
    return table[["resident", "category", "question", *labels]].fillna("–")


def interview_tables(run: Run) -> dict[str, pd.DataFrame]:
    """A run's interview tables (empty, with their columns, where the run has none)."""
    present = set(run.tables())
    return {name: run.table(name) if name in present else pd.DataFrame(columns=list(columns))
            for name, columns in INTERVIEW_TABLES.items()}
