"""Sweeps on a Ray cluster: each `RunSpec` becomes a Ray task, the rate limit a named actor.

A run is plain data and writes only its own directory, so a Ray task needs nothing but the
spec: it runs `sim.executors.execute_spec` on whichever node Ray picks, and its outcome comes
back as plain data. On a cluster, every node needs Societas (and the scenario packages)
installed and the sweep directory on a shared file system; run directories are sent as
absolute paths for that reason. With no address (and no `RAY_ADDRESS`), Ray starts a local
instance for the sweep, which is a way to use every core without the pool.

The shared rate limit lives in one actor (`LimiterActor`, a `sim.llm.ratelimit.LimiterCore`)
named for the sweep; runs find it by the address 'ray:NAME'. A waiting request is held by the
actor up to a second at a time, as the loopback service does. A permit whose worker died is
reclaimed when its holder's timeout has passed.

Ray is an optional extra (`pip install 'societas[ray]'`); without it `--executor ray` is one
line, exit status 2. Ray's usage statistics are switched off before it starts: these machines
must not reach the internet.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from sim.errors import UserError
from sim.executors import RunOutcome, RunSpec, execute_spec
from sim.llm.ratelimit import LimiterCore, Permit, RateLimit

__all__ = ["RayExecutor", "RayLimiter", "RayLimiterService"]

#: How long the actor holds one waiting acquire before the run asks again.
LONG_POLL_S = 1.0


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


def _execute_remote(spec: dict[str, Any]) -> dict[str, Any]:
    return asdict(execute_spec(RunSpec.from_dict(spec)))


class RayExecutor:
    """Runs specs as Ray tasks (one CPU each), yielding outcomes as they end."""

    def __init__(self, address: str | None = None, **init: Any) -> None:
        _ray()  # a missing Ray is said before the sweep writes anything
        self.address = address
        self.init = init

    def map(self, specs: Sequence[RunSpec]) -> Iterator[RunOutcome]:
        if not specs:
            return
        ray = ensure_ray(self.address, **self.init)
        task = ray.remote(num_cpus=1)(_execute_remote)
        names = {}
        for spec in specs:
            sent = replace(spec, run_dir=str(Path(spec.run_dir).resolve()))
            names[task.remote(sent.to_dict())] = spec
        pending = list(names)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                for ref in done:
                    spec = names[ref]
                    try:
                        outcome = RunOutcome(**ray.get(ref))
                    except ray.exceptions.RayError as error:  # the worker or its node died
                        outcome = RunOutcome(spec.name, spec.run_dir, "failed",
                                             message=" ".join(str(error).split())[:300])
                    yield replace(outcome, run_dir=spec.run_dir)
        finally:
            for ref in pending:  # Ctrl-C: the runs stop at a round boundary, resumable
                ray.cancel(ref)

    def limiter_service(self, limit: RateLimit | None) -> RayLimiterService:
        return RayLimiterService(limit, self.address, **self.init)


class LimiterActor:
    """A `LimiterCore` as a Ray actor (async: many waiting requests at once)."""

    def __init__(self, limit: dict[str, Any]) -> None:
        self.core = LimiterCore(RateLimit(**limit))

    async def acquire(self, key: str, tokens: int, hold_s: float) -> int | None:
        return await self.core.acquire(key, tokens, hold_s, max_wait=LONG_POLL_S)

    async def release(self, key: str, permit: int, cost_usd: float) -> None:
        self.core.release(key, permit, cost_usd)

    async def pause(self, key: str, seconds: float) -> None:
        self.core.pause(key, seconds)

    async def stats(self) -> dict[str, Any]:
        return self.core.stats()


class RayLimiterService:
    """The sweep's limiter actor, for as long as the sweep runs."""

    def __init__(self, limit: RateLimit | None, address: str | None = None, **init: Any) -> None:
        self.limit = limit or RateLimit()
        self.ray = ensure_ray(address, **init)
        name = f"societas-limiter-{secrets.token_hex(6)}"
        actor = self.ray.remote(num_cpus=0, max_concurrency=1000)(LimiterActor)
        self.actor = actor.options(name=name).remote(self.limit.as_dict())
        self.address = f"ray:{name}"

    def serve(self) -> None:
        """Nothing to start: the actor serves from its creation."""

    def stats(self) -> dict[str, Any]:
        return self.ray.get(self.actor.stats.remote(), timeout=10)

    def __enter__(self) -> RayLimiterService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.ray.kill(self.actor)


class RayLimiter:
    """A run's side of the limiter actor (`sim.llm.limiter_service.connect_limiter`)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._actor: Any = None

    def _handle(self) -> Any:
        if self._actor is None:
            self._actor = _ray().get_actor(self.name)
        return self._actor

    async def acquire(self, key: str, tokens: int, hold_s: float) -> Permit:
        actor = self._handle()
        while True:
            permit = await actor.acquire.remote(key, tokens, hold_s)
            if permit is not None:
                return Permit(key, permit)

    async def release(self, permit: Permit, cost_usd: float = 0.0) -> None:
        await self._handle().release.remote(permit.key, permit.id, cost_usd)

    async def pause(self, key: str, seconds: float) -> None:
        await self._handle().pause.remote(key, seconds)
