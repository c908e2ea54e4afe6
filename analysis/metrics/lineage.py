"""Lineage: who inherited from whom, and whose descendants came to fill the population.

`agents.parents` links every newcomer to the survivors it inherited from: one parent for a
rule newcomer (the rule it copied and mutated), every survivor for an LLM newcomer (it read all
their strategies). The first listed parent is taken as the primary one for founder lines.
"""

from __future__ import annotations

import json

import networkx as nx
import pandas as pd


def _parents(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(p) for p in value]
    if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
        return []
    return [str(p) for p in json.loads(str(value))]


def lineage_edges(agents: pd.DataFrame) -> pd.DataFrame:
    """Parent → child links, one row each: parent, child, generation (child's), primary."""
    rows = [
        {"parent": parent, "child": child, "generation": int(generation), "primary": i == 0}
        for child, generation, parents in agents[["agent_id", "generation", "parents"]].itertuples(
            index=False)
        for i, parent in enumerate(_parents(parents))
    ]
    # Typed even when empty (a one-generation run has no links): an untyped empty "primary"
    # column would make `edges[edges["primary"]]` select columns instead of rows.
    return pd.DataFrame(rows, columns=["parent", "child", "generation", "primary"]).astype(
        {"parent": object, "child": object, "generation": "int64", "primary": bool}
    )


def lineage_graph(agents: pd.DataFrame) -> nx.DiGraph:
    """A directed graph of agents (attributes generation, brain, kind) and inheritance edges."""
    graph = nx.DiGraph()
    for row in agents.itertuples(index=False):
        graph.add_node(row.agent_id, generation=int(row.generation), brain=row.brain,
                       kind=row.kind)
    for row in lineage_edges(agents).itertuples(index=False):
        graph.add_edge(row.parent, row.child, primary=bool(row.primary))
    return graph


def founders(agents: pd.DataFrame) -> pd.Series:
    """Each agent's founder: follow primary parents back to an agent without a known parent."""
    primary = {
        child: parents[0]
        for child, parents in zip(agents["agent_id"], agents["parents"].map(_parents),
                                  strict=True)
        if parents
    }
    known = set(agents["agent_id"])
    result = {}
    for agent in agents["agent_id"]:
        current, seen = agent, {agent}
        while current in primary and primary[current] in known and primary[current] not in seen:
            current = primary[current]
            seen.add(current)
        result[agent] = current
    return pd.Series(result, name="founder")


def founder_shares(agents: pd.DataFrame, generation_scores: pd.DataFrame) -> pd.DataFrame:
    """Share of each generation's population descending from each founder.

    Rows: generation; columns: founders (agents without a known parent, normally the first
    generation). A founder's line taking over the population is selection at work on
    inherited culture.
    """
    founder = founders(agents)
    alive = generation_scores[["generation", "agent_id"]].assign(
        generation=generation_scores["generation"].astype(int),
        founder=generation_scores["agent_id"].map(founder),
    )
    counts = pd.crosstab(alive["generation"], alive["founder"])
    shares = counts.div(counts.sum(axis=1), axis=0)
    shares.columns.name = "founder"
    return shares
