"""The Solara app `societas view` serves (the directory comes in SOCIETAS_VIEW_RUN, set by
`analysis.viewer.server` before Solara imports this module).

A run directory is shown at `/`. A directory of runs (`runs/`, a sweep's folder) lists its
runs at `/`, each shown at `/?run=NAME`, and runs that appear later (a sweep going on) are
listed as they come (reload the list).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import parse_qs, quote

import solara

from analysis.viewer.page import RunPage
from analysis.viewer.server import RUN_ENV
from analysis.viewer.source import RunSource
from sim.store import STORE_FILENAME

ROOT = Path(os.environ[RUN_ENV])
_SOURCES: dict[str, RunSource] = {}
_LOCK = threading.Lock()


def source_for(name: str) -> RunSource | None:
    """The run `ROOT/name` (or ROOT itself for ''), one `RunSource` per run for all pages."""
    path = ROOT if not name else ROOT / name
    if not name and not (ROOT / STORE_FILENAME).is_file():
        return None
    if (name and ("/" in name or name.startswith("."))) or not (path / STORE_FILENAME).is_file():
        return None
    with _LOCK:
        if name not in _SOURCES:
            _SOURCES[name] = RunSource(path)
        return _SOURCES[name]


def run_names() -> list[str]:
    return sorted(p.parent.name for p in ROOT.glob(f"*/{STORE_FILENAME}"))


@solara.component
def RunList() -> None:
    names = run_names()
    with solara.Column(style={"padding": "8px 16px"}):
        solara.v.Html(tag="h3", children=[f"Runs in {ROOT}"])
        if not names:
            solara.v.Html(tag="div", children=["no runs here yet (reload to look again)"])
        for name in names:
            solara.v.Html(tag="a", attributes={"href": f"?run={quote(name)}", "data-run": name},
                          children=[name], style_="display: block")


@solara.component
def Page() -> None:
    router = solara.use_router()
    name = parse_qs(router.search or "").get("run", [""])[0]
    source = source_for(name)
    if source is not None:
        RunPage(source)
    elif not name:
        RunList()
    else:
        solara.v.Html(tag="div", children=[f"no run named {name} in {ROOT}"])
