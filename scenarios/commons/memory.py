"""The fishers' memory streams (`sim.memory`), used when the fishers talk between seasons.

Every fisher remembers each season (what the lake held, what it and the others caught, what
was left) and every utterance of each discussion it took part in, its own included. An LLM
fisher recalls its most relevant memories (Generative Agents retrieval: recency, importance,
relevance) for every decision and utterance; they reach its prompt quoted as data. Rule
fishers keep the same streams (the tables stay comparable) but decide from the observation.

Importance is set here, not asked of the brain: the discussion alone would otherwise cost a
rating call per listener per utterance. A season in which the stock shrank, and any talk of
collapse, stands out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sim.memory import MemoryBank, MemoryConfig, NewMemory, describe_memories, get_embedder

RECALL_QUERY = "how many tons should I catch; what the others caught and said they will catch"


def importance(text: str, kind: str, *, shrank: bool = False) -> int:
    """1-10: a season that shrank the stock or talk of collapse 8, other talk 5, a steady
    season 3."""
    if shrank or "collapse" in text.lower():
        return 8
    return 5 if kind == "conversation" else 3


class FisherMemory:
    """The run's memory bank and how the commons writes to it and reads from it."""

    def __init__(self, world: Any, recall: int) -> None:
        self.world = world
        self.settings = MemoryConfig(retrieve_k=recall)
        self.bank = MemoryBank(get_embedder(self.settings.embedder), self.settings, world.store)

    def remember_season(self, agents: Sequence[Any], texts: Sequence[str], *, shrank: bool,
                        generation: int) -> None:
        """Each fisher's own account of the season just fished (one embedding batch)."""
        self.bank.add_many([
            NewMemory(agent.name, text, "observation",
                      importance(text, "observation", shrank=shrank), generation)
            for agent, text in zip(agents, texts, strict=True)], now=self.world.env.now)

    def remember_talk(self, listeners: Sequence[Any], said: Sequence[dict[str, str]],
                      generation: int) -> None:
        """Every utterance of a discussion, in every participant's stream."""
        items = []
        for utterance in said:
            for agent in listeners:
                who = "I" if agent.name == utterance["speaker"] else utterance["speaker"]
                text = f'{who} said: "{utterance["text"]}"'
                items.append(NewMemory(agent.name, text, "conversation",
                                       importance(utterance["text"], "conversation"), generation))
        if items:
            self.bank.add_many(items, now=self.world.env.now)

    def recall(self, agent: Any) -> str:
        """The fisher's memories that matter for its next catch, quoted for its prompt."""
        found = self.bank.retrieve(agent.name, RECALL_QUERY, now=self.world.env.now)
        if not found:
            return ""
        return ("What you remember that may matter now (most relevant first):\n"
                + describe_memories([hit.record for hit in found], author=agent.name))
