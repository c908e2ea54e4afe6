"""The iterated prisoner's dilemma tournament (Axelrod 1980), with a Moran process variant.

Built only with the engine's public API, like the public goods game; `docs/ipd.md` describes
the keys, the tables, the figures and the check against the Axelrod library.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim import RunStore, ScenarioSpec, UsageEstimate

if TYPE_CHECKING:
    from scenarios.ipd.config import IPDConfig


def summary_table(store: RunStore) -> tuple[list[str], list[list[Any]]]:
    """The ranking of a tournament; for a Moran process, the population of each generation."""
    ranked = store.rows("SELECT rank, player, score_per_turn, wins, cooperation FROM ranking "
                        "ORDER BY rank")
    if ranked:
        return (["rank", "player", "score per turn", "wins", "cooperation"],
                [list(row) for row in ranked])
    counts: dict[int, dict[str, int]] = {}
    for generation, strategy, count in store.rows(
            "SELECT generation, strategy, count FROM population ORDER BY generation"):
        counts.setdefault(generation, {})[strategy] = count
    strategies = sorted({s for by in counts.values() for s in by})
    # generations counted from 1, as the progress line counts them: the population that
    # played each generation, and last the one the last generation left
    return (["generation", *strategies],
            [[g + 1, *(by.get(s, 0) for s in strategies)] for g, by in sorted(counts.items())])


def estimate(config: IPDConfig) -> UsageEstimate:
    """Moves of LLM players and their prompt sizes (the history grows turn by turn); for a
    Moran process, as if the first population played every generation up to the cap."""
    from scenarios.ipd.tasks import sample_prompt_tokens
    from scenarios.ipd.tournament import round_robin

    strategies = config.strategies
    pairs = round_robin(len(strategies), self_play=config.self_play and not config.moran)
    seats = sum((strategies[i] == "llm") + (strategies[j] == "llm") for i, j in pairs)
    rounds = config.generations if config.moran else config.repetitions
    calls = seats * rounds * config.turns
    first, last = sample_prompt_tokens(config)
    return UsageEstimate(calls=calls, prompt_tokens=calls * (first + last) // 2,
                         max_completion_tokens=calls * config.max_tokens)


SCENARIO = ScenarioSpec(
    name="ipd-tournament",
    summary="Iterated prisoner's dilemma round robin of classic strategies and LLM players "
            "(Axelrod 1980), or a Moran process over it; checked against the Axelrod library",
    config_type="scenarios.ipd.config:IPDConfig",
    model="scenarios.ipd.game:IPDTournament",
    summary_table=summary_table,
    estimate=estimate,
    analysis="scenarios.ipd.analysis:ANALYSIS",
)


def __getattr__(name: str) -> Any:
    """`IPDTournament` and `IPDConfig` from this package, as before: imported when asked
    for (`societas list` reads `SCENARIO` without them)."""
    if name in ("IPDTournament", "IPDConfig"):
        return getattr(SCENARIO, "model" if name == "IPDTournament" else "config_type")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
