"""Populations across generations: slots, brain mixes, reproduction, inheritance, lineage.

Cultural-evolution scenarios share one skeleton. A population has a fixed number of *slots*,
each with a brain kind that never changes ('llm' or a rule family), so a mixed population stays
mixed while its contents evolve. After a generation has played, `select` ranks the members on
the scenario's scores and the run's reproduction scheme (`sim.evolution`: truncation,
Wright–Fisher, Moran, tournament or one of your own) says who keeps a place; the others leave
the model. `populate` then fills every empty slot with a newcomer whose parents the scheme
draws from the generation that played:

- a rule newcomer has one parent, a rule-brained member, and inherits its rule through the
  run's mutation operator (`gaussian` by default), or a fresh rule of its slot's family when
  there is no generation before it;
- an LLM newcomer has `llm_parents` parents drawn from every member and a fresh model brain; it
  reads their strategy texts (`advice`), or with `advice = "survivors"` every survivor's.

The engine tables `agents` (with each newcomer's parents), `strategies` and
`generation_scores` are written here, so analysis reads every population scenario alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from sim.agent import SimAgent
from sim.brains import Brain, LLMBrain, RuleBrain
from sim.config import RunConfig
from sim.evolution import FITNESS, MUTATION, REPRODUCTION, Pool
from sim.evolution.checks import fitness_of, mutation_of, probe, reproduction_of
from sim.lean_mesa import mesa
from sim.rules import RuleFamilies

if TYPE_CHECKING:
    from sim.world import World

SelectionMethod = Literal["top", "proportional", "random"]

#: Engine tables every population scenario writes (besides `agents`, an engine table).
POPULATION_TABLES: dict[str, dict[str, str]] = {
    "strategies": {
        "agent_id": "TEXT", "generation": "INTEGER", "text": "TEXT", "source": "TEXT",
        "parents": "TEXT",
    },
    "generation_scores": {
        "generation": "INTEGER", "agent_id": "TEXT", "brain": "TEXT", "kind": "TEXT",
        "score": "REAL", "rank": "INTEGER",
        "survived": "INTEGER",  # NULL when no selection followed (e.g. the last generation)
    },
}


class PopulationConfig(RunConfig):
    """The keys of every population scenario; a scenario's config subclasses this and names
    its rule families in `RULE_FAMILIES`."""

    #: The scenario's rule families, which `brains` may name (set by each scenario).
    RULE_FAMILIES: ClassVar[tuple[str, ...]] = ()

    agents: int = Field(12, ge=2, description="Population size of every generation.")
    generations: int = Field(10, ge=1, description="Generations per run.")
    brains: dict[str, float] = Field(
        default_factory=dict,
        description="The population's mix: brain kind → share (normalised). Kinds: 'llm', "
        "'rule' (an even mix of the scenario's rule families) or one rule family by name. "
        "Empty: all 'llm' when a model is set, else all 'rule'.",
    )
    survivor_fraction: float = Field(
        0.5, gt=0, lt=1, description="Share of the population that survives each generation."
    )
    mutation_sd: float = Field(
        0.05, ge=0, description="SD of the Gaussian mutation of an inherited rule's parameters."
    )
    reproduction: str = Field(
        "truncation",
        description="How a generation gives way to the next: 'truncation' (the best "
        "survivor_fraction stay, newcomers descend from them), 'wright_fisher' (everyone is "
        "replaced; each newcomer's parent drawn with replacement in proportion to fitness), "
        "'moran' (one member drawn at random dies and the offspring of one drawn in proportion "
        "to fitness takes its place: a generation is one step of the process), 'tournament' "
        "(everyone is replaced; each parent the best of tournament_size members drawn at "
        "random), or a scheme registered with sim.evolution.register_reproduction.",
    )
    fitness: str = Field(
        "payoff",
        description="How scores become chances of reproducing (Wright-Fisher, Moran, "
        "proportional survivors): 'payoff' (the score, negative counted as 0), 'exponential' "
        "(exp(selection_strength x score)), or one registered with "
        "sim.evolution.register_fitness.",
    )
    selection_strength: float = Field(
        1.0, ge=0, description="w of exponential fitness: 0 is neutral, larger is stronger."
    )
    mutation: str = Field(
        "gaussian",
        description="How a rule newcomer's rule differs from its parent's: 'gaussian' "
        "(parameters jittered by mutation_sd), 'jump' (with probability mutation_rate a random "
        "rule of a family in the brains mix, parameters uniform in their ranges; else a copy), "
        "'none' (a copy), or one registered with sim.evolution.register_mutation.",
    )
    mutation_rate: float = Field(
        0.05, ge=0, le=1, description="mu of 'jump' mutation: the chance a newcomer's rule jumps."
    )
    tournament_size: int = Field(
        2, ge=1, description="Members drawn for each tournament ('tournament' reproduction)."
    )
    llm_parents: int = Field(
        1, ge=1, description="Parents of an LLM newcomer, drawn as the reproduction scheme "
        "draws a parent; it reads their strategy texts before it plays.",
    )
    advice: Literal["parents", "survivors"] = Field(
        "parents",
        description="What an LLM newcomer reads before it plays: its parents' strategies, or "
        "every survivor's (as in the Donor Game study); where nobody survives "
        "(wright_fisher, tournament), its parents'.",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_brains(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("brains"):
            data = {**data, "brains": {"llm": 1.0} if data.get("model") else {"rule": 1.0}}
        return data

    @model_validator(mode="after")
    def _check_population(self) -> PopulationConfig:
        kinds = ("llm", "rule", *self.RULE_FAMILIES)
        unknown = sorted(set(self.brains) - set(kinds))
        if unknown:
            raise ValueError(
                f"unknown brain kind(s) {unknown} in brains (known: {', '.join(kinds)})"
            )
        if any(share < 0 for share in self.brains.values()) or sum(self.brains.values()) <= 0:
            raise ValueError("brains shares must be non-negative and not all zero")
        if self.brains.get("llm", 0) > 0 and not self.model:
            raise ValueError("brains include 'llm' but no model is set (use --model)")
        if not 1 <= self.survivors < self.agents:
            raise ValueError("survivor_fraction leaves no survivors or no newcomers")
        for key, registry in (("reproduction", REPRODUCTION), ("fitness", FITNESS),
                              ("mutation", MUTATION)):
            registry.get(getattr(self, key))  # ValueError naming the known ones
        probe(self)  # a user's scheme or fitness asked once: its mistakes refused up front
        if self.tournament_size > self.agents:
            raise ValueError(f"tournament_size ({self.tournament_size}) is larger than the "
                             f"population (agents = {self.agents})")
        return self

    @property
    def survivors(self) -> int:
        return round(self.agents * self.survivor_fraction)


def allocate(brains: Mapping[str, float], n: int, families: Sequence[str]) -> list[str]:
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
            kinds += [families[i % len(families)] for i in range(count)]
        else:
            kinds += [kind] * count
    return kinds


class Member(SimAgent):
    """An agent of an evolving population: when it was born, from whom, and its strategy text
    (the culture newcomers read). Scenarios subclass it for their own state."""

    def __init__(self, model: World, *, name: str, brain: Brain, generation: int,
                 parents: list[str]) -> None:
        super().__init__(model, name=name, brain=brain)
        self.generation_born = generation
        self.parents = parents
        self.strategy = ""

    def start_generation(self) -> None:
        """Reset what the member tallies over one generation; the generations-of-rounds driver
        (`sim.GenerationsOfRounds`) calls it on every member before the first round."""


@dataclass
class Slot:
    """A place in the population; its brain kind ('llm' or a rule family) is fixed."""

    kind: str
    agent: Member | None = None


class Population:
    """The slots of one population and the generations that fill them; see the module doc."""

    def __init__(
        self,
        model: World,
        config: PopulationConfig,
        families: RuleFamilies,
        *,
        member: Callable[..., Member] = Member,
        score_columns: Mapping[str, str] | None = None,
    ) -> None:
        self.model = model
        self.config = config
        self.families = families
        self.member = member
        self.llm_settings = config.llm_settings() if config.model else None
        self.slots = [Slot(kind) for kind in allocate(config.brains, config.agents,
                                                      families.names)]
        self.by_name: dict[str, Member] = {}  # the living members, by name
        # a scheme of the user's own comes wrapped, every answer checked (sim.evolution.checks)
        self.reproduction = reproduction_of(config)
        self.fitness = fitness_of(config)
        self.mutation = mutation_of(config)
        #: The families a rule may jump to: those the brains mix names (all for 'rule').
        named = [f for f in families.names if config.brains.get(f, 0) > 0]
        self.mutant_families = (families if config.brains.get("rule", 0) > 0 or not named
                                else RuleFamilies(families[f] for f in named))
        #: The generation that played last, as `select` left it: newcomers' parents come from it.
        self.previous: list[Member] = []
        self._pool: Pool | None = None
        self._culture: list[tuple[str, str]] = []
        self._texts: dict[str, str] | None = None  # previous's strategies by name, when asked
        #: Extra columns of `generation_scores` the scenario fills (e.g. its headline measure).
        self.score_columns = dict(score_columns or {})
        #: The last `select`'s ranking, best first, by name (survivors and leavers alike): a
        #: scenario that shows newcomers the survivors' strategies best first orders by it.
        self.ranking: list[str] = []
        if model.store is not None:
            for name, columns in POPULATION_TABLES.items():
                if name == "generation_scores":
                    columns = {**columns, **self.score_columns}
                model.store.define_table(name, columns)

    # -- who is alive ------------------------------------------------------------------------
    @property
    def members(self) -> list[Member]:
        """The living members in slot order (the order every per-agent table follows)."""
        return [slot.agent for slot in self.slots if slot.agent is not None]

    def agent_set(self) -> mesa.agent.AgentSet:
        """The living members as a Mesa `AgentSet`, for selecting and grouping them."""
        return mesa.agent.AgentSet(self.members, random=self.model.random)

    def shuffled_order(self) -> list[int]:
        """A seeded random order of the slots: the generation's pairings and tie-breaks."""
        return [int(i) for i in self.model.rng.permutation(len(self.slots))]

    # -- newcomers ---------------------------------------------------------------------------
    def populate(self, generation: int, survivors: Sequence[Member] = ()) -> list[Member]:
        """Fill every empty slot with a newcomer, record it with its parents, return them.

        Parents are drawn by the reproduction scheme from the generation the last `select`
        ranked (`previous`); before any selection the newcomers are founders. (`survivors` is
        what `select` returned; it is accepted for the scenarios that pass it, not needed.)
        """
        rng, pool, previous = self.model.rng, self._pool, self.previous
        # the candidates of each kind of place, one list each for every newcomer of that kind
        everyone = list(range(len(previous)))
        rule_parents = [i for i, a in enumerate(previous) if isinstance(a.brain, RuleBrain)]
        newcomers, rows = [], []
        for index, slot in enumerate(self.slots):
            if slot.agent is not None:
                continue
            name = f"g{generation}-a{index:02d}"
            brain: Brain
            if slot.kind == "llm":
                assert self.llm_settings is not None
                drawn = (self.reproduction.parents(pool, everyone, self.config.llm_parents)
                         if pool is not None and previous else [])
                brain, parents = LLMBrain(self.llm_settings), [previous[i].name for i in drawn]
            elif (drawn := self.reproduction.parents(pool, rule_parents, 1)
                  if pool is not None and rule_parents else []):
                parent = previous[drawn[0]]
                policy = self.mutation(parent.brain.policy, rng, self.config,
                                       self.mutant_families)
                brain, parents = RuleBrain(policy), [parent.name]
            else:
                family = slot.kind if slot.kind in self.families else self.families.names[
                    int(rng.integers(len(self.families.names)))
                ]
                brain, parents = RuleBrain(self.families.make(family)), []
            agent = self.member(self.model, name=name, brain=brain, generation=generation,
                                parents=parents)
            slot.agent = self.by_name[name] = agent
            newcomers.append(agent)
            rows.append({
                "agent_id": name, "generation": generation, "brain": brain.brain_type,
                "kind": brain.kind, "model": getattr(brain, "model", None),
                "params": brain.describe(), "parents": parents,
            })
        self.model.record("agents", rows)
        return newcomers

    def advice(self, newcomer: Member) -> list[tuple[str, str]]:
        """The strategy texts (author, text) a newcomer is shown before it writes its own: its
        parents' (an LLM newcomer's, with `advice = "parents"`), else every survivor's (one
        list shared by all newcomers), or its parents' where nobody survived. Rule newcomers
        describe their rule and read nothing; they are shown the survivors', as before
        reproduction schemes existed, so that stores of earlier versions stay the same."""
        by_parents = (self.config.advice == "parents"
                      and not isinstance(newcomer.brain, RuleBrain)) or not self._culture
        if not by_parents:
            return self._culture
        if self._texts is None:  # once per generation, not once per newcomer
            self._texts = {a.name: a.strategy for a in self.previous}
        return [(parent, self._texts[parent]) for parent in newcomer.parents
                if parent in self._texts]

    @staticmethod
    def culture(survivors: Sequence[Member]) -> list[tuple[str, str]]:
        """Every survivor's strategy text with its author. One list for all newcomers of a
        generation (a copy each would grow with the population squared)."""
        return [(a.name, a.strategy) for a in survivors]

    def record_strategies(self, generation: int, agents: Sequence[Member]) -> None:
        """Store the strategy texts these agents just wrote (rule brains describe their rule)."""
        self.model.record("strategies", [
            {"agent_id": a.name, "generation": generation, "text": a.strategy,
             "source": a.brain.brain_type, "parents": a.parents}
            for a in agents
        ])

    # -- selection ---------------------------------------------------------------------------
    def select(
        self,
        generation: int,
        scores: Sequence[float],
        order: Sequence[int],
        *,
        method: SelectionMethod = "top",
        keep: bool = True,
        extra: Mapping[str, Sequence[float]] | None = None,
    ) -> list[Member]:
        """Rank the members (slot order) by `scores`, record the ranking, keep the survivors.

        Ties fall to `order`, the generation's shuffled order of slots. Who survives is the
        reproduction scheme's answer: under truncation, `top` keeps the best
        `survivor_fraction`, `proportional` draws that many without replacement in proportion
        to fitness, `random` uniformly. With `keep=False` (no selection after this generation)
        nobody leaves and `survived` is recorded as NULL. `extra` fills the scenario's
        `score_columns`. Returns the survivors in slot order.
        """
        members = self.members
        slot_of = [i for i, slot in enumerate(self.slots) if slot.agent is not None]
        position = {slot: place for place, slot in enumerate(order)}
        values = np.asarray(scores, dtype=float)
        ranking = sorted(range(len(members)), key=lambda i: (-values[i], position[slot_of[i]]))
        self.ranking = [members[i].name for i in ranking]
        survivors = None
        if keep:
            config = self.config
            pool = Pool(values, np.asarray(self.fitness(values, config), dtype=float),
                        self.model.rng, ranking, survivors=config.survivors, method=method,
                        tournament_size=config.tournament_size, config=config)
            pool.kept = np.zeros(len(members), dtype=bool)
            pool.kept[list(self.reproduction.survivors(pool))] = True
            survivors = {members[i].name for i in np.flatnonzero(pool.kept)}
        extra = extra or {}
        self.model.record("generation_scores", [
            {"generation": generation, "agent_id": members[i].name,
             "brain": members[i].brain.brain_type, "kind": members[i].brain.kind,
             "score": float(values[i]), "rank": rank,
             "survived": None if survivors is None else int(members[i].name in survivors),
             **{column: float(extra[column][i]) if column in extra else None
                for column in self.score_columns}}
            for rank, i in enumerate(ranking)
        ])
        self._texts = None
        if survivors is None:
            self._pool, self.previous, self._culture = None, [], []
            return []
        self._pool, self.previous = pool, members
        for slot in self.slots:
            if slot.agent is not None and slot.agent.name not in survivors:
                del self.by_name[slot.agent.name]
                slot.agent.remove()
                slot.agent = None
        kept = [a for a in members if a.name in survivors]
        self._culture = self.culture(kept)
        return kept
