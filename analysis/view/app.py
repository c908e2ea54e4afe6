"""The Solara app `societas view` serves: the page of the run named by SOCIETAS_VIEW_RUN
(set by `analysis.view.server` before Solara imports this module)."""

from __future__ import annotations

import os

import solara

from analysis.view.page import RunPage
from analysis.view.server import RUN_ENV
from analysis.view.source import RunSource

SOURCE = RunSource(os.environ[RUN_ENV])


@solara.component
def Page() -> None:
    RunPage(SOURCE)
