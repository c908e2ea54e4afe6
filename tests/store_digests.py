"""Digests of a scenario's store, table by table, for a fixed config and seed.

A refactoring of how generations turn over must leave every store it does not mean to change
exactly as it was. `tests/test_store_stability.py` compares runs with the digests recorded
before such a change; run this file as a script to print them for another checkout (e.g.
`PYTHONPATH=/path/to/other/checkout python tests/store_digests.py`) and compare by hand:

    python tests/store_digests.py public-goods commons donor-game
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any


def store_digests(scenario_name: str, **values: Any) -> dict[str, str]:
    """sha256 of every table's rows (as `sim.snapshot` reads them) of one run in memory."""
    from sim import get_scenario, load_config, snapshot
    from sim.runs.runner import RunOptions, run_scenario

    spec = get_scenario(scenario_name)
    config = load_config(spec.config_type, values={"seed": 3, **values})
    with tempfile.TemporaryDirectory() as folder:
        result = run_scenario(spec, config, run_dir=Path(folder) / "run",
                              options=RunOptions(progress=False, figures=False))
        assert result.status == "finished", result.message
        tables = snapshot(result.run_dir / "run.sqlite")
    return {name: hashlib.sha256(repr(rows).encode()).hexdigest()[:16]
            for name, rows in sorted(tables.items())}


#: The runs compared: each converted scenario's default run, and variants that reach the other
#: paths of a generation's turnover (costly punishment, every survivor draw, discussion,
#: rule families of several kinds, regrowth noise).
CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "public-goods": ("public-goods", {}),
    "public-goods-costly-proportional": ("public-goods", {
        "punishment": "costly", "selection": "proportional", "generations": 4, "rounds": 3}),
    "public-goods-random": ("public-goods", {
        "selection": "random", "brains": {"free_rider": 1, "punisher": 1}, "generations": 3,
        "rounds": 2, "mutation_sd": 0.2}),
    "commons": ("commons", {}),
    "commons-generations": ("commons", {
        "generations": 4, "seasons": 5, "selection": "proportional", "discussion": True,
        "regrowth_sd": 0.1, "agents": 6}),
    "donor-game": ("donor-game", {}),
    "donor-game-random": ("donor-game", {"selection": "random", "generations": 3}),
}


if __name__ == "__main__":
    names = sys.argv[1:] or list(CASES)
    print(json.dumps({name: store_digests(CASES[name][0], **CASES[name][1]) for name in names},
                     indent=1))
