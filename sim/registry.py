"""Which scenarios exist: the built-ins plus any registered by other packages.

Third-party scenarios register a `Scenario` object under the `societas.scenarios` entry point
group, so `societas list` and `societas run` find them without changes here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.config import RunConfig
    from sim.store import RunStore
    from sim.world import World

BUILTIN_SCENARIOS = {"donor-game": "scenarios.donor_game:SCENARIO"}


@dataclass(frozen=True)
class Scenario:
    """What the engine needs to know about a scenario."""

    name: str
    summary: str
    config_type: type[RunConfig]
    #: Creates the agents and starts the SimPy processes that are the scenario's rules.
    build: Callable[[World, Any], None]
    #: (headers, rows) of the end-of-run summary table, read from the store.
    summary_table: Callable[[RunStore], tuple[list[str], list[list[Any]]]] | None = None
    #: Draws the run's figures into `run_dir/figures`, returning the files written.
    draw_figures: Callable[[Path], list[Path]] | None = None
    #: A rough count of model calls, shown before a run with LLM brains starts.
    estimate_calls: Callable[[Any], int] | None = None


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


def get_scenario(name: str) -> Scenario:
    """Load a scenario by name ('donor-game' and 'donor_game' both work)."""
    targets = _targets()
    key = _normalise(name)
    if key not in targets:
        known = ", ".join(sorted(targets))
        raise UnknownScenario(f"unknown scenario {name!r} (available: {known})")
    module_name, _, attribute = targets[key].partition(":")
    module = __import__(module_name, fromlist=[attribute])
    return getattr(module, attribute)
