"""Sweeps on a Ray cluster: each `RunSpec` becomes a Ray task, the rate limit a named actor.

A run is plain data and writes only its own directory, so a Ray task needs nothing but the
spec (and, for a run to resume, the directory the driver holds): it runs
`sim.sweeps.run_spec.execute_spec` on whichever node Ray picks, in place if that node sees the sweep
directory, else in the node's local scratch, whose run directory comes back to the sweep
directory when the run ends or is stopped (`sim.sweeps.run_transfer`). Outcomes and directories come
back through a mailbox actor, which also carries the driver's word to stop (Ctrl-C): each run
asks it at its rounds and stops there, resumably, and its partial directory still reaches the
driver (`ray.cancel` would interrupt a worker anywhere, even inside an import). On a
cluster, every node needs Societas (and the scenario packages) installed; no shared file
system is needed. With no address (and no `RAY_ADDRESS`), Ray starts a local instance for the
sweep, which is a way to use every core without the pool.

The shared rate limit lives in one actor named for the sweep (`sim.llm.ray_limiter`); runs
find it by the address 'ray:NAME'.

Ray is an optional extra (`pip install 'societas[ray]'`); without it `--executor ray` is one
line, exit status 2. Ray's usage statistics are switched off before it starts: these machines
must not reach the internet.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from sim.errors import UserError
from sim.llm.ratelimit import RateLimit
from sim.llm.ray_limiter import RayLimiter, RayLimiterService
from sim.sweeps.run_spec import RunOutcome, RunSpec

__all__ = ["RayExecutor", "RayLimiter", "RayLimiterService"]

#: How long a run waits for an answer of the sweep's mailbox actor, and the driver for what
#: stopped runs leave (their partial directories) before it gives up on them.
REQUEST_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 60.0
#: How often a run on Ray asks whether its sweep was stopped (at its rounds, no more often).
STOP_POLL_S = 0.25


def _ray() -> Any:
    """Ray, imported on first use (seconds), or the one-line reason it cannot be."""
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # never phone home (module docstring)
    try:
        import ray
    except ImportError:
        raise UserError("--executor ray needs Ray, which is not installed: "
                        "pip install 'societas[ray]'") from None
    return ray


def ensure_ray(address: str | None = None, **init: Any) -> Any:
    """Ray, connected: to `address`, to RAY_ADDRESS, or to a local instance started now."""
    ray = _ray()
    if not ray.is_initialized():
        options: dict[str, Any] = {"include_dashboard": False, "configure_logging": False}
        if address is None and not os.environ.get("RAY_ADDRESS"):
            options["_node_ip_address"] = "127.0.0.1"  # a local instance: loopback only
        options.update(init)
        try:
            ray.init(address=address, **options)
        except (ConnectionError, ValueError, RuntimeError) as error:
            where = address or os.environ.get("RAY_ADDRESS") or "a local instance"
            raise UserError(f"cannot start or reach Ray ({where}): "
                            f"{' '.join(str(error).split())}") from None
    return ray


def _execute_remote(spec: dict[str, Any], seed: bytes | None, marker: str, token: str,
                    mailbox: Any) -> None:
    """A Ray task: run the spec where this node can (`sim.sweeps.run_transfer`), then leave the
    outcome and, from a node's scratch, the run's directory with the sweep's mailbox.

    The sweep stops its runs through the mailbox (each run asks it at its rounds), never with
    `ray.cancel`: that raises KeyboardInterrupt at any bytecode of the worker, and one landing
    inside an import leaves the process's import lock held, so the next run the worker takes
    hangs at its first import from another thread."""
    from sim.sweeps.run_transfer import run_on_this_node

    ray = _ray()
    stop = _StopCheck(mailbox)
    if stop():  # the sweep was stopped before this run began
        return
    outcome, archive = run_on_this_node(RunSpec.from_dict(spec), seed, marker, token, stop)
    ray.get(mailbox.deposit.remote(outcome.name, asdict(outcome), archive), timeout=600)


class _StopCheck:
    """Whether the sweep asked its runs to stop (or is gone), asked of the mailbox at most
    every `STOP_POLL_S` (a call to an actor costs about a millisecond)."""

    def __init__(self, mailbox: Any) -> None:
        self.mailbox, self.asked, self.stopped = mailbox, -1.0, False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self.stopped and now - self.asked >= STOP_POLL_S:
            self.asked = now
            try:
                self.stopped = bool(_ray().get(self.mailbox.stopping.remote(),
                                               timeout=REQUEST_TIMEOUT_S))
            except Exception:  # the mailbox is gone with its sweep: stop, resumably
                self.stopped = True
        return self.stopped


class RunMailbox:
    """What the sweep's Ray tasks leave for the driver (each run's outcome and directory),
    and the driver's word to stop."""

    def __init__(self) -> None:
        self.left: dict[str, tuple[dict[str, Any], bytes | None]] = {}
        self.stop_asked = False

    def deposit(self, name: str, outcome: dict[str, Any], archive: bytes | None) -> None:
        self.left[name] = (outcome, archive)

    def take(self, name: str) -> tuple[dict[str, Any], bytes | None] | None:
        return self.left.pop(name, None)

    def stop(self) -> None:
        self.stop_asked = True

    def stopping(self) -> bool:
        return self.stop_asked


class RayExecutor:
    """Runs specs as Ray tasks (one CPU each), yielding outcomes as they end.

    Each run is written where its node can (`sim.sweeps.run_transfer`): in place when the node sees
    the sweep directory, else in the node's scratch, and its directory comes back to the
    sweep directory when it ends or is stopped. Ray starts a task whose worker or node died
    again, up to `retries` times, from the directory the driver holds.
    """

    def __init__(self, address: str | None = None, *, retries: int = 1, **init: Any) -> None:
        _ray()  # a missing Ray is said before the sweep writes anything
        self.address = address
        self.retries = retries
        self.init = init

    def map(self, specs: Sequence[RunSpec]) -> Iterator[RunOutcome]:
        if not specs:
            return
        from sim.sweeps.run_transfer import partial_run, place_marker

        ray = ensure_ray(self.address, **self.init)
        token = secrets.token_hex(8)
        marker = place_marker(Path(specs[0].run_dir).resolve().parent, token)
        mailbox = ray.remote(num_cpus=0)(RunMailbox).remote()
        task = ray.remote(num_cpus=1, max_retries=self.retries)(_execute_remote)
        names = {}
        for spec in specs:
            sent = replace(spec, run_dir=str(Path(spec.run_dir).resolve()))
            seed = partial_run(Path(spec.run_dir))
            names[task.remote(sent.to_dict(), seed, str(marker), token, mailbox)] = spec
        pending = list(names)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    yield self._collect(ray, ref, names[ref], mailbox)
        finally:
            if pending:  # Ctrl-C: the runs stop at their next round, resumably, and their
                # partial directories come back before the sweep ends
                ray.get(mailbox.stop.remote(), timeout=REQUEST_TIMEOUT_S)
                ended, late = ray.wait(pending, num_returns=len(pending),
                                       timeout=STOP_TIMEOUT_S)
                for ref in ended:
                    with contextlib.suppress(Exception):
                        self._collect(ray, ref, names[ref], mailbox)
                for ref in late:  # a round that outlasts the wait: its worker is ended
                    ray.cancel(ref, force=True)
            ray.kill(mailbox)
            marker.unlink(missing_ok=True)

    @staticmethod
    def _collect(ray: Any, ref: Any, spec: RunSpec, mailbox: Any) -> RunOutcome:
        """The run's outcome, its directory unpacked into the sweep directory if it came
        from a node's scratch."""
        from sim.sweeps.run_transfer import unpack

        left = ray.get(mailbox.take.remote(spec.name), timeout=STOP_TIMEOUT_S)
        if left is None:  # the task never got to the end: its worker or node died
            try:
                ray.get(ref, timeout=STOP_TIMEOUT_S)
                message = "its Ray task ended without an outcome"
            except ray.exceptions.RayError as error:
                message = " ".join(str(error).split())[:300]
            return RunOutcome(spec.name, spec.run_dir, "failed", message=message)
        outcome, archive = left
        if archive is not None:
            unpack(archive, Path(spec.run_dir))
        return replace(RunOutcome(**outcome), run_dir=spec.run_dir)

    def limiter_service(self, limit: RateLimit | None) -> RayLimiterService:
        return RayLimiterService(limit, ensure_ray(self.address, **self.init))
