"""Which scenarios exist: the built-ins plus any registered by other packages.

Third-party scenarios register a `ScenarioSpec` object under the `societas.scenarios` entry
point group, so `societas list` and `societas run` find them without changes here. (`Spec`,
because Mesa has a `Scenario` class of its own, and a scenario's model may well use both.)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.scenario_analysis import NO_ANALYSIS, ScenarioAnalysis

if TYPE_CHECKING:
    from sim.config import RunConfig
    from sim.interviews import Interviews
    from sim.store import RunStore
    from sim.world import World

BUILTIN_SCENARIOS = {
    "donor-game": "scenarios.donor_game:SCENARIO",
    "public-goods": "scenarios.public_goods:SCENARIO",
    "commons": "scenarios.commons:SCENARIO",
    "network-norms": "scenarios.network_norms:SCENARIO",
    "ipd-tournament": "scenarios.ipd:SCENARIO",
    "town": "scenarios.town:SCENARIO",
}


@dataclass(frozen=True)
class ScenarioSpec:
    """What the engine needs to know about a scenario.

    `config_type` and `model` may be given as "module:attribute" strings, loaded on first use:
    `societas list` then reads every scenario's name and summary without importing its code
    (a model imports Mesa, and with it pandas and SciPy: a second of startup).
    """

    name: str
    summary: str
    config_type: type[RunConfig]
    #: The scenario's model: a `World` subclass built as `model(config, store=..., gateway=...)`
    #: whose __init__ creates the agents and starts the SimPy processes that are its rules.
    model: type[World]
    #: (headers, rows) of the end-of-run summary table, read from the store.
    summary_table: Callable[[RunStore], tuple[list[str], list[list[Any]]]] | None = None
    #: Deprecated: declare the figures as `RunFigure`s of the scenario's `analysis`, which
    #: `societas run` and `societas report` both draw. Still called (in place of those) by
    #: `societas run` for scenarios written before, with a `DeprecationWarning`.
    draw_figures: Callable[[Path], list[Path]] | None = None
    #: What a run with LLM brains will ask of its models, shown before it starts.
    estimate: Callable[[Any], UsageEstimate] | None = None
    #: Bytes a run with this config will hold in memory at its peak (beyond the interpreter),
    #: so that an impossible run is refused before it starts; None: not checked.
    memory_estimate: Callable[[Any], int] | None = None
    #: What `analysis` and `societas report` know about the scenario's runs: its tables,
    #: headline series, strategy labels, report sections and figures. A `ScenarioAnalysis`,
    #: or "module:attribute" naming one (loaded on first use, so that running a scenario
    #: never imports its plotting code); None: the generic analysis only.
    analysis: ScenarioAnalysis | str | None = None
    #: How the scenario's agents answer interviews after a run (`societas interview`,
    #: `sim.interviews`): an `Interviews`, or "module:attribute" naming one (loaded on first
    #: use); None: its agents cannot be interviewed.
    interviews: Interviews | str | None = None

    def __post_init__(self) -> None:
        if self.draw_figures is not None:
            warnings.warn(
                f"ScenarioSpec.draw_figures (scenario {self.name!r}) is deprecated: declare "
                "the figures as RunFigure(file, caption, draw) in its ScenarioAnalysis",
                DeprecationWarning, stacklevel=3)

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name in _LOADED_ON_USE and isinstance(value, str):
            value = _load(value)
            object.__setattr__(self, name, value)  # frozen to callers, not to its own cache
        return value

    def analysis_spec(self) -> ScenarioAnalysis:
        """The scenario's declared analysis (an empty one when it declares none)."""
        if self.analysis is None:
            return NO_ANALYSIS
        if isinstance(self.analysis, ScenarioAnalysis):
            return self.analysis
        declared = _load(self.analysis)
        if not isinstance(declared, ScenarioAnalysis):
            raise TypeError(f"{self.analysis} is not a ScenarioAnalysis")
        return declared


#: `ScenarioSpec` fields that may name their value as "module:attribute".
_LOADED_ON_USE = frozenset({"config_type", "model"})


def _load(target: str) -> Any:
    """The attribute "module:attribute" names."""
    module_name, _, attribute = target.partition(":")
    return getattr(__import__(module_name, fromlist=[attribute]), attribute)


@dataclass(frozen=True)
class UsageEstimate:
    """Model calls and tokens a run will need, before retries and repair re-prompts.

    Prompt tokens are estimated from the rendered prompts (about four characters a token);
    completion tokens are bounded by the config's `max_tokens`.
    """

    calls: int
    prompt_tokens: int
    max_completion_tokens: int

    def describe(self, model: str) -> str:
        text = (
            f"LLM brains use {model}: about {self.calls:,} model calls, "
            f"~{self.prompt_tokens:,} prompt tokens and at most "
            f"{self.max_completion_tokens:,} completion tokens"
        )
        cost = _price(model, self.prompt_tokens, self.max_completion_tokens)
        return text + (f", at most ~${cost:.2f}" if cost else "") + " (before retries/repairs)"


def _price(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """litellm's bundled price table (offline); None for models it does not price."""
    import sim._offline  # noqa: F401  (before litellm)

    try:
        import litellm

        litellm.suppress_debug_info = True  # else unknown models print a provider-list banner
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # unknown model, local server: no price to show
        return None
    return float(prompt_cost + completion_cost) or None


def approx_tokens(messages: list[dict[str, str]]) -> int:
    """A model-independent token estimate: about four characters a token, plus framing."""
    return sum(len(m["content"]) // 4 + 4 for m in messages)


class UnknownScenario(LookupError):
    pass


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _targets() -> dict[str, str]:
    targets = dict(BUILTIN_SCENARIOS)
    for entry in entry_points(group="societas.scenarios"):
        targets.setdefault(_normalise(entry.name), entry.value)
    return targets


def scenario_names() -> list[str]:
    return sorted(_targets())


def scenario_target(name: str) -> str:
    """Where a scenario is defined, as "module:attribute" ('donor-game' and 'donor_game' both
    work), without importing it."""
    targets = _targets()
    key = _normalise(name)
    if key not in targets:
        known = ", ".join(sorted(targets))
        raise UnknownScenario(f"unknown scenario {name!r} (available: {known})")
    return targets[key]


def get_scenario(name: str) -> ScenarioSpec:
    """Load a scenario by name ('donor-game' and 'donor_game' both work)."""
    module_name, _, attribute = scenario_target(name).partition(":")
    module = __import__(module_name, fromlist=[attribute])
    return getattr(module, attribute)
