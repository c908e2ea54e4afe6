"""The reader's side of `ScenarioAnalysis`: groups of runs, strategy labels and colours.

A report of several runs must never pool two conditions as if they were seeds, so runs are
grouped by every config key whose value differs between them, except the seed and the keys
that cannot change what a run computes (`NON_RESULT_KEYS`). Strategy labels come from the
scenario (or the `agents` table's `kind`), and each label gets one colour for the whole report.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import matplotlib as mpl
from matplotlib.colors import to_hex

from analysis.run import Run

#: Config keys that never count when grouping runs: the seed (what repeats a condition) and
#: keys that change how a run talks to its model or logs, not what it computes.
NON_RESULT_KEYS = frozenset({
    "seed", "api_key_env", "timeout_s", "max_concurrency", "log_decisions",
    "outage_patience_s",
})


class Html(str):
    """Markup a scenario's report section built (and escaped) itself; shown as is."""


def _value_text(value: Any) -> str:
    if isinstance(value, dict) and value and all(
            isinstance(v, (int, float)) for v in value.values()):
        from analysis.many import brains_label

        return brains_label(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def grouping_keys(configs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The config keys whose values differ between the runs (seed and `NON_RESULT_KEYS`
    aside), sorted; empty when the runs are seeds of one condition."""
    keys = sorted({key for config in configs for key in config} - NON_RESULT_KEYS)
    return [key for key in keys
            if len({_value_text(config.get(key)) for config in configs}) > 1]


def group_label(config: Mapping[str, Any], keys: Sequence[str]) -> str:
    """A readable name of the group a run belongs to: 'punishment=True, agents=8'."""
    if not keys:
        return "all runs"
    return ", ".join(f"{key}={_value_text(config.get(key))}" for key in keys)


def strategy_labels(run: Run) -> dict[str, str]:
    """Agent id -> strategy label: the scenario's declared labels, else `agents.kind`."""
    declared = run.analysis_spec.strategy_labels
    if declared is not None:
        return {str(k): str(v) for k, v in declared(run).items()}
    agents = run.agents
    return {str(a): str(k) for a, k in zip(agents["agent_id"], agents["kind"], strict=True)}


def _base_colors() -> list[str]:
    """Distinct colours in a fixed order: tab10, then the light half of tab20, then tab20b."""
    tab20 = [to_hex(c) for c in mpl.colormaps["tab20"].colors]
    colors = [to_hex(c) for c in mpl.colormaps["tab10"].colors]
    colors += [c for c in tab20[1::2] if c not in colors]
    colors += [to_hex(c) for c in mpl.colormaps["tab20b"].colors]
    return list(dict.fromkeys(colors))


@dataclass
class Palette:
    """One colour per strategy label for a whole report: labels are coloured in sorted order,
    so the same set of labels always gets the same colours, and no two labels share one."""

    labels: Sequence[str] = ()
    colors: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        base = _base_colors()
        ordered = sorted(set(map(str, self.labels)))
        self.colors = {}
        for i, label in enumerate(ordered):
            if i < len(base):
                self.colors[label] = base[i]
            else:  # beyond the table: evenly spaced hues, still distinct
                hue = (i - len(base)) / max(1, len(ordered) - len(base))
                self.colors[label] = to_hex(mpl.colormaps["hsv"](hue * 0.9))

    def color(self, label: str) -> str:
        """The label's colour (a label the palette was not built with gets grey)."""
        return self.colors.get(str(label), "#7f7f7f")

    def __call__(self, labels: Iterable[str]) -> list[str]:
        return [self.color(label) for label in labels]


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


def report_context(runs: Sequence[Run]) -> ReportContext:
    """Groups and palette of a set of runs."""
    keys = grouping_keys([run.config for run in runs])
    groups = {run.path.name: group_label(run.config, keys) for run in runs}
    labels = {label for run in runs for label in strategy_labels(run).values()}
    return ReportContext(list(runs), keys, groups, Palette(sorted(labels)))
