"""A decision asked and not yet answered: what the world hands the gateway at its barrier.

Its own module because both sides use it: `sim.world` creates requests and `sim.llm.gateway`
(with `sim.rule_answers`) resolves them, and the world holds the gateway, so the request type
must sit below both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import simpy

    from sim.agent import SimAgent
    from sim.tasks import Task


@dataclass(slots=True)
class DecisionRequest:
    """One pending question: which agent, which task, and the event its process waits on.

    `index` is -1 for a question asked alone (`decide`); for one of `decide_many`'s, its place
    in the list the shared `event` succeeds with.
    """

    request_id: int
    agent: SimAgent
    task: Task
    event: simpy.Event
    sim_time: float
    index: int = -1
