"""The drawings of `analysis.viewer.parts` as SVG shapes: plain dicts the page's one SVG
template (`vue/svg.vue`) draws, each with its attributes, an optional hover title, text
content (shown as text) and an optional agent id that a click selects.

Computed here in Python, not in the browser, so that a test or a benchmark can check what a
page will show without one, and the page receives a few hundred small shapes at most: an
aggregated view never sends one element per agent of a large run.
"""

from __future__ import annotations

import math
from typing import Any

from analysis.viewer.parts import Network, Series, TownMap

Shape = dict[str, Any]
PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3",
           "#8c8c8c", "#ccb974", "#64b5cd")
SERIES_SIZE = (560, 220)
NETWORK_SIZE = (520, 420)
MAP_SIZE = (620, 440)


def shape(kind: str, attrs: dict[str, Any], *, text: str = "", title: str = "",
          pick: str | None = None) -> Shape:
    return {"kind": kind, "attrs": attrs, "text": text, "title": title, "pick": pick}


def _fmt(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def series_shapes(series: Series) -> tuple[tuple[int, int], list[Shape]]:
    """Axes, one polyline per line, a legend and the cursor (a vertical line at `cursor`)."""
    width, height = SERIES_SIZE
    left, right, top, bottom = 52, 12, 22, 30
    points = [p for line in series.lines.values() for p in line]
    shapes = [shape("text", {"x": left, "y": 14, "font-size": 12, "font-weight": "bold"},
                    text=series.title)]
    if not points:
        shapes.append(shape("text", {"x": left, "y": height / 2, "font-size": 12},
                            text="no data yet"))
        return (width, height), shapes
    xs = [x for x, _ in points] + ([series.cursor] if series.cursor is not None else [])
    x0, x1 = series.x_range if series.x_range is not None else (min(xs), max(xs))
    if series.cursor is not None:
        x0, x1 = min(x0, series.cursor), max(x1, series.cursor)
    if series.bounds is not None:
        y0, y1 = series.bounds
    else:
        y0, y1 = min(y for _, y in points), max(y for _, y in points)
    x1, y1 = (x1 + 1 if x1 == x0 else x1), (y1 + 1 if y1 == y0 else y1)

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * (width - left - right)

    def sy(y: float) -> float:
        return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom)

    axis = {"stroke": "#999", "stroke-width": 1}
    shapes += [shape("line", {"x1": left, "y1": sy(y0), "x2": width - right, "y2": sy(y0),
                              **axis}),
               shape("line", {"x1": left, "y1": sy(y0), "x2": left, "y2": sy(y1), **axis})]
    for value in (y0, y1):
        shapes.append(shape("text", {"x": left - 4, "y": sy(value) + 4, "font-size": 10,
                                     "text-anchor": "end"}, text=_fmt(value)))
    for value in (x0, x1):
        shapes.append(shape("text", {"x": sx(value), "y": height - bottom + 13, "font-size": 10,
                                     "text-anchor": "middle"},
                            text=_fmt(value + series.x_shift)))
    shapes.append(shape("text", {"x": (left + width - right) / 2, "y": height - 4,
                                 "font-size": 10, "text-anchor": "middle"},
                        text=series.x_label))
    for i, (name, line) in enumerate(series.lines.items()):
        color = series.colors.get(name, PALETTE[i % len(PALETTE)])
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(line)
                          if not math.isnan(y))
        shapes.append(shape("polyline", {"points": coords, "fill": "none", "stroke": color,
                                         "stroke-width": 2, "data-series": name}, title=name))
        if len(series.lines) > 1:
            shapes.append(shape("text", {"x": width - right - 4, "y": top + 12 * i + 8,
                                         "font-size": 10, "text-anchor": "end",
                                         "fill": color}, text=name))
    if series.cursor is not None:
        x = sx(series.cursor)
        shapes.append(shape("line", {"x1": x, "y1": top, "x2": x, "y2": height - bottom,
                                     "stroke": "#c44e52", "stroke-width": 1.5,
                                     "stroke-dasharray": "4 3",
                                     "data-cursor": _fmt(series.cursor + series.x_shift)}))
    return (width, height), shapes


def _circle_positions(count: int) -> list[tuple[float, float]]:
    if count == 1:
        return [(0.5, 0.5)]
    return [(0.5 + 0.42 * math.cos(2 * math.pi * i / count - math.pi / 2),
             0.5 + 0.42 * math.sin(2 * math.pi * i / count - math.pi / 2))
            for i in range(count)]


def network_shapes(network: Network) -> tuple[tuple[int, int], list[Shape]]:
    """Edges first (width by weight, an arrow head when directed), then nodes (radius by the
    square root of size; marked ones ringed), their labels and the legend."""
    width, height = NETWORK_SIZE
    pad = 40
    ring = _circle_positions(max(1, len(network.nodes)))
    where: dict[str, tuple[float, float]] = {}
    for node, default in zip(network.nodes, ring, strict=False):
        fx, fy = node.at if node.at is not None else default
        where[node.id] = (pad + fx * (width - 2 * pad), pad + fy * (height - 2 * pad))
    biggest = max((node.size for node in network.nodes), default=1.0)
    radius = {node.id: 6 + 14 * math.sqrt(node.size / biggest) for node in network.nodes}
    shapes: list[Shape] = []
    for edge in network.edges:
        if edge.source not in where or edge.target not in where:
            continue
        (x1, y1), (x2, y2) = where[edge.source], where[edge.target]
        attrs = {"stroke": edge.color, "stroke-opacity": 0.7,
                 "stroke-width": round(0.5 + 6 * max(0.0, min(1.0, edge.weight)), 2),
                 "data-source": edge.source, "data-target": edge.target,
                 "data-weight": round(edge.weight, 4)}
        if edge.source == edge.target:
            shapes.append(shape("circle", {"cx": x1, "cy": y1 - radius[edge.source],
                                           "r": 8, "fill": "none", **attrs}, title=edge.title))
            continue
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        ux, uy = (x2 - x1) / length, (y2 - y1) / length
        ex, ey = x2 - ux * radius[edge.target], y2 - uy * radius[edge.target]
        shapes.append(shape("line", {"x1": x1, "y1": y1, "x2": ex, "y2": ey, **attrs},
                            title=edge.title))
        if network.directed:
            head = 7
            left = (ex - ux * head - uy * head / 2, ey - uy * head + ux * head / 2)
            right = (ex - ux * head + uy * head / 2, ey - uy * head - ux * head / 2)
            shapes.append(shape("polyline", {
                "points": f"{left[0]:.1f},{left[1]:.1f} {ex:.1f},{ey:.1f} "
                          f"{right[0]:.1f},{right[1]:.1f}",
                "fill": "none", "stroke": edge.color, "stroke-width": 1.5}))
    for node in network.nodes:
        x, y = where[node.id]
        attrs = {"cx": x, "cy": y, "r": radius[node.id], "fill": node.color,
                 "stroke": "#222" if node.marked else "#fff",
                 "stroke-width": 3 if node.marked else 1, "data-node": node.id,
                 "data-marked": "yes" if node.marked else "no"}
        shapes.append(shape("circle", attrs, title=node.title or node.label, pick=node.pick))
        if node.label:
            shapes.append(shape("text", {"x": x, "y": y + radius[node.id] + 11,
                                         "font-size": 10, "text-anchor": "middle",
                                         "pointer-events": "none"}, text=node.label))
    for i, (label, color) in enumerate(network.legend.items()):
        shapes.append(shape("rect", {"x": 6, "y": 6 + 14 * i, "width": 10, "height": 10,
                                     "fill": color}))
        shapes.append(shape("text", {"x": 20, "y": 15 + 14 * i, "font-size": 10}, text=label))
    return (width, height), shapes


def map_shapes(town: TownMap) -> tuple[tuple[int, int], list[Shape]]:
    """Places as labelled squares, people as dots at their place (spread around it) or on
    the way between two, aggregated groups as numbered discs, speech as text beside the
    speaker."""
    width, height = MAP_SIZE
    pad = 50
    xs = [p.x for p in town.places] + [w.x for w in town.walkers]
    ys = [p.y for p in town.places] + [w.y for w in town.walkers]
    if not xs:
        return (width, height), [shape("text", {"x": 20, "y": 30}, text="no places")]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    span_x, span_y = (x1 - x0) or 1.0, (y1 - y0) or 1.0

    def sx(x: float) -> float:
        return pad + (x - x0) / span_x * (width - 2 * pad)

    def sy(y: float) -> float:
        return pad + (y - y0) / span_y * (height - 2 * pad)

    shapes: list[Shape] = []
    for place in town.places:
        x, y = sx(place.x), sy(place.y)
        shapes.append(shape("rect", {"x": x - 9, "y": y - 9, "width": 18, "height": 18,
                                     "fill": "#eef2f7", "stroke": "#9aa7b8",
                                     "data-place-id": place.id},
                            title=f"{place.name} ({place.kind})" if place.kind else place.name))
        shapes.append(shape("text", {"x": x, "y": y + 22, "font-size": 9,
                                     "text-anchor": "middle", "fill": "#556"}, text=place.name))
    crowd: dict[tuple[float, float], int] = {}
    labels: list[Shape] = []
    for walker in town.walkers:
        key = (round(walker.x, 3), round(walker.y, 3))
        nth = crowd.get(key, 0)
        crowd[key] = nth + 1
        angle = 2.4 * nth  # spread people at one place on a small spiral
        spread = 0 if nth == 0 else 9 + 2.5 * math.sqrt(nth)
        x = sx(walker.x) + spread * math.cos(angle)
        y = sy(walker.y) + spread * math.sin(angle)
        selected = walker.pick is not None and walker.pick == town.selected
        radius = 6 if walker.count == 1 else 8 + 3 * math.sqrt(walker.count)
        attrs = {"cx": round(x, 1), "cy": round(y, 1), "r": round(radius, 1),
                 "fill": walker.color, "stroke": "#111" if selected else "#fff",
                 "stroke-width": 2.5 if selected else 1,
                 "data-walker": walker.id, "data-place": walker.place,
                 "data-walking": "yes" if walker.walking else "no",
                 "data-count": walker.count}
        what = f"{walker.label}: {walker.activity}" if walker.activity else walker.label
        shapes.append(shape("circle", attrs, title=what, pick=walker.pick))
        label = str(walker.count) if walker.count > 1 else walker.label.split(" ")[0]
        labels.append(shape("text", {"x": round(x, 1), "y": round(y - radius - 3, 1),
                                     "font-size": 9, "text-anchor": "middle",
                                     "pointer-events": "none"}, text=label))
        if walker.speech:
            labels.append(shape("text", {"x": round(x + radius + 4, 1), "y": round(y + 4, 1),
                                         "font-size": 10, "fill": "#1f4e8c",
                                         "font-style": "italic", "data-speech": walker.id,
                                         "pointer-events": "none"},
                                text=f"“{_clip(walker.speech, 60)}”"))
    return (width, height), shapes + labels  # labels on top, but never in a click's way


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
