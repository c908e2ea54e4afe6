"""The Donor Game in `societas view`: its time axis in rounds and its panels, per generation:
who gave to whom (width = share given), each living agent's strategy with the survivors
marked, and the cooperation series with a cursor at the selected round.

Every read is bounded by the selected round: `donations` and `agent_rounds` are appended in
round order, so the rows of a round or a generation are found by binary search on their rowid
(`Snapshot.last_rowid_at_most`). Above `MAX_AGENTS` living agents the network and the strategy
list are aggregated by strategy (one node per rule family or 'llm', one row per distinct
text), so a 10,000-agent generation is a handful of shapes, not ten thousand.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from analysis._plotting import Palette
from analysis.viewer.parts import Edge, Network, Node, Series
from analysis.viewer.step import StepView
from sim.scenario_analysis import ViewPanel, ViewTimeline

MAX_AGENTS = 40
MAX_TEXTS = 15
_GENERATION = re.compile(r"^\s*(?:gen(?:eration)?)\s*(\d+)\s*$", re.IGNORECASE)


# -- where a round lies -------------------------------------------------------------------------
def _round_row(view: StepView, step: int) -> tuple[int, int, int] | None:
    """(generation, game, round) of a global round, 0-based, from `agent_rounds`."""
    rowid = view.snapshot.last_rowid_at_most("agent_rounds", "step", step)
    row = view.one("SELECT generation, game, round FROM agent_rounds WHERE rowid = ?",
                   (rowid,)) if rowid else None
    return None if row is None else (int(row[0]), int(row[1]), int(row[2]))


def _generation_end(view: StepView, generation: int) -> int | None:
    """The last round of `generation` the store holds."""
    rowid = view.snapshot.last_rowid_at_most("agent_rounds", "generation", generation)
    row = view.one("SELECT step, generation FROM agent_rounds WHERE rowid = ?",
                   (rowid,)) if rowid else None
    return int(row[0]) if row is not None and int(row[1]) == generation else None


def extent(view: StepView) -> tuple[int, int]:
    row = view.one("SELECT step FROM agent_rounds ORDER BY rowid DESC LIMIT 1") \
        if view.has("agent_rounds") else None
    return 0, int(row[0]) if row else 0


def describe(view: StepView) -> str:
    where = _round_row(view, view.step)
    if where is None:
        return f"round {view.step + 1} (no round played yet)"
    generation, game, round_ = where
    return (f"generation {generation + 1} · game {game + 1} · round {round_ + 1} "
            f"(round {view.step + 1} of the run)")


def position(view: StepView) -> dict[str, float]:
    where = _round_row(view, view.step)
    return {"step": view.step, **({"generation": where[0]} if where else {})}


def parse(text: str, view: StepView) -> int | None:
    """'generation 3' (its last round so far) or 'round 12' / '12' (the default)."""
    match = _GENERATION.match(text)
    if not match:
        return None
    return _generation_end(view, int(match.group(1)) - 1)


def marks(view: StepView) -> list[tuple[str, int]]:
    if not view.has("agent_rounds"):
        return []
    last = view.one("SELECT generation FROM agent_rounds ORDER BY rowid DESC LIMIT 1")
    found = []
    for generation in range(int(last[0]) + 1 if last else 0):
        end = _generation_end(view, generation)
        if end is not None:
            found.append((f"end of generation {generation + 1}", end))
    return found


TIMELINE = ViewTimeline(unit="round", extent=extent, describe=describe, position=position,
                        parse=parse, marks=marks)


# -- what the panels read -----------------------------------------------------------------------
def _kinds(view: StepView) -> dict[str, str]:
    return view.current("donor:kinds", lambda: dict(view.rows(
        "SELECT agent_id, kind FROM agents")))


def _palette(view: StepView) -> Palette:
    return view.current("donor:palette", lambda: Palette(sorted(set(_kinds(view).values()))))


def _living(view: StepView) -> pd.DataFrame:
    """agent_id, resources of everyone who played the selected round."""
    high = view.snapshot.last_rowid_at_most("agent_rounds", "step", view.step)
    low = view.snapshot.last_rowid_at_most("agent_rounds", "step", view.step - 1)
    return view.frame("SELECT agent_id, resources FROM agent_rounds WHERE rowid > ? AND "
                      "rowid <= ?", (low, high))


def _gift_rows(view: StepView, generation: int) -> tuple[int, int]:
    """The rowids of the generation's donations up to the selected round."""
    low = view.snapshot.last_rowid_at_most("donations", "generation", generation - 1)
    high = view.snapshot.last_rowid_at_most("donations", "step", view.step)
    return low, high


def _survivors(view: StepView, generation: int) -> dict[str, bool] | None:
    """agent -> survived, once the generation's last round is selected and selection ran."""
    end = _generation_end(view, generation)
    if end is None or view.step < end or not view.has("generation_scores"):
        return None
    rows = view.rows("SELECT agent_id, survived FROM generation_scores WHERE generation = ?",
                     (generation,))
    if not rows or all(s is None for _, s in rows):
        return None
    return {str(a): bool(s) for a, s in rows}


def gifts(view: StepView) -> list[Any]:
    """Who gave to whom in the selected generation, up to the selected round."""
    generation = view.position.get("generation")
    if generation is None or not view.has("donations"):
        return []
    generation = int(generation)
    survivors = _survivors(view, generation)
    living_count = sum(_living_kinds(view, generation).values())
    if living_count > MAX_AGENTS:
        return _gifts_by_strategy(view, generation, living_count, survivors)
    living = _living(view)
    low, high = _gift_rows(view, generation)
    kinds, palette = _kinds(view), _palette(view)
    pairs = view.rows(
        "SELECT donor, recipient, AVG(fraction), COUNT(*), SUM(amount) FROM donations "
        "WHERE rowid > ? AND rowid <= ? AND action = 'donate' GROUP BY donor, recipient",
        (low, high))
    nodes = [Node(str(a), str(a), palette.color(kinds.get(str(a), "")),
                  marked=bool(survivors and survivors.get(str(a))),
                  title=f"{a} ({kinds.get(str(a), '?')}): {r:.1f} resources"
                        + ("" if survivors is None else
                           (", survived" if survivors.get(str(a)) else ", did not survive")),
                  pick=str(a))
             for a, r in zip(living["agent_id"], living["resources"], strict=True)]
    edges = [Edge(str(d), str(r), float(share or 0.0),
                  f"{d} → {r}: {n} gifts, mean share {float(share or 0):.0%}, "
                  f"{float(amount or 0):.1f} given")
             for d, r, share, n, amount in pairs]
    caption = (f"Generation {generation + 1}, its donations up to this round: arrow width = "
               "mean share of resources given. "
               + ("Ringed: the survivors." if survivors is not None else
                  "Survivors are marked once the generation's last round is selected."))
    legend = {k: palette.color(k) for k in sorted({kinds.get(str(a), "") for a in
                                                   living["agent_id"]})}
    return [Network(nodes, edges, caption, legend, name="gifts")]


def _generation_start(view: StepView, generation: int) -> int:
    rowid = view.snapshot.first_rowid_above("agent_rounds", "generation", generation - 1)
    row = view.one("SELECT step FROM agent_rounds WHERE rowid = ?", (rowid,))
    return int(row[0]) if row else view.step


def _settled(view: StepView, step: int) -> bool:
    """Whether a round's rows can change no more (a later round is committed, or the run
    ended): what is computed from it can be kept for the life of the view."""
    return step < view.last or not view.progress.live


def _kept(view: StepView, key: str, step: int, compute: Any) -> Any:
    return view.memo(key, compute) if _settled(view, step) else compute()


def _round_gifts(view: StepView, step: int) -> list[tuple[str, str, float, int]]:
    """(donor kind, recipient kind, sum of shares, gifts) of one round."""
    def compute() -> list[tuple[str, str, float, int]]:
        low = view.snapshot.last_rowid_at_most("donations", "step", step - 1)
        high = view.snapshot.last_rowid_at_most("donations", "step", step)
        return view.rows(
            "SELECT a.kind, b.kind, SUM(d.fraction), COUNT(*) FROM donations d "
            "JOIN agents a ON a.agent_id = d.donor JOIN agents b ON b.agent_id = d.recipient "
            "WHERE d.rowid > ? AND d.rowid <= ? AND d.action = 'donate' GROUP BY 1, 2",
            (low, high))
    return _kept(view, f"donor:gifts:{step}", step, compute)


def _living_kinds(view: StepView, generation: int) -> dict[str, int]:
    """Strategy -> agents alive in the generation (the same in each of its rounds)."""
    first = _generation_start(view, generation)

    def compute() -> dict[str, int]:
        kinds, counts = _kinds(view), {}
        for (agent,) in view.rows(
                "SELECT agent_id FROM agent_rounds WHERE rowid > ? AND rowid <= ?",
                (view.snapshot.last_rowid_at_most("agent_rounds", "step", first - 1),
                 view.snapshot.last_rowid_at_most("agent_rounds", "step", first))):
            kind = kinds.get(str(agent), "?")
            counts[kind] = counts.get(kind, 0) + 1
        return counts
    return _kept(view, f"donor:living:{generation}", first, compute)


def _gifts_by_strategy(view: StepView, generation: int, living: int,
                       survivors: dict[str, bool] | None) -> list[Any]:
    palette = _palette(view)
    counts = _living_kinds(view, generation)
    kept: dict[str, int] = {}
    if survivors is not None:
        kinds = _kinds(view)
        for agent, survived in survivors.items():
            if survived:
                kept[kinds.get(agent, "?")] = kept.get(kinds.get(agent, "?"), 0) + 1
    totals: dict[tuple[str, str], list[float]] = {}
    for step in range(_generation_start(view, generation), view.step + 1):
        for a, b, shares, n in _round_gifts(view, step):
            total = totals.setdefault((str(a), str(b)), [0.0, 0])
            total[0] += float(shares or 0.0)
            total[1] += int(n)
    nodes = [Node(str(k), f"{k} ({n:,})", palette.color(str(k)), size=float(n),
                  marked=kept.get(k, 0) > 0,
                  title=f"{k}: {n:,} agents" + ("" if survivors is None else
                                               f", {kept.get(k, 0):,} survived"))
             for k, n in sorted(counts.items())]
    edges = [Edge(a, b, shares / n, f"{a} → {b}: {n:,} gifts, mean share {shares / n:.0%}")
             for (a, b), (shares, n) in sorted(totals.items()) if n]
    caption = (f"Generation {generation + 1}: {living:,} agents, grouped by strategy "
               "(node size: agents; arrow width: mean share given between groups; ringed: "
               "groups with survivors, once the generation has ended).")
    return [Network(nodes, edges, caption, {}, name="gifts")]


def strategies(view: StepView) -> list[Any]:
    """Each living agent's strategy text in the selected generation; survivors marked."""
    generation = view.position.get("generation")
    if generation is None or not view.has("strategies"):
        return []
    generation = int(generation)
    survivors = _survivors(view, generation)
    living_count = sum(_living_kinds(view, generation).values())
    if living_count > MAX_AGENTS:
        first = _generation_start(view, generation)
        texts = _kept(view, f"donor:texts:{generation}", first, lambda: _common_texts(
            view, first))
        return [f"{living_count:,} agents: their {MAX_TEXTS} most common strategies", texts]
    living = _living(view)
    low = view.snapshot.last_rowid_at_most("agent_rounds", "step", view.step - 1)
    high = view.snapshot.last_rowid_at_most("agent_rounds", "step", view.step)
    texts = dict(view.rows(
        "SELECT s.agent_id, s.text FROM agent_rounds r JOIN strategies s ON s.agent_id = "
        "r.agent_id WHERE r.rowid > ? AND r.rowid <= ? ORDER BY s.rowid", (low, high)))
    kinds = _kinds(view)
    table = pd.DataFrame({
        "agent": living["agent_id"].astype(str),
        "kind": [kinds.get(str(a), "?") for a in living["agent_id"]],
        "survived": ["" if survivors is None else ("yes" if survivors.get(str(a)) else "no")
                     for a in living["agent_id"]],
        "resources": living["resources"].round(2),
        "strategy": [texts.get(str(a), "") for a in living["agent_id"]],
    })
    return [table]


def _common_texts(view: StepView, step: int) -> pd.DataFrame:
    """The most common strategy texts of those who played round `step` (each agent's text is
    stored once, when it was born)."""
    low = view.snapshot.last_rowid_at_most("agent_rounds", "step", step - 1)
    high = view.snapshot.last_rowid_at_most("agent_rounds", "step", step)
    return view.frame(
        "SELECT text AS strategy, COUNT(*) AS agents FROM strategies WHERE agent_id IN "
        "(SELECT agent_id FROM agent_rounds WHERE rowid > ? AND rowid <= ?) GROUP BY text "
        "ORDER BY agents DESC LIMIT ?", (low, high, MAX_TEXTS))


def cooperation(view: StepView) -> list[Any]:
    """The mean share donated in each round so far, with the cursor on the selected one."""
    if not view.has("metrics"):
        return []
    rows = view.rows("SELECT step, value FROM metrics WHERE scope = 'step' AND name = "
                     "'mean_fraction' AND step <= ? ORDER BY step", (view.step,))
    return [Series("mean share of resources donated, per round",
                   {"donated": [(float(s), float(v)) for s, v in rows if v is not None]},
                   x_label="round", cursor=view.step, bounds=(0.0, 1.0),
                   x_range=(view.first, view.last))]


PANELS = (
    ViewPanel("gifts", "Who gave to whom", gifts),
    ViewPanel("strategies", "Strategies of this generation", strategies),
    ViewPanel("cooperation", "Cooperation", cooperation),
)
