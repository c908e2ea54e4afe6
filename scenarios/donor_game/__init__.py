"""The Donor Game across generations (Vallinder & Hughes 2024), with classic rule baselines.

See `docs/donor_game.md` for the protocol as implemented, point by point against the study
(Vallinder & Hughes 2024, "Cultural Evolution of Cooperation among LLM Agents") and its
released notebook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.evolution import newcomers_per_generation
from sim.registry import ScenarioSpec, UsageEstimate
from sim.store import RunStore

if TYPE_CHECKING:
    from scenarios.donor_game.config import DonorGameConfig


def summary_table(store: RunStore) -> tuple[list[str], list[list[Any]]]:
    """Per generation: final resources averaged over its games (mean, min, max over agents:
    the study's headline) and the average share given."""
    rows = store.rows(
        "SELECT generation, name, value FROM metrics WHERE scope = 'generation' "
        "ORDER BY generation"
    )
    by_generation: dict[int, dict[str, float]] = {}
    for generation, name, value in rows:
        by_generation.setdefault(generation, {})[name] = value
    headers = ["generation", "mean resources", "min", "max", "share given"]
    table = [
        [g + 1, *(v.get(f"{stat}_final", v[f"{stat}_score"]) for stat in ("mean", "min", "max")),
         v["mean_fraction"]]
        for g, v in sorted(by_generation.items())
    ]
    return headers, table


def estimate(config: DonorGameConfig) -> UsageEstimate:
    """Calls of LLM-brained agents and their prompt sizes, from the protocol's structure."""
    from scenarios.donor_game.tasks import sample_prompt_tokens

    llm_share = config.brains.get("llm", 0) / sum(config.brains.values())
    pairs_per_round = config.agents if config.pairing == "random" else config.agents // 2
    donations = config.generations * config.games * config.rounds_per_game * pairs_per_round
    strategies = config.agents + (config.generations - 1) * newcomers_per_generation(config)
    donate_tokens, strategy_tokens = sample_prompt_tokens(config)
    calls = round(llm_share * (donations + strategies))
    return UsageEstimate(
        calls=calls,
        prompt_tokens=round(llm_share * (donations * donate_tokens
                                         + strategies * strategy_tokens)),
        max_completion_tokens=calls * config.max_tokens,
    )


#: Peak memory per agent, the slope of peak RSS between 8,000 and 32,000 rule agents
#: (`benchmarks/memory_estimate.py` prints measured/estimated); memory streams add a fixed part
#: per agent and one per agent and round played, since records are kept for the whole run.
BYTES_PER_AGENT = 3_000
BYTES_PER_AGENT_WITH_MEMORY = 30_000
BYTES_PER_AGENT_ROUND_OF_MEMORY = 3_500


def memory_estimate(config: DonorGameConfig) -> int:
    """Peak bytes a run holds beyond the interpreter, linear in the population."""
    per_agent = BYTES_PER_AGENT
    if config.memory:
        rounds = config.generations * config.games * config.rounds_per_game
        per_agent += BYTES_PER_AGENT_WITH_MEMORY + BYTES_PER_AGENT_ROUND_OF_MEMORY * rounds
    return config.agents * per_agent


SCENARIO = ScenarioSpec(
    name="donor-game",
    summary="Donor Game across generations (Vallinder & Hughes 2024): indirect reciprocity",
    config_type="scenarios.donor_game.config:DonorGameConfig",
    model="scenarios.donor_game.game:DonorGame",
    summary_table=summary_table,
    estimate=estimate,
    memory_estimate=memory_estimate,
    analysis="scenarios.donor_game.analysis:ANALYSIS",
)


def __getattr__(name: str) -> Any:
    """`DonorGame` and `DonorGameConfig` from this package, as before: imported when asked
    for (`societas list` reads `SCENARIO` without them)."""
    if name in ("DonorGame", "DonorGameConfig"):
        return getattr(SCENARIO, "model" if name == "DonorGame" else "config_type")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
