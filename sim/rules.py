"""Rule policies: the parametrised classic strategies rule brains play, and how they evolve.

A scenario's rule families (the Donor Game's image scoring, a public goods game's conditional
cooperator) subclass `RulePolicy` as frozen dataclasses whose fields are all float parameters
with a valid range in `bounds`. That is enough for the engine to validate them, store them as
JSON (`params`), rebuild them (`RuleFamilies.make`) and let them evolve: a newcomer inherits a
survivor's rule with every parameter jittered (`mutate`), a clipped random walk inside the
ranges (or another operator of `sim.evolution.mutation`). The policy's own `decide(observation)`
and `describe()` are the scenario's business.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, Self

import numpy as np

__all__ = ["RuleFamilies", "RulePolicy"]


class RulePolicy(ABC):
    """A rule brain's policy: a deterministic map from observation to decision.

    Subclasses are frozen dataclasses whose fields are all float parameters, each with a valid
    range in ``bounds``; the shared `params`, `mutate` and validation rely on that.
    """

    #: Stable family name, stored in the ``agents.kind`` column.
    family: ClassVar[str]
    #: Valid closed range of each parameter; mutation clips to it.
    bounds: ClassVar[dict[str, tuple[float, float]]] = {}

    def __post_init__(self) -> None:
        # Coerce ints (e.g. from TOML/JSON) to float and refuse out-of-range values early, so a
        # bad config fails at construction rather than as an invalid decision mid-run.
        for name in self._param_names():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise ValueError(f"{self.family}.{name} must be a number, got {value!r}")
            value = float(value)
            low, high = self.bounds[name]
            if not (math.isfinite(value) and low <= value <= high):
                raise ValueError(f"{self.family}.{name} must be in [{low}, {high}], got {value!r}")
            object.__setattr__(self, name, value)

    @classmethod
    def _param_names(cls) -> list[str]:
        """Parameter names in declaration order, which fixes the order of mutation draws."""
        return list(_field_names(cls))

    @abstractmethod
    def decide(self, observation: Mapping[str, Any]) -> Any:
        """The decision this policy makes given the observation."""

    @abstractmethod
    def describe(self) -> str:
        """A first-person strategy text, faithful to the rule, with its parameter values."""

    def params(self) -> dict[str, float]:
        """The parameters as a JSON-serialisable dict, accepted back by `RuleFamilies.make`."""
        return {name: getattr(self, name) for name in self._param_names()}

    def mutate(self, rng: np.random.Generator, sd: float) -> Self:
        """A new policy of the same family with every parameter jittered by Normal(0, sd).

        Each value is clipped to its range. The draws are taken in one call, in parameter
        declaration order, so the result depends only on the generator's state. Families without
        parameters draw nothing (the generator's state is untouched) and return an equal copy.
        """
        if not (math.isfinite(sd) and sd >= 0):
            raise ValueError(f"sd must be a finite number >= 0, got {sd!r}")
        names = self._param_names()
        if not names:
            return dataclasses.replace(self)  # type: ignore[type-var]
        noise = rng.normal(0.0, sd, size=len(names))
        changes = {}
        for name, step in zip(names, noise, strict=True):
            low, high = self.bounds[name]
            changes[name] = float(np.clip(getattr(self, name) + step, low, high))
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    @classmethod
    def random(cls, rng: np.random.Generator) -> Self:
        """A policy of this family with every parameter drawn uniformly in its range (what a
        `jump` mutation lands on), drawn in declaration order."""
        return cls(**{name: float(rng.uniform(*cls.bounds[name]))  # type: ignore[call-arg]
                      for name in cls._param_names()})


@functools.cache
def _field_names(cls: type) -> tuple[str, ...]:
    """A policy class's parameter names, read once per class (policies are made by the
    thousand: every newcomer of a big population)."""
    return tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]


class RuleFamilies(Mapping[str, type[RulePolicy]]):
    """A scenario's rule families by name: what `brains = {rule = 1}` spreads over, and what
    the config and the store name them by (a read-only mapping of name to policy class)."""

    def __init__(self, families: Iterable[type[RulePolicy]]) -> None:
        self.by_name: dict[str, type[RulePolicy]] = {cls.family: cls for cls in families}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.by_name)

    def __getitem__(self, name: str) -> type[RulePolicy]:
        return self.by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.by_name)

    def __len__(self) -> int:
        return len(self.by_name)

    def make(self, family: str, **params: float) -> RulePolicy:
        """Build a policy by family name, as configs and stored ``agents`` rows name them.

        Raises ValueError for an unknown family or parameter, so config mistakes read as such
        rather than as a TypeError from a constructor.
        """
        try:
            cls = self.by_name[family]
        except KeyError:
            raise ValueError(
                f"unknown rule family {family!r}; known families: {', '.join(sorted(self.by_name))}"
            ) from None
        accepted = cls._param_names()
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {unknown} for {family!r}; accepted: {accepted or 'none'}"
            )
        return cls(**params)
