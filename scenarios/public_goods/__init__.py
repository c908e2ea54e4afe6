"""A linear public goods game across generations, with optional costly punishment.

Built only with the engine's public API (`from sim import ...`), as the worked example of
`docs/authoring.md`; `docs/public_goods.md` describes the game, its keys and its figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim import RunStore, ScenarioSpec, UsageEstimate, newcomers_per_generation

if TYPE_CHECKING:
    from scenarios.public_goods.config import PublicGoodsConfig


def summary_table(store: RunStore) -> tuple[list[str], list[list[Any]]]:
    """Per generation: the mean contribution (share of the endowment) and total payoffs."""
    by_generation: dict[int, dict[str, float]] = {}
    for generation, name, value in store.rows(
            "SELECT generation, name, value FROM metrics WHERE scope = 'generation'"):
        by_generation.setdefault(generation, {})[name] = value
    headers = ["generation", "contribution share", "mean payoff", "min", "max"]
    rows = [[g + 1, v["mean_share"], v["mean_payoff"], v["min_payoff"], v["max_payoff"]]
            for g, v in sorted(by_generation.items())]
    return headers, rows


def estimate(config: PublicGoodsConfig) -> UsageEstimate:
    """Calls of LLM-brained members and their prompt sizes, from the rendered prompts."""
    from scenarios.public_goods.tasks import sample_prompt_tokens

    llm_share = config.brains.get("llm", 0) / sum(config.brains.values())
    per_round = config.agents * (2 if config.costly_punishment else 1)
    decisions = config.generations * config.rounds * per_round
    strategies = config.agents + (config.generations - 1) * newcomers_per_generation(config)
    decision_tokens, strategy_tokens = sample_prompt_tokens(config)
    calls = round(llm_share * (decisions + strategies))
    return UsageEstimate(
        calls=calls,
        prompt_tokens=round(llm_share * (decisions * decision_tokens
                                         + strategies * strategy_tokens)),
        max_completion_tokens=calls * config.max_tokens,
    )


SCENARIO = ScenarioSpec(
    name="public-goods",
    summary="Public goods game across generations, with optional costly punishment "
            "(Fehr & Gächter 2000)",
    config_type="scenarios.public_goods.config:PublicGoodsConfig",
    model="scenarios.public_goods.game:PublicGoodsGame",
    summary_table=summary_table,
    estimate=estimate,
    analysis="scenarios.public_goods.analysis:ANALYSIS",
)


def __getattr__(name: str) -> Any:
    """`PublicGoodsGame` and `PublicGoodsConfig` from this package, as before: imported when asked
    for (`societas list` reads `SCENARIO` without them)."""
    if name in ("PublicGoodsGame", "PublicGoodsConfig"):
        return getattr(SCENARIO, "model" if name == "PublicGoodsGame" else "config_type")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
