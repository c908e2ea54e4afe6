"""What stands between a failing provider and a run of fallbacks that calls itself finished.

The client's outage detection asks a tiny probe ("Reply with OK.", no response format) whether
the provider answers at all. A server can answer that and still fail every real request: a
local or proxy server that returns 500 on structured output, on long prompts, on one model of
several. Each real request then falls back, the probe keeps saying "up", and the run used to
finish on 100 % fallbacks with exit status 0. Two things prevent it:

- **Plain text before falling back** (`ask_plainly`): a request that asked for a response format
  and failed for good is asked once more without one (the prompt already describes the JSON it
  wants, and the parsers read it from prose). A provider that failed structured output and then
  answered plainly gets plain requests for the rest of the run: failing each request
  (`max_retries` attempts with backoff) before asking it plainly would slow the run to a crawl.
  Both halves are one call of the store's `llm_calls` (attempts, tokens and cost summed).
- **Judging by real decisions** (`FallbackGuard`): after each batch, if every LLM decision of
  the run so far fell back because its calls failed, or the last `STREAK` did in a row, the run
  stops resumably as when the provider is down (`ProviderDown`: the round is rolled back,
  status `provider_down`, exit status 4). Replies that came back but could not be read are the
  model's answers, counted as fallbacks in the account, not a provider failure; a decision the
  model made resets the streak. While a resumed or replayed run re-executes committed rounds,
  the guard only counts: those rounds passed it when they were played.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sim.llm.outcomes import Completion, ProviderDown

__all__ = ["STREAK", "FallbackGuard", "ask_plainly"]

#: Decisions in a row that may fall back on failed calls before the run stops.
STREAK = 10

Ask = Callable[[dict[str, Any] | None], Awaitable[Completion]]


async def ask_plainly(ask: Ask, response_format: dict[str, Any] | None,
                      plain_only: bool) -> tuple[Completion, bool]:
    """Ask with the response format (unless `plain_only`), then, if that failed for good,
    without it. Returns the completion (both tries summed) and whether the provider answered
    only the plain request (the caller then asks plainly from now on)."""
    if response_format is None or plain_only:
        return await ask(None), False
    structured = await ask(response_format)
    if structured.text is not None:
        return structured, False
    plain = await ask(None)
    return _summed(structured, plain), plain.text is not None


def _summed(first: Completion, second: Completion) -> Completion:
    return Completion(
        text=second.text,
        prompt_tokens=first.prompt_tokens + second.prompt_tokens,
        completion_tokens=first.completion_tokens + second.completion_tokens,
        cost_usd=first.cost_usd + second.cost_usd,
        latency_s=first.latency_s + second.latency_s,
        attempts=first.attempts + second.attempts,
        error=second.error if second.text is None else None,
    )


@dataclass
class FallbackGuard:
    """Counts the LLM decisions of one run and stops it when they all fall back on failures."""

    streak_limit: int = STREAK
    decided: int = 0  # LLM decisions so far
    streak: int = 0  # of them, the last ones in a row that fell back on a failed call
    last_error: str | None = None

    def observe_batch(self, resolutions: Sequence[Any], *, replaying: bool,
                      settings: Any) -> None:
        """The gateway's resolutions of a batch's LLM decisions (each with a `source` and its
        `calls`), in request order; `settings`: the model's `LLMSettings`, for the message."""
        outcomes = [(r.source, r.calls[-1].error if r.calls and r.calls[-1].outcome == "error"
                     else None) for r in resolutions]
        where = f" at {settings.api_base}" if settings.api_base else ""
        self.observe(outcomes, replaying=replaying,
                     describe=lambda: f"model {settings.model!r}{where}")

    def observe(self, outcomes: Sequence[tuple[str, str | None]], *, replaying: bool,
                describe: Callable[[], str]) -> None:
        """`outcomes`: (source, error of its last call if that call failed) per LLM decision of
        a batch, in request order; raises `ProviderDown` when the run should stop.
        `describe()` names the model, for the message."""
        if not outcomes:
            return
        for source, failed_with in outcomes:
            self.decided += 1
            if source == "fallback" and failed_with is not None:
                self.streak += 1
                self.last_error = failed_with
            else:
                self.streak = 0
        if replaying or self.streak == 0:
            return
        if self.streak == self.decided or self.streak >= self.streak_limit:
            every = ("every one so far" if self.streak == self.decided
                     else f"the last {self.streak} in a row")
            raise ProviderDown(
                f"{describe()} answers a trivial probe but failed the run's real requests "
                f"({every} of {self.decided} decisions fell back; last error: "
                f"{self.last_error}); a run of fallbacks is not a run of this model"
            )
