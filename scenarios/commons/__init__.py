"""A commons harvest in the spirit of GovSim (Piatti et al. 2024, "Cooperate or Collapse"):
fishers share a lake that regrows, choose each season how much to catch, and may talk between
seasons; sustainability is the headline.

Built only with the engine's public API (`from sim import ...`, `sim.llm`, `sim.memory`);
`docs/commons.md` describes the fishery, its keys, metrics and the checks it passes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim import RunStore, ScenarioSpec, UsageEstimate, newcomers_per_generation

if TYPE_CHECKING:
    from scenarios.commons.config import CommonsConfig


def summary_table(store: RunStore) -> tuple[list[str], list[list[Any]]]:
    """Per generation: seasons survived, total harvest, mean stock, inequality, over-usage."""
    by_generation: dict[int, dict[str, float]] = {}
    for generation, name, value in store.rows(
            "SELECT generation, name, value FROM metrics WHERE scope = 'generation'"):
        by_generation.setdefault(generation, {})[name] = value
    headers = ["generation", "seasons survived", "collapsed", "total harvest", "mean stock",
               "gini of catches", "over-usage"]
    rows = [[g + 1, int(v["seasons_survived"]), "yes" if v["collapsed"] else "no",
             v["total_harvest"], v["mean_stock"], v["gini"], v["over_usage"]]
            for g, v in sorted(by_generation.items())]
    return headers, rows


def estimate(config: CommonsConfig) -> UsageEstimate:
    """Calls of LLM-brained fishers if every generation lasts all its seasons (a collapse
    ends one sooner), and their prompt sizes, from the rendered prompts (a strategy prompt
    counted as large as a catch prompt)."""
    from scenarios.commons.tasks import sample_prompt_tokens

    llm_share = config.brains.get("llm", 0) / sum(config.brains.values())
    harvests = config.generations * config.seasons * config.agents
    talks = (config.generations * (config.seasons - 1) * config.agents * config.utterances
             if config.discussion else 0)
    strategies = (config.agents + (config.generations - 1) * newcomers_per_generation(config)
                  if config.generations > 1 else 0)
    harvest_tokens, speak_tokens = sample_prompt_tokens(config)
    calls = round(llm_share * (harvests + talks + strategies))
    return UsageEstimate(
        calls=calls,
        prompt_tokens=round(llm_share * (harvests * harvest_tokens + talks * speak_tokens
                                         + strategies * harvest_tokens)),
        max_completion_tokens=calls * config.max_tokens,
    )


SCENARIO = ScenarioSpec(
    name="commons",
    summary="Commons harvest: fishers share a regrowing lake, may talk between seasons; "
            "does the fishery survive? (GovSim, Piatti et al. 2024)",
    config_type="scenarios.commons.config:CommonsConfig",
    model="scenarios.commons.game:CommonsGame",
    summary_table=summary_table,
    estimate=estimate,
    analysis="scenarios.commons.analysis:ANALYSIS",
)


def __getattr__(name: str) -> Any:
    """`CommonsGame` and `CommonsConfig` from this package, as before: imported when asked
    for (`societas list` reads `SCENARIO` without them)."""
    if name in ("CommonsGame", "CommonsConfig"):
        return getattr(SCENARIO, "model" if name == "CommonsGame" else "config_type")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
