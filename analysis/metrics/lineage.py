"""Lineage: who inherited from whom, and whose descendants came to fill the population.

`agents.parents` links every newcomer to the survivors it inherited from: one parent for a
rule newcomer (the rule it copied and mutated), every survivor for an LLM newcomer (it read all
their strategies). The first listed parent is taken as the primary one for founder lines.
"""

from __future__ import annotations

import json
import re

import networkx as nx
import pandas as pd

_FIRST_ID = re.compile(r'\s*\[\s*"([^"\\]*)"')


def _parents(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(p) for p in value]
    if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
        return []
    return [str(p) for p in json.loads(str(value))]


def primary_parents(agents: pd.DataFrame) -> pd.Series:
    """Each agent's primary (first listed) parent, None for a founder; indexed by agent id.

    Read without decoding the whole list: an LLM newcomer lists every survivor it read, and a
    large population's lists are long.
    """
    def first(value: object) -> str | None:
        if value in ("[]", "", None):
            return None
        if isinstance(value, str):
            match = _FIRST_ID.match(value)
            if match:
                return match.group(1)
        parents = _parents(value)
        return parents[0] if parents else None

    return pd.Series([first(v) for v in agents["parents"].tolist()],
                     index=[str(a) for a in agents["agent_id"].tolist()], name="parent",
                     dtype=object)


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
    """Each agent's founder: follow primary parents back to an agent without a known parent.

    Each agent's founder is remembered once found, so the whole table takes linear time.
    """
    primary = {child: parent for child, parent in primary_parents(agents).to_dict().items()
               if parent is not None}
    ids = [str(a) for a in agents["agent_id"].tolist()]
    known = set(ids)
    result: dict[str, str] = {}
    for agent in ids:
        path, current, seen = [], agent, {agent}
        while current not in result and current in primary and primary[current] in known \
                and primary[current] not in seen:
            path.append(current)
            current = primary[current]
            seen.add(current)
        founder = result.get(current, current)
        for member in [*path, current]:
            result.setdefault(member, founder)
    return pd.Series([result[agent] for agent in ids], index=ids, name="founder", dtype=object)


def founder_shares(agents: pd.DataFrame, generation_scores: pd.DataFrame) -> pd.DataFrame:
    """Share of each generation's population descending from each founder.

    Rows: generation; columns: founders (agents without a known parent, normally the first
    generation). A founder's line taking over the population is selection at work on
    inherited culture.
    """
    founder = founders(agents).to_dict()
    alive = pd.DataFrame({
        "generation": generation_scores["generation"].astype(int).to_numpy(),
        "founder": [founder.get(str(a)) for a in generation_scores["agent_id"].tolist()]})
    counts = alive.groupby(["generation", "founder"]).size().unstack(fill_value=0)
    shares = counts.div(counts.sum(axis=1), axis=0)
    shares.columns.name = "founder"
    return shares
