"""Norm diffusion on a network: a two-strategy game with the neighbours on a graph, where a
seeded deviant strategy spreads or dies by an update rule (rule brains) or by LLM brains'
choices; checked against Ohtsuki et al. (2006)'s b/c > k rule.

Built only with the engine's public API (`from sim import ...`); `docs/network_norms.md`
describes the model, its keys, its tables and the classic result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim import RunStore, ScenarioSpec, UsageEstimate

if TYPE_CHECKING:
    from scenarios.network_norms.config import NetworkNormsConfig


def summary_table(store: RunStore) -> tuple[list[str], list[list[Any]]]:
    """How the run ended, and the deviant's share at its first and last recorded steps."""
    outcome = store.rows("SELECT result, winner, step, updates, deviant, deviant_share "
                         "FROM outcome")
    headers = ["result", "winner", "steps", "updates", "deviant", "first share", "final share"]
    if not outcome:
        return headers, []
    result, winner, step, updates, deviant, final = outcome[0]
    first = store.rows("SELECT share FROM shares WHERE strategy = ? ORDER BY step LIMIT 1",
                       (deviant,))
    return headers, [[result, winner or "-", step, updates, deviant,
                      first[0][0] if first else None, final]]


def estimate(config: NetworkNormsConfig) -> UsageEstimate:
    """Calls of LLM-brained nodes: each step every one is asked with the revision
    probability; the steps are an upper bound (a run may fix earlier)."""
    from scenarios.network_norms.tasks import sample_prompt_tokens

    llm_nodes = round(config.nodes * config.brains.get("llm", 0) / sum(config.brains.values()))
    calls = round(config.steps * llm_nodes * config.llm_revision_probability)
    return UsageEstimate(calls=calls, prompt_tokens=calls * sample_prompt_tokens(config),
                         max_completion_tokens=calls * config.max_tokens)


SCENARIO = ScenarioSpec(
    name="network-norms",
    summary="Norm diffusion on a network: a seeded deviant spreads or dies "
            "(Ohtsuki et al. 2006: cooperation wins when b/c > k)",
    config_type="scenarios.network_norms.config:NetworkNormsConfig",
    model="scenarios.network_norms.game:NetworkNorms",
    summary_table=summary_table,
    estimate=estimate,
    analysis="scenarios.network_norms.analysis:ANALYSIS",
)


def __getattr__(name: str) -> Any:
    """`NetworkNorms` and `NetworkNormsConfig` from this package, as before: imported when asked
    for (`societas list` reads `SCENARIO` without them)."""
    if name in ("NetworkNorms", "NetworkNormsConfig"):
        return getattr(SCENARIO, "model" if name == "NetworkNorms" else "config_type")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
