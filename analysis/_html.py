"""Small HTML building blocks for the self-contained report.

Everything that came from a run (agent texts, run names, model names) passes through
`html.escape` here or in pandas' escaping table writer: a strategy text is written by a model
and may contain markup, and the report must show it as text, never run it.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

PNG_DPI = 100

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222;
       line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; }
nav a { margin-right: 1em; }
table.data { border-collapse: collapse; font-size: .85em; margin: .8em 0; }
table.data th, table.data td { border: 1px solid #ddd; padding: .25em .55em; text-align: right; }
table.data th { background: #f3f3f3; }
table.text td, table.data td:first-child { text-align: left; }
table.data td:first-child { font-weight: 600; }
div.scroll { overflow-x: auto; }
img.figure { max-width: 100%; display: block; margin: 1em 0; border: 1px solid #eee; }
blockquote.strategy { margin: .4em 0 .8em 1em; padding: .4em .8em; background: #f7f7f4;
       border-left: 3px solid #bbb; white-space: pre-wrap; font-size: .9em; }
p.note { color: #555; font-size: .9em; }
"""

#: Marks the body once every image has decoded, so a headless browser (and a test) can tell
#: that all figures actually display: data-images-ok="yes" and data-images="loaded/total".
IMAGE_CHECK = """
<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute("data-images", loaded.length + "/" + images.length);
  document.body.setAttribute("data-images-ok", loaded.length === images.length ? "yes" : "no");
});
</script>
"""


def text(value: object) -> str:
    """Any value as escaped HTML text."""
    return html.escape(str(value), quote=True)


def figure(fig: Figure | Path, alt: str) -> str:
    """A figure as an <img> with the PNG embedded as base64 (no external file to lose); a
    `Path` is a PNG file this process has just drawn, embedded as it is."""
    if isinstance(fig, Path):
        png = fig.read_bytes()
    else:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=PNG_DPI)
        png = buffer.getvalue()
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="figure" alt="{text(alt)}" src="data:image/png;base64,{data}">'


def table(frame: pd.DataFrame, index: bool = True, digits: int = 3, text_cells: bool = False
          ) -> str:
    """A DataFrame as an HTML table with escaped cells and rounded floats.

    Numbers are right-aligned; `text_cells` left-aligns every cell, for tables of words.
    """
    if frame.empty:
        return '<p class="note">(no rows)</p>'
    if index:  # the index as ordinary leading columns: one header row, not two
        frame = frame.reset_index()
        index = False
    frame = frame.rename_axis(columns=None)
    classes = ["data", "text"] if text_cells else ["data"]
    body = frame.to_html(classes=classes, border=0, index=index, escape=True, na_rep="–",
                         float_format=lambda v: f"{v:.{digits}f}")
    return f'<div class="scroll">{body}</div>'


def section(anchor: str, title: str, body: list[str]) -> str:
    return f'<section id="{text(anchor)}">\n<h2>{text(title)}</h2>\n' + "\n".join(body) + (
        "\n</section>")


def note(message: str) -> str:
    return f'<p class="note">{text(message)}</p>'


def page(title: str, nav: list[tuple[str, str]], sections: list[str]) -> str:
    links = " ".join(f'<a href="#{text(a)}">{text(t)}</a>' for a, t in nav)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{text(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{text(title)}</h1>\n<nav>{links}</nav>\n" + "\n".join(sections)
        + IMAGE_CHECK + "</body>\n</html>\n"
    )
