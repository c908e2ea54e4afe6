"""One agent of a run, in plain text: who it was, what it remembered and concluded, and where
its culture came from (`societas inspect RUN_DIR --agent ID`). A scenario adds what only it
knows (a town resident's plans and conversations) through `ScenarioAnalysis.inspect`."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pandas as pd

from analysis.run import NotInRun, Run, load


def describe_agent(run_dir: str | Path, agent_id: str, *, limit: int = 50,
                   ancestry_depth: int = 3) -> str:
    """Profile, ancestry, strategy, scores, the scenario's own sections
    (`ScenarioAnalysis.inspect`), memories (latest `limit`), reflections with their evidence,
    and inherited records with their origin."""
    run = load(run_dir)
    agents = run.agents.set_index("agent_id")
    if agent_id not in agents.index:
        known = ", ".join(agents.index[:12]) + (" ..." if len(agents) > 12 else "")
        raise NotInRun(f"no agent {agent_id!r} in {run.path} (agents: {known})")
    row = agents.loc[agent_id]
    lines = [f"agent {agent_id}: created in generation {int(row['generation']) + 1}, "
             f"{row['brain']} brain ({row['kind']}{', ' + row['model'] if row['model'] else ''})"]
    params = json.loads(row["params"] or "{}")
    if params:
        lines.append("  parameters: " + ", ".join(f"{k}={v:g}" if isinstance(v, float)
                                                   else f"{k}={v}" for k, v in params.items()))
    lines += ["", "ancestry:", *_ancestry(agents, agent_id, ancestry_depth)]
    lines += ["", *_strategy_and_scores(run, agent_id)]
    for section in run.analysis_spec.inspect:  # what only the scenario knows about the agent
        body = section.render(run, agent_id, limit)
        if body:
            lines += ["", f"{section.title}:", *body]
    lines += ["", *_memories(run, agent_id, limit)]
    return "\n".join(lines)


def _parents(agents: pd.DataFrame, agent_id: str) -> list[str]:
    return json.loads(agents.loc[agent_id, "parents"] or "[]") if agent_id in agents.index else []


def _ancestry(agents: pd.DataFrame, agent_id: str, depth: int) -> list[str]:
    lines: list[str] = []
    frontier, seen = [agent_id], {agent_id}
    for level in range(1, depth + 1):
        parents = []
        for child in frontier:
            parents += [p for p in _parents(agents, child) if p not in seen]
        parents = list(dict.fromkeys(parents))
        if not parents:
            break
        label = {1: "parents", 2: "grandparents"}.get(level, f"ancestors, {level} back")
        shown = ", ".join(parents[:12]) + (f" (+{len(parents) - 12} more)" if len(parents) > 12
                                            else "")
        lines.append(f"  {label}: {shown}")
        seen.update(parents)
        frontier = parents
    return lines or ["  none: a founder of the population"]


def _strategy_and_scores(run: Run, agent_id: str) -> list[str]:
    lines = []
    strategies = run.strategies
    mine = strategies[strategies["agent_id"] == agent_id]
    for _, strategy in mine.iterrows():
        lines.append(f"strategy ({strategy['source']}):")
        lines += textwrap.wrap(str(strategy["text"]), width=96, initial_indent="  ",
                               subsequent_indent="  ")
    scores = run.generation_scores
    scores = scores[scores["agent_id"] == agent_id]
    for _, score in scores.iterrows():
        fate = ("no selection after this generation" if pd.isna(score["survived"])
                else "survived" if score["survived"] else "replaced")
        lines.append(f"generation {int(score['generation']) + 1}: score {score['score']:.2f}, "
                     f"rank {int(score['rank']) + 1}, {fate}")
    return lines


def _memories(run: Run, agent_id: str, limit: int) -> list[str]:
    memories = run.memories
    if memories.empty:
        return ["memories: none recorded (memory was off in this run)"]
    mine = memories[memories["owner"] == agent_id].sort_values("memory_id")
    if mine.empty:
        return ["memories: none"]
    links = run._optional("memory_evidence")
    texts = memories.set_index("memory_id")["text"]
    owners = memories.set_index("memory_id")["owner"]
    counts = mine["kind"].value_counts()
    lines = ["memories: " + ", ".join(f"{n} {kind}" for kind, n in counts.items())]
    for kind, title in (("inherited", "inherited"), ("reflection", "reflections")):
        records = mine[mine["kind"] == kind]
        if records.empty:
            continue
        lines.append(f"{title}:")
        for _, record in records.tail(limit).iterrows():
            # NULL reads as NaN (truthy) once a column mixes it with text
            origin = f" from {record['origin']}" if pd.notna(record["origin"]) \
                and record["origin"] else ""
            lines.append(f"  #{record['memory_id']} t={record['created']:g} "
                         f"importance {record['importance']}{origin}: {record['text']}")
            evidence = links[links["memory_id"] == record["memory_id"]] if not links.empty \
                else links
            for _, link in evidence.sort_values("position").iterrows():
                source = int(link["evidence_id"])
                lines.append(f"      <- #{source} ({owners.get(source, '?')}): "
                             f"{texts.get(source, '?')}")
    others = mine[~mine["kind"].isin(["inherited", "reflection"])]
    if not others.empty:
        lines.append(f"latest {min(limit, len(others))} of {len(others)} other memories:")
        for _, record in others.tail(limit).iterrows():
            lines.append(f"  #{record['memory_id']} t={record['created']:g} {record['kind']} "
                         f"importance {record['importance']}: {record['text']}")
    return lines
