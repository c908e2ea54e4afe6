"""The live view of a sweep or a long run: where it is, what it is spending, when it ends.

One line: runs (or steps) done of the total, model calls in flight, calls per second over the
last few seconds, the cost so far (as litellm priced each reply; what this invocation spent,
not what resumed runs had spent before) and an ETA. On a terminal it is redrawn in place on
stderr; in a log (stderr not a terminal) it is printed as plain lines, one each time a run ends
or a phase changes and otherwise at most every `LOG_INTERVAL_S`; in a notebook it is a progress
bar (ipywidgets when installed, else a text line redrawn through IPython's display).

The call counts come from the rate limiter the runs share (`sim.llm.ratelimit`), which sees
every request anyway: the workers report nothing extra. A background thread redraws the line
while calls are in flight, as a round of LLM calls can take minutes with nothing else moving.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

__all__ = ["LiveView", "Snapshot", "format_line", "make_sink"]

#: How often the line is redrawn: on a terminal, in a notebook, in a log.
TERMINAL_INTERVAL_S = 0.5
NOTEBOOK_INTERVAL_S = 1.0
LOG_INTERVAL_S = 10.0
#: calls/s is measured over this window.
RATE_WINDOW_S = 5.0

Meter = Callable[[], dict[str, Any]]


@dataclass
class Snapshot:
    """What one line of the live view says."""

    done: int
    total: int
    unit: str = "runs"  # 'runs', or the phase of a single run ('generation 3', ...)
    failed: int = 0
    in_flight: int = 0
    calls: int = 0
    calls_per_s: float = 0.0
    cost_usd: float = 0.0
    elapsed_s: float = 0.0
    eta_s: float | None = None


def format_line(s: Snapshot) -> str:
    """'sweep 3/8 runs, 1 not finished | 4 calls in flight, 2.5 calls/s, $0.0123 | 14s, ETA 20s'"""
    head = (f"sweep {s.done}/{s.total} runs" if s.unit == "runs"
            else f"{s.unit} (step {s.done}/{s.total})")
    if s.failed:
        head += f", {s.failed} not finished"
    if s.calls or s.in_flight:
        calls = (f"{s.in_flight} calls in flight, {s.calls_per_s:.1f} calls/s, "
                 f"{s.calls} calls, ${s.cost_usd:.4f}")
    else:
        calls = "no model calls"  # rule brains, or none made yet: no column of zeros
    if s.done >= s.total:
        when = "done"
    else:
        when = "ETA -" if s.eta_s is None else f"ETA {_duration(s.eta_s)}"
    return f"{head} | {calls} | {_duration(s.elapsed_s)} elapsed, {when}"


def _duration(seconds: float) -> str:
    seconds = max(round(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class TerminalSink:
    """stderr: redrawn in place on a terminal, plain lines in a log."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = self.stream.isatty()
        self.interval = TERMINAL_INTERVAL_S if self.interactive else LOG_INTERVAL_S
        self._width = 0

    def draw(self, snapshot: Snapshot, text: str, *, event: bool) -> None:
        """`event`: a run ended or a phase changed (always a line in a log)."""
        if self.interactive:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        """A line of its own above the redrawn one (which the next draw brings back)."""
        if self.interactive and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self._width = 0
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.interactive and self._width:
            self.stream.write("\n")
            self.stream.flush()


class NotebookSink:
    """A bar under the cell: ipywidgets if installed, else a text line IPython redraws."""

    interval = NOTEBOOK_INTERVAL_S
    interactive = True

    def __init__(self) -> None:
        from IPython.display import display

        self._bar: Any = None
        try:
            import ipywidgets

            self._bar = ipywidgets.IntProgress(min=0, max=1, value=0)
            self._label = ipywidgets.HTML()
            display(ipywidgets.HBox([self._bar, self._label]))
        except ImportError:
            self._handle = display({"text/plain": ""}, raw=True, display_id=True)

    def draw(self, snapshot: Snapshot, text: str, *, event: bool) -> None:
        if self._bar is not None:
            self._bar.max, self._bar.value = max(snapshot.total, 1), snapshot.done
            self._label.value = text
        else:
            width = 30
            filled = int(width * min(snapshot.done, snapshot.total) / max(snapshot.total, 1))
            bar = "█" * filled + "·" * (width - filled)
            self._handle.update({"text/plain": f"{bar} {text}"}, raw=True)

    def close(self) -> None:
        pass


def in_notebook() -> bool:
    """Whether this code runs in a Jupyter kernel (whose stderr cannot redraw a line)."""
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return get is not None and type(get()).__name__ == "ZMQInteractiveShell"


def make_sink(progress: bool | str, stream: TextIO | None = None) -> Any:
    """None (quiet), a terminal sink or a notebook sink, from a `progress=` option: True or
    'auto' (a notebook's bar in a kernel, else the terminal), 'terminal', 'notebook', False."""
    if progress is False or progress is None:
        return None
    if progress not in (True, "auto", "terminal", "notebook"):
        raise ValueError(f"progress must be True, False, 'auto', 'terminal' or 'notebook', "
                         f"not {progress!r}")
    if progress == "notebook" or (progress in (True, "auto") and stream is None
                                  and in_notebook()):
        return NotebookSink()
    return TerminalSink(stream)


class LiveView:
    """Counts what is done, reads the calls from a meter, and draws on a sink (see above)."""

    def __init__(self, total: int, sink: Any, *, meter: Meter | None = None,
                 unit: str = "runs", clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.sink, self.meter, self.unit, self.clock = total, sink, meter, unit, clock
        self.started = clock()
        self.done = self.failed = 0
        self.ran = 0  # runs this invocation executed (runs finished before say nothing of speed)
        self._rates: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_line = self.started  # the first periodic line comes an interval in

    def start(self) -> None:
        """Redraw in the background (a pool starts this once its workers are forked)."""
        if self.sink is not None and self._thread is None:
            self._thread = threading.Thread(target=self._tick, name="societas-live",
                                            daemon=True)
            self._thread.start()

    def advance(self, done: int, *, failed: int | None = None, ran: int | None = None,
                unit: str | None = None, event: bool = True) -> None:
        """Record progress; `event` draws at once (a run ended, a phase began)."""
        with self._lock:
            self.done = done
            if failed is not None:
                self.failed = failed
            if ran is not None:
                self.ran = ran
            if unit is not None:
                self.unit = unit
        if event:
            self.draw(event=True)

    def snapshot(self) -> Snapshot:
        now = self.clock()
        stats = self.meter() if self.meter is not None else {}
        answered = int(stats.get("answered", 0))
        with self._lock:
            self._rates.append((now, answered))
            while len(self._rates) > 2 and now - self._rates[1][0] >= RATE_WINDOW_S:
                self._rates.popleft()
            first_t, first_n = self._rates[0]
            rate = (answered - first_n) / (now - first_t) if now - first_t > 0.2 else 0.0
            elapsed = now - self.started
            left = self.total - self.done
            per_unit = self.ran if self.unit == "runs" else self.done
            eta = elapsed / per_unit * left if per_unit and left > 0 else None
            return Snapshot(self.done, self.total, self.unit, self.failed,
                            int(stats.get("in_flight", 0)), int(stats.get("calls", 0)),
                            rate, float(stats.get("cost_usd", 0.0)), elapsed, eta)

    def draw(self, *, event: bool = False) -> None:
        if self.sink is None:
            return
        snapshot = self.snapshot()
        self._last_line = self.clock()
        self.sink.draw(snapshot, format_line(snapshot), event=event)

    def note(self, text: str) -> None:
        """Something the user must see even without a live view (a worker died): one line on
        stderr, above the live line on a terminal."""
        if isinstance(self.sink, TerminalSink):
            self.sink.note(text)
        else:
            print(text, file=sys.stderr, flush=True)

    def _tick(self) -> None:
        while not self._stop.wait(min(self.sink.interval, 0.5)):
            if self.clock() - self._last_line >= self.sink.interval:
                try:
                    self.draw()
                except Exception:  # a meter gone away (the sweep is ending): stop drawing
                    return

    def finish(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        if self.sink is not None:
            if self.sink.interactive:
                self.draw(event=True)
            self.sink.close()
