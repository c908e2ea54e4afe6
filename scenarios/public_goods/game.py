"""The public goods game as a Mesa model on the engine's generations-of-rounds driver
(`sim.GenerationsOfRounds`: populate, strategies, rounds, selection, lineage), which leaves
the game only what a round does and what a generation is scored on.

Each round is one unit of simulated time (one `step()`). The members are shuffled into groups
(Mesa's `AgentSet.shuffle` and `groupby`), all decide their contributions at once (one batch
for the gateway), then, with costly punishment, all decide their punishments at once having
seen their group's contributions. Everything a round produced is committed in one transaction.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from mesa import DataCollector

from scenarios.public_goods.config import PublicGoodsConfig
from scenarios.public_goods.rules import FAMILIES
from scenarios.public_goods.tables import SCORE_COLUMNS, TABLES
from scenarios.public_goods.tasks import Contribute, GameRules, Punish, write_strategy
from sim import GenerationScores, GenerationsOfRounds, Member, World

if TYPE_CHECKING:
    from sim import Gateway, RunStore, Task


def group_payoffs(
    contributions: Sequence[float],
    *,
    endowment: float,
    multiplier: float,
    points: Sequence[Sequence[float]] | None = None,
    punishment_cost: float = 1.0,
    punishment_fine: float = 3.0,
) -> np.ndarray:
    """One group's payoffs for one round: what each kept, plus an equal share of the
    multiplied pot, minus what it paid to punish (`points[i][j]`: from i to j) and the fines
    it received."""
    c = np.asarray(contributions, dtype=float)
    payoffs = endowment - c + multiplier * c.sum() / c.size
    if points is not None:
        p = np.asarray(points, dtype=float)
        payoffs -= punishment_cost * p.sum(axis=1) + punishment_fine * p.sum(axis=0)
    return payoffs


class Contributor(Member):
    """A member of the population: what it saw of its last group, and its generation's tally."""

    def __init__(self, model: World, *, name: str, brain: Any, generation: int,
                 parents: list[str]) -> None:
        super().__init__(model, name=name, brain=brain, generation=generation, parents=parents)
        self.group_id = -1
        self.start_generation()

    def start_generation(self) -> None:
        self.previous: dict[str, Any] | None = None  # its last group's contributions
        self.total_payoff = 0.0
        self.shares: list[float] = []


class PublicGoodsGame(GenerationsOfRounds):
    """The public goods game: `PublicGoodsGame(config).run_model()` plays a whole run in
    memory with rule brains, one round per `step()`; the runner adds a store and a gateway."""

    def __init__(self, config: PublicGoodsConfig | None = None, *,
                 store: RunStore | None = None, gateway: Gateway | None = None) -> None:
        config = config or PublicGoodsConfig()
        super().__init__(config, FAMILIES, store=store, gateway=gateway, member=Contributor,
                         tables=TABLES, score_columns=SCORE_COLUMNS)
        self.config: PublicGoodsConfig = config
        self.game_rules = GameRules.from_config(config)
        self._last_round: dict[str, float] = {}
        #: One row per round, Mesa's way: `datacollector.get_model_vars_dataframe()`.
        self.datacollector = DataCollector(model_reporters={
            "generation": "generation", "round": "round",
            "mean_share": lambda m: m._last_round["mean_share"],
            "mean_payoff": lambda m: m._last_round["mean_payoff"],
            "punishment_points": lambda m: m._last_round["punishment_points"],
        })

    def strategy_task(self, agent: Member, generation: int,
                      advice: list[tuple[str, str]]) -> Task:
        return write_strategy(self.game_rules, agent.name, generation, advice)

    def groups(self) -> list[list[Contributor]]:
        """This round's groups: the members shuffled, then cut into `group_size` blocks."""
        size = self.config.group_size
        shuffled = self.population.agent_set().shuffle()
        for place, agent in enumerate(shuffled):
            agent.group_id = place // size
        return list(shuffled.groupby("group_id", result_type="list").groups.values())

    def play_round(self, generation: int, round_index: int) -> Generator[Any, Any, None]:
        config, rules = self.config, self.game_rules
        groups = self.groups()
        asked = [[agent.decide(Contribute(rules, {
            "generation": generation, "round": round_index, "agent": agent.name,
            "endowment": config.endowment, "group_size": config.group_size,
            "previous": agent.previous}, agent.strategy)) for agent in group] for group in groups]
        yield self.env.all_of([event for events in asked for event in events])
        given = [[min(config.endowment, max(0.0, float(e.value))) for e in events]
                 for events in asked]
        points = [np.zeros((len(group), len(group))) for group in groups]
        if config.costly_punishment:
            asked = [[agent.decide(Punish(rules, {
                "generation": generation, "round": round_index, "agent": agent.name,
                "me": me, "contributions": contributions, "max_points": config.max_points,
                "cost": config.punishment_cost, "fine": config.punishment_fine},
                agent.strategy)) for me, agent in enumerate(group)]
                for group, contributions in zip(groups, given, strict=True)]
            yield self.env.all_of([event for events in asked for event in events])
            for matrix, events in zip(points, asked, strict=True):
                for i, event in enumerate(events):
                    matrix[i] = np.clip(event.value, 0.0, config.max_points)
                    matrix[i, i] = 0.0
        self._settle(generation, round_index, groups, given, points)

    def _settle(self, generation: int, round_index: int, groups: list[list[Contributor]],
                given: list[list[float]], points: list[np.ndarray]) -> None:
        config, step = self.config, self.step_index
        rows, punishment_rows = [], []
        for group_id, (group, contributions, matrix) in enumerate(
                zip(groups, given, points, strict=True)):
            payoffs = group_payoffs(
                contributions, endowment=config.endowment, multiplier=config.multiplier,
                points=matrix, punishment_cost=config.punishment_cost,
                punishment_fine=config.punishment_fine)
            for i, agent in enumerate(group):
                others = contributions[:i] + contributions[i + 1:]
                agent.previous = {"own": contributions[i], "others": others,
                                  "others_mean": sum(others) / len(others)}
                agent.total_payoff += float(payoffs[i])
                agent.shares.append(contributions[i] / config.endowment)
                rows.append({
                    "step": step, "generation": generation, "round": round_index,
                    "group_id": group_id, "agent_id": agent.name, "kind": agent.brain.kind,
                    "contribution": contributions[i], "share": contributions[i] / config.endowment,
                    "punished": float(matrix[:, i].sum()), "payoff": float(payoffs[i]),
                    "source": agent.brain.brain_type,
                })
                punishment_rows += [
                    {"step": step, "generation": generation, "round": round_index,
                     "group_id": group_id, "punisher": agent.name, "target": group[j].name,
                     "points": float(matrix[i, j]),
                     "cost": float(matrix[i, j]) * config.punishment_cost,
                     "fine": float(matrix[i, j]) * config.punishment_fine}
                    for j in range(len(group)) if matrix[i, j] > 0
                ]
        shares = np.array([row["share"] for row in rows])
        payoffs_all = np.array([row["payoff"] for row in rows])
        self._last_round = {
            "mean_share": float(shares.mean()), "min_share": float(shares.min()),
            "max_share": float(shares.max()), "mean_payoff": float(payoffs_all.mean()),
            "punishment_points": float(sum(r["points"] for r in punishment_rows)),
        }
        self.datacollector.collect(self)
        self.record("contributions", rows)
        self.record("punishments", punishment_rows)
        self.record("metrics", [
            {"scope": "step", "step": step, "generation": generation, "name": name,
             "value": value} for name, value in self._last_round.items()])

    def score_generation(self, generation: int) -> GenerationScores:
        """Selection ranks the generation on total payoff; its mean share given is recorded."""
        members = self.members
        payoffs = np.array([a.total_payoff for a in members])
        shares = np.array([np.mean(a.shares) for a in members])
        return GenerationScores(payoffs, {"mean_share": shares}, {
            "mean_share": shares.mean(), "min_share": shares.min(), "max_share": shares.max(),
            "mean_payoff": payoffs.mean(), "min_payoff": payoffs.min(),
            "max_payoff": payoffs.max()}, method=self.config.selection)
