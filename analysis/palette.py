"""Strategy colours a reader can follow, assigned once for a whole report.

A legend is read top to bottom and a figure compared with the next: both work only if the
labels come in an order that means something and keep their colours. So a label is read as a
**family** and its **parameters**: 'generous(g=0.3)' is the family 'generous' with 0.3,
'tit_for_tat-2' the family 'tit_for_tat' with 2, 'llm' a family without parameters (the
family is the label up to its first digit, space or one of ``( [ : = ,``). Labels are ordered
by family (alphabetically, ignoring case), then by their parameters as numbers (2 before 10).
Each family gets one hue from a fixed list of distinct colours, in that order; a family with
several labels gets shades of its hue, dark for the lowest parameters to light for the
highest, so a family reads as one colour and its members in order.

The colours depend only on the set of labels, never on the order they were found in, so a
report builds one `Palette` of every label of its runs (`analysis.scenario.report_context`)
and every figure of it, generic or the scenario's own, agrees.
"""

from __future__ import annotations

import colorsys
import re
from collections.abc import Iterable

__all__ = ["UNKNOWN", "Palette", "family_of", "strategy_order_key"]

#: The colour of a label the palette was not built with.
UNKNOWN = "#7f7f7f"
_NUMBER = re.compile(r"(?<![\w.])-\d+(?:\.\d+)?|\d+(?:\.\d+)?")
_FAMILY_END = re.compile(r"[\d\s(\[:=,]")
DARKEST, LIGHTEST = 0.30, 0.72  # HLS lightness of a family's first and last shade


def family_of(label: str) -> str:
    """The family a label belongs to: 'generous(g=0.3)' -> 'generous' ('' for a label that
    starts with its parameters, such as a generation number)."""
    text = str(label)
    end = _FAMILY_END.search(text)
    return (text[: end.start()] if end else text).rstrip("-_ ")


def strategy_order_key(label: str) -> tuple:
    """Sort key: family (case ignored), then the label's text and numbers in turn, numbers
    compared as numbers, so 'x-2' comes before 'x-10'."""
    text = str(label)
    parts: list[tuple[int, float, str]] = []
    position = 0
    for match in _NUMBER.finditer(text):
        if match.start() > position:
            parts.append((0, 0.0, text[position:match.start()].casefold()))
        parts.append((1, float(match.group()), ""))
        position = match.end()
    if position < len(text):
        parts.append((0, 0.0, text[position:].casefold()))
    return (family_of(text).casefold(), tuple(parts), text)


def _base_colors() -> list[str]:
    """Distinct colours in a fixed order: tab10, then tab20's light half, then tab20b."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    colors = [to_hex(c) for c in colormaps["tab10"].colors]
    colors += [to_hex(c) for c in colormaps["tab20"].colors[1::2]]
    colors += [to_hex(c) for c in colormaps["tab20b"].colors]
    return list(dict.fromkeys(colors))


def _family_color(index: int, families: int) -> str:
    """The `index`-th family's hue: the tabulated colours, then evenly spaced hues."""
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    base = _base_colors()
    if index < len(base):
        return base[index]
    extra = max(1, families - len(base))
    return to_hex(colormaps["hsv"](0.9 * (index - len(base)) / extra))


def _shades(color: str, n: int) -> list[str]:
    """`n` shades of `color`, dark to light (the colour itself when n is 1)."""
    if n == 1:
        return [color]
    from matplotlib.colors import to_hex, to_rgb

    hue, _, saturation = colorsys.rgb_to_hls(*to_rgb(color))
    steps = [DARKEST + (LIGHTEST - DARKEST) * i / (n - 1) for i in range(n)]
    return [to_hex(colorsys.hls_to_rgb(hue, lightness, saturation)) for lightness in steps]


class Palette:
    """One colour per strategy label: families grouped, parameters in order (module doc).

    `colors` maps each label to its colour in the palette's order; `labels` is that order,
    the one legends and stacked figures use (`order`).
    """

    def __init__(self, labels: Iterable[str] = ()) -> None:
        ordered = sorted({str(label) for label in labels}, key=strategy_order_key)
        families: dict[str, list[str]] = {}
        for label in ordered:
            families.setdefault(family_of(label).casefold(), []).append(label)
        self.colors: dict[str, str] = {}
        for index, members in enumerate(families.values()):
            hue = _family_color(index, len(families))
            self.colors.update(zip(members, _shades(hue, len(members)), strict=True))

    @property
    def labels(self) -> list[str]:
        return list(self.colors)

    def color(self, label: str) -> str:
        """The label's colour; one the palette was not built with gets grey."""
        return self.colors.get(str(label), UNKNOWN)

    def order(self, labels: Iterable[str]) -> list[str]:
        """`labels` (each once) in the palette's order; labels it does not know come last,
        in the same family-then-parameter order."""
        unique = list(dict.fromkeys(str(label) for label in labels))
        rank = {label: i for i, label in enumerate(self.colors)}
        return sorted(unique, key=lambda label: (rank.get(label, len(rank)),
                                                 strategy_order_key(label)))

    def __repr__(self) -> str:
        return f"Palette({self.colors!r})"
