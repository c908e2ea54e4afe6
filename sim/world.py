"""The world: a Mesa model whose clock is a SimPy environment, with a decision barrier.

Scenario rules are SimPy processes. When a process asks an agent to decide, it gets a pending
event. The world keeps stepping SimPy through every event at the current simulated time; only
when every process is blocked (the next event lies in the future, or there is none) does it hand
all pending decisions to the gateway at once. Answers are delivered in request order, so the
run is deterministic however the model replies arrive, and a round of N LLM decisions costs
about one model latency rather than N.

Decisions asked together (`decide_many`: every donor of a round, every seat of a turn) are one
event for the asking process, answered with the list of decisions, and the gateway answers the
rule brains among them in bulk; the garbage collector does not pass over per-decision objects
every few hundred allocations (see `_collector_relaxed`).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import simpy
from simpy.events import AllOf

from sim.decisions import DecisionRequest  # defined below the gateway; still importable here
from sim.lean_mesa import mesa
from sim.tasks import Task

if TYPE_CHECKING:
    from sim.agent import SimAgent
    from sim.config import RunConfig
    from sim.llm.gateway import Gateway
    from sim.store import RunStore

class _AllDecisions(AllOf):
    """`decide_many` one question at a time (`World.bulk_decisions` off): the value is the list
    of decisions, as the bulk path gives it, instead of SimPy's `ConditionValue`."""

    def _build_value(self, event: simpy.Event) -> None:
        super()._build_value(event)
        if event._ok:
            self._value = [member._value for member in self._events]


#: The collector's thresholds while a world plays: a young pass every 100,000 allocations
#: (Python's default: 700), a middle one every 50 young ones (default: 10).
YOUNG_THRESHOLD = 100_000
MIDDLE_THRESHOLD = 50


@contextlib.contextmanager
def _collector_relaxed() -> Iterator[None]:
    """The garbage collector's young generation collected every 100,000 allocations instead of
    every 700 while the world plays, the middle one every 50 of those; the oldest by Python's
    own rule, as always.

    A round of 10,000 decisions allocates millions of objects that live until the round ends
    (tasks, observations, rows); a pass every 700 allocations traverses them again and again
    and promotes them into older generations, whose passes then traverse the whole population:
    a third of a rule round's time. Cyclic garbage is still freed, a little later. Nested
    calls (a step inside `run`), and a threshold someone set higher, are left alone."""
    thresholds = gc.get_threshold()
    if thresholds[0] >= YOUNG_THRESHOLD or thresholds[0] == 0:
        yield
        return
    gc.set_threshold(YOUNG_THRESHOLD, max(thresholds[1], MIDDLE_THRESHOLD), *thresholds[2:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)


class World(mesa.Model):
    """A `mesa.Model` with a SimPy clock, a run store and a gateway to the agents' brains."""

    #: `decide_many` as one event per call, rule answers and their log in bulk, `record_rows`
    #: straight into the store; False is the reference path tests compare those stores with:
    #: one question, one answer, one dict row at a time, as before the bulk path existed.
    bulk_decisions: ClassVar[bool] = True

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
        self._group_sizes: dict[simpy.Event, int] = {}  # decide_many's events: how many asked
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

    def decide_many(self, agents: Sequence[SimAgent], tasks: Sequence[Task]) -> simpy.Event:
        """Ask each agent its task, all at once: one event to `yield`, whose value is the list
        of decisions in the order asked. The same questions as `agents[i].decide(tasks[i])` in
        a loop (same request ids, same answers, same log), at a fraction of the cost per
        decision for big populations."""
        if len(agents) != len(tasks):
            raise ValueError(f"decide_many got {len(agents)} agents and {len(tasks)} tasks")
        if not agents:
            return self.env.event().succeed([])
        if not self.bulk_decisions:
            return _AllDecisions(self.env, [self.request_decision(agent, task)
                                            for agent, task in zip(agents, tasks, strict=True)])
        event = self.env.event()
        now, first = self.env.now, self._next_request_id
        self._pending.extend(
            DecisionRequest(first + index, agent, task, event, now, index)
            for index, (agent, task) in enumerate(zip(agents, tasks, strict=True)))
        self._next_request_id += len(agents)
        self._group_sizes[event] = len(agents)
        return event

    @property
    def logs_rule_decisions(self) -> bool:
        """Whether rule brains' decisions go into the store's `decisions` table (a store and
        `log_decisions = "all"`): a scenario's fast path that decides for rule brains without
        asking them may only run when they do not."""
        return self.store is not None and self.gateway.log_decisions == "all"

    def count_rule_decisions(self, count: int) -> None:
        """Account for `count` decisions a scenario's fast path made with its rule brains' own
        policies (the same decisions, computed without the barrier: an IPD match between two
        rule players in one loop), at the point where it would have asked them. They take the
        request ids those questions would have had, so every question asked later keeps its
        id, and count as rule decisions in the run's account."""
        if self.logs_rule_decisions:
            raise RuntimeError("rule decisions are logged in this run: ask them (decide), "
                               "do not count them")
        self._next_request_id += count
        self.gateway.stats.decisions["rule"] += count

    # -- used by scenarios ----------------------------------------------------------------
    def record(self, table: str, rows: list[dict[str, Any]]) -> None:
        """Add rows to a table of the run's store; a model run in memory has none, and keeps
        nothing, so every scenario can write its rows the same way in both cases."""
        if self.store is not None:
            self.store.insert(table, rows)

    def record_rows(self, table: str, rows: Sequence[tuple]) -> None:
        """`record` for rows as tuples in the table's column order, every cell a SQLite value
        (str, int, float, bytes or None; JSON already text): the bulk path for tables a round
        writes by the thousand, which skips a dict per row. The store is the same either way."""
        if self.store is None:
            return
        if self.bulk_decisions:
            self.store.insert_rows(table, rows)
        else:  # the reference path: rows as dicts, one by one, as `record` writes them
            columns = self.store.columns(table)
            self.store.insert(table, [dict(zip(columns, row, strict=True)) for row in rows])

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
        with _collector_relaxed():
            self._play(before, through)

    def _play(self, before: float | None, through: float | None) -> None:
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
        # Requests join the batch as their ids are handed out, so it is in request order.
        batch, self._pending = self._pending, []
        decisions = self.gateway.resolve(batch, store=self.store)
        if len(decisions) != len(batch):
            raise RuntimeError(f"the gateway answered {len(decisions)} of {len(batch)} requests")
        # Events succeed in request order; a group's after every single one, as an AllOf of
        # single events would (it triggers only once they have all been processed).
        position, sizes, groups = 0, self._group_sizes, []
        while position < len(batch):
            request = batch[position]
            if request.index < 0:
                request.event.succeed(decisions[position])
                position += 1
            else:
                size = sizes.pop(request.event)
                groups.append((request.event, decisions[position:position + size]))
                position += size
        for event, answers in groups:
            event.succeed(answers)
        self.batches_resolved += 1

    def close(self) -> None:
        self.gateway.close()
