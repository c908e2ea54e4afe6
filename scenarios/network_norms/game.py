"""Norm diffusion on a network as a Mesa model whose rules are one SimPy process.

Each node of the graph (Mesa's `Network` space, one agent per cell) plays a two-strategy game
with all its neighbours. Each step is one unit of simulated time (one `step()`): the LLM-brained
nodes due to choose are asked all at once (one batch for the gateway), then the rule-brained
nodes go through `updates_per_step` elementary updates of the update rule, played by the same
numpy code (`dynamics.Populations`) that estimates fixation probabilities over thousands of
runs. The shares of the two strategies are committed every recorded step; the run ends at
fixation (when asked) or after `steps` steps.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import numpy as np
from mesa import DataCollector
from mesa.discrete_space import Network

from scenarios.network_norms.config import NetworkNormsConfig
from scenarios.network_norms.dynamics import Populations
from scenarios.network_norms.graphs import build_graph, neighbour_table
from scenarios.network_norms.tables import TABLES
from scenarios.network_norms.tasks import ChooseStrategy, GameRules
from sim import LLMBrain, RuleBrain, SimAgent, World

if TYPE_CHECKING:
    from sim import Gateway, RunStore


class UpdateRule:
    """A rule-brained node's brain: the update rule. Its decisions are made in bulk by
    `Populations.advance`, not one task at a time; it is here so the `agents` table says
    which rule (and which parameters) moved the node."""

    def __init__(self, config: NetworkNormsConfig) -> None:
        self.family = config.update_rule
        self._params = {"selection": config.selection}
        if config.update_rule == "copy_better":
            self._params["copy_probability"] = config.copy_probability

    def params(self) -> dict[str, float]:
        return dict(self._params)


class Node(SimAgent):
    """An agent at one node of the graph; its strategy lives in the model's arrays."""

    def __init__(self, model: NetworkNorms, *, node: int, brain: Any) -> None:
        super().__init__(model, name=f"n{node:0{len(str(model.config.nodes - 1))}d}",
                         brain=brain)
        self.node = node

    @property
    def strategy(self) -> str:
        model: NetworkNorms = self.model  # type: ignore[assignment]
        return model.names[int(model.populations.strategies()[0, self.node])]


class NetworkNorms(World):
    """`NetworkNorms(config).run_model()` plays a whole run in memory with rule brains, one
    step per `step()`; the runner adds a store and a gateway."""

    def __init__(self, config: NetworkNormsConfig | None = None, *,
                 store: RunStore | None = None, gateway: Gateway | None = None) -> None:
        config = config or NetworkNormsConfig()
        super().__init__(config, store=store, gateway=gateway)
        self.config: NetworkNormsConfig = config
        if store is not None:
            for name, columns in TABLES.items():
                store.define_table(name, columns)
        self.graph = build_graph(config.graph, config.nodes, config.degree, config.rewiring,
                                 config.seed)
        self.space = Network(self.graph, random=self.random, layout=None)
        self.names = config.strategy_names()
        n = config.nodes
        llm = self._llm_nodes()
        self.nodes: list[Node] = []
        for i in range(n):
            brain = LLMBrain(config.llm_settings()) if llm[i] else RuleBrain(UpdateRule(config))
            agent = Node(self, node=i, brain=brain)
            self.space[i].add_agent(agent)
            self.nodes.append(agent)
        self.rule_nodes = np.flatnonzero(~llm)
        self.llm_nodes = np.flatnonzero(llm)
        self.populations = Populations(
            neighbour_table(self.graph), self._initial_state(), config.payoff_matrix(),
            rule=config.update_rule, w=config.selection, average=config.payoff == "average",
            copy_probability=config.copy_probability)
        self.updates_per_step = config.updates_per_step or len(self.rule_nodes)
        self.game_rules = GameRules.from_config(config) if len(self.llm_nodes) else None
        self.updates = 0  # elementary updates played so far
        self.step_index = 0  # steps played so far (the `step` column)
        self.progress_total = config.steps
        #: One row per step, Mesa's way: `datacollector.get_model_vars_dataframe()`.
        self.datacollector = DataCollector(model_reporters={
            "step": "step_index", "updates": "updates", "deviant_share": "deviant_share"})
        self.process(self.play())

    # -- setting up ---------------------------------------------------------------------------
    def _llm_nodes(self) -> np.ndarray:
        """Which nodes have LLM brains: the `brains` share of them, drawn at random."""
        n, brains = self.config.nodes, self.config.brains
        count = round(n * brains.get("llm", 0.0) / sum(brains.values()))
        llm = np.zeros(n, dtype=bool)
        llm[self.rng.choice(n, size=count, replace=False)] = True
        return llm

    def _initial_state(self) -> np.ndarray:
        n, config = self.config.nodes, self.config
        seeded = 1 if config.initial == "single" else round(config.initial_share * n)
        state = np.zeros(n, dtype=np.int8)
        state[self.rng.choice(n, size=seeded, replace=False)] = 1
        return state

    # -- reading the state --------------------------------------------------------------------
    @property
    def deviant_share(self) -> float:
        return float(self.populations.deviants[0]) / self.config.nodes

    @property
    def fixed(self) -> bool:
        return bool(self.populations.fixed()[0])

    # -- the process --------------------------------------------------------------------------
    def play(self) -> Generator[Any, Any, None]:
        """The initial state, then steps until fixation or `steps`: the one SimPy process."""
        config = self.config
        self._record_graph()
        self._record_shares()
        self.commit()
        for step in range(1, config.steps + 1):
            if step > 1:
                yield self.env.timeout(1)  # one step, one unit of simulated time
            if len(self.llm_nodes):
                yield from self._ask_llm_nodes(step)
            self.populations.advance(self.updates_per_step, self.rng, self.rule_nodes)
            self.updates += self.updates_per_step if len(self.rule_nodes) else 0
            self.step_index = step
            self.datacollector.collect(self)
            done = self.fixed and config.stop_at_fixation
            if done or step % config.record_every == 0 or step == config.steps:
                self._record_shares()
            if done or step == config.steps:
                self._record_end()
            self.commit()
            self.report_progress(step, "steps", f"deviant share {self.deviant_share:.2f}")
            if done:
                return

    def _ask_llm_nodes(self, step: int) -> Generator[Any, Any, None]:
        """Every LLM-brained node due this step chooses, all at once; the choices take effect
        together, after everyone has chosen from the same state."""
        due = self.llm_nodes[self.rng.random(len(self.llm_nodes))
                             < self.config.llm_revision_probability]
        if not len(due):
            return
        strategies = self.populations.strategies()[0]
        payoffs = self.populations.payoffs_now()[0]
        events = []
        for i in due:
            neighbours = [{"name": self.nodes[j].name, "strategy": self.names[strategies[j]],
                           "payoff": float(payoffs[j])} for j in sorted(self.graph.neighbors(i))]
            events.append(self.nodes[i].decide(ChooseStrategy(self.game_rules, {
                "step": step, "agent": self.nodes[i].name, "node": int(i),
                "strategy": self.names[strategies[i]], "payoff": float(payoffs[i]),
                "neighbours": neighbours})))
        yield self.env.all_of(events)
        chosen = np.array([self.names.index(event.value) for event in events], dtype=np.int8)
        self.populations.set_strategies(np.zeros(len(due), dtype=np.int64), due, chosen)

    # -- the store ----------------------------------------------------------------------------
    def _record_graph(self) -> None:
        initial = self.populations.strategies()[0]
        self.record("agents", [
            {"agent_id": a.name, "generation": None, "brain": a.brain.brain_type,
             "kind": a.brain.kind, "model": getattr(a.brain, "model", None),
             "params": {"node": a.node, **a.brain.describe()}, "parents": []}
            for a in self.nodes])
        self.record("nodes", [
            {"node": a.node, "agent_id": a.name, "degree": self.graph.degree(a.node),
             "brain": a.brain.kind, "initial": self.names[initial[a.node]]}
            for a in self.nodes])
        self.record("edges", [{"source": min(u, v), "target": max(u, v)}
                              for u, v in sorted(self.graph.edges())])

    def _record_shares(self) -> None:
        strategies = self.populations.strategies()[0]
        payoffs = self.populations.payoffs_now()[0]
        n, rows = self.config.nodes, []
        for index, name in enumerate(self.names):
            mask = strategies == index
            count = int(mask.sum())
            rows.append({"step": self.step_index, "updates": self.updates, "strategy": name,
                         "count": count, "share": count / n,
                         "mean_payoff": float(payoffs[mask].mean()) if count else None})
        self.record("shares", rows)
        self.record("metrics", [
            {"scope": "step", "step": self.step_index, "generation": None,
             "name": f"share_{row['strategy']}", "value": row["share"]} for row in rows] + [
            {"scope": "step", "step": self.step_index, "generation": None,
             "name": "mean_payoff", "value": float(payoffs.mean())}])

    def _record_end(self) -> None:
        strategies = self.populations.strategies()[0]
        payoffs = self.populations.payoffs_now()[0]
        share = self.deviant_share
        result = ("fixation" if share == 1 else "extinction" if share == 0 else "coexistence")
        winner = self.names[int(strategies[0])] if self.fixed else None
        self.record("outcome", [{"result": result, "winner": winner, "step": self.step_index,
                                 "updates": self.updates, "deviant": self.names[1],
                                 "deviant_share": share}])
        self.record("final_states", [
            {"node": a.node, "agent_id": a.name, "strategy": self.names[strategies[a.node]],
             "payoff": float(payoffs[a.node])} for a in self.nodes])
