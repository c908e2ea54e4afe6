"""Every notebook in notebooks/ runs top to bottom, headless and offline, and shows figures.

Notebooks are part of the public documentation: one that no longer runs against the current
API is a bug. They are committed without outputs (so diffs stay readable and no stale result
is mistaken for a current one); this test executes them in a fresh kernel from a scratch
working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="needs the test extra: pip install -e '.[test]'")
nbclient = pytest.importorskip("nbclient", reason="needs the test extra: pip install -e '.[test]'")

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
#: Figures each notebook must display at least.
MIN_FIGURES = {"quickstart": 2, "compare_brains": 3, "strategies_and_lineage": 4,
               "llm_agents": 1}
#: Text some output of a notebook must show: the LLM notebook's run finished, with model calls.
MUST_SHOW = {"llm_agents": "('finished', "}


def test_the_expected_notebooks_exist():
    assert {p.stem for p in NOTEBOOKS} >= set(MIN_FIGURES)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path: Path):
    notebook = nbformat.read(path, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name}: clear outputs before committing")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_and_shows_its_figures(path: Path, tmp_path: Path, monkeypatch):
    # offline: litellm must never reach for the network, and plots need no display
    for key, value in {"LITELLM_OFFLINE_MODE": "true", "LITELLM_LOCAL_MODEL_COST_MAP": "True",
                       "HF_HUB_OFFLINE": "1", "MPLBACKEND": "Agg", "TMPDIR": str(tmp_path)
                       }.items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute(env=dict(os.environ))
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    figures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(figures) >= MIN_FIGURES.get(path.stem, 1), f"{path.name} showed too few figures"
    if path.stem in MUST_SHOW:
        texts = [o.get("data", {}).get("text/plain", "") for o in outputs]
        assert any(MUST_SHOW[path.stem] in text for text in texts), texts
