"""Generations of rounds, written once: the `play()` loop every population scenario shares.

A cultural-evolution scenario is a population playing a game for some rounds, then replaced
in part or whole by the next generation, again and again. Everything but the round is the
same in every such scenario, so it lives here; a scenario subclasses `GenerationsOfRounds`
and writes what a round does (`play_round`), what a generation is scored on
(`score_generation`) and, for LLM brains, the strategy question (`strategy_task`). Each
generation:

1. `populate`: empty places get newcomers, whose parents the reproduction scheme draws
   (`sim.evolution`); the first generation are founders;
2. newcomers write their strategies (`write_strategies`: one batch, stored, committed); LLM
   newcomers read their parents' texts first (`Population.advice`);
3. the generation's shuffled order of places is drawn (ties in the ranking fall to it), and
   every member starts the generation (`Member.start_generation`, `start_generation`);
4. the rounds: `play_round(generation, round_index)` for each, one unit of simulated time
   (one Mesa `step()`) apiece, each committed as one transaction; a round that returns False
   ends the generation early (the commons' collapse);
5. `score_generation` gives the scores; `Population.select` ranks them and the scheme says
   who stays (not after the last generation); the generation's metrics are recorded and
   the turnover committed.

`docs/authoring.md` walks through a scenario built on it; `docs/evolution.md` explains the
schemes.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sim.population import Member, Population, PopulationConfig
from sim.prompting import PromptLibrary
from sim.rules import RuleFamilies
from sim.strategy_task import WriteStrategy
from sim.tasks import Task
from sim.world import World

if TYPE_CHECKING:
    from sim.llm.gateway import Gateway
    from sim.store import RunStore

Steps = Generator[Any, Any, Any]


@dataclass
class GenerationScores:
    """What `score_generation` returns: what selection ranks on, and what is recorded."""

    #: One score per member, in slot order (`self.members`): what selection ranks on.
    scores: Sequence[float]
    #: The scenario's `score_columns` of `generation_scores`, one value per member.
    extra: Mapping[str, Sequence[float]] = field(default_factory=dict)
    #: The generation's rows of `metrics` (scope 'generation'), name -> value, recorded in
    #: this order after selection.
    metrics: Mapping[str, float] = field(default_factory=dict)
    #: How truncation picks its survivors: 'top', 'proportional' or 'random'.
    method: str = "top"


class GenerationsOfRounds(World):
    """A `World` whose one SimPy process is generations of rounds; see the module doc.

    `__init__` defines the scenario's `tables`, builds `self.population` and starts the
    process. While a round plays, `self.generation`, `self.round` (0-based) and
    `self.step_index` (rounds played before it in the run: the `step` column) say where it is.
    """

    #: What progress calls a round ("season" in the commons).
    round_name = "round"
    #: The scenario's prompt files and the system prompt every question starts with; set them
    #: in `__init__` to use `messages` and the default `strategy_task`.
    prompts: PromptLibrary | None = None
    system_prompt: str = ""

    def __init__(
        self,
        config: PopulationConfig,
        families: RuleFamilies,
        *,
        store: RunStore | None = None,
        gateway: Gateway | None = None,
        member: type[Member] = Member,
        tables: Mapping[str, Mapping[str, str]] | None = None,
        score_columns: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(config, store=store, gateway=gateway)
        self.config: PopulationConfig = config
        if store is not None:
            for name, columns in (tables or {}).items():
                store.define_table(name, columns)
        self.population = Population(self, config, families, member=member,
                                     score_columns=score_columns)
        self.generation = self.round = self.step_index = 0
        self.progress_total = config.generations * self.rounds_per_generation
        self.process(self.play())

    # -- what a scenario writes --------------------------------------------------------------
    @property
    def rounds_per_generation(self) -> int:
        """Rounds each generation plays (default: the config's `rounds`)."""
        return int(self.config.rounds)  # type: ignore[attr-defined]

    def play_round(self, generation: int, round_index: int) -> Steps:
        """One round, as a SimPy process body: ask (`yield self.env.all_of(events)`), settle,
        `self.record` its rows. The driver commits it. Return False to end the generation."""
        raise NotImplementedError(f"{type(self).__name__} must define play_round")

    def score_generation(self, generation: int) -> GenerationScores:
        """The generation's scores (before anyone leaves), extra columns and metrics."""
        raise NotImplementedError(f"{type(self).__name__} must define score_generation")

    def strategy_task(self, agent: Member, generation: int,
                      advice: list[tuple[str, str]]) -> Task:
        """The question a newcomer answers with its strategy text; `advice` is what it is
        shown. Default: `sim.WriteStrategy` asked with `messages`, from the prompt files
        `strategy_first.txt` (first generation) and `strategy_inherit.txt` (later, the advice
        quoted as `$survivor_strategies`). Override it for templates of your own."""
        if self.prompts is None:
            raise NotImplementedError(f"{type(self).__name__} must set self.prompts or define "
                                      "strategy_task (or set writes_strategies to False)")
        return WriteStrategy(self.messages, agent.name, generation, advice)

    def messages(self, template: str, /, **values: Any) -> list[dict[str, str]]:
        """A chat prompt: `system_prompt` (when set), then the prompt file `template` of
        `prompts` filled in with `values`."""
        assert self.prompts is not None, "set self.prompts (a PromptLibrary) first"
        user = {"role": "user", "content": self.prompts.render(template, **values)}
        return [{"role": "system", "content": self.system_prompt}, user] if self.system_prompt \
            else [user]

    @property
    def writes_strategies(self) -> bool:
        """Whether newcomers write strategy texts (needed for LLM brains to pass culture on)."""
        return True

    def start_generation(self, generation: int) -> None:
        """Before the first round: every member's `start_generation()`; extend for the
        scenario's own state (a lake refilled)."""
        for agent in self.members:
            agent.start_generation()

    def selects_after(self, generation: int) -> bool:
        """Whether selection follows this generation (default: all but the last)."""
        return generation < self.config.generations - 1

    # -- the loop ----------------------------------------------------------------------------
    @property
    def members(self) -> list[Any]:
        """The living members in slot order."""
        return self.population.members

    def play(self) -> Steps:
        """Generations of rounds: the scenario's one SimPy process (see the module doc)."""
        population, survivors = self.population, []
        for generation in range(self.config.generations):
            if generation:
                yield self.env.timeout(1)  # a generation starts at the time of its first round
            self.generation = generation
            newcomers = population.populate(generation, survivors)
            if self.writes_strategies:
                yield from self.write_strategies(generation, newcomers)
            order = population.shuffled_order()
            self.start_generation(generation)
            for round_index in range(self.rounds_per_generation):
                if round_index:
                    yield self.env.timeout(1)  # one round, one unit of simulated time
                self.round = round_index
                go_on = yield from self.play_round(generation, round_index)
                self.commit()  # a round is one transaction: a crash loses at most this one
                self.step_index += 1
                self.report_progress(
                    self.step_index, f"generation {generation + 1}/{self.config.generations}",
                    f"{self.round_name} {round_index + 1}/{self.rounds_per_generation}")
                if go_on is False:
                    break
            result = self.score_generation(generation)
            survivors = population.select(generation, result.scores, order,
                                          method=result.method,
                                          keep=self.selects_after(generation),
                                          extra=result.extra)
            self.record("metrics", [
                {"scope": "generation", "step": None, "generation": generation, "name": name,
                 "value": float(value)} for name, value in result.metrics.items()])
            self.commit()

    def write_strategies(self, generation: int, newcomers: list[Member]) -> Steps:
        """Every newcomer answers `strategy_task` (one batch); the texts are stored and
        committed. Override it to pass culture another way (through memory)."""
        population = self.population
        events = [agent.decide(self.strategy_task(agent, generation, population.advice(agent)))
                  for agent in newcomers]
        yield self.env.all_of(events)
        for agent, event in zip(newcomers, events, strict=True):
            agent.strategy = event.value
        population.record_strategies(generation, newcomers)
        self.commit()


def generation_summary(columns: Mapping[str, str]
                       ) -> Callable[[RunStore], tuple[list[str], list[list[Any]]]]:
    """A `ScenarioSpec.summary_table` showing, per generation (counted from 1), the
    generation metrics named in `columns` (metric name -> column heading), e.g.
    `generation_summary({"stag_share": "stag share", "mean_total": "mean catch"})`."""

    def summary_table(store: RunStore) -> tuple[list[str], list[list[Any]]]:
        values: dict[int, dict[str, float]] = {}
        for generation, name, value in store.rows(
                "SELECT generation, name, value FROM metrics WHERE scope = 'generation'"):
            values.setdefault(generation, {})[name] = value
        rows = [[generation + 1, *(found.get(name) for name in columns)]
                for generation, found in sorted(values.items())]
        return ["generation", *columns.values()], rows

    return summary_table
