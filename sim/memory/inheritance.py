"""What a newcomer starts its memory with: culture passed on by its parents.

`inherit` applies the configured policy (`MemoryConfig.inheritance`) and writes what the
newcomer receives as `inherited` records. Each keeps its lineage: `origin` is the parent agent
and its evidence links (`inherited_from` in the store) name the parent records it came from, so
an idea can be followed from agent to agent across generations.

- `none`: nothing; the newcomer starts blank (the paper's memoryless setting).
- `strategy`: each parent's strategy text, as the caller passes it (a scenario's own notion).
- `reflections`: copies of each parent's top-k reflections (most important, then most recently
  accessed, then newest); the copy keeps the parent's importance and vector (no re-embedding).
- `summary`: each parent's brain writes the heir a short summary of its top-k reflections (its
  most important records when it has none); one `WriteHeirSummary` decision per parent,
  batched. Rule brains join the texts (see `MemoryRules.heir_summary`).

Strategy and summary records get `MemoryConfig.inherited_importance`. Inherited records do not
count towards the newcomer's first reflection.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sim.memory.bank import MemoryBank
from sim.memory.records import MemoryRecord, NewMemory
from sim.memory.tasks import MemoryContext, WriteHeirSummary

if TYPE_CHECKING:
    from sim.agent import SimAgent

INHERITANCE_POLICIES = ("none", "strategy", "reflections", "summary")


def inherit(
    bank: MemoryBank,
    heir: str,
    parents: Sequence[SimAgent],
    *,
    context: MemoryContext,
    now: float,
    generation: int,
    policy: str | None = None,
    strategies: Mapping[str, str] | None = None,
) -> Generator[Any, Any, list[MemoryRecord]]:
    """Give `heir` its parents' culture by `policy` (default: the config's); `yield from` it.

    `strategies` maps parent name to strategy text (needed by the `strategy` policy).
    Returns the inherited records, in parent order.
    """
    config = context.config
    policy = config.inheritance if policy is None else policy
    if policy not in INHERITANCE_POLICIES:
        raise ValueError(f"unknown inheritance policy {policy!r}; "
                         f"expected one of {INHERITANCE_POLICIES}")
    items: list[NewMemory] = []
    if policy == "strategy":
        if strategies is None:
            raise ValueError("the 'strategy' policy needs the parents' strategies")
        items = [
            NewMemory(heir, strategies[p.name], "inherited", config.inherited_importance,
                      generation, origin=p.name)
            for p in parents if strategies.get(p.name, "").strip()
        ]
    elif policy == "reflections":
        for parent in parents:
            for record in bank.top_reflections(parent.name, config.inherit_top_k):
                items.append(NewMemory(
                    heir, record.text, "inherited", record.importance, generation,
                    (record.memory_id,), parent.name, bank.vector(record.memory_id),
                ))
    elif policy == "summary":
        shown = [_summary_sources(bank, parent.name, config.inherit_top_k) for parent in parents]
        pending = [
            parent.decide(WriteHeirSummary(context, parent.name, heir, records, parent.persona))
            for parent, records in zip(parents, shown, strict=True)
        ]
        for parent, records, event in zip(parents, shown, pending, strict=True):
            text = yield event
            items.append(NewMemory(
                heir, text, "inherited", config.inherited_importance, generation,
                tuple(r.memory_id for r in records), parent.name,
            ))
    return bank.add_many(items, now=now)


def _summary_sources(bank: MemoryBank, parent: str, k: int) -> list[MemoryRecord]:
    """What a parent summarises: its top reflections, else its most important records."""
    reflections = bank.top_reflections(parent, k)
    if reflections:
        return reflections
    records = list(bank.stream(parent).records)
    records.sort(key=lambda r: (-r.importance, -r.memory_id))
    return records[:k]
