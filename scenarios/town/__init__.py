"""The generative town: residents living days on a SimPy clock in minutes, planning,
perceiving, talking and remembering (Park et al. 2023), with seeded news and generations.

Built only with the engine's public API; `docs/town.md` describes the town file, a day, the
brains, intentions, generations and every config key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim import RunStore, ScenarioSpec, UsageEstimate

if TYPE_CHECKING:
    from scenarios.town.config import TownConfig


def summary_table(store: RunStore) -> tuple[list[str], list[list[Any]]]:
    """Per day: conversations, utterances, network density, and who knows each topic by the
    day's end."""
    by_day: dict[int, dict[str, float]] = {}
    for step, name, value in store.rows(
            "SELECT step, name, value FROM metrics WHERE scope = 'day'"):
        by_day.setdefault(step, {})[name] = value
    topics = [t for (t,) in store.rows("SELECT topic FROM intentions")]
    knowers: dict[tuple[int, str], int] = {}
    for topic, day, count in store.rows(
            "SELECT topic, day, COUNT(*) FROM knowledge GROUP BY topic, day"):
        knowers[(day, topic)] = count
    headers = ["day", "conversations", "utterances", "network density",
               *[f"know {t}" for t in topics]]
    rows = []
    for day, values in sorted(by_day.items()):
        known = [sum(c for (d, t), c in knowers.items() if t == topic and d <= day)
                 for topic in topics]
        rows.append([day + 1, int(values.get("conversations", 0)),
                     int(values.get("utterances", 0)), values.get("network_density", 0.0),
                     *known])
    return headers, rows


def estimate(config: TownConfig) -> UsageEstimate:
    from scenarios.town.budget import estimate_usage

    return estimate_usage(config)


SCENARIO = ScenarioSpec(
    name="town",
    summary="A generative town: residents plan, talk, remember and pass news on "
            "(Park et al. 2023)",
    config_type="scenarios.town.config:TownConfig",
    model="scenarios.town.model:Town",
    summary_table=summary_table,
    estimate=estimate,
    analysis="scenarios.town.analysis:ANALYSIS",
    interviews="scenarios.town.interview:INTERVIEWS",
)


def __getattr__(name: str) -> Any:
    """`Town` and `TownConfig` from this package, as before: imported when asked
    for (`societas list` reads `SCENARIO` without them)."""
    if name in ("Town", "TownConfig"):
        return getattr(SCENARIO, "model" if name == "Town" else "config_type")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
