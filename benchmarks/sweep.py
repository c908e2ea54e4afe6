"""How much a process pool speeds up a sweep: 8 rule-brain Donor Game runs, sequential (the
inline executor, in this process) versus on the pool, measured in the same invocation.

Both sweeps run the same 8 specs into fresh directories, without figures or a cache, and the
script checks that both wrote identical stores (`sim.store.snapshot`), so the pool's figure is
for the same work. The pool's time includes starting its workers (forked here: the script
has no other thread): that is what a user waits for. The ideal is min(workers, 8); on a
machine whose cores are busy with other work, less. The last line is `sweep_pool_speedup`:
sequential wall time / pool wall time.

    python benchmarks/sweep.py [--workers N] [--agents 24] [--generations 10]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from sim.store import snapshot
from sim.sweeps import plan_sweep, run_sweep


def timed_sweep(out: Path, executor: str, args: argparse.Namespace) -> tuple[float, dict]:
    plan = plan_sweep("donor-game", seeds=range(4), grid={"punishment": ["none", "costly"]},
                      fixed={"agents": args.agents, "generations": args.generations},
                      out=out, use_cache=False)
    started = time.perf_counter()
    outcomes = run_sweep(plan, executor, workers=args.workers)
    wall = time.perf_counter() - started
    assert [o.status for o in outcomes] == ["finished"] * 8, outcomes
    return wall, {s.name: snapshot(Path(s.run_dir) / "run.sqlite") for s in plan.specs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--agents", type=int, default=24)
    parser.add_argument("--generations", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sequential, expected = timed_sweep(Path(tmp) / "inline", "inline", args)
        pooled, stores = timed_sweep(Path(tmp) / "pool", "pool", args)
    assert stores == expected, "the pool wrote different stores"
    workers = min(args.workers, 8)
    print(f"8 runs ({args.agents} agents, {args.generations} generations, rule brains): "
          f"sequential {sequential:.2f} s, pool of {workers} worker{'s' * (workers != 1)} "
          f"{pooled:.2f} s (load average {os.getloadavg()[0]:.1f})")
    print(f"sweep_pool_speedup {sequential / pooled:.2f}")


if __name__ == "__main__":
    main()
