"""The reader's side of `ScenarioAnalysis`: groups of runs, strategy labels and colours.

A report of several runs must never pool two conditions as if they were seeds, so runs are
grouped by every config key whose value differs between them, except the seed and the keys
that cannot change what a run computes (`NON_RESULT_KEYS`). Strategy labels come from the
scenario (or the `agents` table's `kind`), and each label gets one colour for the whole report:
`report_context` builds one palette of every label of the report's runs and hands it to each
run, so a run's own figures (`RunFigure`) colour with it too (`run_palette`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analysis.palette import Palette
from analysis.run import Run
from sim.errors import UserError

__all__ = ["NON_RESULT_KEYS", "Html", "Palette", "ReportContext", "config_text",
           "distinct_names", "group_label", "grouping_keys", "report_context", "run_palette",
           "strategy_labels"]

#: Config keys that never count when grouping runs: the seed (what repeats a condition) and
#: keys that change how a run talks to its model or logs, not what it computes.
NON_RESULT_KEYS = frozenset({
    "seed", "api_key_env", "timeout_s", "max_concurrency", "log_decisions",
    "outage_patience_s",
})


class Html(str):
    """Markup a scenario's report section built (and escaped) itself; shown as is."""


def _brain_mix(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(
        isinstance(v, (int, float)) for v in value.values())


def config_text(value: Any) -> str:
    """A config value as the report shows it (a brain mix as 'llm 50% + rule 50%')."""
    if _brain_mix(value):
        from analysis.many import brains_label

        return brains_label(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _flat(config: Mapping[str, Any]) -> dict[str, Any]:
    """A config with each table of keys (`memory_settings`, `architecture`; not a brain mix)
    spread into its dotted keys, so that a group is named by the key that differs
    ('memory_settings.reflection_threshold=100000'), not by the whole table."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value and not _brain_mix(value):
            flat.update({f"{key}.{sub}": v for sub, v in value.items()})
        else:
            flat[key] = value
    return flat


def grouping_keys(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The config keys whose values differ between the runs (seed and `NON_RESULT_KEYS`
    aside; a table's keys dotted), sorted; empty when the runs are seeds of one condition."""
    flats = [_flat(config) for config in configs]
    keys = sorted(key for key in {key for flat in flats for key in flat}
                  if key.split(".")[0] not in NON_RESULT_KEYS)
    return [key for key in keys if len({config_text(flat.get(key)) for flat in flats}) > 1]


def group_label(config: Mapping[str, Any], keys: Sequence[str]) -> str:
    """A readable name of the group a run belongs to: 'punishment=True, agents=8'."""
    if not keys:
        return "all runs"
    flat = _flat(config)
    return ", ".join(f"{key}={config_text(flat.get(key))}" for key in keys)


def distinct_names(runs: Sequence[Run]) -> None:  # one line, exit 2, before anything is drawn
    """A report names each run by its directory: two runs of one name (made in the same second
    with the same seed, under different parents) would be merged into one."""
    seen: dict[str, Run] = {}
    for run in runs:
        other = seen.setdefault(run.path.name, run)
        if other is not run and other.path.resolve() != run.path.resolve():
            raise UserError(f"two runs share the name {run.path.name} ({other.path} and "
                            f"{run.path}): a report names runs by their directory; rename one")


def strategy_labels(run: Run) -> dict[str, str]:
    """Agent id -> strategy label: the scenario's declared labels, else `agents.kind`."""
    declared = run.analysis_spec.strategy_labels
    if declared is not None:
        return {str(k): str(v) for k, v in declared(run).items()}
    agents = run.agents
    return {str(a): str(k) for a, k in zip(agents["agent_id"], agents["kind"], strict=True)}


@dataclass
class ReportContext:
    """What a scenario's report section may use besides its runs."""

    runs: Sequence[Run]
    #: The config keys whose values define the groups (empty: one group of seeds).
    group_keys: list[str]
    #: run directory name -> its group's label.
    groups: dict[str, str]
    #: Strategy label -> colour, the same in every figure of the report.
    palette: Palette

    def color(self, label: str) -> str:
        return self.palette.color(label)


def run_palette(run: Run) -> Palette:
    """The strategy palette a run's figures colour with: the one its report assigned to all
    of its runs (`report_context`), else, for a run drawn on its own (`societas run`), a
    palette of the run's own labels."""
    if run.palette is None:
        run.palette = Palette(strategy_labels(run).values())
    return run.palette


def report_context(runs: Sequence[Run]) -> ReportContext:
    """Groups and palette of a set of runs; every run is given the palette (`run_palette`)."""
    distinct_names(runs)
    keys = grouping_keys([run.config for run in runs])
    groups = {run.path.name: group_label(run.config, keys) for run in runs}
    labels = {label for run in runs for label in strategy_labels(run).values()}
    palette = Palette(labels)
    for run in runs:
        run.palette = palette
    return ReportContext(list(runs), keys, groups, palette)
