"""A circuit breaker: stop hammering a provider that keeps failing.

When a model's calls fail several times in a row (timeouts, 429s, 5xx, refused connections),
more concurrent attempts only deepen the overload and burn retries. The breaker then *opens*:
new attempts wait out a cool-down before the next is let through; each further failure in a row
doubles the cool-down (up to a cap), and the first success closes it again. It only delays
calls, never changes their outcome, so it cannot make a run nondeterministic.
"""

from __future__ import annotations

import asyncio
import time


class CircuitBreaker:
    def __init__(
        self, *, threshold: int = 5, cooldown_s: float = 2.0, max_cooldown_s: float = 60.0
    ) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.max_cooldown_s = max_cooldown_s
        self.consecutive_failures = 0
        self.trips = 0  # how often dispatch was paused, for the end-of-run account
        self._open_until = 0.0
        self._next_cooldown = cooldown_s

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    async def wait_until_closed(self) -> float:
        """Sleep while the breaker is open; returns the seconds waited."""
        waited = 0.0
        while (remaining := self._open_until - time.monotonic()) > 0:
            await asyncio.sleep(remaining)
            waited += remaining
        return waited

    def record_success(self) -> None:
        self.consecutive_failures = 0
        self._next_cooldown = self.cooldown_s

    def record_failure(self) -> None:
        self.consecutive_failures += 1
        if self.consecutive_failures >= self.threshold and not self.is_open:
            self._open_until = time.monotonic() + self._next_cooldown
            self._next_cooldown = min(self._next_cooldown * 2, self.max_cooldown_s)
            self.trips += 1
