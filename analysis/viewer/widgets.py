"""The parts of a panel as Solara components (needs the `view` extra).

Two Vue templates draw everything a panel returns: `vue/svg.vue` (the shapes of
`analysis.viewer.drawing`) and `vue/table.vue` (a DataFrame, every cell as text). Text reaches
the browser only as Vue text interpolation (`{{ }}`) or as the text of an element, never as
HTML, so what an agent wrote cannot become markup or script.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import solara

from analysis.viewer.drawing import map_shapes, network_shapes, series_shapes
from analysis.viewer.parts import Choices, Network, Series, TownMap

#: Columns whose values are agent ids: clicking their row selects that agent.
AGENT_COLUMNS = ("agent", "agent_id", "resident", "id")
MAX_TABLE_ROWS = 200


@solara.component_vue("vue/svg.vue", vuetify=False)
def SvgDrawing(name: str, width: int, height: int, shapes: list,
               event_select: Callable[[str], None] | None = None) -> None:
    """An SVG drawing of plain shapes; clicking a shape with a `pick` selects that agent."""


@solara.component_vue("vue/table.vue", vuetify=False)
def TextTable(name: str, columns: list, rows: list, picks: list,
              event_select: Callable[[str], None] | None = None) -> None:
    """A table whose cells are text; clicking a row with an agent selects it."""


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table_props(frame: pd.DataFrame) -> dict[str, Any]:
    shown = frame.reset_index() if frame.index.name or not isinstance(
        frame.index, pd.RangeIndex) else frame
    shown = shown.head(MAX_TABLE_ROWS)
    columns = [str(c) for c in shown.columns]
    agent = next((c for c in AGENT_COLUMNS if c in columns), None)
    rows = [[_cell(v) for v in row] for row in shown.itertuples(index=False, name=None)]
    picks = ([_cell(v) or None for v in shown[agent]] if agent else [None] * len(rows))
    return {"columns": columns, "rows": rows, "picks": picks}


@solara.component
def Part(part: Any, key: str, on_select: Callable[[str], None]) -> None:
    """One part of a panel."""
    if isinstance(part, str):
        solara.v.Html(tag="div", children=[part], style_="white-space: pre-wrap; margin: 4px 0")
    elif isinstance(part, pd.DataFrame):
        TextTable(name=key, event_select=on_select, **table_props(part))
        if len(part) > MAX_TABLE_ROWS:
            solara.v.Html(tag="div", children=[f"first {MAX_TABLE_ROWS} of {len(part)} rows"])
    elif isinstance(part, (Series, Network, TownMap)):
        draw = {Series: series_shapes, Network: network_shapes, TownMap: map_shapes}
        (width, height), shapes = draw[type(part)](part)
        name = part.name if isinstance(part, Network) else (
            "map" if isinstance(part, TownMap) else key)
        SvgDrawing(name=name, width=width, height=height, shapes=shapes,
                   event_select=on_select)
        caption = getattr(part, "caption", "")
        if caption:
            solara.v.Html(tag="div", children=[caption], style_="font-size: 12px; color: #555")
    elif isinstance(part, Choices):
        with solara.Row(style={"flex-wrap": "wrap", "gap": "4px"}):
            solara.v.Html(tag="span", children=[part.label])
            for agent, label in part.options:
                solara.Button(label, on_click=lambda agent=agent: on_select(agent),
                              small=True, text=True)
    else:
        solara.v.Html(tag="div", children=[str(part)])
