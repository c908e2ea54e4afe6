"""The progress display of one run: the live view (`sim.runs.live`) counted in simulated steps.

The run reports each step and the phase it is in (a generation, a day); the line shows the
phase, steps done of the total, the model calls in flight, calls/s, the cost so far and the
ETA. On a terminal it is redrawn in place; in a log a line is printed when the phase changes
and otherwise at most every `sim.runs.live.LOG_INTERVAL_S`, so logs stay short; in a notebook it is
a bar.
"""

from __future__ import annotations

import time
from typing import TextIO

from sim.runs.live import LiveView, Meter, make_sink

#: The fastest a terminal line is redrawn on steps alone.
REDRAW_S = 0.05


class Progress:
    def __init__(self, total: int, *, stream: TextIO | None = None,
                 enabled: bool | str = True, meter: Meter | None = None) -> None:
        self.sink = make_sink(enabled, stream)
        self.view = LiveView(max(total, 1), self.sink, meter=meter, unit="run")
        self._last_label: str | None = None
        self._last_draw = 0.0
        self.view.start()

    def update(self, done: int, label: str, detail: str = "") -> None:
        """`label` names the phase (a log line is printed when it changes); `detail` the step."""
        if self.sink is None:
            return
        now = time.monotonic()
        changed = label != self._last_label
        self._last_label = label
        redraw = changed or (self.sink.interactive and (
            now - self._last_draw >= REDRAW_S or done >= self.view.total))
        if redraw:
            self._last_draw = now
        self.view.advance(done, unit=f"{label} {detail}".strip(), event=redraw)

    def finish(self) -> None:
        self.view.finish()
