"""How long a large rule-brained town takes: one simulated day of 100 rule residents, in memory
(`Town(config).run_model()`, no store), with the paper's architecture and, as the baseline
measured in the same run, with every part at its cheaper simplification (`architecture.preset
= "lean"`).

The town is Brackenford (25 residents) with each resident four times over (ids and names
numbered), so 100 people share its 18 public places: busy cafés and bars, where perception's
attention bandwidth and retention do their work. Target: under 10 s for the paper's
architecture on the 2-core development machine. The last line is that time.

    python benchmarks/town_rule_day.py [--residents 100] [--days 1] [--repeat 1]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from importlib import resources
from pathlib import Path

from scenarios.town.config import TownConfig
from scenarios.town.model import Town
from sim.config import load_config


def crowded_town(path: Path, copies: int) -> Path:
    """Brackenford with every resident `copies` times (newcomers and intentions kept)."""
    text = resources.files("scenarios.town").joinpath("brackenford.toml").read_text("utf-8")
    head, rest = text.split("[[residents]]", 1)
    residents, tail = rest.split("# -- newcomers", 1)
    entries = ["[[residents]]" + e for e in ("[[residents]]" + residents).split(
        "[[residents]]") if e.strip()]
    copied = []
    for k in range(copies):
        for entry in entries:
            if k == 0:
                copied.append(entry)
                continue
            entry = re.sub(r'^id = "(\w+)"', rf'id = "\g<1>{k + 1}"', entry, flags=re.M)
            entry = re.sub(r'^name = "([^"]+)"', rf'name = "\g<1> {k + 1}"', entry, flags=re.M)
            copied.append(entry)
    path.write_text(head + "".join(copied) + "# -- newcomers" + tail, encoding="utf-8")
    return path


def day_seconds(town_file: Path, residents: int, days: int, preset: str) -> float:
    config = load_config(TownConfig, values={
        "town_file": str(town_file), "residents": residents, "days": days, "seed": 1,
        "architecture": {"preset": preset}})
    started = time.perf_counter()
    Town(config).run_model()  # type: ignore[arg-type]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--residents", type=int, default=100)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (median shown)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        town = crowded_town(Path(tmp) / "crowded.toml", -(-args.residents // 25))
        times = {preset: statistics.median(
            day_seconds(town, args.residents, args.days, preset) for _ in range(args.repeat))
            for preset in ("lean", "paper")}
    print(f"residents={args.residents} days={args.days} rule brains, in memory")
    print(f"lean architecture: {times['lean']:.2f} s; the paper's: {times['paper']:.2f} s "
          f"({times['paper'] / times['lean']:.1f}x)")
    print(f"town_rule_day_s {times['paper'] / args.days:.2f}")


if __name__ == "__main__":
    main()
