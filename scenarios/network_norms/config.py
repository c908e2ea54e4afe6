"""The network norms scenario's configuration: the graph, the game, the update rule, the
seeded deviant, and who decides (the update rule, or LLM brains shown their neighbourhood).

Whether a graph can be built, and whether fitness stays positive on it, depends on the graph
itself (a scale-free graph's hubs earn the most extreme payoffs), so the validator builds it:
the graph is a function of the graph keys and the seed alone, and small enough to build twice.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from scenarios.network_norms.graphs import build_graph
from sim import RunConfig

GraphKind = Literal["ring", "small_world", "scale_free", "random_regular"]


class NetworkNormsConfig(RunConfig):
    """A two-strategy game with the neighbours on a graph; strategies spread by an update
    rule (rule brains) or by LLM brains' choices."""

    graph: GraphKind = Field(
        "random_regular",
        description="The graph: 'ring' (each node linked to its `degree` nearest nodes), "
        "'small_world' (a ring whose links are rewired with probability `rewiring`, kept "
        "connected; Watts & Strogatz), 'scale_free' (Barabási–Albert preferential attachment, "
        "`degree`/2 links per new node, so `degree` is the mean degree) or 'random_regular' "
        "(every node has exactly `degree` neighbours, drawn at random, connected).",
    )
    nodes: int = Field(24, ge=3, description="Number of nodes (agents) N.")
    degree: int = Field(
        3, ge=1, description="Degree k: neighbours of every node (ring, small world, random "
        "regular), or the mean degree (scale free). Must be even for ring, small_world and "
        "scale_free.",
    )
    rewiring: float = Field(
        0.1, ge=0, le=1, description="small_world only: probability that a ring link is rewired."
    )
    game: Literal["donation", "coordination"] = Field(
        "donation",
        description="'donation': a prisoner's dilemma in which a cooperator pays `cost` for "
        "each neighbour to receive `benefit`; strategies 'defect' (the resident) and "
        "'cooperate' (the seeded deviant). 'coordination': two norms 'A' (the resident) and "
        "'B' (the deviant) with the payoffs `payoff_aa` ... `payoff_bb`.",
    )
    benefit: float = Field(8.0, description="donation: b, what a cooperator gives each neighbour.")
    cost: float = Field(1.0, gt=0, description="donation: c, what that costs the cooperator, per "
                        "neighbour.")
    payoff_aa: float = Field(1.0, description="coordination: payoff of A meeting A.")
    payoff_ab: float = Field(0.0, description="coordination: payoff of A meeting B.")
    payoff_ba: float = Field(0.0, description="coordination: payoff of B meeting A.")
    payoff_bb: float = Field(1.5, description="coordination: payoff of B meeting B.")
    payoff: Literal["accumulated", "average"] = Field(
        "accumulated",
        description="A node's payoff: the sum of its games with all neighbours (Ohtsuki et al. "
        "2006), or their mean (the same dynamics on a regular graph with w scaled by 1/k).",
    )
    selection: float = Field(
        0.05, ge=0, le=1,
        description="Selection intensity w: fitness = 1 - w + w * payoff (0: neutral drift; "
        "small: weak selection, where the b/c > k rule holds).",
    )
    update_rule: Literal["death_birth", "imitation", "copy_better"] = Field(
        "death_birth",
        description="How rule-brained nodes change strategy, one elementary update at a time: "
        "'death_birth' (a random node dies; its neighbours compete for the empty place in "
        "proportion to fitness and the winner's strategy fills it), 'imitation' (a random "
        "node keeps its strategy or takes a neighbour's, in proportion to fitness, itself "
        "included) or 'copy_better' (a random node looks at a random neighbour and, if that "
        "neighbour's payoff is higher, copies its strategy with probability "
        "`copy_probability`).",
    )
    copy_probability: float = Field(
        0.5, ge=0, le=1, description="copy_better only: the chance of copying a better-off "
        "neighbour."
    )
    initial: Literal["single", "share"] = Field(
        "single",
        description="Where the deviant strategy starts: at one node drawn at random "
        "('single'), or at `initial_share` of the nodes drawn at random ('share').",
    )
    initial_share: float = Field(
        0.1, gt=0, lt=1, description="share only: fraction of nodes starting with the deviant "
        "strategy (at least one node, and at least one resident)."
    )
    steps: int = Field(
        400, ge=1, description="Most steps to run; a step is `updates_per_step` elementary "
        "updates of the rule-brained nodes and one chance to choose for each LLM-brained node."
    )
    updates_per_step: int | None = Field(
        None, ge=1, description="Elementary updates per step; None: the number of rule-brained "
        "nodes, so each revises about once a step."
    )
    stop_at_fixation: bool = Field(
        True, description="End the run once every node plays the same strategy (with rule "
        "brains only, nothing can change after that)."
    )
    record_every: int = Field(
        1, ge=1, description="Record the strategy shares every this many steps (the first, the "
        "last and the step of fixation are always recorded)."
    )
    brains: dict[str, float] = Field(
        default_factory=dict,
        description="Share of nodes by brain: 'rule' (the update rule decides) and 'llm' (the "
        "node's agent chooses, shown its neighbours' strategies and payoffs). Empty: all "
        "'llm' when a model is set, else all 'rule'. Nodes get their brains at random.",
    )
    llm_revision_probability: float = Field(
        0.5, gt=0, le=1, description="Chance that an LLM-brained node is asked to choose its "
        "strategy in a step (all those asked in a step are asked at once)."
    )

    @model_validator(mode="before")
    @classmethod
    def _default_brains(cls, data: object) -> object:
        if isinstance(data, dict) and not data.get("brains"):
            data = {**data, "brains": {"llm": 1.0} if data.get("model") else {"rule": 1.0}}
        return data

    @model_validator(mode="after")
    def _check(self) -> NetworkNormsConfig:
        unknown = sorted(set(self.brains) - {"rule", "llm"})
        if unknown:
            raise ValueError(f"unknown brain kind(s) {unknown} in brains (known: llm, rule)")
        if any(share < 0 for share in self.brains.values()) or sum(self.brains.values()) <= 0:
            raise ValueError("brains shares must be non-negative and not all zero")
        if self.brains.get("llm", 0) > 0 and not self.model:
            raise ValueError("brains include 'llm' but no model is set (use --model)")
        if self.game == "donation" and not self.benefit > self.cost:
            raise ValueError(f"benefit ({self.benefit:g}) must exceed cost ({self.cost:g}): "
                             "otherwise cooperating helps nobody and the game is no dilemma")
        if self.game == "coordination" and not (self.payoff_aa > self.payoff_ba
                                                and self.payoff_bb > self.payoff_ab):
            raise ValueError("a coordination game needs payoff_aa > payoff_ba and payoff_bb > "
                             "payoff_ab (each norm the best reply to itself), got "
                             f"aa={self.payoff_aa:g}, ab={self.payoff_ab:g}, "
                             f"ba={self.payoff_ba:g}, bb={self.payoff_bb:g}")
        if self.initial == "share":
            seeded = round(self.initial_share * self.nodes)
            if not 1 <= seeded < self.nodes:
                raise ValueError(f"initial_share {self.initial_share:g} of {self.nodes} nodes "
                                 f"seeds {seeded} deviants; it must seed at least one and leave "
                                 "at least one resident")
        graph = build_graph(self.graph, self.nodes, self.degree, self.rewiring, self.seed)
        # the lowest payoff: every neighbour of the busiest node playing the worst reply
        worst = float(self.payoff_matrix().min())
        if self.payoff == "accumulated":
            worst *= max(d for _, d in graph.degree())
        lowest = 1 - self.selection + self.selection * min(worst, 0.0)
        if lowest <= 0:
            raise ValueError(
                f"selection {self.selection:g} is too strong for these payoffs on this graph: "
                f"a node's fitness 1 - w + w * payoff could fall to {lowest:.3g} (payoff "
                f"{worst:g}); lower `selection` or the payoffs")
        return self

    def strategy_names(self) -> tuple[str, str]:
        """(resident, deviant): strategy 0 and strategy 1."""
        return ("defect", "cooperate") if self.game == "donation" else ("A", "B")

    def payoff_matrix(self) -> np.ndarray:
        """`m[own, other]`: what a node playing `own` earns from one neighbour playing `other`
        (0 the resident strategy, 1 the deviant)."""
        if self.game == "donation":
            b, c = self.benefit, self.cost
            return np.array([[0.0, b], [-c, b - c]])
        return np.array([[self.payoff_aa, self.payoff_ab], [self.payoff_ba, self.payoff_bb]])

    def threshold(self) -> float | None:
        """The b/c above which a single cooperator's fixation probability exceeds 1/N under
        weak selection and death-birth updating on a regular graph of degree k with N nodes:
        (N - 2) / (N/k - 2) (Ohtsuki et al. 2006, exact for the cycle and other bi-transitive
        graphs by Taylor, Day & Wild 2007; it tends to k as N grows). None where N <= 2k,
        where no b/c favours cooperation."""
        n, k = self.nodes, self.degree
        return (n - 2) / (n / k - 2) if n > 2 * k else None
