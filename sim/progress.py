"""A progress line for long runs, with no dependency beyond the terminal.

On a terminal it redraws one line in place; when output goes to a file or CI log it prints a
line only when the label changes (e.g. once per generation), so logs stay short.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(self, total: int, *, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total = max(total, 1)
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.interactive = enabled and self.stream.isatty()
        self.started = time.monotonic()
        self._last_label: str | None = None
        self._last_draw = 0.0

    def update(self, done: int, label: str, detail: str = "") -> None:
        """`label` names the phase (a log line is printed when it changes); `detail` the step."""
        if not self.enabled:
            return
        now = time.monotonic()
        if self.interactive:
            if done < self.total and now - self._last_draw < 0.05:
                return
            self._last_draw = now
            width = 30
            filled = int(width * min(done, self.total) / self.total)
            bar = "█" * filled + "·" * (width - filled)
            elapsed = now - self.started
            text = f"{label} {detail}".strip()
            self.stream.write(f"\r{text:<40} {bar} {done}/{self.total} {elapsed:6.1f}s")
            self.stream.flush()
        elif label != self._last_label:
            self.stream.write(f"{label} ({done}/{self.total})\n")
            self.stream.flush()
        self._last_label = label

    def finish(self) -> None:
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()
