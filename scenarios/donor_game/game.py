"""The Donor Game's rules as one SimPy process: generations of games of rounds.

Each round is one unit of simulated time. Within a round all donors decide at once (one batch
for the gateway), then the gifts are applied together from the resources everyone held at the
start of the round. Everything a round produced is committed to the store in one transaction.
"""

from __future__ import annotations

import bisect
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from scenarios.donor_game.config import RULE_FAMILIES, DonorGameConfig
from scenarios.donor_game.memory import DonorMemory, describe_act
from scenarios.donor_game.pairing import game_schedule
from scenarios.donor_game.strategies import GIVE_NOTHING, Donation, make_policy
from scenarios.donor_game.tables import TABLES
from scenarios.donor_game.tasks import Donate, GameContext, WriteStrategy
from sim.agent import SimAgent
from sim.brains import LLMBrain, RuleBrain
from sim.store import RunStore
from sim.world import World


class Donor(SimAgent):
    """A Donor Game player: resources, a strategy text, and its acts as donor this generation."""

    def __init__(self, model: World, *, name: str, brain: Any, generation: int,
                 parents: list[str]) -> None:
        super().__init__(model, name=name, brain=brain)
        self.generation_born = generation
        self.parents = parents
        self.strategy = ""
        self.resources = 0.0
        self.final_resources: list[float] = []
        self.shares_given: list[float] = []  # this generation's gifts, as shares (reputation)
        self.acts: list[dict[str, Any]] = []  # acts as donor since the trace reset, by step
        self.act_steps: list[int] = []

    def forget_acts(self) -> None:
        """Traces start empty again (at each game, or each generation: `trace_reset`)."""
        self.acts, self.act_steps = [], []

    def last_act_before(self, step: int) -> dict[str, Any] | None:
        index = bisect.bisect_left(self.act_steps, step)
        return self.acts[index - 1] if index else None


@dataclass
class Slot:
    """A place in the population; its brain type ('llm' or a rule family) is fixed."""

    brain: str
    agent: Donor | None = None


def allocate(brains: dict[str, float], n: int) -> list[str]:
    """Turn shares into n slot kinds (largest remainder; 'rule' spreads over the families)."""
    total = sum(brains.values())
    quotas = {kind: n * share / total for kind, share in brains.items() if share > 0}
    counts = {kind: int(q) for kind, q in quotas.items()}
    by_remainder = sorted(quotas, key=lambda k: (-(quotas[k] - counts[k]), list(quotas).index(k)))
    for kind in by_remainder[: n - sum(counts.values())]:
        counts[kind] += 1
    kinds: list[str] = []
    for kind, count in counts.items():
        if kind == "rule":
            kinds += [RULE_FAMILIES[i % len(RULE_FAMILIES)] for i in range(count)]
        else:
            kinds += [kind] * count
    return kinds


class DonorGame:
    """Owns the population and plays the protocol; `run()` is the SimPy process."""

    def __init__(self, world: World, config: DonorGameConfig) -> None:
        self.world = world
        self.config = config
        self.rng: np.random.Generator = world.rng
        self.store: RunStore | None = world.store
        if self.store is not None:
            for name, columns in TABLES.items():
                self.store.define_table(name, columns)
        self.llm_settings = config.llm_settings() if config.model else None
        rounds = config.rounds_per_game
        self.context = GameContext.from_config(config)
        self.slots = [Slot(kind) for kind in allocate(config.brains, config.agents)]
        self.by_name: dict[str, Donor] = {}  # the living agents, for following traces
        self.memory = DonorMemory(world, config.memory_settings) if config.memory else None
        self.step = 0
        world.progress_total = config.generations * config.games * rounds

    # -- the process ----------------------------------------------------------------------
    def run(self) -> Generator[Any, Any, None]:
        config = self.config
        survivors: list[Donor] = []
        for generation in range(config.generations):
            newcomers = self._populate(generation, survivors)
            yield from self._write_strategies(generation, newcomers, survivors)
            order = [int(i) for i in self.rng.permutation(len(self.slots))]
            for agent in self.agents:
                agent.final_resources, agent.shares_given = [], []
            for game in range(config.games):
                if game == 0 or config.trace_reset == "game":
                    for agent in self.agents:
                        agent.forget_acts()
                for agent in self.agents:
                    agent.resources = config.endowment
                schedule = game_schedule(
                    config.pairing, len(self.slots), config.rounds_per_game, game, self.rng, order
                )
                for round_index, pairs in enumerate(schedule):
                    yield from self._play_round(generation, game, round_index, pairs)
                for agent in self.agents:
                    agent.final_resources.append(agent.resources)
            last = generation == config.generations - 1
            survivors = self._select(generation, order, select=config.final_selection or not last)
            self._commit()

    @property
    def agents(self) -> list[Donor]:
        return [slot.agent for slot in self.slots if slot.agent is not None]

    def _populate(self, generation: int, survivors: list[Donor]) -> list[Donor]:
        """Fill empty slots with new agents; rule newcomers inherit a surviving rule, mutated."""
        rule_survivors = [a for a in survivors if isinstance(a.brain, RuleBrain)]
        newcomers = []
        for index, slot in enumerate(self.slots):
            if slot.agent is not None:
                continue
            name = f"g{generation}-a{index:02d}"
            if slot.brain == "llm":
                assert self.llm_settings is not None
                brain: Any = LLMBrain(self.llm_settings)
                parents = [a.name for a in survivors]
            elif rule_survivors and generation > 0:
                parent = rule_survivors[int(self.rng.integers(len(rule_survivors)))]
                brain = RuleBrain(parent.brain.policy.mutate(self.rng, self.config.mutation_sd))
                parents = [parent.name]
            else:
                family = slot.brain if slot.brain in RULE_FAMILIES else RULE_FAMILIES[
                    int(self.rng.integers(len(RULE_FAMILIES)))
                ]
                brain, parents = RuleBrain(make_policy(family)), []
            agent = Donor(self.world, name=name, brain=brain, generation=generation,
                          parents=parents)
            slot.agent = agent
            self.by_name[name] = agent
            newcomers.append(agent)
            self._insert("agents", [{
                "agent_id": name, "generation": generation, "brain": brain.brain_type,
                "kind": brain.kind, "model": getattr(brain, "model", None),
                "params": brain.describe(), "parents": parents,
            }])
        return newcomers

    def _write_strategies(
        self, generation: int, newcomers: list[Donor], survivors: list[Donor]
    ) -> Generator[Any, Any, None]:
        # one list for every newcomer: a copy each would grow with the population squared
        survivor_strategies = [(a.name, a.strategy) for a in survivors]
        shown = dict.fromkeys((agent.name for agent in newcomers), survivor_strategies)
        shows_memories = False
        if self.memory is not None and survivors:
            # culture passes through memory: what a newcomer is shown is what it inherited
            shown = yield from self.memory.inherit(
                newcomers, survivors, generation, {a.name: a.strategy for a in survivors}
            )
            shows_memories = self.memory.settings.inheritance in ("reflections", "summary")
        events = [
            agent.decide(WriteStrategy(self.context, agent.name, generation, shown[agent.name],
                                       shows_memories))
            for agent in newcomers
        ]
        yield self.world.env.all_of(events)
        rows = []
        for agent, event in zip(newcomers, events, strict=True):
            agent.strategy = event.value
            rows.append({
                "agent_id": agent.name, "generation": generation, "text": agent.strategy,
                "source": agent.brain.brain_type, "parents": agent.parents,
            })
        self._insert("strategies", rows)
        self._commit()

    def _trace(self, recipient: Donor, step: int) -> list[dict[str, Any]]:
        links: list[dict[str, Any]] = []
        agent: Donor | None = recipient
        before = step
        by_name = self.by_name
        while agent is not None and len(links) < self.config.trace_depth:
            act = agent.last_act_before(before)
            if act is None:
                break
            links.append(act)
            agent, before = by_name.get(act["recipient"]), act["step"]
        return links

    def _play_round(
        self, generation: int, game: int, round_index: int, pairs: list[tuple[int, int]]
    ) -> Generator[Any, Any, None]:
        config, step = self.config, self.step
        agents = [slot.agent for slot in self.slots]
        start = {a.name: a.resources for a in self.agents}
        requests = []
        for donor_index, recipient_index in pairs:
            donor, recipient = agents[donor_index], agents[recipient_index]
            facts = {
                "generation": generation, "game": game, "round": round_index,
                "donor": donor.name, "recipient": recipient.name,
                "donor_resources": round(start[donor.name], 10),
                "recipient_resources": round(start[recipient.name], 10),
                "multiplier": config.multiplier, "punishment": config.costly_punishment,
                "partner_choice": config.partner_choice,
                "punishment_multiplier": config.punishment_multiplier,
                "trace": self._trace(recipient, step),
            }
            memories = ""
            if self.memory is not None and isinstance(donor.brain, LLMBrain):
                memories = self.memory.recall(donor, recipient.name)
            task = Donate(self.context, facts, donor.strategy, memories)
            requests.append((donor, recipient, donor.decide(task)))
        # event.value, not the AllOf result's [event]: its lookup is a linear scan per event
        yield self.world.env.all_of([event for _, _, event in requests])
        delta = dict.fromkeys(start, 0.0)
        donation_rows = []
        for donor, recipient, event in requests:
            decision = self._allowed(event.value)
            held = start[donor.name]
            amount = decision.fraction * held if decision.units is None else decision.units
            amount = min(amount, held)
            if decision.action == "punish":
                effect = -amount * config.punishment_multiplier
            else:
                effect = amount * config.multiplier
            delta[donor.name] -= amount
            delta[recipient.name] += effect
            act = {"donor": donor.name, "recipient": recipient.name, "action": decision.action,
                   "fraction": decision.fraction, "step": step, "game": game,
                   "round": round_index}
            donor.acts.append(act)
            donor.act_steps.append(step)
            donor.shares_given.append(decision.fraction if decision.action == "donate" else 0.0)
            donation_rows.append({
                "step": step, "generation": generation, "game": game, "round": round_index,
                "donor": donor.name, "recipient": recipient.name, "action": decision.action,
                "fraction": decision.fraction, "amount": amount, "effect": effect,
                "donor_before": held, "recipient_before": start[recipient.name],
                "source": donor.brain.brain_type,
            })
        for agent in self.agents:
            agent.resources = max(0.0, start[agent.name] + delta[agent.name])
        if self.memory is not None:
            memories: dict[Donor, list[str]] = {agent: [] for agent in self.agents}
            for (donor, recipient, _), row in zip(requests, donation_rows, strict=True):
                act = donor.acts[-1]
                memories[donor].append(describe_act(act, row["amount"], row["effect"],
                                                    as_donor=True))
                memories[recipient].append(describe_act(act, row["amount"], row["effect"],
                                                        as_donor=False))
            yield from self.memory.remember_round(memories, generation)
        self._record_round(generation, game, round_index, donation_rows)
        self.step += 1
        total_rounds = config.rounds_per_game
        self.world.report_progress(
            self.step,
            f"generation {generation + 1}/{config.generations}",
            f"game {game + 1}/{config.games} round {round_index + 1}/{total_rounds}",
        )
        yield self.world.env.timeout(1)

    def _allowed(self, decision: Donation) -> Donation:
        """A sanction the game does not offer (a rule brain's, or an LLM's stray answer) is
        played as giving nothing."""
        if decision.action == "punish" and not self.config.costly_punishment:
            return GIVE_NOTHING
        if decision.action == "refuse" and not self.config.partner_choice:
            return GIVE_NOTHING
        return decision

    def _record_round(self, generation: int, game: int, round_index: int,
                      donation_rows: list[dict[str, Any]]) -> None:
        step = self.step
        resources = np.array([a.resources for a in self.agents])
        given = np.array([r["fraction"] if r["action"] == "donate" else 0.0
                          for r in donation_rows])
        self._insert("donations", donation_rows)
        self._insert("agent_rounds", [
            {"step": step, "generation": generation, "game": game, "round": round_index,
             "agent_id": a.name, "resources": a.resources} for a in self.agents
        ])
        values = {
            "mean_resources": resources.mean(), "min_resources": resources.min(),
            "max_resources": resources.max(),
            "mean_fraction": given.mean() if given.size else 0.0,
            "min_fraction": given.min() if given.size else 0.0,
            "max_fraction": given.max() if given.size else 0.0,
            "punishments": sum(r["action"] == "punish" for r in donation_rows),
        }
        self._insert("metrics", [
            {"scope": "round", "step": step, "generation": generation, "game": game,
             "round": round_index, "name": name, "value": float(value)}
            for name, value in values.items()
        ])
        self._commit()

    def _select(self, generation: int, order: list[int], *, select: bool) -> list[Donor]:
        """Score and rank the generation; with `select`, keep the survivors, remove the rest.

        Ranking is by `selection_score` ('top'), by reputation (the mean share an agent gave),
        or, for 'random' selection, by score with a random survivor set. Ties fall to the
        generation's shuffled order, as in the study (its sort is stable over a shuffled list).
        Without `select` (the last generation, unless `final_selection`) nobody is removed and
        `survived` is left empty: no selection happened.
        """
        config, agents = self.config, self.agents
        finals = np.array([a.final_resources for a in agents], dtype=float)
        final_mean = finals.mean(axis=1)
        scores = finals[:, -1] if config.selection_score == "last_game" else final_mean
        shares = np.array([np.mean(a.shares_given) if a.shares_given else 0.0 for a in agents])
        position = {slot: place for place, slot in enumerate(order)}
        slot_of = [i for i, slot in enumerate(self.slots) if slot.agent is not None]
        ranked_by = shares if config.selection == "reputation" else scores
        ranking = sorted(range(len(agents)), key=lambda i: (-ranked_by[i], position[slot_of[i]]))
        if not select:
            survivors: set[str] | None = None
        elif config.selection == "random":
            drawn = self.rng.permutation(len(agents))[: config.survivors]
            survivors = {agents[int(i)].name for i in drawn}
        else:
            survivors = {agents[i].name for i in ranking[: config.survivors]}
        self._insert("generation_scores", [
            {"generation": generation, "agent_id": agents[i].name,
             "brain": agents[i].brain.brain_type, "kind": agents[i].brain.kind,
             "score": float(scores[i]), "final_mean": float(final_mean[i]),
             "share_given": float(shares[i]), "rank": rank,
             "survived": None if survivors is None else int(agents[i].name in survivors)}
            for rank, i in enumerate(ranking)
        ])
        values = {
            "mean_score": scores.mean(), "min_score": scores.min(), "max_score": scores.max(),
            "mean_final": final_mean.mean(), "min_final": final_mean.min(),
            "max_final": final_mean.max(),
            "mean_fraction": shares.mean(), "min_fraction": shares.min(),
            "max_fraction": shares.max(),
        }
        self._insert("metrics", [
            {"scope": "generation", "step": None, "generation": generation, "game": None,
             "round": None, "name": name, "value": float(value)}
            for name, value in values.items()
        ])
        if survivors is None:
            return []
        kept = []
        for slot in self.slots:
            assert slot.agent is not None
            if slot.agent.name in survivors:
                kept.append(slot.agent)
            else:
                del self.by_name[slot.agent.name]
                slot.agent.remove()
                slot.agent = None
        return kept

    # -- store helpers --------------------------------------------------------------------
    def _insert(self, table: str, rows: list[dict[str, Any]]) -> None:
        if self.store is not None:
            self.store.insert(table, rows)

    def _commit(self) -> None:
        if self.store is not None:
            self.store.commit()
