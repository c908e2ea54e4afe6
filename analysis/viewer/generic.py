"""The panels every scenario gets: its headline series up to the selected step, its per-step
metrics, its agents with their brain and latest decision, the latest decisions (the prompt
and reply of an LLM agent, the rule and what it read for a rule agent), the selected agent's
own decisions, and the model calls, tokens and cost so far.

Each reads only what the step needs: rows are found by binary search on tables appended in
time order (`Snapshot.last_rowid_at_most`) and whole-run series are computed in the background
(`StepView.latest`), so a step of a 10,000-agent run is served as fast as one of ten.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pandas as pd

from analysis.viewer import timeline
from analysis.viewer.parts import Series
from analysis.viewer.step import StepView
from sim.message_texts import read_calls
from sim.scenario_analysis import HeadlineSeries, ViewPanel

#: Above this many agents a panel shows counts by group instead of one row per agent.
MAX_ROWS = 40
#: Decisions read back from the selected step to find each agent's latest.
RECENT_WINDOW = 4000
#: Decisions read back from the selected step to find the selected agent's latest.
SELECTED_WINDOW = 50_000
TEXT_LIMIT = 600


def clip(text: Any, limit: int = TEXT_LIMIT) -> str:
    text = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _series_part(view: StepView, series: HeadlineSeries) -> list[Any]:
    frame = view.latest(f"headline:{series.name}", lambda: series.compute(view.run))
    if frame is None:
        return [f"{series.label}: computing…"]
    if isinstance(frame, Exception):
        return [f"{series.label}: could not be computed ({type(frame).__name__}: {frame})"]
    if frame.empty or series.x not in frame or "value" not in frame:
        return [f"{series.label}: no data yet"]
    cursor = view.position.get(series.x)
    xs = pd.to_numeric(frame[series.x], errors="coerce")
    values = pd.to_numeric(frame["value"], errors="coerce")
    keep = (xs <= cursor) if cursor is not None else xs.notna()
    points = [(float(x), float(y)) for x, y in zip(xs[keep], values[keep], strict=True)
              if not math.isnan(x)]
    known = xs.dropna()
    return [Series(series.label, {series.name: points}, x_label=series.x, cursor=cursor,
                   bounds=series.bounds,
                   x_range=(float(known.min()), float(known.max())) if len(known) else None)]


def headline(view: StepView) -> list[Any]:
    parts: list[Any] = []
    for series in view.run.analysis_spec.headline:
        parts += _series_part(view, series)
    return parts


def step_metrics(view: StepView) -> list[Any]:
    """The scenario's per-step metrics (`metrics` rows of scope 'step') up to the step."""
    if not view.has("metrics") or "step" not in view.position:
        return []
    now = view.position["step"]
    rows = view.rows("SELECT name, step, value FROM metrics WHERE scope = 'step' AND step <= ?"
                     " ORDER BY rowid", (now,))
    lines: dict[str, list[tuple[float, float]]] = {}
    for name, step, value in rows:
        if value is not None:
            lines.setdefault(str(name), []).append((float(step), float(value)))
    if not lines:
        return []
    shares = {k: v for k, v in lines.items() if all(0 <= y <= 1 for _, y in v)}
    others = {k: v for k, v in lines.items() if k not in shares}
    parts: list[Any] = []
    for title, group, bounds in (("shares per step", shares, (0.0, 1.0)),
                                 ("values per step", others, None)):
        if group:
            parts.append(Series(title, dict(list(group.items())[:8]), x_label="step",
                                cursor=now, bounds=bounds, x_range=(view.first, view.last)))
    return parts


def _latest_decisions(view: StepView, window: int) -> pd.DataFrame:
    if not view.has("decisions"):
        return pd.DataFrame(columns=["request_id", "sim_time", "agent_id", "task",
                                     "observation", "decision", "source", "n_calls"])
    bound = view.snapshot.last_rowid_at_most("decisions", "sim_time", view.step)
    return view.frame("SELECT rowid AS row, * FROM decisions WHERE rowid <= ? AND rowid > ? "
                      "ORDER BY rowid", (bound, bound - window))


def _born_by(view: StepView) -> tuple[str, tuple]:
    """The agents born by the selected step's generation (all, without generations)."""
    generation = view.position.get("generation")
    if generation is None:
        return "", ()
    return " WHERE COALESCE(generation, 0) <= ?", (int(generation),)


def _decision_text(row: Any) -> str:
    return f"{row.task}: {clip(row.decision, 160)} ({row.source})"


def agents(view: StepView) -> list[Any]:
    """Every agent (so far) with its brain and its latest decision; counts by group when
    there are more than MAX_ROWS."""
    if not view.has("agents"):
        return []
    where, params = _born_by(view)
    count = view.one(f"SELECT COUNT(*) FROM agents{where}", params)
    if not count or not count[0]:
        return []
    if count[0] > MAX_ROWS:
        counts = view.frame("SELECT generation, brain, kind, COALESCE(model, '') AS model, "
                            f"COUNT(*) AS agents FROM agents{where} GROUP BY 1, 2, 3, 4 "
                            "ORDER BY 1, 2, 3, 4", params)
        return [f"{count[0]:,} agents so far: counts by the generation they were born in, "
                "brain and kind (a click on an agent elsewhere shows it below)", counts]
    frame = view.frame(f"SELECT agent_id, brain, kind, model FROM agents{where} ORDER BY rowid",
                       params)
    bound = view.snapshot.last_rowid_at_most("decisions", "sim_time", view.step) \
        if view.has("decisions") else 0
    latest = view.frame(  # SQLite's bare columns come from the row of MAX(rowid)
        "SELECT agent_id, task, decision, source, MAX(rowid) FROM decisions WHERE rowid <= ? "
        "AND rowid > ? GROUP BY agent_id", (bound, bound - RECENT_WINDOW))
    state = {str(r.agent_id): _decision_text(r) for r in latest.itertuples()}
    table = pd.DataFrame({
        "agent": frame["agent_id"].astype(str),
        "brain": [b if not isinstance(m, str) else f"{b} ({m})"
                  for b, m in zip(frame["brain"], frame["model"], strict=True)],
        "kind": frame["kind"].astype(str),
        "latest decision": [state.get(str(a), "—") for a in frame["agent_id"]],
    })
    return [table]


def _llm_calls(view: StepView, request_ids: list[int]) -> dict[int, tuple[str, str]]:
    """request id -> (the prompt's last message, the reply) of its first model call (calls
    are logged in request order: found by binary search, not by scanning the log)."""
    if not request_ids or not view.has("llm_calls"):
        return {}
    snap = view.snapshot
    low = snap.last_rowid_at_most("llm_calls", "request_id", min(request_ids) - 1)
    high = snap.last_rowid_at_most("llm_calls", "request_id", max(request_ids))
    marks = ",".join("?" for _ in request_ids)
    found: dict[int, tuple[str, str]] = {}
    for request, messages, reply in read_calls(
            view.snapshot, ("request_id", "messages", "reply"),
            f"WHERE rowid > ? AND rowid <= ? AND request_id IN ({marks}) ORDER BY call_id",
            [low, high, *request_ids]):
        if request in found:
            continue
        try:
            chat = json.loads(messages or "[]")
            prompt = chat[-1].get("content", "") if chat else ""
        except (ValueError, AttributeError, TypeError):
            prompt = messages or ""
        found[int(request)] = (clip(prompt), clip(reply))
    return found


def _decision_rows(view: StepView, frame: pd.DataFrame) -> pd.DataFrame:
    agents = sorted({str(a) for a in frame["agent_id"]})
    kinds = dict(view.rows(f"SELECT agent_id, kind FROM agents WHERE agent_id IN "
                           f"({','.join('?' for _ in agents)})", agents)) \
        if view.has("agents") and agents else {}
    calls = _llm_calls(view, [int(r) for r, s in zip(frame["request_id"], frame["source"],
                                                      strict=True) if s != "rule"])
    rows = []
    when = _step_labels(view)
    for row in frame.itertuples():
        if int(row.request_id) in calls:
            prompt, reply = calls[int(row.request_id)]
            why = f"prompt: {prompt}\nreply: {reply}"
        else:
            why = f"rule {kinds.get(row.agent_id, '?')} read: {clip(row.observation, 300)}"
        rows.append({"time": when(row.sim_time), "agent": row.agent_id,
                     "task": row.task, "source": row.source,
                     "decision": clip(row.decision, 300), "why": why})
    return pd.DataFrame(rows, columns=["time", "agent", "task", "source", "decision", "why"])


def _step_labels(view: StepView) -> Callable[[Any], str]:
    """A decision's time as the slider's label shows that step ('round 4', 'day 2 17:20'):
    counted from 1, never the store's raw `sim_time`."""
    spec = view.run.analysis_spec.timeline or timeline.DEFAULT
    labels: dict[int, str] = {}

    def label(value: Any) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        if float(value) != int(value):  # between steps: no label of its own
            return f"{float(value):g}"
        step = int(value)
        if step not in labels:
            labels[step] = timeline.describe(spec, replace(view, step=step))
        return labels[step]
    return label


def latest_decisions(view: StepView) -> list[Any]:
    frame = _latest_decisions(view, 8)
    if frame.empty:
        return ["No decision logged up to this step" + (
            " (this run logged none: log_decisions)." if view.config.get("log_decisions")
            == "none" else ".")]
    return [_decision_rows(view, frame.iloc[::-1])]


def selected_agent(view: StepView) -> list[Any]:
    """The clicked agent's own latest decisions, up to the step."""
    if view.selected is None or not view.has("decisions"):
        return []
    bound = view.snapshot.last_rowid_at_most("decisions", "sim_time", view.step)
    frame = view.frame("SELECT rowid AS row, * FROM decisions WHERE agent_id = ? AND "
                       "rowid <= ? AND rowid > ? ORDER BY rowid DESC LIMIT 6",
                       (view.selected, bound, bound - SELECTED_WINDOW))
    if frame.empty:
        return [f"{view.selected}: no decision among the last {SELECTED_WINDOW:,} logged up "
                "to this step."]
    return [f"{view.selected}: its latest decisions", _decision_rows(view, frame)]


def calls(view: StepView) -> list[Any]:
    """Model calls, tokens and cost up to the step, per model."""
    if not view.has("llm_calls"):
        return []
    bound = view.snapshot.last_rowid_at_most("llm_calls", "sim_time", view.step)
    frame = view.frame(
        "SELECT model, COUNT(*) AS calls, SUM(prompt_tokens) AS prompt_tokens, "
        "SUM(completion_tokens) AS completion_tokens, SUM(cost_usd) AS cost_usd FROM "
        "llm_calls WHERE rowid <= ? GROUP BY model ORDER BY model", (bound,))
    if frame.empty:
        return ["No model calls up to this step (rule brains need none)."]
    total = frame[["calls", "prompt_tokens", "completion_tokens", "cost_usd"]].sum()
    return [f"{int(total['calls']):,} calls, {int(total['prompt_tokens'] or 0):,} prompt + "
            f"{int(total['completion_tokens'] or 0):,} completion tokens, "
            f"${float(total['cost_usd'] or 0):.4f} so far", frame.round({"cost_usd": 4})]


PANELS = (
    ViewPanel("headline", "Headline", headline),
    ViewPanel("metrics", "Per-step metrics", step_metrics),
    ViewPanel("agents", "Agents so far", agents),
    ViewPanel("decisions", "Latest decisions", latest_decisions),
    ViewPanel("selected", "Selected agent", selected_agent),
    ViewPanel("calls", "Model calls so far", calls),
)
