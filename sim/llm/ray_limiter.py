"""The shared rate limit of a sweep on Ray: a `LimiterCore` as a named Ray actor.

`RayLimiterService` (the sweep's side, made by `sim.sweeps.ray_executor`) starts the actor,
named for the sweep; a run finds it by the address 'ray:NAME' (`RayLimiter`, through
`sim.llm.limiter_service.connect_limiter`, like the loopback service's 'tcp://' addresses). A
waiting request is held by the actor up to a second at a time, as the loopback service does. A
permit whose worker died is reclaimed when its holder's timeout has passed.

Ray itself is imported by whoever connects to the cluster (`sim.sweeps.ray_executor`); this
module only uses the module it is handed, or, in a Ray worker, the one that runs it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from typing import Any

from sim.llm.ratelimit import LimiterCore, LimiterUnavailable, Permit, RateLimit

__all__ = ["LimiterActor", "RayLimiter", "RayLimiterService"]

#: How long the actor holds one waiting acquire before the run asks again.
LONG_POLL_S = 1.0
#: How long a run waits for any answer of the limiter actor (is its sweep gone?).
REQUEST_TIMEOUT_S = 15.0


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

    def __init__(self, limit: RateLimit | None, ray: Any) -> None:
        """`ray`: the Ray module, already connected to the sweep's cluster."""
        self.limit = limit or RateLimit()
        self.ray = ray
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
            os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # as `sim.sweeps.ray_executor` does
            import ray  # present: a run reaches this actor from a Ray worker

            self._actor = ray.get_actor(self.name)
        return self._actor

    async def acquire(self, key: str, tokens: int, hold_s: float) -> Permit:
        actor = self._handle()
        while True:
            permit = await _answer(actor.acquire.remote(key, tokens, hold_s))
            if permit is not None:
                return Permit(key, permit)

    async def release(self, permit: Permit, cost_usd: float = 0.0) -> None:
        await _answer(self._handle().release.remote(permit.key, permit.id, cost_usd))

    async def pause(self, key: str, seconds: float) -> None:
        await _answer(self._handle().pause.remote(key, seconds))


async def _answer(reference: Any) -> Any:
    """The actor's answer, or `LimiterUnavailable` if none comes in time (its sweep is gone)."""
    try:
        return await asyncio.wait_for(_awaited(reference), REQUEST_TIMEOUT_S)
    except TimeoutError:
        raise LimiterUnavailable(f"the sweep's rate limiter actor did not answer within "
                                 f"{REQUEST_TIMEOUT_S:g} s (is the sweep gone?)") from None


async def _awaited(reference: Any) -> Any:
    return await reference
