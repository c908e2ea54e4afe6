"""The commons as a Mesa model on the engine's generations-of-rounds driver
(`sim.GenerationsOfRounds`: populate, strategies, rounds, selection, lineage): generations of
seasons on a shared lake, of which the fishery writes only what a season does.

A season is one unit of simulated time (one `step()`): every fisher asks for its catch at
once (one gateway batch), the catches are granted (`harvest.play_season`), the stock regrows
or has collapsed, and, with discussion on, the fishers talk in turns before the next season,
each utterance a batch of its own since it answers what was said before. Everything a season
produced is committed in one transaction. A collapse ends the generation.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np
from mesa import DataCollector

from scenarios.commons.config import CommonsConfig
from scenarios.commons.harvest import (
    EPSILON,
    SeasonOutcome,
    gini,
    play_season,
    sustainable_share,
)
from scenarios.commons.memory import FisherMemory
from scenarios.commons.rules import FAMILIES
from scenarios.commons.tables import SCORE_COLUMNS, TABLES
from scenarios.commons.tasks import (
    OTHERS_LISTED,
    FisheryRules,
    Harvest,
    Speak,
    others_caught_text,
    tons,
    write_strategy,
)
from sim import GenerationScores, GenerationsOfRounds, LLMBrain, Member, World

if TYPE_CHECKING:
    from sim import Gateway, RunStore, Task


class Fisher(Member):
    """A fisher: what it saw last season, and its tally for the generation."""

    def __init__(self, model: World, *, name: str, brain: Any, generation: int,
                 parents: list[str]) -> None:
        super().__init__(model, name=name, brain=brain, generation=generation, parents=parents)
        self.start_generation()

    def start_generation(self) -> None:
        self.previous: dict[str, Any] | None = None
        self.total_catch = 0.0
        self.decisions = 0
        self.over = 0


class CommonsGame(GenerationsOfRounds):
    """The commons: `CommonsGame(config).run_model()` fishes a whole run in memory with rule
    brains, one season per `step()`; the runner adds a store and a gateway."""

    round_name = "season"

    def __init__(self, config: CommonsConfig | None = None, *,
                 store: RunStore | None = None, gateway: Gateway | None = None) -> None:
        config = config or CommonsConfig()
        super().__init__(config, FAMILIES, store=store, gateway=gateway, member=Fisher,
                         tables=TABLES, score_columns=SCORE_COLUMNS)
        self.config: CommonsConfig = config
        self.rules = FisheryRules.from_config(config)
        self.memory = FisherMemory(self, config.recall) if config.discussion else None
        self.season = 0
        self.stock = config.capacity
        self.stocks: list[float] = []  # the stock at the start of each season of a generation
        self.seasons_survived = config.seasons
        self._last: dict[str, float] = {}
        #: One row per season, Mesa's way: `datacollector.get_model_vars_dataframe()`.
        self.datacollector = DataCollector(model_reporters={
            "generation": "generation", "season": "season",
            **{key: (lambda k: lambda m: m._last[k])(key)
               for key in ("stock", "caught", "remaining", "collapsed", "over_usage")},
        })

    @property
    def rounds_per_generation(self) -> int:
        return self.config.seasons  # type: ignore[attr-defined]

    @property
    def writes_strategies(self) -> bool:
        return self.config.generations > 1  # with one generation nobody inherits them

    def strategy_task(self, agent: Member, generation: int,
                      advice: list[tuple[str, str]]) -> Task:
        return write_strategy(self.rules, agent.name, generation, advice)

    def start_generation(self, generation: int) -> None:
        """Every generation fishes a full lake."""
        super().start_generation(generation)
        self.stock, self.stocks, self.seasons_survived = (self.config.capacity, [],
                                                          self.config.seasons)

    def observation(self, agent: Fisher, generation: int, season: int,
                    stock: float) -> dict[str, Any]:
        """What a fisher decides a season's catch from (`Harvest.observation`)."""
        config = self.config
        return {"generation": generation, "season": season, "agent": agent.name,
                "stock": stock, "capacity": config.capacity, "fishers": config.agents,
                "growth": config.growth, "threshold": config.collapse_threshold,
                "sustainable_share": sustainable_share(stock, growth=config.growth,
                                                       fishers=config.agents),
                "previous": agent.previous}

    def _recall(self, agent: Fisher) -> str:
        if self.memory is None or not isinstance(agent.brain, LLMBrain):
            return ""
        return self.memory.recall(agent)

    def play_round(self, generation: int, season: int) -> Generator[Any, Any, bool]:
        """One season: every fisher asks for its catch, the lake answers; with discussion on,
        the fishers talk before the next. A collapse ends the generation (returns False)."""
        config, members, stock = self.config, self.members, self.stock
        self.season = season
        self.stocks.append(stock)
        facts = [self.observation(agent, generation, season, stock) for agent in members]
        events = [agent.decide(Harvest(self.rules, fact, agent.strategy, self._recall(agent)))
                  for agent, fact in zip(members, facts, strict=True)]
        yield self.env.all_of(events)
        noise = (float(np.exp(self.rng.normal(0.0, config.regrowth_sd)))
                 if config.regrowth_sd > 0 else 1.0)
        outcome = play_season([float(e.value) for e in events], stock, growth=config.growth,
                              capacity=config.capacity, threshold=config.collapse_threshold,
                              rationing=config.rationing, noise=noise)
        self._settle(generation, season, members, facts[0]["sustainable_share"], outcome)
        if (self.memory is not None and not outcome.collapsed
                and season < config.seasons - 1):
            yield from self._discuss(generation, season, outcome)
        if outcome.collapsed:
            self.seasons_survived = season
        return not outcome.collapsed

    def _settle(self, generation: int, season: int, members: list[Fisher], share: float,
                outcome: SeasonOutcome) -> None:
        step, rows, accounts = self.step_index, [], []
        total = math.fsum(outcome.caught)
        # Each fisher sees the others' catches one by one only in a small fishery: listing them
        # all for every fisher would make a season's work and its log grow with the square of
        # the population; a large one sees their total and mean.
        listed = len(members) <= OTHERS_LISTED
        for i, agent in enumerate(members):
            requested, caught = outcome.requested[i], outcome.caught[i]
            others = outcome.caught[:i] + outcome.caught[i + 1:] if listed else None
            over = requested > share + EPSILON
            agent.previous = {"requested": requested, "caught": caught,
                              "others_mean": (math.fsum(others) / len(others) if listed else
                                              (total - caught) / (len(members) - 1))}
            if listed:
                agent.previous["others_caught"] = others
            agent.total_catch += caught
            agent.decisions += 1
            agent.over += over
            rows.append({"step": step, "generation": generation, "season": season,
                         "agent_id": agent.name, "kind": agent.brain.kind,
                         "requested": requested, "caught": caught, "sustainable_share": share,
                         "over": int(over), "source": agent.brain.brain_type})
            if self.memory is not None:
                accounts.append(self._account(season, outcome, requested, caught,
                                              agent.previous))
        caught_all = math.fsum(outcome.caught)
        self.stock = outcome.next_stock
        self._last = {"stock": outcome.stock, "caught": caught_all,
                      "remaining": outcome.remaining, "collapsed": float(outcome.collapsed),
                      "over_usage": float(np.mean([row["over"] for row in rows]))}
        self.datacollector.collect(self)
        self.record("catches", rows)
        self.record("seasons", [{
            "step": step, "generation": generation, "season": season, "stock": outcome.stock,
            "sustainable_share": share, "requested": math.fsum(outcome.requested),
            "caught": caught_all, "remaining": outcome.remaining,
            "collapsed": int(outcome.collapsed), "next_stock": outcome.next_stock}])
        self.record("metrics", [
            {"scope": "step", "step": step, "generation": generation, "name": name,
             "value": value} for name, value in self._last.items()])
        if self.memory is not None:
            self.memory.remember_season(members, accounts,
                                        shrank=outcome.next_stock < outcome.stock - EPSILON,
                                        generation=generation)

    @staticmethod
    def _account(season: int, outcome: SeasonOutcome, requested: float, caught: float,
                 previous: dict[str, Any]) -> str:
        """A fisher's memory of a season, in the first person."""
        text = (f"Season {season + 1}: the lake held {tons(outcome.stock)} tons. I asked for "
                f"{tons(requested)} and caught {tons(caught)}; the others caught "
                f"{others_caught_text(previous)}. ")
        if outcome.collapsed:
            return text + f"Only {tons(outcome.remaining)} tons were left: the fishery collapsed."
        return text + (f"{tons(outcome.remaining)} tons were left, and the lake regrew to "
                       f"{tons(outcome.next_stock)}.")

    def _discuss(self, generation: int, season: int,
                 outcome: SeasonOutcome) -> Generator[Any, Any, None]:
        """Each fisher speaks in turn (seat order, `utterances` rounds), having heard what was
        said before; then every utterance enters every fisher's memory stream."""
        assert self.memory is not None
        members, heard, rows = self.members, [], []
        summary = {"stock": outcome.stock, "caught": math.fsum(outcome.caught),
                   "left": outcome.remaining, "next_stock": outcome.next_stock}
        turn = 0
        for _ in range(self.config.utterances):
            for agent in members:
                facts = {"generation": generation, "season": season, "agent": agent.name,
                         "turn": turn, "outcome": summary, "heard": list(heard),
                         "next_season": self.observation(agent, generation, season + 1,
                                                         outcome.next_stock)}
                said = yield agent.decide(Speak(self.rules, facts, agent.strategy,
                                                self._recall(agent)))
                rows.append({"step": self.step_index, "generation": generation,
                             "season": season, "turn": turn, "speaker": agent.name,
                             "kind": agent.brain.kind, "text": said})
                if said:
                    heard.append({"speaker": agent.name, "text": said})
                turn += 1
        self.record("utterances", rows)
        self.memory.remember_talk(members, heard, generation)

    def score_generation(self, generation: int) -> GenerationScores:
        """Selection ranks the generation on total catch; its sustainability is recorded."""
        config, members = self.config, self.members
        totals = np.array([a.total_catch for a in members])
        over = np.array([a.over / a.decisions if a.decisions else 0.0 for a in members])
        survived = self.seasons_survived
        decisions = sum(a.decisions for a in members)
        return GenerationScores(totals, {
            "over_usage": over, "seasons_survived": [survived] * len(members)}, {
            "seasons_survived": survived, "collapsed": float(survived < config.seasons),
            "total_harvest": float(totals.sum()),
            # seasons after a collapse count with an empty lake
            "mean_stock": math.fsum(self.stocks) / config.seasons,
            "gini": gini(list(totals)),
            "over_usage": sum(a.over for a in members) / decisions if decisions else 0.0,
        }, method=config.selection)
