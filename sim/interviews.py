"""Interviews as a scenario offers them: who can be asked, as of when, and how an agent answers.

Park et al. (2023) judged their generative agents by interviewing them: each agent answered
questions from its summary and the memories retrieval found for the question. A scenario whose
agents keep memories offers the same by declaring an `Interviews` object on its `ScenarioSpec`
(`interviews="module:attribute"`): it checks what a user asked against the run (`resolve`) and
asks every question as a `Task`, through the gateway like every decision (`conduct`, in an
`InterviewWorld`). Holding the sessions, storing and replaying them is the engine's, alike for
every scenario (`sim.runs.interview`); this module is only what a scenario implements, so that
the registry can name it without importing the machinery that runs it.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy
from pydantic import ValidationError

from sim.config import ConfigError, RunConfig, describe_validation_error, parse_override
from sim.world import World

if TYPE_CHECKING:
    from sim.llm.gateway import Gateway
    from sim.store import RunStore


@dataclass(frozen=True)
class Question:
    """One question; `category` and `key` name a battery question, so that the answers of two
    runs to the same question line up ('question' for one asked by hand)."""

    text: str
    category: str = "question"
    key: str = ""


@dataclass(frozen=True)
class InterviewAsk:
    """What a user asks for, in their words, before the scenario checks it against the run."""

    question: str | None = None
    agents: tuple[str, ...] = ()  # none: every agent there at the moment
    at: tuple[int, str] | None = None  # (day counted from 1, "HH:MM"); None: the run's end
    battery: bool = False


@dataclass(frozen=True)
class InterviewRequest:
    """A session as the scenario resolved it: who is asked what, as of which simulated time."""

    agents: tuple[str, ...]
    questions: tuple[Question, ...]
    at: float
    kind: str = "questions"


@dataclass(frozen=True)
class Answer:
    agent: str
    question: Question
    text: str
    source: str  # 'rule' | 'llm' | 'fallback'


class Interviews:
    """What a scenario implements to offer interviews; declared on its `ScenarioSpec`."""

    def resolve(self, store: RunStore, config: RunConfig, ask: InterviewAsk) -> InterviewRequest:
        """Check `ask` against the run (agents, moment, questions), raising `UserError` with one
        line naming what is wrong."""
        raise NotImplementedError

    def conduct(self, world: InterviewWorld, request: InterviewRequest) -> Generator[Any, Any, Any]:
        """A SimPy process: ask every question through agents of `world` (their decisions are
        batched, logged and cached like a run's), record the answers in the scenario's tables
        (`world.record`) and append them to `world.answers`. Read only what the run wrote,
        never what sessions write: a replay re-executes every session against the whole
        store, later sessions' rows included."""
        raise NotImplementedError

    def adjust_config(self, data: dict[str, Any], model: str | None) -> dict[str, Any]:
        """The session's config values before validation (e.g. a model given for the session
        makes the agents answer with it)."""
        return data

    def moment_text(self, at: float) -> str:
        """How a person reads the moment (days counted from 1)."""
        return f"time {at:g}"

    def session_config(self, recorded: RunConfig, *, model: str | None = None,
                       overrides: Sequence[str] = ()) -> RunConfig:
        """The run's config with the session's model settings: `model`, and `overrides`
        ("key=value") of the engine's own keys only; the simulation's keys describe the run,
        which an interview cannot change."""
        data = recorded.model_dump(mode="json")
        engine = sorted(RunConfig.model_fields)
        for text in overrides:
            keys, value = parse_override(text)
            if len(keys) != 1 or keys[0] not in engine:
                raise ConfigError(f"an interview's --set takes the model settings "
                                  f"({', '.join(engine)}), not {'.'.join(keys)!r}")
            data[keys[0]] = value
        if model is not None:
            data["model"] = model
        data = self.adjust_config(data, model)
        try:
            return type(recorded).model_validate(data)
        except ValidationError as error:
            raise ConfigError(describe_validation_error(error, type(recorded))) from None


class InterviewWorld(World):
    """The world a session asks in: its clock stands at the interview's moment, and its
    request ids go on after the run's, so its decisions and calls log like the run's own."""

    def __init__(self, config: RunConfig, *, store: RunStore | None, gateway: Gateway,
                 at: float, first_request_id: int = 0, session: int = 1) -> None:
        super().__init__(config, store=store, gateway=gateway)
        self.env = simpy.Environment(initial_time=at)
        self._next_request_id = first_request_id
        self.first_request_id = first_request_id
        self.session = session
        self.answers: list[Answer] = []

    @property
    def requests(self) -> int:
        return self._next_request_id - self.first_request_id
