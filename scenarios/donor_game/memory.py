"""Memory in the Donor Game: donors remember whom they met, reflect, and pass culture on.

With `memory = true` every agent keeps a Generative Agents memory stream (`sim.memory.stream`):

- after each round, donor and recipient each remember what happened between them (importance
  rated by their brain: an LLM rates poignancy, a rule brain uses `donor_game_importance`);
- agents whose summed importance passes the threshold reflect (focal questions, then insights
  citing their evidence), all reflecting agents of a round in one batch per step;
- before deciding, an LLM donor retrieves the memories most relevant to its recipient, and
  they appear in its prompt (rule brains decide from the trace as before);
- a newcomer's culture arrives through the same mechanism: the configured inheritance policy
  writes `inherited` records (by default the survivors' strategy texts, exactly what the
  memoryless game shows), and those records are what its strategy prompt shows.

Every judgement goes through `agent.decide`, and the agents of one step run as parallel SimPy
processes, so each step's questions are one gateway batch.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Sequence
from typing import Any

from sim.agent import SimAgent
from sim.brains import LLMBrain
from sim.memory import MemoryBank, MemoryConfig
from sim.memory.embeddings import get_embedder
from sim.memory.inheritance import inherit
from sim.memory.reflection import maybe_reflect, remember
from sim.memory.tasks import MemoryContext, MemoryRules, describe_memories
from sim.prompting import PromptLibrary
from sim.world import World

Steps = Generator[Any, Any, Any]


def donor_game_importance(text: str, kind: str = "observation") -> int:
    """How a rule brain rates a Donor Game memory (1-10): being punished or punishing stands
    out most, then a refusal (giving nothing, or refusing to play), then a gift of half or
    more of one's resources; routine smaller gifts matter least. Reads the texts
    `describe_act` writes."""
    lowered = text.lower()
    if "punish" in lowered:
        return 8
    if "nothing" in lowered or "refused" in lowered:
        return 6
    share = _SHARE_RE.search(text)
    if share is not None and int(share.group(1)) >= 50:
        return 5
    return 3


_SHARE_RE = re.compile(r"\((\d+)%")


def describe_act(act: dict[str, Any], amount: float, effect: float, *, as_donor: bool) -> str:
    """The memory each side of a donation keeps, in the first person."""
    donor, recipient, pct = act["donor"], act["recipient"], f"{act['fraction']:.0%}"
    if act["action"] == "punish":
        if as_donor:
            return f"I punished {recipient}: I paid {amount:.1f} units ({pct}) to take " \
                   f"{-effect:.1f} from them."
        return f"{donor} punished me: they paid {amount:.1f} units ({pct}) and I lost " \
               f"{-effect:.1f}."
    if act["action"] == "refuse":
        return f"I refused to play with {recipient}." if as_donor else \
            f"{donor} refused to play with me."
    if amount <= 0:
        return f"I gave nothing to {recipient}." if as_donor else f"{donor} gave me nothing."
    if as_donor:
        return f"I gave {recipient} {amount:.1f} units ({pct} of my resources)."
    return f"{donor} gave me {effect:.1f} units ({pct} of their resources, multiplied)."


class DonorMemory:
    """The run's memory bank and the Donor Game's uses of it."""

    def __init__(self, world: World, settings: MemoryConfig) -> None:
        self.world = world
        self.settings = settings
        self.bank = MemoryBank(get_embedder(settings.embedder), settings, world.store)
        self.context = MemoryContext(
            prompts=PromptLibrary("sim.memory"),
            rules=MemoryRules(importance=donor_game_importance),
            config=settings,
        )

    def in_parallel(self, steps: Sequence[Steps]) -> Steps:
        """Run sub-processes side by side so their decisions share one batch per instant."""
        processes = [self.world.process(step) for step in steps]
        if processes:
            yield self.world.env.all_of(processes)
        return [process.value for process in processes]

    def inherit(
        self, newcomers: Sequence[SimAgent], previous: Sequence[SimAgent], generation: int,
        shown: dict[str, list[tuple[str, str]]],
    ) -> Steps:
        """Write each newcomer's inherited records, from those whose culture it receives (an
        LLM newcomer: the authors of the strategies it is `shown`; a rule newcomer: its
        parent), among the `previous` generation; returns what each will be shown."""
        by_name = {agent.name: agent for agent in previous}
        strategies = {agent.name: agent.strategy for agent in previous}
        now = self.world.env.now

        def sources(agent: SimAgent) -> list[SimAgent]:
            names = ([author for author, _ in shown[agent.name]]
                     if isinstance(agent.brain, LLMBrain) else agent.parents)
            return [by_name[name] for name in names if name in by_name]

        steps = [
            inherit(self.bank, agent.name, sources(agent), context=self.context, now=now,
                    generation=generation, strategies=strategies)
            for agent in newcomers
        ]
        inherited = yield from self.in_parallel(steps)
        return {
            agent.name: [(record.origin or "?", record.text) for record in records]
            for agent, records in zip(newcomers, inherited, strict=True)
        }

    def recall(self, agent: SimAgent, recipient: str) -> str:
        """The donor's memories most relevant to this recipient, quoted for its prompt."""
        found = self.bank.retrieve(
            agent.name, f"{recipient} gave punished nothing me", now=self.world.env.now
        )
        if not found:
            return ""
        records = [hit.record for hit in found]
        return "What you remember that may matter now (most relevant first):\n" + \
            describe_memories(records, author=agent.name)

    def remember_round(self, memories: dict[SimAgent, list[str]], generation: int) -> Steps:
        """Every agent remembers its part of the round, then those past the threshold reflect."""
        yield from self.in_parallel([
            remember(self.bank, agent, texts, context=self.context, generation=generation)
            for agent, texts in memories.items() if texts
        ])
        yield from self.in_parallel([
            maybe_reflect(self.bank, agent, context=self.context, generation=generation)
            for agent in memories
        ])
