"""What a failed attempt means: classifying the exceptions litellm raises, and naming them.

litellm wraps every provider and transport failure in its own exception types, and not always
faithfully: a refused connection, a malformed URL and a missing key all arrive as "HTTP 500",
and a timeout as "HTTP 408" that no server sent. The real cause is often only visible further
down the exception chain. Reading it correctly decides whether a run retries, falls back, or
stops with a message, so it is kept here, in one place, apart from the client's control flow:

- `classify` says what an attempt's exception means for the call (an `Outcome`);
- `describe` turns it into a one-line, key-free message for `llm_calls` and the user;
- `retry_after` reads how long the server asked us to wait.
"""

from __future__ import annotations

import email.utils
import socket
import time
from typing import Any, Literal

from sim.llm.redaction import scrub
from sim.llm.settings import LLMSettings

__all__ = ["EmptyReply", "Outcome", "classify", "describe", "one_line", "retry_after"]

#: What one failed attempt means: try again; nothing answers at that address; the model cannot
#: be used as configured; or this prompt can never be answered (but the model works).
Outcome = Literal["retry", "connection", "fatal", "give_up"]

#: Statuses that mean the request or credentials are wrong: retrying cannot help.
_FATAL_STATUSES = frozenset({400, 401, 403, 404, 422})


class EmptyReply(Exception):
    """A 200 response with no choices or no content: as useless as an error, so retried."""


def classify(exc: BaseException, litellm: Any) -> Outcome:
    """Decide what an exception from one attempt means for the call.

    Anything that is not a provider failure is re-raised: it is a bug that retrying would hide.
    """
    if isinstance(exc, EmptyReply):
        return "retry"
    if _in_chain(exc, _is_misconfiguration):
        return "fatal"  # litellm reports these as HTTP 500; no request ever left
    if isinstance(exc, TimeoutError | litellm.Timeout) or _in_chain(exc, _is_timeout):
        return "retry"
    if _in_chain(exc, _is_connection_failure):
        return "connection"
    unanswerable = (litellm.ContextWindowExceededError, litellm.ContentPolicyViolationError)
    if isinstance(exc, unanswerable):
        return "give_up"  # this prompt cannot be answered, but the model works
    fatal_types = (
        litellm.AuthenticationError,
        litellm.NotFoundError,
        litellm.BadRequestError,
        litellm.PermissionDeniedError,
    )
    status = _status_of(exc)
    if isinstance(exc, fatal_types) or status in _FATAL_STATUSES:
        return "fatal"
    import openai  # already imported by litellm

    if isinstance(exc, openai.OpenAIError):
        return "retry"  # 429, 5xx, malformed bodies and anything else the provider did
    raise exc  # not a provider failure: a bug that retrying would hide


def describe(exc: BaseException, outcome: Outcome, settings: LLMSettings, litellm: Any) -> str:
    """A one-line, key-free description like "RateLimitError (HTTP 429): ...". """
    if isinstance(exc, TimeoutError | litellm.Timeout) or _in_chain(exc, _is_timeout):
        # litellm reports timeouts as HTTP 408, which no server sent.
        return f"Timeout: no reply within {settings.timeout_s:g} s"
    if outcome == "connection":
        # litellm reports these as HTTP 500; the transport's own error is the useful part.
        root = _root_cause(exc)
        return one_line(f"ConnectionError: {type(root).__name__}: {root}")
    if _in_chain(exc, _is_missing_credentials):
        return one_line(_missing_key_message(settings, litellm))
    if _in_chain(exc, _is_bad_url):
        root = _root_cause(exc)
        return one_line(f"api_base {settings.api_base!r} is not a usable URL: "
                        f"{type(root).__name__}: {root}")
    name = "EmptyReply" if isinstance(exc, EmptyReply) else type(exc).__name__
    message = str(exc)
    # litellm prefixes messages with "litellm.Name: Name: "; the class name says it already.
    for prefix in (f"litellm.{name}:", f"{name}:"):
        if message.startswith(prefix):
            message = message[len(prefix):].lstrip()
    status = _status_of(exc)
    label = f"{name} (HTTP {status})" if status else name
    return one_line(f"{label}: {message}" if message else label)


def one_line(text: str) -> str:
    """Remove every secret (sim.llm.redaction) and keep the text on one line."""
    return " ".join(scrub(text).split())


def _missing_key_message(settings: LLMSettings, litellm: Any) -> str:
    """Which variable to set, as far as litellm knows the provider's conventions."""
    try:
        missing = litellm.validate_environment(model=settings.model)
        names = [n for n in missing.get("missing_keys", []) if n.endswith("_KEY")]
    except Exception:  # only a hint: an unknown provider simply gets the generic advice
        names = []
    hint = f"set {' or '.join(names)}, or " if names else ""
    return (f"no API key: {hint}name the environment variable that holds the key with "
            "api_key_env")


def _status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


def _in_chain(exc: BaseException, predicate: Any) -> bool:
    """Whether `predicate` holds for `exc` or anything it was raised from or during.

    litellm re-raises its own exception types over the transport's, so the real cause (a
    refused connection, a read timeout) is only visible further down the chain.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if predicate(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _root_cause(exc: BaseException) -> BaseException:
    seen: set[int] = set()
    while id(exc) not in seen and (exc.__cause__ or exc.__context__) is not None:
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return exc


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or type(exc).__name__ in {
        "APITimeoutError",
        "ReadTimeout",
        "ConnectTimeout",
        "PoolTimeout",
        "WriteTimeout",
        "TimeoutException",
        "SocketTimeoutError",
        "ServerTimeoutError",
    }


def _is_missing_credentials(exc: BaseException) -> bool:
    """The OpenAI client refusing to start without a key: `openai.OpenAIError` itself, which
    (unlike its `APIError` subclasses) is raised before any request is sent."""
    return type(exc).__name__ == "OpenAIError" and type(exc).__module__.split(".")[0] == "openai"


def _is_bad_url(exc: BaseException) -> bool:
    """A URL no request can be sent to (httpx's and aiohttp's names for it)."""
    return type(exc).__name__ in {
        "InvalidURL",
        "UnsupportedProtocol",
        "InvalidUrlClientError",
        "NonHttpUrlClientError",
    }


def _is_misconfiguration(exc: BaseException) -> bool:
    return _is_missing_credentials(exc) or _is_bad_url(exc)


def _is_connection_failure(exc: BaseException) -> bool:
    """Refused, reset or unresolvable: the server is not there (as opposed to slow or busy)."""
    if isinstance(exc, ConnectionError | socket.gaierror):
        return True
    return type(exc).__name__ in {
        "APIConnectionError",  # openai's; its APITimeoutError subclass is caught as a timeout
        "ConnectError",
        "ClientConnectorError",
        "ClientConnectorDNSError",
    }


def rate_limited(exc: BaseException) -> bool:
    """Whether the provider said "too many requests" (HTTP 429), which concerns every run
    using the same account, not only the request that got it."""
    return _in_chain(exc, lambda e: _status_of(e) == 429)


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (Retry-After / retry-after-ms), if it said."""
    for headers in (
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
    ):
        if not headers:
            continue
        try:
            millis = headers.get("retry-after-ms")
            if millis is not None:
                return float(millis) / 1000.0
            value = headers.get("retry-after")
        except (AttributeError, TypeError, ValueError):
            continue
        if value is None:
            continue
        try:
            return float(value)
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            continue
        return max(0.0, when.timestamp() - time.time())
    return None
