"""How long `societas report` takes on a 10,000-agent run, and which figure costs the most.

A report must stay interactive at the sizes the engine runs (10,000 rule-brained agents take
about 20 s to simulate here): the target is under 15 s for `societas report RUN` of a
10,000-agent Donor Game. The script makes that run once (rule brains, `--set agents=10000`,
3 generations of one game of 2 rounds; no figures, no cache) or reuses the one given with
`--run`, then

1. times `societas report RUN --out TMP` in a fresh process, as a user waits for it (Python's
   start and imports included, the run's declared figures redrawn into `RUN/figures/`): the
   figure this script ends with;
2. runs the same command again in this process with every figure timed, and prints each
   section's time and every figure's (the time from the previous figure or section to this
   one drawn: its data, drawing and PNG encoding), slowest first, so the next slowest part is
   visible.

The last line is `report_s_10000 SECONDS` (target: < 15).

    python benchmarks/report_scale.py [--run RUN_DIR] [--agents 10000] [--generations 3]
                                      [--keep DIR] [--no-breakdown]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_run(parent: Path, agents: int, generations: int) -> Path:
    """A rule-brained Donor Game of `agents` agents, through the command line."""
    parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "sim.cli", "run", "donor-game",
               "--set", f"agents={agents}", "--set", f"generations={generations}",
               "--set", "games=1", "--set", "rounds=2", "--quiet", "--no-figures",
               "--no-cache", "--out", str(parent)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"the run failed:\n{done.stderr[-2000:]}")
    run_dir = Path(done.stdout.strip().splitlines()[-1].removeprefix("run: "))
    print(f"made {run_dir} ({agents} agents, {generations} generations) in "
          f"{time.perf_counter() - started:.1f} s")
    return run_dir


def time_cli(run_dir: Path, out: Path) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of `societas report RUN_DIR --out OUT` in a
    fresh process. On a busy machine the wall time grows with the load; the CPU time hardly."""
    command = [sys.executable, "-m", "sim.cli", "report", str(run_dir), "--out", str(out)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    took = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"societas report failed:\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu


def breakdown(run_dir: Path, out: Path) -> None:
    """Run `societas report` again in this process, timing every section and figure; print
    them."""
    import contextlib
    import io

    from analysis import _html, _plotting
    from sim.cli import main

    figures: list[tuple[float, str]] = []
    sections: list[tuple[float, str]] = []
    mark = [time.perf_counter()]
    section_start = [time.perf_counter()]
    plain_figure, plain_section, plain_save = _html.figure, _html.section, _plotting.save

    def timed_figure(fig, alt):
        html = plain_figure(fig, alt)
        now = time.perf_counter()
        figures.append((now - mark[0], f"report: {alt}"))
        mark[0] = now
        return html

    def timed_section(anchor, title, body):
        now = time.perf_counter()
        sections.append((now - section_start[0], title))
        mark[0] = section_start[0] = now
        return plain_section(anchor, title, body)

    def timed_save(fig, path):
        written = plain_save(fig, path)
        now = time.perf_counter()
        figures.append((now - mark[0], f"RUN/figures/{Path(path).name}"))
        mark[0] = section_start[0] = now
        return written

    _html.figure, _html.section, _plotting.save = timed_figure, timed_section, timed_save
    try:
        started = mark[0] = section_start[0] = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["report", str(run_dir), "--out", str(out)]) == 0
        finished = time.perf_counter()
    finally:
        _html.figure, _html.section, _plotting.save = plain_figure, plain_section, plain_save
    print(f"in-process `societas report` (imports done): {finished - started:.2f} s")
    print("sections (figures, tables and their data), slowest first:")
    for took, title in sorted(sections, reverse=True):
        print(f"  {took:7.2f} s  {title}")
    print("figures, slowest first (RUN/figures/...: drawn once, embedded in the report as is):")
    for took, what in sorted(figures, reverse=True):
        print(f"  {took:7.2f} s  {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, help="an existing run directory to report")
    parser.add_argument("--agents", type=int, default=10000)
    parser.add_argument("--generations", type=int, default=3)
    parser.add_argument("--no-breakdown", action="store_true",
                        help="time `societas report` only, without the per-figure pass")
    parser.add_argument("--keep", type=Path, help="make the run under this directory and "
                        "keep it (default: a temporary directory, removed at the end)")
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")
    scratch = Path(tempfile.mkdtemp(prefix="report-scale-"))
    try:
        run_dir = args.run or make_run(args.keep or scratch / "runs", args.agents,
                                       args.generations)
        from analysis.run import load

        run = load(run_dir)
        created = len(run.agents)
        size = run.config.get("agents", run.config.get("nodes"))
        agents = int(size) if size is not None else created
        what = (f"{agents} agents a generation, {created} created" if size is not None
                else f"{created} agents")
        load_before = os.getloadavg()[0]
        took, cpu = time_cli(run_dir, scratch / "cli.html")
        print(f"societas report on {run_dir.name} ({what}): {took:.1f} s wall, {cpu:.1f} s "
              f"CPU (load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)")
        if not args.no_breakdown:
            breakdown(run_dir, scratch / "in-process.html")
        print(f"report_s_{agents} {took:.1f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
