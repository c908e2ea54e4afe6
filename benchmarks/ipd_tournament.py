"""The prisoner's dilemma tournament against the Axelrod library, on the same field.

Societas plays its default tournament (the nine classics, 200 turns, 10 repetitions, every
move recorded, the ranking written) as a user runs it, `run_scenario` with a fresh store, no
cache and no figures; then `axelrod.Tournament` plays the same nine strategies with the same
turns and repetitions (`play(progress_bar=False)`: in this process, results built, its
interactions written to a temporary file as it does by default). Both are timed in one
process after a small warm-up of each. `--asked` also times Societas with every move asked
through the barrier (`IPDTournament.fast_matches = False`, the path before the rule matches'
loop), whose store the script checks to be the same.

The Axelrod library (the `test` extra) classifies its strategies on import by reading their
source, which takes tens of seconds on Python 3.12; as in `tests/test_ipd.py`, the source is
memoised for the import alone, which changes nothing the library computes.

Last line: Societas's time over the library's (target <= 1.5).

    python benchmarks/ipd_tournament.py [--turns 200] [--repetitions 10] [--asked]
"""

from __future__ import annotations

import argparse
import functools
import inspect
import tempfile
import time
from pathlib import Path
from types import ModuleType

from scenarios.ipd.config import CLASSICS
from scenarios.ipd.game import IPDTournament
from sim.config import load_config
from sim.registry import get_scenario
from sim.runs.runner import RunOptions, run_scenario
from sim.store import snapshot

#: Our names of the classics -> the Axelrod library's classes.
AXELROD_NAMES = {
    "tit_for_tat": "TitForTat", "grudger": "Grudger", "alternator": "Alternator",
    "cooperator": "Cooperator", "defector": "Defector", "random": "Random",
    "tit_for_two_tats": "TitFor2Tats", "suspicious_tit_for_tat": "SuspiciousTitForTat",
    "win_stay_lose_shift": "WinStayLoseShift",
}
OPTIONS = RunOptions(use_cache=False, progress=False, figures=False)


def import_axelrod() -> ModuleType:
    original = inspect.getsource
    inspect.getsource = functools.cache(original)
    try:
        import axelrod
    finally:
        inspect.getsource = original
    return axelrod


def societas(directory: Path, turns: int, repetitions: int) -> float:
    scenario = get_scenario("ipd-tournament")
    config = load_config(scenario.config_type, values={
        "turns": turns, "repetitions": repetitions, "seed": 0})
    started = time.perf_counter()
    result = run_scenario(scenario, config, run_dir=directory, options=OPTIONS)
    elapsed = time.perf_counter() - started
    assert result.status == "finished", result.message
    return elapsed


def library(axl: ModuleType, turns: int, repetitions: int) -> float:
    players = [getattr(axl, AXELROD_NAMES[name])() for name in CLASSICS]
    started = time.perf_counter()
    axl.Tournament(players, turns=turns, repetitions=repetitions, seed=0).play(
        progress_bar=False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--repetitions", type=int, default=10)
    parser.add_argument("--asked", action="store_true",
                        help="also time every move asked through the barrier")
    args = parser.parse_args()
    axl = import_axelrod()
    with tempfile.TemporaryDirectory() as tmp:
        societas(Path(tmp) / "warm-up", 10, 1)
        library(axl, 10, 1)
        ours = societas(Path(tmp) / "fast", args.turns, args.repetitions)
        theirs = library(axl, args.turns, args.repetitions)
        print(f"nine classics, {args.turns} turns, {args.repetitions} repetitions")
        if args.asked:
            IPDTournament.fast_matches = False
            asked = societas(Path(tmp) / "asked", args.turns, args.repetitions)
            IPDTournament.fast_matches = True
            assert snapshot(Path(tmp) / "fast" / "run.sqlite") == snapshot(
                Path(tmp) / "asked" / "run.sqlite"), "the two paths wrote different stores"
            print(f"Societas, every move asked through the barrier: {asked:.2f} s "
                  f"({asked / theirs:.2f}x the library; same store)")
    print(f"Societas (run_scenario, every move recorded): {ours:.2f} s")
    print(f"axelrod.Tournament.play: {theirs:.2f} s")
    print(f"ipd_vs_axelrod {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
