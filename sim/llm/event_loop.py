"""An asyncio event loop of the run's own, running in a dedicated thread.

The gateway's model calls are coroutines, but the world that asks for them is synchronous
code that may itself be running inside someone else's event loop: a Jupyter kernel executes
every cell in one, and `loop.run_until_complete` refuses to start a second loop on a thread
that already runs one. A loop in a thread of its own works the same from a script, a test or a
notebook. It lives as long as the run, because litellm's HTTP clients (and our semaphores) are
bound to the loop they were created on.

Ctrl-C still works: the caller's thread waits on a `concurrent.futures.Future`, whose wait is
interrupted by the signal; the interrupted coroutine is then cancelled inside the loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")

#: How long `close()` waits for cancelled calls and the thread to wind down.
SHUTDOWN_TIMEOUT_S = 5.0
#: How often a caller waiting for a batch checks that the loop's thread is still alive.
LIVENESS_CHECK_S = 1.0


class LoopThread:
    """One event loop running forever in a daemon thread until `close()`."""

    def __init__(self, name: str = "societas-gateway") -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.set_exception_handler(_quiet_about_interrupts)
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def closed(self) -> bool:
        return self.loop.is_closed()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the loop and wait for its result (or exception) here.

        If the wait is interrupted (Ctrl-C), the coroutine is cancelled before the interrupt
        propagates, so it sends no further requests.
        """
        if self.closed:
            coroutine.close()
            raise RuntimeError("the gateway's event loop is closed")
        if not self._thread.is_alive():
            coroutine.close()
            raise RuntimeError("the gateway's event loop thread has stopped")
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            while True:
                try:
                    return future.result(timeout=LIVENESS_CHECK_S)
                except concurrent.futures.TimeoutError:
                    if not self._thread.is_alive():  # it would never answer: do not hang
                        raise RuntimeError("the gateway's event loop thread died") from None
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        """Cancel what is still running on the loop, then stop the loop and its thread."""
        loop = self.loop
        if loop.is_closed():
            return
        if self._thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(_cancel_everything(), loop)
            # A second Ctrl-C while shutting down only cuts the wait short.
            with contextlib.suppress(concurrent.futures.TimeoutError, KeyboardInterrupt):
                future.result(timeout=SHUTDOWN_TIMEOUT_S)
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=SHUTDOWN_TIMEOUT_S)
        elif not loop.is_running():  # the thread died: cancel its leftovers from here
            # (impossible where this thread runs a loop of its own, e.g. in Jupyter)
            with contextlib.suppress(RuntimeError):
                loop.run_until_complete(_cancel_everything())
        if not self._thread.is_alive():
            loop.close()  # a thread stuck in a blocking call keeps its loop; it is a daemon


def _quiet_about_interrupts(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A task of litellm's or aiohttp's left holding an interrupt (Ctrl-C, SIGTERM) or its
    cancellation when the run stops: the run is stopping already, and asyncio's "Task exception
    was never retrieved" traceback would bury the one line that says how to resume."""
    if isinstance(context.get("exception"), KeyboardInterrupt | asyncio.CancelledError):
        return
    loop.default_exception_handler(context)


async def _cancel_everything() -> None:
    """Cancel every other task on this loop (calls in flight, litellm's background workers)
    and wait for them, whatever they end with: the run is stopping, outcomes no longer matter."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(BaseException):
            await task
    await asyncio.get_running_loop().shutdown_asyncgens()
