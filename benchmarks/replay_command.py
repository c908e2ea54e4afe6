"""`societas replay` of a finished LLM run against the run itself, both as whole commands.

The scripted server (the Donor Game player, `--delay` seconds per reply) runs in a child
process. `societas run donor-game --model openai/scripted ...` (the default 12 agents and 10
generations: about 250 batches of calls) is timed as a command, from start to exit, startup
included; then `societas replay RUN_DIR`, which re-executes the run from its own store with no
model call, checking every checkpoint. Replay costs the command's startup (Python, Mesa: about
a second) plus the re-execution; the run costs its startup plus one model latency per batch, so
the ratio grows with the latency and the run's length: the figure is for the latency given.

Last line: the run's time over the replay's (target >= 100).

    python benchmarks/replay_command.py [--delay 1.0] [--generations 10] [--agents 12]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from child_server import child_server


def timed(argv: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=False,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} failed:\n{done.stderr[-2000:]}")
    return elapsed, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--generations", type=int, default=10)
    parser.add_argument("--agents", type=int, default=12)
    args = parser.parse_args()
    societas = [sys.executable, "-m", "sim.cli"]
    with child_server("--player", "donor-game", "--delay", str(args.delay)) as (url, _), \
            tempfile.TemporaryDirectory() as tmp:
        run_s, out = timed([*societas, "run", "donor-game", "--model", "openai/scripted",
                            "--set", f'api_base="{url}"',
                            "--set", f"generations={args.generations}",
                            "--set", f"agents={args.agents}", "--out", tmp, "--quiet",
                            "--no-figures", "--no-cache"])
        run_dir = Path(out.strip().splitlines()[-1].removeprefix("run: "))
        replay_s, said = timed([*societas, "replay", str(run_dir)])
    print(f"{args.agents} LLM agents, {args.generations} generations, "
          f"{args.delay:g} s a reply")
    print(f"societas run: {run_s:.1f} s; societas replay: {replay_s:.2f} s "
          f"({said.strip().splitlines()[-1]})")
    print(f"replay_command_speedup {run_s / replay_s:.0f}")


if __name__ == "__main__":
    main()
