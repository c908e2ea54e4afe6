"""What a model call comes back with: the three outcomes the rest of the engine sees.

A `Completion` (with `text=None` when this request failed while the provider otherwise works,
and the caller should fall back), `ModelUnreachable` (the model cannot be used as configured:
no key, a rejected key, an unknown model, a malformed or unreachable `api_base`; the run should
stop with a one-line message) or `ProviderDown` (the provider has failed everything for longer
than the breaker's patience; the run should stop resumably rather than fill a population with
fallbacks). They live on their own because the gateway, the cache, the runner and the CLI all
act on them, while only the client produces them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["Completion", "ModelUnreachable", "ProviderDown"]


@dataclass
class Completion:
    """The outcome of one `complete` call, retries included.

    Token counts and cost are summed over every attempt that got a response back (an empty
    reply still costs tokens), so budgets see what was actually spent. `latency_s` is the wall
    time of the attempts and the backoff between them, not time spent queueing for a slot.
    """

    text: str | None  # None when every attempt failed
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0
    attempts: int = 0
    error: str | None = None  # the last failure, e.g. "RateLimitError (HTTP 429): ..."


class ModelUnreachable(RuntimeError):
    """The model cannot be used as configured (no key or a rejected one, unknown model, bad
    request, a malformed `api_base` or one where nothing answers): the run should stop with this
    one-line message."""

    #: The run it stopped, set by the runner: its committed rounds are kept, so once the cause
    #: is fixed (a key renewed) the run can be resumed, and the CLI says how.
    run_dir: Path | None = None


class ProviderDown(RuntimeError):
    """The provider has failed every call for longer than `outage_patience_s`: the run should
    stop where it can be resumed once the provider is back."""
