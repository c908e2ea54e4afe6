"""How much a process pool speeds up a sweep, and whether a shared rate limit holds on it.

First figure: 8 rule-brain Donor Game runs, sequential (the inline executor, in this process)
versus on the pool, measured in the same invocation.

Both sweeps run the same 8 specs into fresh directories, without figures or a cache, and the
script checks that both wrote identical stores (`sim.store.snapshot`), so the pool's figure is
for the same work. The pool's time includes starting its workers (forked here: the script
has no other thread): that is what a user waits for. The ideal is min(workers, 8); on a
machine whose cores are busy with other work, less. The last line is `sweep_pool_speedup`:
sequential wall time / pool wall time.

Second figure: 8 tiny LLM runs on the pool against the scripted server (on loopback, replies
after `--latency` seconds, TCP_NODELAY), each run in a fresh directory with no cache, so every
call reaches the server. The server notes when each request arrives; the figure is the peak
number of requests in any one-second window, measured there, next to the shared limit
(`--rpm` requests/min, i.e. rpm/60 a second), for the runs unlimited (what they demand) and
under each limit. The last line is `sweep_limit_peak_ratio`: peak requests/s at the server
under the first limit / that limit a second (at most about 1 when the limit holds).

    python benchmarks/sweep.py [--workers N] [--agents 24] [--generations 10]
                               [--rpm 600 --rpm 1200] [--latency 0.05] [--skip-pool]
"""

from __future__ import annotations

import argparse
import bisect
import os
import tempfile
import threading
import time
from pathlib import Path

from scenarios.donor_game.scripted_player import scripted_player
from sim.store import snapshot
from sim.sweeps.plan import plan_sweep, run_sweep
from sim.testing.scripted_server import ChatRequest, ScriptedLLMServer


def timed_sweep(out: Path, executor: str, args: argparse.Namespace) -> tuple[float, dict]:
    plan = plan_sweep("donor-game", seeds=range(4), grid={"punishment": ["none", "costly"]},
                      fixed={"agents": args.agents, "generations": args.generations},
                      out=out, use_cache=False)
    started = time.perf_counter()
    outcomes = run_sweep(plan, executor, workers=args.workers)
    wall = time.perf_counter() - started
    assert [o.status for o in outcomes] == ["finished"] * 8, outcomes
    return wall, {s.name: snapshot(Path(s.run_dir) / "run.sqlite") for s in plan.specs}


class ArrivalLog:
    """The server's side: when each request arrived; replies after `latency` seconds."""

    def __init__(self, latency: float) -> None:
        self.latency, self.times, self.lock = latency, [], threading.Lock()

    def __call__(self, request: ChatRequest) -> str:
        with self.lock:
            self.times.append(time.monotonic())
        time.sleep(self.latency)
        return scripted_player(request)

    def peak_per_second(self) -> int:
        times = sorted(self.times)
        return max((bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times)),
                   default=0)


def limited_sweep(out: Path, rpm: float | None, args: argparse.Namespace) -> tuple[int, int, float]:
    """(peak requests/s at the server, requests, wall s) of 8 LLM runs under `rpm`."""
    log = ArrivalLog(args.latency)
    with ScriptedLLMServer(log) as server:
        plan = plan_sweep("donor-game", seeds=range(8), models=["openai/scripted"],
                          fixed={"agents": 6, "generations": 1, "rounds": 2, "games": 1,
                                 "api_base": server.url, "timeout_s": 30.0},
                          out=out, use_cache=False,
                          rate_limit=None if rpm is None else {"requests_per_min": rpm})
        started = time.perf_counter()
        outcomes = run_sweep(plan, "pool", workers=args.workers)
        wall = time.perf_counter() - started
    assert [o.status for o in outcomes] == ["finished"] * 8, outcomes
    return log.peak_per_second(), len(log.times), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--agents", type=int, default=24)
    parser.add_argument("--generations", type=int, default=10)
    parser.add_argument("--rpm", type=float, action="append",
                        help="requests/min limits to try (default: 600 and 1200)")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--skip-pool", action="store_true", help="only the LLM figure")
    args = parser.parse_args()
    limits = args.rpm or [600.0, 1200.0]
    if not args.skip_pool:
        with tempfile.TemporaryDirectory() as tmp:
            sequential, expected = timed_sweep(Path(tmp) / "inline", "inline", args)
            pooled, stores = timed_sweep(Path(tmp) / "pool", "pool", args)
        assert stores == expected, "the pool wrote different stores"
        workers = min(args.workers, 8)
        print(f"8 runs ({args.agents} agents, {args.generations} generations, rule brains): "
              f"sequential {sequential:.2f} s, pool of {workers} worker{'s' * (workers != 1)} "
              f"{pooled:.2f} s (load average {os.getloadavg()[0]:.1f})")
        print(f"sweep_pool_speedup {sequential / pooled:.2f}")
    peaks = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rpm in [None, *limits]:
            peak, requests, wall = limited_sweep(Path(tmp) / f"rpm-{rpm}", rpm, args)
            peaks[rpm] = peak
            limit = "unlimited" if rpm is None else f"limit {rpm:g}/min = {rpm / 60:g}/s"
            print(f"8 LLM runs on the pool, {limit}: {requests} requests in {wall:.1f} s, "
                  f"peak {peak} requests/s at the server")
    print(f"sweep_limit_peak_ratio {peaks[limits[0]] / (limits[0] / 60):.2f}")


if __name__ == "__main__":
    main()
