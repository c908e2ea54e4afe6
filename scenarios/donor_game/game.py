"""The Donor Game as a Mesa model whose rules are one SimPy process: generations of games of
rounds, on the engine's `Population` (slots, newcomers, selection, lineage).

Each round is one unit of simulated time (one `step()`). Within a round all donors decide at
once (one batch for the gateway), then the gifts are applied together from the resources
everyone held at the start of the round. Everything a round produced is committed to the store
in one transaction.
"""

from __future__ import annotations

import bisect
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from scenarios.donor_game.config import DonorGameConfig
from scenarios.donor_game.memory import DonorMemory, describe_act
from scenarios.donor_game.observation import Act, Trace
from scenarios.donor_game.pairing import game_schedule
from scenarios.donor_game.selection import generation_reputation, updated_reputation
from scenarios.donor_game.strategies import FAMILIES, GIVE_NOTHING, Donation
from scenarios.donor_game.tables import SCORE_COLUMNS, TABLES
from scenarios.donor_game.tasks import Donate, GameContext, WriteStrategy
from sim.brains import LLMBrain
from sim.population import Member, Population
from sim.world import World

if TYPE_CHECKING:
    from sim.llm.gateway import Gateway
    from sim.store import RunStore


class Donor(Member):
    """A Donor Game player: resources, and its acts as donor since the trace last reset."""

    def __init__(self, model: World, *, name: str, brain: Any, generation: int,
                 parents: list[str]) -> None:
        super().__init__(model, name=name, brain=brain, generation=generation, parents=parents)
        self.resources = 0.0
        self.final_resources: list[float] = []
        self.shares_given: list[float] = []  # this generation's gifts, as shares (generosity)
        self.reputation: float | None = None  # the study's score in this game (`selection.py`)
        self.game_reputations: list[float | None] = []  # each game's final score
        self.acts: list[dict[str, Any]] = []  # acts as donor since the trace reset, by step
        self.act_steps: list[int] = []

    def forget_acts(self) -> None:
        """Traces start empty again (at each game, or each generation: `trace_reset`)."""
        self.acts, self.act_steps = [], []

    def last_act_before(self, step: int) -> dict[str, Any] | None:
        index = bisect.bisect_left(self.act_steps, step)
        return self.acts[index - 1] if index else None


class DonorGame(World):
    """The Donor Game as a Mesa model: `DonorGame(config).run_model()` plays the whole run,
    one round per `step()`; the runner adds the store and the gateway to the models."""

    def __init__(
        self,
        config: DonorGameConfig | None = None,
        *,
        store: RunStore | None = None,
        gateway: Gateway | None = None,
    ) -> None:
        config = config or DonorGameConfig()
        super().__init__(config, store=store, gateway=gateway)
        self.config: DonorGameConfig = config
        if store is not None:
            for name, columns in TABLES.items():
                store.define_table(name, columns)
        self.population = Population(self, config, FAMILIES, member=Donor,
                                     score_columns=SCORE_COLUMNS)
        self.context = GameContext.from_config(config)
        self.memory = DonorMemory(self, config.memory_settings) if config.memory else None
        self.round_step = 0  # global round index across the run (the `step` column)
        self.progress_total = config.generations * config.games * config.rounds_per_game
        self.process(self.rules())

    # -- the process ----------------------------------------------------------------------
    def rules(self) -> Generator[Any, Any, None]:
        """Generations of games of rounds: the scenario's one SimPy process."""
        config, population = self.config, self.population
        survivors: list[Donor] = []
        for generation in range(config.generations):
            if generation:
                yield self.env.timeout(1)  # a generation starts at the time of its first round
            newcomers = population.populate(generation, survivors)
            yield from self._write_strategies(generation, newcomers, survivors)
            order = population.shuffled_order()
            players = self.players
            for agent in players:
                agent.final_resources, agent.shares_given = [], []
                agent.game_reputations = []
            for game in range(config.games):
                for agent in players:
                    if game == 0 or config.trace_reset == "game":
                        agent.forget_acts()
                    agent.resources = config.endowment
                    agent.reputation = None
                schedule = game_schedule(
                    config.pairing, len(population.slots), config.rounds_per_game, game,
                    self.rng, order,
                )
                for round_index, pairs in enumerate(schedule):
                    if game or round_index:
                        yield self.env.timeout(1)  # one round, one unit of simulated time
                    yield from self._play_round(generation, game, round_index, pairs)
                for agent in players:
                    agent.final_resources.append(agent.resources)
                    agent.game_reputations.append(agent.reputation)
            last = generation == config.generations - 1
            survivors = self._select(generation, order, keep=config.final_selection or not last)
            self.commit()

    @property
    def players(self) -> list[Donor]:
        """The living players in slot order."""
        return self.population.members  # type: ignore[return-value]

    def _write_strategies(
        self, generation: int, newcomers: list[Donor], survivors: list[Donor]
    ) -> Generator[Any, Any, None]:
        # every survivor's strategy (`advice = "survivors"`, the study) or its parents'
        shown = {agent.name: self.population.advice(agent) for agent in newcomers}
        shows_memories = False
        if self.memory is not None and self.population.previous:
            # culture passes through memory: what a newcomer is shown is what it inherited
            shown = yield from self.memory.inherit(
                newcomers, self.population.previous, generation, shown
            )
            shows_memories = self.memory.settings.inheritance in ("reflections", "summary")
        if self.config.survivor_order == "best_first":
            # the generation's ranking, best first (the study sorts its survivors so); a
            # stable sort keeps each author's records together and in order
            rank = {name: place for place, name in enumerate(self.population.ranking)}
            shown = {name: sorted(items, key=lambda item: rank.get(item[0], len(rank)))
                     for name, items in shown.items()}
        tasks = [WriteStrategy(self.context, agent.name, generation, shown[agent.name],
                               shows_memories) for agent in newcomers]
        # one event for every newcomer (the same questions as one `decide` each)
        strategies = yield self.decide_many(newcomers, tasks)
        for agent, strategy in zip(newcomers, strategies, strict=True):
            agent.strategy = strategy
        self.population.record_strategies(generation, newcomers)
        self.commit()

    def _trace(self, recipient: Donor, step: int) -> Trace:
        """The recipient's trace before `step` (see "Donor Game observation" in
        docs/design.md): its latest act before then, and that act's own trace behind it."""
        steps = recipient.act_steps
        # the usual case: its latest act (those of this round are added after it)
        act = (recipient.acts[-1] if steps and steps[-1] < step
               else recipient.last_act_before(step))
        if act is None or self.config.trace_depth == 0:
            return Trace.of()
        return self._chain(act)

    def _chain(self, act: dict[str, Any]) -> Trace:
        """The trace that starts with `act`, made once per `Act`: it depends on that act alone
        (every act it links to was played before it, and traces never outlive a generation's
        population), and one act heads the trace of many later donations."""
        depth = self.config.trace_depth
        cached = getattr(act, "trace", None)
        if cached is not None and cached[0] == depth:
            return cached[1]
        links = Trace.of(act)
        agent = self.population.by_name.get(act["recipient"])
        before = act["step"]
        while agent is not None and len(links) < depth:
            earlier = agent.last_act_before(before)
            if earlier is None:
                break
            links.append(earlier)
            agent, before = self.population.by_name.get(earlier["recipient"]), earlier["step"]
        if isinstance(act, Act):
            act.trace = (depth, links)
        return links

    def _play_round(
        self, generation: int, game: int, round_index: int, pairs: list[tuple[int, int]]
    ) -> Generator[Any, Any, None]:
        config, step = self.config, self.round_step
        agents = [slot.agent for slot in self.population.slots]
        players = self.players
        start = {a.name: a.resources for a in players}
        shown = {name: round(held, 10) for name, held in start.items()}
        multiplier, punishment = config.multiplier, config.costly_punishment
        partner_choice, punishment_multiplier = (config.partner_choice,
                                                 config.punishment_multiplier)
        context, memory, trace = self.context, self.memory, self._trace
        donors = [agents[d] for d, _ in pairs]
        recipients = [agents[r] for _, r in pairs]
        tasks = []
        for donor, recipient in zip(donors, recipients, strict=True):
            facts = {
                "generation": generation, "game": game, "round": round_index,
                "donor": donor.name, "recipient": recipient.name,
                "donor_resources": shown[donor.name],
                "recipient_resources": shown[recipient.name],
                "multiplier": multiplier, "punishment": punishment,
                "partner_choice": partner_choice, "punishment_multiplier": punishment_multiplier,
                "trace": trace(recipient, step),
            }
            memories = ""
            if memory is not None and isinstance(donor.brain, LLMBrain):
                memories = memory.recall(donor, recipient.name)
            tasks.append(Donate(context, facts, donor.strategy, memories))
        # one event for the whole round: its value is every donor's decision, in pair order
        decisions = yield self.decide_many(donors, tasks)
        delta = dict.fromkeys(start, 0.0)
        donation_rows: list[tuple] = []  # in the columns' order (`tables.py`)
        punished: list[tuple[int, Act]] = []  # each punishment's row, and its act
        scored: list[tuple[Donor, float]] = []  # each giver's reputation after the round
        for donor, recipient, decision in zip(donors, recipients, decisions, strict=True):
            if decision.action != "donate":
                decision = self._allowed(decision)
            action, fraction, name, other = (decision.action, decision.fraction, donor.name,
                                             recipient.name)
            held = start[name]
            amount = fraction * held if decision.units is None else decision.units
            if held < amount:  # min(amount, held), without the call
                amount = held
            effect = (-amount * punishment_multiplier if action == "punish"
                      else amount * multiplier)
            delta[name] -= amount
            delta[other] += effect
            act = Act.played(name, other, action, fraction, step, game, round_index)
            if action == "punish":
                punished.append((len(donation_rows), act))
            elif action == "donate":
                # scored from the reputations held at the start of the round (`selection.py`):
                # set below, once every gift of the round is scored
                scored.append((donor, updated_reputation(donor.reputation, fraction,
                                                         recipient.reputation)))
            donor.acts.append(act)
            donor.act_steps.append(step)
            donor.shares_given.append(fraction if action == "donate" else 0.0)
            donation_rows.append((step, generation, game, round_index, name, other, action,
                                  fraction, amount, effect, held, start[other],
                                  donor.brain.brain_type))
        if punished:
            _floor_fines(donation_rows, [index for index, _ in punished], start, delta)
            if config.trace_format == "plain":
                for index, act in punished:
                    # what the plain trace tells of it: its cost and the fine it really took
                    act["units"], act["lost"] = donation_rows[index][8], -donation_rows[index][9]
        for donor, reputation in scored:
            donor.reputation = reputation
        for agent in players:  # max(0.0, after), without the call (NaN and -0.0 alike)
            after = start[agent.name] + delta[agent.name]
            agent.resources = after if after > 0.0 else 0.0
        if self.memory is not None:
            memories: dict[Donor, list[str]] = {agent: [] for agent in players}
            for donor, recipient, row in zip(donors, recipients, donation_rows, strict=True):
                act = donor.acts[-1]
                amount, effect = row[8], row[9]
                memories[donor].append(describe_act(act, amount, effect, as_donor=True))
                memories[recipient].append(describe_act(act, amount, effect, as_donor=False))
            yield from self.memory.remember_round(memories, generation)
        self._record_round(generation, game, round_index, donation_rows)
        self.round_step += 1
        total_rounds = config.rounds_per_game
        self.report_progress(
            self.round_step,
            f"generation {generation + 1}/{config.generations}",
            f"game {game + 1}/{config.games} round {round_index + 1}/{total_rounds}",
        )

    def _allowed(self, decision: Donation) -> Donation:
        """A sanction the game does not offer (a rule brain's, or an LLM's stray answer) is
        played as giving nothing."""
        if decision.action == "punish" and not self.config.costly_punishment:
            return GIVE_NOTHING
        if decision.action == "refuse" and not self.config.partner_choice:
            return GIVE_NOTHING
        return decision

    def _record_round(self, generation: int, game: int, round_index: int,
                      donation_rows: list[tuple]) -> None:
        step = self.round_step
        players = self.players
        resources = np.array([a.resources for a in players])
        given = np.array([row[7] if row[6] == "donate" else 0.0 for row in donation_rows])
        # tuples in the tables' column order (`tables.py`): the store's bulk path
        self.record_rows("donations", donation_rows)
        self.record_rows("agent_rounds", [
            (step, generation, game, round_index, a.name, a.resources) for a in players
        ])
        values = {
            "mean_resources": resources.mean(), "min_resources": resources.min(),
            "max_resources": resources.max(),
            "mean_fraction": given.mean() if given.size else 0.0,
            "min_fraction": given.min() if given.size else 0.0,
            "max_fraction": given.max() if given.size else 0.0,
            "punishments": sum(row[6] == "punish" for row in donation_rows),
        }
        self.record("metrics", [
            {"scope": "step", "step": step, "generation": generation, "name": name,
             "value": float(value)}
            for name, value in values.items()
        ])
        self.commit()

    def _select(self, generation: int, order: list[int], *, keep: bool) -> list[Donor]:
        """Score the generation and keep its survivors (see `Population.select`).

        The score is `selection_score` (the last game's final resources, or their mean over
        the games); `reputation` selection ranks the top by the study's reputation score and
        `generosity` by the mean share an agent gave (see `selection.py`); ties fall to the
        generation's shuffled order, as in the study (its sort is stable over a shuffled
        list). Without `keep` (the last generation, unless `final_selection`)
        nobody leaves and `survived` is left empty: no selection happened.
        """
        config, players = self.config, self.players
        finals = np.array([a.final_resources for a in players], dtype=float)
        final_mean = finals.mean(axis=1)
        scores = finals[:, -1] if config.selection_score == "last_game" else final_mean
        shares = np.array([np.mean(a.shares_given) if a.shares_given else 0.0 for a in players])
        ranked_on = {
            "reputation": np.array([generation_reputation(a.game_reputations) for a in players]),
            "generosity": shares,
        }
        method = "top" if config.selection in ranked_on else config.selection
        kept = self.population.select(
            generation, ranked_on.get(config.selection, scores), order,
            method=method, keep=keep,
            extra={"final_mean": final_mean, "share_given": shares},
        )
        values = {
            "mean_score": scores.mean(), "min_score": scores.min(), "max_score": scores.max(),
            "mean_final": final_mean.mean(), "min_final": final_mean.min(),
            "max_final": final_mean.max(),
            "mean_fraction": shares.mean(), "min_fraction": shares.min(),
            "max_fraction": shares.max(),
        }
        self.record("metrics", [
            {"scope": "generation", "step": None, "generation": generation, "name": name,
             "value": float(value)}
            for name, value in values.items()
        ])
        return kept  # type: ignore[return-value]


#: Positions in a `donations` row of the punished player and of what the act did to them.
_RECIPIENT, _EFFECT = 5, 9


def _floor_fines(rows: list[tuple], punished: list[int], start: dict[str, float],
                 delta: dict[str, float]) -> None:
    """Record what punishments really took. Nobody's resources go below 0, so a player fined
    more than it holds loses only what it holds; the fines it met that round are scaled down
    together, in proportion, so that `effect` is the change each act made (and the effects of
    a round still add up to what every player's resources did). `punished`: the positions in
    `rows` of the round's punishments, whose rows are replaced when their fines are scaled."""
    fines: dict[str, float] = {}
    for index in punished:
        row = rows[index]
        fines[row[_RECIPIENT]] = fines.get(row[_RECIPIENT], 0.0) - row[_EFFECT]
    for name, fined in fines.items():
        shortfall = -(start[name] + delta[name])
        if shortfall > 0 and fined > 0:
            kept = max(0.0, 1.0 - shortfall / fined)
            for index in punished:
                row = rows[index]
                if row[_RECIPIENT] == name:
                    rows[index] = (*row[:_EFFECT], row[_EFFECT] * kept, *row[_EFFECT + 1:])
