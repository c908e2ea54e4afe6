"""The world: a Mesa model whose clock is a SimPy environment, with a decision barrier.

Scenario rules are SimPy processes. When a process asks an agent to decide, it gets a pending
event. The world keeps stepping SimPy through every event at the current simulated time; only
when every process is blocked (the next event lies in the future, or there is none) does it hand
all pending decisions to the gateway at once. Answers are delivered in request order, so the
run is deterministic however the model replies arrive, and a round of N LLM decisions costs
about one model latency rather than N.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mesa
import simpy

from sim.tasks import Task

if TYPE_CHECKING:
    from sim.agent import SimAgent
    from sim.config import RunConfig
    from sim.llm.gateway import Gateway
    from sim.store import RunStore


@dataclass
class DecisionRequest:
    """One pending question: which agent, which task, and the event its process waits on."""

    request_id: int
    agent: SimAgent
    task: Task
    event: simpy.Event
    sim_time: float


class World(mesa.Model):
    """A `mesa.Model` with a SimPy clock, a run store and a gateway to the agents' brains."""

    def __init__(
        self,
        config: RunConfig | None = None,
        *,
        seed: int | None = None,
        store: RunStore | None = None,
        gateway: Gateway | None = None,
    ) -> None:
        if seed is None and config is not None:
            seed = config.seed
        super().__init__(rng=seed)
        self.config = config
        self.seed = seed
        self.env = simpy.Environment()
        self.store = store
        if gateway is None:
            from sim.llm.gateway import Gateway

            gateway = Gateway()
        self.gateway = gateway
        self._pending: list[DecisionRequest] = []
        self._next_request_id = 0
        self.batches_resolved = 0
        #: How many progress units the scenario will report in all (e.g. rounds of the run).
        self.progress_total = 1
        #: Called as on_progress(done, label, detail) by `report_progress`; the runner sets it.
        self.on_progress: Callable[[int, str, str], None] | None = None

    # -- used by agents -------------------------------------------------------------------
    def request_decision(self, agent: SimAgent, task: Task) -> simpy.Event:
        """Register a question and return the event the asking process should `yield`."""
        event = self.env.event()
        self._pending.append(
            DecisionRequest(self._next_request_id, agent, task, event, self.env.now)
        )
        self._next_request_id += 1
        return event

    # -- used by scenarios ----------------------------------------------------------------
    def record(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Add rows to a table of the run's store; a model run in memory has none, and keeps
        nothing, so every scenario can write its rows the same way in both cases."""
        if self.store is not None:
            self.store.insert(table, rows)

    def commit(self) -> None:
        """End the store's transaction: call once a round, so a crash loses at most a round."""
        if self.store is not None:
            self.store.commit()

    def report_progress(self, done: int, label: str, detail: str = "") -> None:
        """Scenarios call this at milestones (a round finished) for the progress display.

        `label` is the coarse phase (a generation), `detail` the fine one (a round): logs get a
        line per label, terminals a live bar with both.
        """
        if self.on_progress is not None:
            self.on_progress(done, label, detail)

    def process(self, generator: Any) -> simpy.Process:
        """Start a scenario rule (a generator function's result) as a SimPy process."""
        return self.env.process(generator)

    def step(self) -> None:
        """One unit of simulated time, as Mesa's `step`: everything scheduled before the next
        whole unit happens, every decision asked meanwhile answered.

        Mesa has already moved `time` on by one (and counted `steps`) when this runs, so a
        step plays the SimPy events in [time - 1, time); `running` turns False once no event
        and no decision is left, which ends `run_model()`. A Donor Game round is one unit, so
        one step is one round.
        """
        self._advance(before=self.time)

    def run(self, until: float | None = None) -> None:
        """Drive the clock through `until` (or until no events and no decisions remain),
        without Mesa's step bookkeeping; `run_model()` is the same run step by step."""
        self._advance(through=until)

    def _advance(self, *, before: float | None = None, through: float | None = None) -> None:
        env = self.env
        while True:
            next_time = env.peek()
            if next_time == env.now and (before is None or next_time < before):
                env.step()  # more happens at this instant before anyone is blocked
            elif self._pending:
                self._resolve_pending()  # every process waits on a decision at `now`
            elif next_time == simpy.core.Infinity:
                self.running = False  # nothing left to happen: run_model() ends
                return
            elif (before is not None and next_time >= before) or (
                through is not None and next_time > through
            ):
                return
            else:
                env.step()

    def _resolve_pending(self) -> None:
        batch, self._pending = self._pending, []
        batch.sort(key=lambda request: request.request_id)
        decisions = self.gateway.resolve(batch, store=self.store)
        for request, decision in zip(batch, decisions, strict=True):
            request.event.succeed(decision)
        self.batches_resolved += 1

    def close(self) -> None:
        self.gateway.close()
