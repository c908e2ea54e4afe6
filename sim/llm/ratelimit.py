"""A model-call rate limit shared by every run that talks to one endpoint.

Each run already bounds its own calls in flight (`max_concurrency`), but a sweep of N runs
against one provider makes N times as many calls, and providers answer a burst over their
account's limits with 429s. The limiter holds the account's limits for all runs at once: a run
asks it for a permit before each request (retries and probes included) and gives the permit
back when the answer is in.

Three limits, each per endpoint (model + normalised `api_base`), each optional:

- `requests_per_min`: request starts are spaced at least 60/limit seconds apart. Providers
  enforce per-minute limits over shorter periods too (a limit of 600/min may be enforced as
  10/s), so an even pace is what avoids their 429s; a burst never goes out at once.
- `tokens_per_min`: each request counts its prompt (about four characters a token, as
  `sim.registry.UsageEstimate` estimates) plus its `max_tokens`, paced the same way: a request
  of n tokens holds the next one back by n·60/limit seconds.
- `concurrent`: requests in flight at once, across all runs.

A 429 seen by any run pauses every run's new requests to that endpoint for the time the
provider asked (Retry-After), or for the run's own backoff when it did not say: one run's
warning is every run's, as the provider counts them all against one account.

This module is the state (`LimiterCore`, thread-safe, its own clock) and its in-process use
(`LocalLimiter`); `sim.llm.limiter_service` shares one core with worker processes over
loopback TCP, `sim.sweeps.ray_executor` across a Ray cluster. The limiter changes when requests go,
never what they ask, so a limited run stores exactly what an unlimited one does.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from sim.errors import UserError
from sim.llm.settings import normalise_api_base

__all__ = ["Limiter", "LimiterCore", "LocalLimiter", "Permit", "RateLimit", "endpoint_key",
           "estimate_tokens", "parse_rate_limit"]

#: How often a call waiting for a free concurrent slot looks again if no release woke it.
SLOT_POLL_S = 0.1
#: The longest single sleep of a waiting call, so a pause lifted early is noticed.
MAX_SLEEP_S = 0.5


@dataclass(frozen=True)
class RateLimit:
    """Limits per endpoint; None means no limit of that kind."""

    requests_per_min: float | None = None
    tokens_per_min: float | None = None
    concurrent: int | None = None

    def __post_init__(self) -> None:
        for name in ("requests_per_min", "tokens_per_min"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise UserError(f"rate limit {name} must be a number > 0, got {value!r}")
        if self.concurrent is not None and (
                isinstance(self.concurrent, bool) or not isinstance(self.concurrent, int)
                or self.concurrent < 1):
            raise UserError(f"rate limit concurrent must be a whole number >= 1, "
                            f"got {self.concurrent!r}")

    def __bool__(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self))

    def text(self) -> str:
        """The spec as `--rate-limit` takes it ('' for no limit)."""
        return ",".join(f"{f.name}={getattr(self, f.name):g}" for f in fields(self)
                        if getattr(self, f.name) is not None)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


KEYS = tuple(f.name for f in fields(RateLimit))


def parse_rate_limit(spec: str | Mapping[str, Any] | RateLimit | None) -> RateLimit:
    """'requests_per_min=60,tokens_per_min=90000,concurrent=8' (or the same as a mapping, as
    in a sweep file's [rate_limit] table) → a `RateLimit`; a bad spec is one `UserError` line."""
    if spec is None:
        return RateLimit()
    if isinstance(spec, RateLimit):
        return spec
    if isinstance(spec, str):
        items: dict[str, Any] = {}
        for part in (p.strip() for p in spec.split(",") if p.strip()):
            key, sep, value = part.partition("=")
            if not sep or not value.strip():
                raise UserError(f"--rate-limit expects key=value,... with keys "
                                f"{', '.join(KEYS)}; got {spec!r}")
            items[key.strip()] = value.strip()
        if not items:
            raise UserError(f"--rate-limit names no limit (keys: {', '.join(KEYS)})")
    else:
        items = dict(spec)
    unknown = sorted(set(items) - set(KEYS))
    if unknown:
        raise UserError(f"unknown rate limit key(s) {', '.join(unknown)} "
                        f"(known: {', '.join(KEYS)})")
    values: dict[str, Any] = {}
    for key, raw in items.items():
        try:
            number = float(raw)
        except (TypeError, ValueError):
            raise UserError(f"rate limit {key} must be a number, got {raw!r}") from None
        if key == "concurrent":
            values[key] = int(number) if number.is_integer() else number
        else:
            values[key] = number
    return RateLimit(**values)


def endpoint_key(model: str, api_base: str | None) -> str:
    """Which limits a request counts against: one model at one address."""
    return f"{model}@{normalise_api_base(api_base) or 'provider-default'}"


def estimate_tokens(messages: list[dict[str, Any]], max_tokens: int) -> int:
    """A request's tokens before it is sent: the prompt at about four characters a token plus
    framing (as `sim.registry.approx_tokens`), and the most the reply may use."""
    prompt = sum(len(str(m.get("content") or "")) // 4 + 4 for m in messages)
    return prompt + max_tokens


@dataclass
class _Endpoint:
    next_request: float = 0.0  # earliest start of the next request (requests_per_min)
    next_token: float = 0.0  # the same for the token pace (tokens_per_min)
    paused_until: float = 0.0
    in_flight: dict[int, float] = field(default_factory=dict)  # permit -> reclaim time
    #: (reclaim time, permit), earliest first: what `_try` looks at for dead holders, so a
    #: grant costs the same with 1 or 500 permits out (entries given back are skipped then)
    reclaims: list[tuple[float, int]] = field(default_factory=list)


class LimiterCore:
    """The shared state: thread-safe, non-blocking (`try_acquire` says how long to wait), and
    timed by its own clock, so callers in other processes or on other machines need none."""

    def __init__(self, limit: RateLimit | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit or RateLimit()
        self.clock = clock
        self._lock = threading.Lock()
        self._endpoints: dict[str, _Endpoint] = {}
        self._ids = itertools.count(1)
        self._waiters: dict[str, deque[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self.calls = 0  # requests granted
        self.answered = 0  # permits given back
        self.cost_usd = 0.0
        self.pauses = 0
        self.started = clock()

    def try_acquire(self, key: str, tokens: int = 0, hold_s: float = 600.0
                    ) -> tuple[int | None, float]:
        """(permit, 0) if the request may go now, else (None, seconds to wait first).

        `hold_s` is how long the caller can hold the permit at most (its timeout): a permit
        not given back by then belongs to a caller that died, and its slot is reclaimed.
        """
        permit, wait, _ = self._try(key, tokens, hold_s)
        return permit, wait

    def _try(self, key: str, tokens: int, hold_s: float) -> tuple[int | None, float, bool]:
        """`try_acquire`, and whether the wait is for a concurrent slot (a release ends it)."""
        limit = self.limit
        with self._lock:
            now = self.clock()
            state = self._endpoints.setdefault(key, _Endpoint())
            if state.paused_until > now:
                return None, state.paused_until - now, False
            reclaims, in_flight = state.reclaims, state.in_flight
            while reclaims and reclaims[0][0] <= now:  # its holder died without giving it
                reclaim, permit = heapq.heappop(reclaims)  # back, or gave it back already
                if in_flight.get(permit) == reclaim:
                    del in_flight[permit]
            if limit.concurrent is not None and len(state.in_flight) >= limit.concurrent:
                return None, SLOT_POLL_S, True
            wait = max(state.next_request, state.next_token) - now
            if wait > 0:
                return None, wait, False
            if limit.requests_per_min is not None:
                state.next_request = now + 60.0 / limit.requests_per_min
            if limit.tokens_per_min is not None:
                state.next_token = now + tokens * 60.0 / limit.tokens_per_min
            permit = next(self._ids)
            reclaim = now + max(hold_s, 0.0)
            in_flight[permit] = reclaim
            if len(reclaims) > 2 * len(in_flight) + 64:  # mostly permits given back: rebuilt,
                reclaims[:] = [(r, p) for p, r in in_flight.items()]  # so it stays as small
                heapq.heapify(reclaims)  # as what is out, in amortised constant time
            else:
                heapq.heappush(reclaims, (reclaim, permit))
            self.calls += 1
            return permit, 0.0, False

    def release(self, key: str, permit: int, cost_usd: float = 0.0) -> None:
        with self._lock:
            state = self._endpoints.get(key)
            if state is not None:
                state.in_flight.pop(permit, None)
            self.answered += 1
            self.cost_usd += max(float(cost_usd), 0.0)
            waiters = self._waiters.get(key)
            if waiters:  # the slot is free: the longest-waiting call may take it now
                loop, event = waiters.popleft()
                with contextlib.suppress(RuntimeError):  # its loop has closed meanwhile
                    loop.call_soon_threadsafe(event.set)

    def pause(self, key: str, seconds: float) -> None:
        """Hold every new request to `key` back for `seconds` (a 429's Retry-After)."""
        with self._lock:
            state = self._endpoints.setdefault(key, _Endpoint())
            until = self.clock() + max(float(seconds), 0.0)
            if until > state.paused_until:
                state.paused_until = until
                self.pauses += 1

    def stats(self) -> dict[str, Any]:
        """What the live view shows: requests granted, in flight, answered, cost, pauses."""
        with self._lock:
            in_flight = sum(len(s.in_flight) for s in self._endpoints.values())
            return {"calls": self.calls, "in_flight": in_flight, "answered": self.answered,
                    "cost_usd": self.cost_usd, "pauses": self.pauses}

    async def acquire(self, key: str, tokens: int, hold_s: float,
                      max_wait: float | None = None) -> int | None:
        """Wait (on the caller's event loop) for a permit; None if `max_wait` passed first."""
        deadline = None if max_wait is None else time.monotonic() + max_wait
        while True:
            permit, wait, for_slot = self._try(key, tokens, hold_s)
            if permit is not None:
                return permit
            sleep = min(wait, MAX_SLEEP_S)
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                sleep = min(sleep, left)
            if not for_slot:
                await asyncio.sleep(sleep)
                continue
            # Woken by the release that frees a slot (not polled: a hundred waiting calls
            # would otherwise wake thousands of times a second), or after `sleep` regardless.
            entry = (asyncio.get_running_loop(), asyncio.Event())
            with self._lock:
                self._waiters.setdefault(key, deque()).append(entry)
            try:
                await asyncio.wait_for(entry[1].wait(), sleep)
            except TimeoutError:
                pass
            finally:
                with self._lock, contextlib.suppress(ValueError):
                    self._waiters[key].remove(entry)


@dataclass(frozen=True)
class Permit:
    key: str
    id: int
    handle: Any = None  # what the transport needs to give it back (e.g. its connection)


class LimiterUnavailable(RuntimeError):
    """A limiter shared with other runs cannot be reached: the sweep that serves it is gone."""


class Limiter(Protocol):
    """What a model client asks before each request; see the module docstring."""

    async def acquire(self, key: str, tokens: int, hold_s: float) -> Permit: ...

    async def release(self, permit: Permit, cost_usd: float = 0.0) -> None: ...

    async def pause(self, key: str, seconds: float) -> None: ...


class LocalLimiter:
    """A core used from this process directly: a single run, an inline sweep."""

    def __init__(self, core: LimiterCore | RateLimit | None = None) -> None:
        self.core = core if isinstance(core, LimiterCore) else LimiterCore(core)

    async def acquire(self, key: str, tokens: int, hold_s: float) -> Permit:
        permit = await self.core.acquire(key, tokens, hold_s)
        assert permit is not None
        return Permit(key, permit)

    async def release(self, permit: Permit, cost_usd: float = 0.0) -> None:
        self.core.release(permit.key, permit.id, cost_usd)

    async def pause(self, key: str, seconds: float) -> None:
        self.core.pause(key, seconds)

    def stats(self) -> dict[str, Any]:
        return self.core.stats()
