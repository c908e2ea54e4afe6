"""The decision barrier: time stands still while agents think, and answers come in order."""

from __future__ import annotations

import _thread
import asyncio
import gc
import logging
import threading
from typing import Any

import pytest

from sim.agent import SimAgent
from sim.brains import RuleBrain
from sim.llm.gateway import Gateway
from sim.tasks import Task
from sim.world import World


class Echo(Task):
    """A task whose rule answer is the value it carries."""

    kind = "echo"

    def __init__(self, value: Any) -> None:
        self.value = value

    def observation(self) -> dict[str, Any]:
        return {"value": self.value}

    def messages(self) -> list[dict[str, str]]:
        return [{"role": "user", "content": str(self.value)}]

    def parse(self, reply: str) -> Any:
        return reply

    def fallback(self) -> Any:
        return None

    def encode(self, decision: Any) -> dict[str, Any]:
        return {"value": decision}


class Identity:
    family = "identity"

    def decide(self, observation: dict[str, Any]) -> Any:
        return observation["value"]


class RecordingGateway(Gateway):
    """Remembers each batch it was asked to resolve, with the simulated time of the call."""

    def __init__(self, world_ref: list[World]) -> None:
        super().__init__()
        self.batches: list[tuple[float, list[int]]] = []
        self.world_ref = world_ref

    def resolve(self, batch, store=None):  # type: ignore[no-untyped-def]
        self.batches.append((self.world_ref[0].env.now, [r.request_id for r in batch]))
        return super().resolve(batch, store)


def make_world(n_agents: int) -> tuple[World, RecordingGateway, list[SimAgent]]:
    ref: list[World] = []
    gateway = RecordingGateway(ref)
    world = World(seed=1, gateway=gateway)
    ref.append(world)
    agents = [SimAgent(world, name=f"a{i}", brain=RuleBrain(Identity())) for i in range(n_agents)]
    return world, gateway, agents


def test_all_decisions_at_one_instant_are_resolved_in_one_batch() -> None:
    world, gateway, agents = make_world(5)
    log: list[tuple[str, float, Any]] = []

    def player(agent: SimAgent, delay: float):
        yield world.env.timeout(delay)  # some processes do other work first at t=0
        answer = yield agent.decide(Echo(agent.name))
        log.append((agent.name, world.env.now, answer))
        answer = yield agent.decide(Echo(agent.name + "!"))
        log.append((agent.name, world.env.now, answer))

    for agent in agents:
        world.process(player(agent, 0))
    world.run()

    assert [len(ids) for _, ids in gateway.batches] == [5, 5]
    assert all(t == 0 for t, _ in gateway.batches)
    assert {name: answer for name, _, answer in log[:5]} == {a.name: a.name for a in agents}
    assert all(t == 0 for _, t, _ in log)  # thinking took no simulated time


def test_time_advances_only_after_pending_decisions_are_resolved() -> None:
    world, gateway, agents = make_world(2)
    seen: list[float] = []

    def slow(agent: SimAgent):
        for _ in range(3):
            yield agent.decide(Echo(1))
            seen.append(world.env.now)
            yield world.env.timeout(10)

    def ticker():
        for _ in range(3):
            yield world.env.timeout(4)
            seen.append(world.env.now)

    world.process(slow(agents[0]))
    world.process(ticker())
    world.run()
    assert [t for t, _ in gateway.batches] == [0, 10, 20]
    assert seen == [0, 4, 8, 10, 12, 20]


def test_processes_resume_in_request_order_every_time() -> None:
    def run_once() -> list[str]:
        world, _, agents = make_world(8)
        order: list[str] = []

        def player(agent: SimAgent):
            for _ in range(3):
                yield agent.decide(Echo(agent.name))
                order.append(agent.name)
                yield world.env.timeout(1)

        # start in a shuffled order: resumption must follow the request order, not chance
        for index in world.rng.permutation(len(agents)):
            world.process(player(agents[int(index)]))
        world.run()
        return order

    first = run_once()
    assert first == run_once()
    assert first[:8] == first[8:16] == first[16:]  # request order is stable across rounds


def test_run_until_stops_at_the_horizon() -> None:
    world, _, agents = make_world(1)
    steps: list[float] = []

    def forever():
        while True:
            yield agents[0].decide(Echo(0))
            steps.append(world.env.now)
            yield world.env.timeout(1)

    world.process(forever())
    world.run(until=5)
    assert steps == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("awaited", [True, False])
def test_gateway_closes_quietly_after_calls_cut_short_by_an_interrupt(
    awaited: bool, caplog: pytest.LogCaptureFixture,
) -> None:
    """Ctrl-C or SIGTERM arrives (in the main thread) while calls are in flight on the
    gateway's loop, in a task the batch awaits or in one an HTTP library runs on its own:
    closing must not leave asyncio complaining on stderr ("Task exception was never
    retrieved", "Task was destroyed but it is pending") after the one line the CLI prints."""
    gateway = Gateway()
    loop = gateway._event_loop()

    async def batch() -> None:
        if awaited:
            await asyncio.gather(asyncio.sleep(10), asyncio.sleep(10))
        else:
            detached = asyncio.get_running_loop().create_task(asyncio.sleep(10))
            await asyncio.sleep(10)
            del detached

    threading.Timer(0.2, _thread.interrupt_main).start()  # what the signal handler raises
    with pytest.raises(KeyboardInterrupt):
        loop.run(batch())
    with caplog.at_level(logging.DEBUG, logger="asyncio"):
        gateway.close()
        del loop
        gc.collect()
    assert gateway._loop is None
    assert not [r for r in caplog.records if r.name == "asyncio" and r.levelno >= logging.ERROR
                ], caplog.text


# -- a Mesa model: step(), run_model(), time, steps, running ------------------------------------


class Ticker(World):
    """Three events one time unit apart, each asking the agent a question."""

    def __init__(self) -> None:
        super().__init__(seed=0)
        self.agent = SimAgent(self, name="a", brain=RuleBrain(Identity()))
        self.seen: list[tuple[float, str]] = []
        self.process(self.rules())

    def rules(self):  # type: ignore[no-untyped-def]
        for tick in range(3):
            if tick:
                yield self.env.timeout(1)
            answer = yield self.agent.decide(Echo(f"tick {tick}"))
            self.seen.append((self.env.now, answer))


def test_step_plays_one_unit_of_simulated_time_as_mesa_counts_it() -> None:
    model = Ticker()
    model.step()
    assert (model.steps, model.time, model.running) == (1, 1.0, True)
    assert model.seen == [(0, "tick 0")]  # the first unit's event and its decision
    model.step()
    assert model.seen[-1] == (1, "tick 1") and model.steps == 2
    model.run_model()  # the rest, as Mesa users run a model
    assert model.seen == [(0, "tick 0"), (1, "tick 1"), (2, "tick 2")]
    assert (model.steps, model.time, model.running) == (3, 3.0, False)


def test_the_donor_game_runs_as_a_mesa_model() -> None:
    from scenarios.donor_game import DonorGame
    from scenarios.donor_game.config import DonorGameConfig

    config = DonorGameConfig(agents=4, generations=2, games=2, rounds=3)
    model = DonorGame(config)
    model.run_model()
    rounds = config.generations * config.games * config.rounds_per_game
    assert (model.steps, model.time, model.running) == (rounds, float(rounds), False)
    assert model.round_step == rounds  # one round per step
    assert len(model.players) == config.agents and len(model.agents) == config.agents
    assert all(len(agent.final_resources) == config.games for agent in model.players)
