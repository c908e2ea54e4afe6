"""A circuit breaker: stop hammering a provider that keeps failing, and know when to give up.

When a model's calls fail several times in a row (timeouts, 429s, 5xx, refused connections),
more concurrent attempts only deepen the overload and burn retries. The breaker then *opens*:
new attempts wait out a cool-down before the next is let through; each further failure in a row
doubles the cool-down (up to a cap), and the first success closes it again. It only delays
calls, never changes their outcome, so it cannot make a run nondeterministic.

Its *patience* is how long a provider may go on failing with no success at all before the run
stops (resumably) instead of waiting longer: `down_for()` measures the current streak of
failures from its first one, and `out_of_patience` says when it has lasted too long.
"""

from __future__ import annotations

import asyncio
import time


class CircuitBreaker:
    def __init__(
        self,
        *,
        threshold: int = 5,
        cooldown_s: float = 2.0,
        max_cooldown_s: float = 60.0,
        patience_s: float = 300.0,
    ) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.max_cooldown_s = max_cooldown_s
        self.patience_s = patience_s
        self.consecutive_failures = 0
        self.trips = 0  # how often dispatch was paused, for the end-of-run account
        self._open_until = 0.0
        self._next_cooldown = cooldown_s
        self._failing_since: float | None = None

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def down_for(self) -> float:
        """Seconds since the first failure of the current streak (0 when the last call worked)."""
        if self._failing_since is None:
            return 0.0
        return time.monotonic() - self._failing_since

    @property
    def out_of_patience(self) -> bool:
        return self._failing_since is not None and self.down_for() >= self.patience_s

    async def wait_until_closed(self) -> float:
        """Sleep while the breaker is open, but not past the patience; returns seconds waited."""
        waited = 0.0
        while (remaining := self._open_until - time.monotonic()) > 0:
            if self._failing_since is not None:
                remaining = min(remaining, self._failing_since + self.patience_s
                                - time.monotonic())
                if remaining <= 0:
                    break
            await asyncio.sleep(remaining)
            waited += remaining
        return waited

    def record_success(self) -> None:
        self.consecutive_failures = 0
        self._next_cooldown = self.cooldown_s
        self._open_until = 0.0
        self._failing_since = None

    def record_failure(self) -> None:
        self.consecutive_failures += 1
        if self._failing_since is None:
            self._failing_since = time.monotonic()
        if self.consecutive_failures >= self.threshold and not self.is_open:
            self._open_until = time.monotonic() + self._next_cooldown
            self._next_cooldown = min(self._next_cooldown * 2, self.max_cooldown_s)
            self.trips += 1
