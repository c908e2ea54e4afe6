"""Rule brains' answers in bulk: every rule decision pending at one instant, computed together.

The gateway hands this module the rule-brained requests of a batch. They are grouped by task
type and each group is answered by the type's `Task.answer_with_rules` (one call for thousands
of donors: a type may vectorise it; by default it asks each policy in turn), and their
`decisions` rows are built as tuples for one `executemany` per commit. What comes out is
exactly what asking each `RuleBrain` in turn gives: `World.bulk_decisions = False` runs that
reference path, and tests compare the two stores.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sim.brains import LLMBrain, RuleBrain
from sim.store import ENGINE_TABLES, to_json

if TYPE_CHECKING:
    from sim.decisions import DecisionRequest

__all__ = ["answer_rules", "reference_decision_rows", "rule_decision_rows", "split_by_brain"]


def split_by_brain(batch: Sequence[DecisionRequest]) -> tuple[list[int], list[int]]:
    """Positions of the rule-brained requests and of the LLM-brained ones, in batch order."""
    rules: list[int] = []
    llm: list[int] = []
    for position, request in enumerate(batch):
        brain = request.agent.brain
        if isinstance(brain, RuleBrain):
            rules.append(position)
        elif isinstance(brain, LLMBrain):
            llm.append(position)
        else:
            raise TypeError(f"agent {request.agent.name} has no usable brain: {brain!r}")
    return rules, llm


def answer_rules(batch: Sequence[DecisionRequest], positions: Sequence[int]) -> list[Any]:
    """The decisions of the rule-brained requests at `positions`, in that order: each task
    type's requests answered by one `answer_with_rules` call. A brain whose class changes how
    it answers (overrides `RuleBrain.answer`) is asked on its own."""
    answers: list[Any] = [None] * len(positions)
    groups: dict[type, tuple[list[int], list[Any], list[Any]]] = {}
    for slot, position in enumerate(positions):
        request = batch[position]
        brain = request.agent.brain
        if type(brain).answer is not RuleBrain.answer:
            answers[slot] = brain.answer(request.task)
            continue
        group = groups.get(type(request.task))
        if group is None:
            group = groups[type(request.task)] = ([], [], [])
        group[0].append(slot)
        group[1].append(request.task)
        group[2].append(brain.policy)
    for task_type, (slots, tasks, policies) in groups.items():
        decided = task_type.answer_with_rules(tasks, policies)
        if len(decided) != len(tasks):
            raise RuntimeError(f"{task_type.__name__}.answer_with_rules answered "
                               f"{len(decided)} of {len(tasks)} tasks")
        for slot, decision in zip(slots, decided, strict=True):
            answers[slot] = decision
    return answers


def rule_decision_rows(requests: Sequence[DecisionRequest], decisions: Sequence[Any],
                       source: str = "rule", n_calls: int = 0) -> list[tuple]:
    """`decisions` rows (the store's column order), their JSON from the tasks' own
    `observation_json` and `decision_json`; by default those of rule brains (source 'rule',
    no model call)."""
    return [(request.request_id, request.sim_time, request.agent.name, request.task.kind,
             request.task.observation_json(), request.task.decision_json(decision), source,
             n_calls)
            for request, decision in zip(requests, decisions, strict=True)]


def reference_decision_rows(requests: Sequence[DecisionRequest], decisions: Sequence[Any],
                            source: str = "rule", n_calls: int = 0) -> list[tuple]:
    """The same rows the reference way: each built as a dict of `to_json` cells, then put in
    column order (what the bulk path's shortcuts must reproduce)."""
    rows = [{
        "request_id": request.request_id, "sim_time": request.sim_time,
        "agent_id": request.agent.name, "task": request.task.kind,
        "observation": to_json(request.task.observation()),
        "decision": to_json(request.task.encode(decision)), "source": source,
        "n_calls": n_calls,
    } for request, decision in zip(requests, decisions, strict=True)]
    columns = list(ENGINE_TABLES["decisions"])
    return [tuple(row[column] for column in columns) for row in rows]
