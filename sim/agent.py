"""Agents: Mesa agents with a brain, asking the world for decisions as SimPy events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import simpy

from sim.lean_mesa import mesa
from sim.tasks import Task

if TYPE_CHECKING:
    from sim.brains import Brain


class SimAgent(mesa.Agent):
    """An agent whose choices come from its brain, through the world's decision barrier.

    `name` is the stable identifier used in prompts, traces and the store (Mesa's integer
    `unique_id` depends on creation order across the whole model, which is fine for Mesa but
    too opaque for researchers reading a run). Scenario state lives in ordinary attributes.
    """

    #: The `sim.World` the agent lives in, whose `request_decision` is the decision barrier
    #: (named in words: `sim.world` imports this module, so this one cannot import it back).
    model: Any

    def __init__(self, model: mesa.Model, *, name: str, brain: Brain, persona: str = "") -> None:
        super().__init__(model)
        self.name = name
        self.brain = brain
        self.persona = persona

    def decide(self, task: Task) -> simpy.Event:
        """Ask this agent's brain; `yield` the returned event to get the decision."""
        return self.model.request_decision(self, task)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} brain={self.brain.kind}>"
