"""The iterated prisoner's dilemma as a Mesa model whose rules are one SimPy process.

A tournament schedules every match at once (each pair `repetitions` times) and plays them side
by side: turn t of every match is one unit of simulated time (one `step()`), and all players'
moves of that turn are one batch for the gateway, so LLM players' calls go out together. Noise
then flips moves with the run's seeded generator, payoffs are paid, and the turn is committed
in one transaction. With `evolution = 'moran'` every generation is such a round robin (each
pair once, no self-play), followed by one birth and one death.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from mesa import DataCollector

from scenarios.ipd.config import IPDConfig
from scenarios.ipd.fast import play_fast
from scenarios.ipd.strategies import FAMILIES
from scenarios.ipd.tables import TABLES
from scenarios.ipd.tasks import GameRules, Move
from scenarios.ipd.tournament import moran_step, ranking, round_robin
from sim import LLMBrain, RuleBrain, SimAgent, World

if TYPE_CHECKING:
    from sim import Gateway, RunStore
    from sim.brains import Brain


class Player(SimAgent):
    """A tournament entrant (or a member of the Moran population) and its strategy's name."""

    def __init__(self, model: World, *, name: str, brain: Brain, strategy: str,
                 generation: int = 0, parents: list[str] | None = None) -> None:
        super().__init__(model, name=name, brain=brain)
        self.strategy = strategy
        self.generation_born = generation
        self.parents = parents or []
        policy = getattr(brain, "policy", None)
        self.uses_chance = bool(getattr(policy, "uses_chance", False))


@dataclass
class Match:
    """One match in play: its players (seat 0, seat 1), the moves played and the scores."""

    match_id: int
    generation: int
    repetition: int
    players: tuple[Player, Player]
    moves: list[str] = field(default_factory=lambda: ["", ""])
    scores: list[float] = field(default_factory=lambda: [0.0, 0.0])


class IPDTournament(World):
    """The tournament: `IPDTournament(config).run_model()` plays it in memory with rule brains,
    one turn per `step()`; the runner adds a store and a gateway."""

    #: Matches between two rule players in one loop each (`scenarios.ipd.fast`); False asks
    #: every move through the barrier, the reference path tests compare its stores with.
    fast_matches: ClassVar[bool] = True

    def __init__(self, config: IPDConfig | None = None, *,
                 store: RunStore | None = None, gateway: Gateway | None = None) -> None:
        config = config or IPDConfig()
        super().__init__(config, store=store, gateway=gateway)
        self.config: IPDConfig = config
        if store is not None:
            for name, columns in TABLES.items():
                store.define_table(name, columns)
        self.rules = GameRules.from_config(config)
        self.llm_settings = config.llm_settings() if config.model else None
        self.payoff = {(a, b): config.payoffs.of(a, b) for a in "CD" for b in "CD"}
        self.players: list[Player] = []
        self.next_match_id = 0
        self.turn_index = 0  # turns played across the run (the `step` of the metrics table)
        self.generation = 0
        self.progress_total = config.turns * (config.generations if config.moran else 1)
        self.ranking: list[dict[str, Any]] = []
        self.populations: list[Counter[str]] = []  # Moran: the population of each generation
        self._last_turn = {"cooperation": 0.0, "mean_payoff": 0.0}
        #: One row per turn, Mesa's way: `datacollector.get_model_vars_dataframe()`.
        self.datacollector = DataCollector(model_reporters={
            "generation": "generation",
            "cooperation": lambda m: m._last_turn["cooperation"],
            "mean_payoff": lambda m: m._last_turn["mean_payoff"],
        })
        self.process(self.play())

    # -- players -----------------------------------------------------------------------------
    def new_player(self, strategy: str, name: str, *, generation: int = 0,
                   parents: list[str] | None = None) -> Player:
        """A player of `strategy` ('llm' or a rule family), recorded in the `agents` table."""
        brain: Brain
        if strategy == "llm":
            assert self.llm_settings is not None
            brain = LLMBrain(self.llm_settings)
        else:
            brain = RuleBrain(FAMILIES.make(strategy))
        player = Player(self, name=name, brain=brain, strategy=strategy, generation=generation,
                        parents=parents)
        self.record("agents", [{
            "agent_id": name, "generation": generation, "brain": brain.brain_type,
            "kind": brain.kind, "model": getattr(brain, "model", None),
            "params": brain.describe(), "parents": player.parents}])
        return player

    def entrants(self) -> list[Player]:
        """The tournament's players, named by strategy ('tit_for_tat'; a repeated one gets
        '-2', '-3', ...): a readable ranking, and names that never reach a prompt."""
        seen: Counter[str] = Counter()
        players = []
        for strategy in self.config.strategies:
            seen[strategy] += 1
            name = strategy if seen[strategy] == 1 else f"{strategy}-{seen[strategy]}"
            players.append(self.new_player(strategy, name))
        return players

    # -- the process -------------------------------------------------------------------------
    def play(self) -> Generator[Any, Any, None]:
        """The tournament, or the Moran process: the scenario's one SimPy process."""
        if self.config.moran:
            yield from self._moran()
            return
        config = self.config
        self.players = self.entrants()
        pairs = round_robin(len(self.players), self_play=config.self_play)
        matches = [self._match(i, j, repetition=r) for r in range(config.repetitions)
                   for i, j in pairs]
        rows = yield from self.play_matches(matches)
        self.ranking = ranking([{"name": p.name, "strategy": p.strategy,
                                 "brain": p.brain.brain_type} for p in self.players], rows)
        self.record("ranking", self.ranking)
        self.record("metrics", [
            {"scope": "tournament", "step": None, "generation": None, "name": name,
             "value": value} for name, value in self._totals(rows).items()])
        self.commit()

    def _match(self, i: int, j: int, *, repetition: int = 0) -> Match:
        match = Match(self.next_match_id, self.generation, repetition,
                      (self.players[i], self.players[j]))
        self.next_match_id += 1
        return match

    def play_matches(self, matches: list[Match]) -> Generator[Any, Any, list[dict[str, Any]]]:
        """Play the matches side by side, turn by turn; returns their `matches` rows. Matches
        between two rule players are played in one loop each (`scenarios.ipd.fast`) unless
        the run logs every rule decision, or `fast_matches` is off."""
        if self.fast_matches and not self.logs_rule_decisions:
            return (yield from play_fast(self, matches))
        for turn in range(self.config.turns):
            if self.turn_index:
                yield self.env.timeout(1)  # one turn, one unit of simulated time
            asked = [[player.decide(Move(self.rules, self._facts(match, seat, turn)))
                      for seat, player in enumerate(match.players)] for match in matches]
            yield self.env.all_of([event for pair in asked for event in pair])
            self._settle(matches, [[e.value for e in pair] for pair in asked], turn)
        rows = [self._match_row(match) for match in matches]
        self.record("matches", rows)
        self.commit()
        return rows

    def _facts(self, match: Match, seat: int, turn: int) -> dict[str, Any]:
        facts = {"player": match.players[seat].name, "match": match.match_id, "turn": turn,
                 "own": match.moves[seat],
                 "opponent": match.moves[1 - seat]}
        if match.players[seat].uses_chance:
            facts["chance"] = float(self.rng.random())
        return facts

    def _settle(self, matches: list[Match], chosen: list[list[Any]], turn: int) -> None:
        """Flip moves by noise, pay both players of every match, record and commit the turn."""
        config = self.config
        flips = (self.rng.random((len(matches), 2)) < config.noise if config.noise > 0
                 else np.zeros((len(matches), 2), dtype=bool))
        rows, cooperated, paid = [], 0, 0.0
        for m, (match, pair) in enumerate(zip(matches, chosen, strict=True)):
            played = [("D" if str(c) == "C" else "C") if flips[m, s] else str(c)
                      for s, c in enumerate(pair)]
            for seat in (0, 1):
                payoff = self.payoff[played[seat], played[1 - seat]]
                match.moves[seat] += played[seat]
                match.scores[seat] += payoff
                cooperated += played[seat] == "C"
                paid += payoff
                if config.record_moves:
                    player = match.players[seat]
                    rows.append((
                        match.match_id, turn, seat, player.name, str(pair[seat]),
                        played[seat], payoff,
                        "fallback" if getattr(pair[seat], "fallback", False)
                        else player.brain.brain_type))
        self.finish_turn(turn, rows, cooperated, paid, 2 * len(matches))

    def finish_turn(self, turn: int, rows: list[tuple], cooperated: int, paid: float,
                    seats: int) -> None:
        """Record a turn played (its `moves` rows as tuples, its metrics), commit it, and
        report progress: the end of every turn, asked or played by `scenarios.ipd.fast`."""
        config = self.config
        self._last_turn = {"cooperation": cooperated / seats, "mean_payoff": paid / seats}
        self.datacollector.collect(self)
        self.record_rows("moves", rows)
        self.record("metrics", [
            {"scope": "step", "step": self.turn_index, "generation": self.generation,
             "name": name, "value": value} for name, value in self._last_turn.items()])
        self.commit()
        self.turn_index += 1
        label = (f"generation {self.generation + 1}/{config.generations}" if config.moran
                 else "tournament")
        self.report_progress(self.turn_index, label, f"turn {turn + 1}/{config.turns}")

    @staticmethod
    def _match_row(match: Match) -> dict[str, Any]:
        turns = len(match.moves[0])
        first, second = match.players
        return {
            "match_id": match.match_id, "generation": match.generation,
            "repetition": match.repetition, "player": first.name, "opponent": second.name,
            "player_strategy": first.strategy, "opponent_strategy": second.strategy,
            "turns": turns, "score": match.scores[0], "opponent_score": match.scores[1],
            "cooperation": match.moves[0].count("C") / turns,
            "opponent_cooperation": match.moves[1].count("C") / turns,
        }

    @staticmethod
    def _totals(rows: list[dict[str, Any]]) -> dict[str, float]:
        """The tournament's overall cooperation and score per turn (self-play left out)."""
        played = [r for r in rows if r["player"] != r["opponent"]]
        turns = 2 * sum(r["turns"] for r in played)
        if not turns:
            return {}
        return {
            "cooperation": sum((r["cooperation"] + r["opponent_cooperation"]) * r["turns"]
                               for r in played) / turns,
            "score_per_turn": sum(r["score"] + r["opponent_score"] for r in played) / turns,
        }

    # -- the Moran process -------------------------------------------------------------------
    def _moran(self) -> Generator[Any, Any, None]:
        """Generations of round robins, each followed by a birth and a death, until one
        strategy is left (fixation) or `generations` have been played."""
        config = self.config
        self.players = [self.new_player(strategy, f"g0-a{i:02d}")
                        for i, strategy in enumerate(config.strategies)]
        for generation in range(config.generations):
            self.generation = generation
            self._record_population(generation)
            if len(self.populations[-1]) == 1:
                return  # fixation: one strategy is left
            n = len(self.players)
            matches = [self._match(i, j) for i, j in round_robin(n, self_play=False)]
            rows = yield from self.play_matches(matches)
            fitness = np.zeros(n)
            index = {p.name: i for i, p in enumerate(self.players)}
            for row in rows:
                fitness[index[row["player"]]] += row["score"]
                fitness[index[row["opponent"]]] += row["opponent_score"]
            self._birth_and_death(generation, fitness)
        self._record_population(config.generations)

    def _record_population(self, generation: int) -> None:
        counts = Counter(p.strategy for p in self.players)
        self.populations.append(counts)
        self.record("population", [{"generation": generation, "strategy": s, "count": c}
                                   for s, c in sorted(counts.items())])
        self.record("metrics", [{"scope": "generation", "step": None, "generation": generation,
                                 "name": "strategies_left", "value": float(len(counts))}])
        self.commit()

    def _birth_and_death(self, generation: int, fitness: np.ndarray) -> None:
        parent_index, dead_index = moran_step(fitness, self.rng)
        parent, dead = self.players[parent_index], self.players[dead_index]
        child = self.new_player(parent.strategy, f"g{generation + 1}-a{dead_index:02d}",
                                generation=generation + 1, parents=[parent.name])
        self.players[dead_index] = child
        dead.remove()
        self.record("moran", [{
            "generation": generation, "parent": parent.name, "parent_strategy": parent.strategy,
            "parent_fitness": float(fitness[parent_index]), "died": dead.name,
            "died_strategy": dead.strategy, "born": child.name}])
        self.commit()
