"""What a view panel can show besides text and tables: plain data, no Solara.

A panel's `render(step)` (see `sim.ViewPanel`) returns a list of parts: strings (text, never
markup), pandas DataFrames (tables, every cell shown as text) and the drawings below, which the
view turns into SVG in the page (`analysis.viewer.drawing`). Everything an agent wrote reaches
the page as text content, so a reply holding `<script>` shows those characters and does
nothing. Ids given as `pick` make a shape clickable: clicking selects that agent
(`StepView.selected`), which panels can then show in detail.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class Series:
    """Lines over x (a generation, a day, a round) with a cursor at the selected x.

    `lines` maps a name to its (x, y) points; x is shown counted from 1 (`x_shift`) as people
    count generations, days and rounds.
    """

    title: str
    lines: Mapping[str, Sequence[tuple[float, float]]]
    x_label: str = "step"
    cursor: float | None = None
    bounds: tuple[float, float] | None = None
    x_shift: int = 1
    colors: Mapping[str, str] = field(default_factory=dict)
    #: The x axis' extent (e.g. every generation of the run), so that the cursor travels
    #: along it; None: the points' and the cursor's.
    x_range: tuple[float, float] | None = None


@dataclass
class Node:
    id: str
    label: str = ""
    color: str = "#4c72b0"
    #: Relative size (1: one agent; a group of 40: larger, by the square root).
    size: float = 1.0
    #: Drawn with a ring (a survivor, a seeded deviant).
    marked: bool = False
    #: Shown on hover.
    title: str = ""
    #: Clicking selects this agent id (None: not clickable).
    pick: str | None = None
    #: Placed here (0..1 both ways) instead of on the circle.
    at: tuple[float, float] | None = None


@dataclass
class Edge:
    source: str
    target: str
    #: 0..1: the line's width (e.g. the share of resources given).
    weight: float = 0.5
    title: str = ""
    color: str = "#888888"


@dataclass
class Network:
    """Nodes on a circle (or where `Node.at` says) and directed edges drawn as arrows."""

    nodes: Sequence[Node]
    edges: Sequence[Edge] = ()
    caption: str = ""
    legend: Mapping[str, str] = field(default_factory=dict)
    name: str = "network"
    directed: bool = True


@dataclass
class Place:
    id: str
    name: str
    x: float
    y: float
    kind: str = ""


@dataclass
class Walker:
    """Someone (or, aggregated, a group) on the map: at a place or walking between two."""

    id: str
    label: str
    x: float
    y: float
    place: str = ""
    activity: str = ""
    color: str = "#dd8452"
    #: More than one: an aggregated marker standing for `count` people.
    count: int = 1
    #: What they are saying now (a conversation in progress).
    speech: str = ""
    walking: bool = False
    pick: str | None = None


@dataclass
class TownMap:
    """Places and the people at them at the selected moment."""

    places: Sequence[Place]
    walkers: Sequence[Walker]
    caption: str = ""
    selected: str | None = None


@dataclass
class Choices:
    """A row of buttons that select an agent (for an aggregated view's members)."""

    label: str
    options: Sequence[tuple[str, str]]  # (agent id, what the button says)
