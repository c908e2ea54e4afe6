"""The only code that calls litellm: one chat completion with deadlines, retries and backoff.

Everything that can go wrong between a prompt and a reply is decided here, so the rest of the
engine sees three outcomes: a `Completion` (with `text=None` when this request failed while the
provider otherwise works, and the caller should fall back), `ModelUnreachable` (the model cannot
be used as configured: no key, a rejected key, an unknown model, a malformed or unreachable
`api_base`; the run should stop with a one-line message) or `ProviderDown` (the provider has
failed everything for longer than the breaker's patience; the run should stop resumably rather
than fill a population with fallbacks).

Misconfiguration shows on the first call, so a client's first call goes alone (the run's
preflight): the others wait until it has an answer, and a misconfigured model costs one request,
not one per agent. When a call runs out of retries, one tiny probe request (shared by the calls
asking at the same moment) asks whether the provider answers at all: if it does, the failure
belongs to this request (fallback); if not, the provider is down and the call keeps waiting
for it, up to the patience. A run therefore never fills up with fallbacks during an outage.

litellm is imported lazily, after `sim._offline`, because importing it costs seconds and
rule-only runs must not pay for it. Retries are ours, not litellm's: its inner client is told
`max_retries=0` (otherwise each attempt silently becomes three and timeouts triple), and its
cache is never used (the project keeps its own, keyed for replay).
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import random
import socket
import time
import urllib.parse
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import sim._offline  # noqa: F401  (sets litellm's offline environment; cheap, unlike litellm)
from sim.llm.breaker import CircuitBreaker
from sim.llm.redaction import check_key_env_name, scrub, scrub_values, watch_env

if TYPE_CHECKING:
    from sim.llm.local_model import Endpoint

__all__ = [
    "Completion", "LLMClient", "LLMSettings", "ModelUnreachable", "ProviderDown",
    "check_api_base", "normalise_api_base",
]

#: Handed to local OpenAI-compatible servers, which ignore the key but whose client needs one.
LOCAL_DUMMY_KEY = "sk-societas-local"

#: Statuses that mean the request or credentials are wrong: retrying cannot help.
_FATAL_STATUSES = frozenset({400, 401, 403, 404, 422})
#: Statuses that mean "try again later".
_RETRY_STATUSES = frozenset({408, 409, 425, 429})

_Outcome = Literal["retry", "connection", "fatal", "give_up"]

#: What a probe asks: the cheapest question any chat model answers.
_PROBE_MESSAGES = [{"role": "user", "content": "Reply with OK."}]
_PROBE_MAX_TOKENS = 8


@dataclass(frozen=True)
class LLMSettings:
    """How to reach one model and how patient to be with it.

    The API key is never stored: `api_key_env` names the environment variable that holds it, so
    settings can be logged, hashed and written into a run's config safely.
    """

    model: str  # any litellm model string, e.g. "openai/gpt-4o-mini"
    api_base: str | None = None
    api_key_env: str | None = None
    temperature: float = 0.8
    max_tokens: int = 400
    timeout_s: float = 60.0  # per attempt
    max_retries: int = 3  # retries after the first attempt
    max_concurrency: int = 10
    backoff_base_s: float = 0.5
    backoff_max_s: float = 20.0
    breaker_threshold: int = 5  # consecutive failed attempts that pause dispatch
    breaker_cooldown_s: float = 2.0  # first pause; doubles while failures continue
    outage_patience_s: float = 300.0  # a provider failing everything this long stops the run

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("model must be a non-empty litellm model string")
        if self.api_base is not None:
            check_api_base(self.api_base)
        if self.timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        if self.backoff_base_s < 0 or self.backoff_max_s < 0:
            raise ValueError("backoff times must be >= 0")
        if self.api_key_env is not None:
            try:
                check_key_env_name(self.api_key_env)
            except ValueError as error:
                raise ValueError(f"api_key_env {error}") from None
            watch_env(self.api_key_env)  # its value is scrubbed from every error text
        if not self.outage_patience_s > 0:
            raise ValueError("outage_patience_s must be > 0")

    def reply_identity(self) -> dict[str, Any]:
        """Every setting that can change what the model answers, for the response cache's key.

        `REPLY_FIELDS` are sent with every request and shape the reply. The rest
        (`TRANSPORT_FIELDS`) only decide how patiently a reply is fetched, and a failed fetch is
        never cached, so they cannot change a cached answer. The key itself is deliberately not
        here, not even hashed: a key does not change what a model answers, and a replay must
        work offline without the secret.
        """
        values = {name: getattr(self, name) for name in REPLY_FIELDS}
        values["api_base"] = normalise_api_base(self.api_base)
        return values


#: Settings sent with every request that shape the reply (see `LLMSettings.reply_identity`).
REPLY_FIELDS = ("model", "api_base", "temperature", "max_tokens")
#: Settings about reaching the model, not about what it says.
TRANSPORT_FIELDS = (
    "api_key_env", "timeout_s", "max_retries", "max_concurrency", "backoff_base_s",
    "backoff_max_s", "breaker_threshold", "breaker_cooldown_s", "outage_patience_s",
)


def check_api_base(url: str) -> str:
    """Refuse an `api_base` that no request could be sent to, before any request is tried.

    litellm reports such URLs as an HTTP 500 from the "server" on every call, which would look
    like a passing fault and be retried into fallbacks.
    """
    problem = None
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a port out of range or not a number)
    except ValueError as error:
        problem = str(error)
    else:
        if url != url.strip() or any(c.isspace() for c in url):
            problem = "it contains whitespace"
        elif parts.scheme.lower() not in ("http", "https"):
            problem = "it does not start with http:// or https://"
        elif not parts.hostname:
            problem = "it names no host"
    if problem is not None:
        raise ValueError(
            f"api_base {url!r} is not a usable URL ({problem}); expected e.g. "
            "http://127.0.0.1:8000/v1"
        )
    return url


def normalise_api_base(url: str | None) -> str | None:
    """One spelling per endpoint: scheme and host lower-cased, default port and trailing slash
    dropped, so equivalent URLs share cached replies and different servers never do."""
    if url is None:
        return None
    parts = urllib.parse.urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    return urllib.parse.urlunsplit((scheme, host, path, parts.query, ""))


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


class ProviderDown(RuntimeError):
    """The provider has failed every call for longer than `outage_patience_s`: the run should
    stop where it can be resumed once the provider is back."""


class _EmptyReply(Exception):
    """A 200 response with no choices or no content: as useless as an error, so retried."""


def _load_litellm() -> Any:
    """Import litellm on first use, offline-configured and quiet."""
    import litellm

    # Its "Give Feedback / Get Help" banners go to stdout on every failure; ours are enough.
    litellm.suppress_debug_info = True
    return litellm


class LLMClient:
    """Completes chat prompts against one model, bounded to `max_concurrency` in flight."""

    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self._litellm: Any = None
        self._rng = random.Random()  # jitter only; never a simulation rng
        self._semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]
        self._semaphores = weakref.WeakKeyDictionary()
        #: The first call in flight on each loop, which the others wait for (the preflight).
        self._first_calls: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Event]
        self._first_calls = weakref.WeakKeyDictionary()
        self._probes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task]
        self._probes = weakref.WeakKeyDictionary()
        self._api_key: str | None = None
        self._api_key_resolved = False
        self._endpoint: Endpoint | None = None  # resolved on first use (sim.llm.local_model)
        self._endpoint_error: ModelUnreachable | None = None
        self._answered = False  # the provider has answered once: the configuration works
        self._stopped: ModelUnreachable | ProviderDown | None = None  # ends every later call
        self.probes = 0  # "does the provider answer at all?" requests, for the account
        self.probe_cost_usd = 0.0
        #: Pauses dispatch when the provider fails repeatedly, and says when to stop waiting.
        self.breaker = CircuitBreaker(
            threshold=settings.breaker_threshold,
            cooldown_s=settings.breaker_cooldown_s,
            patience_s=settings.outage_patience_s,
        )

    def __repr__(self) -> str:
        return f"LLMClient(model={self.settings.model!r}, api_base={self.settings.api_base!r})"

    async def complete(
        self, messages: list[dict], *, response_format: dict | None = None
    ) -> Completion:
        """Ask the model once, retrying transient failures; see the module docstring."""
        settings = self.settings
        endpoint = self._ensure_endpoint()  # first: a missing local extra fails fast
        api_key = self._resolve_api_key()  # then a missing key, before seconds of import
        self._ensure_litellm()
        kwargs: dict[str, Any] = {
            "model": endpoint.model,
            "messages": messages,
            "temperature": settings.temperature,
            "max_tokens": settings.max_tokens,
            "timeout": settings.timeout_s,
            "api_base": endpoint.api_base,
            "api_key": endpoint.api_key or api_key,
            "max_retries": 0,
            # Lets e.g. reasoning models that reject `temperature` still be used.
            "drop_params": True,
        }
        if response_format is not None:
            kwargs["response_format"] = endpoint.adapt_response_format(response_format)
        loop = asyncio.get_running_loop()
        while not self._answered and self._stopped is None:
            first = self._first_calls.get(loop)
            if first is None:  # this call is the preflight: the others wait for its outcome
                first = self._first_calls[loop] = asyncio.Event()
                try:
                    return await self._attempts(kwargs)
                finally:
                    del self._first_calls[loop]
                    first.set()
            await first.wait()
        if self._stopped is not None:
            raise self._stopped
        return await self._attempts(kwargs)

    async def _attempts(self, kwargs: dict[str, Any]) -> Completion:
        """One call: attempts with backoff until a reply, a fallback, or a reason to stop."""
        settings, breaker, litellm = self.settings, self.breaker, self._litellm
        semaphore = self._semaphore()
        result = Completion(text=None)
        elapsed = 0.0
        attempt = 0
        probed = False
        while True:
            elapsed += await breaker.wait_until_closed()
            if self._stopped is not None:  # another call found the model unusable meanwhile
                raise self._stopped
            async with semaphore:
                started = time.perf_counter()
                outcome: _Outcome | None = None
                retry_after: float | None = None
                try:
                    response = await asyncio.wait_for(
                        litellm.acompletion(**kwargs),
                        # A guard for provider paths that ignore `timeout`; litellm's own
                        # deadline normally fires first.
                        timeout=settings.timeout_s + 1.0,
                    )
                    self._account(result, response)
                    result.text = scrub_values(_reply_text(response))
                except Exception as exc:
                    outcome = self._classify(exc)
                    result.error = self._describe(exc, outcome)
                    retry_after = _retry_after(exc)
                finally:
                    result.attempts += 1
                    elapsed += time.perf_counter() - started
            if outcome is None:
                breaker.record_success()
                self._answered = True
                result.error = None
                break
            if outcome == "fatal":
                raise self._stop(ModelUnreachable(self._unreachable_message(result.error)))
            if outcome == "give_up":
                break  # this prompt cannot be answered, but the model works
            breaker.record_failure()
            if outcome == "connection" and not self._answered:
                # Nothing has ever answered at this address: a wrong api_base or a server that
                # is not running. Waiting would only delay the message.
                raise self._stop(ModelUnreachable(self._unreachable_message(result.error)))
            attempt += 1
            if attempt > settings.max_retries:
                # Out of retries. Fall back only if the provider demonstrably works right now
                # (other calls' successes could predate the failure: an outage's first moments);
                # a refused connection never belongs to one request.
                if outcome != "connection" and not probed:
                    probed = True
                    if await self._provider_answers(kwargs):
                        break
                if breaker.out_of_patience:
                    raise self._stop(ProviderDown(self._down_message(result.error)))
            wait = self._backoff(attempt - 1, retry_after)
            if attempt > settings.max_retries:  # waiting out an outage: not past the patience
                left = settings.outage_patience_s - breaker.down_for()
                wait = min(wait, max(left, 0.0) + 0.01)
            await asyncio.sleep(wait)
            elapsed += wait
        result.latency_s = elapsed
        return result

    async def _provider_answers(self, kwargs: dict[str, Any]) -> bool:
        """Whether the provider answers a trivial request; one probe in flight per loop."""
        loop = asyncio.get_running_loop()
        task = self._probes.get(loop)
        if task is None:
            task = self._probes[loop] = loop.create_task(self._probe(kwargs))
            task.add_done_callback(lambda _: self._probes.pop(loop, None))
        return await task

    async def _probe(self, kwargs: dict[str, Any]) -> bool:
        probe = {**kwargs, "messages": _PROBE_MESSAGES,
                 "max_tokens": min(self.settings.max_tokens, _PROBE_MAX_TOKENS)}
        probe.pop("response_format", None)
        self.probes += 1
        async with self._semaphore():
            try:
                response = await asyncio.wait_for(
                    self._litellm.acompletion(**probe), timeout=self.settings.timeout_s + 1.0
                )
            except Exception as exc:
                if self._classify(exc) == "fatal":  # e.g. the key was revoked mid-run
                    error = self._describe(exc, "fatal")
                    raise self._stop(ModelUnreachable(self._unreachable_message(error))) from None
                return False
        spent = Completion(text=None)
        self._account(spent, response)
        self.probe_cost_usd += spent.cost_usd
        self.breaker.record_success()
        self._answered = True
        return True

    def _stop(self, error: ModelUnreachable | ProviderDown) -> ModelUnreachable | ProviderDown:
        """Remember why the model cannot be used, so calls still queued end the same way."""
        if self._stopped is None:
            self._stopped = error
        return error

    def close(self) -> None:
        """Give back what the client holds outside this process: a local model's server."""
        endpoint, self._endpoint = self._endpoint, None
        if endpoint is not None:
            endpoint.close()

    # -- helpers -------------------------------------------------------------------------------

    def _ensure_endpoint(self) -> Endpoint:
        """Where calls go: the settings' model as given, or (`local/...`) a server started
        for it. A failure to start is kept, so a batch does not try once per request."""
        if self._endpoint is None:
            if self._endpoint_error is not None:
                raise self._endpoint_error
            from sim.llm.local_model import endpoint_for

            try:
                self._endpoint = endpoint_for(self.settings)
            except ModelUnreachable as error:
                self._endpoint_error = error
                raise
        return self._endpoint

    def _ensure_litellm(self) -> Any:
        if self._litellm is None:
            self._litellm = _load_litellm()
        return self._litellm

    def _semaphore(self) -> asyncio.Semaphore:
        """One semaphore per running loop: a semaphore cannot be shared across event loops."""
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            limit = self.settings.max_concurrency
            if self._endpoint is not None and self._endpoint.max_concurrency is not None:
                limit = min(limit, self._endpoint.max_concurrency)
            semaphore = asyncio.Semaphore(limit)
            self._semaphores[loop] = semaphore
        return semaphore

    def _resolve_api_key(self) -> str | None:
        """The key to send, read from the environment once; None lets litellm find its own."""
        if not self._api_key_resolved:
            settings = self.settings
            if settings.api_key_env:
                key = os.environ.get(settings.api_key_env)
                if not key:
                    raise ModelUnreachable(
                        f"model {settings.model!r}: environment variable "
                        f"{settings.api_key_env} (api_key_env) is not set"
                    )
                self._api_key = key
            elif (
                settings.model.startswith("openai/")
                and settings.api_base
                and not os.environ.get("OPENAI_API_KEY")
            ):
                self._api_key = LOCAL_DUMMY_KEY
            self._api_key_resolved = True
        return self._api_key

    def _account(self, result: Completion, response: Any) -> None:
        usage = getattr(response, "usage", None)
        if usage is not None:
            result.prompt_tokens += int(getattr(usage, "prompt_tokens", 0) or 0)
            result.completion_tokens += int(getattr(usage, "completion_tokens", 0) or 0)
        result.cost_usd += _priced_by_litellm(response)

    def _classify(self, exc: BaseException) -> _Outcome:
        """Decide what an exception from one attempt means for the call."""
        litellm = self._litellm
        if isinstance(exc, _EmptyReply):
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

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter, or the server's Retry-After; capped either way."""
        cap = self.settings.backoff_max_s
        if retry_after is not None:
            return min(cap, max(0.0, retry_after))
        base = self.settings.backoff_base_s * (2**attempt)
        return min(cap, base + self._rng.uniform(0.0, base * 0.25))

    def _describe(self, exc: BaseException, outcome: _Outcome) -> str:
        """A one-line, key-free description like "RateLimitError (HTTP 429): ...". """
        if isinstance(exc, TimeoutError | self._litellm.Timeout) or _in_chain(exc, _is_timeout):
            # litellm reports timeouts as HTTP 408, which no server sent.
            return f"Timeout: no reply within {self.settings.timeout_s:g} s"
        if outcome == "connection":
            # litellm reports these as HTTP 500; the transport's own error is the useful part.
            root = _root_cause(exc)
            return self._scrub(f"ConnectionError: {type(root).__name__}: {root}")
        if _in_chain(exc, _is_missing_credentials):
            return self._missing_key_message()
        if _in_chain(exc, _is_bad_url):
            root = _root_cause(exc)
            return self._scrub(f"api_base {self.settings.api_base!r} is not a usable URL: "
                               f"{type(root).__name__}: {root}")
        name = "EmptyReply" if isinstance(exc, _EmptyReply) else type(exc).__name__
        message = str(exc)
        # litellm prefixes messages with "litellm.Name: Name: "; the class name says it already.
        for prefix in (f"litellm.{name}:", f"{name}:"):
            if message.startswith(prefix):
                message = message[len(prefix):].lstrip()
        status = _status_of(exc)
        label = f"{name} (HTTP {status})" if status else name
        return self._scrub(f"{label}: {message}" if message else label)

    def _missing_key_message(self) -> str:
        """Which variable to set, as far as litellm knows the provider's conventions."""
        try:
            missing = self._litellm.validate_environment(model=self.settings.model)
            names = [n for n in missing.get("missing_keys", []) if n.endswith("_KEY")]
        except Exception:  # only a hint: an unknown provider simply gets the generic advice
            names = []
        hint = f"set {' or '.join(names)}, or " if names else ""
        return (f"no API key: {hint}name the environment variable that holds the key with "
                "api_key_env")

    def _down_message(self, error: str | None) -> str:
        where = f" at {self.settings.api_base}" if self.settings.api_base else ""
        return self._scrub(
            f"model {self.settings.model!r}{where} has failed every call for "
            f"{self.breaker.down_for():.0f} s (outage_patience_s = "
            f"{self.settings.outage_patience_s:g}); last error: {error}"
        )

    def _unreachable_message(self, error: str | None) -> str:
        where = f" at {self.settings.api_base}" if self.settings.api_base else ""
        return self._scrub(f"cannot use model {self.settings.model!r}{where}: {error}")

    def _scrub(self, text: str) -> str:
        """Remove every secret (sim.llm.redaction) and keep the text on one line."""
        return " ".join(scrub(text).split())


def _priced_by_litellm(response: Any) -> float:
    """The cost litellm already computed for this response (it prices every reply before
    returning it, into `_hidden_params["response_cost"]`); pricing it again would cost a few
    ms of CPU per call. Models without a price (local, scripted) come back as None: free."""
    hidden = getattr(response, "_hidden_params", None) or {}
    cost = hidden.get("response_cost") if isinstance(hidden, dict) else getattr(
        hidden, "response_cost", None)
    try:
        return max(float(cost or 0.0), 0.0)
    except (TypeError, ValueError):
        return 0.0


def _reply_text(response: Any) -> str:
    """The assistant's text, or `_EmptyReply` when there is none (litellm raises nothing)."""
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise _EmptyReply("the response had no choices")
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    if not isinstance(content, str) or not content.strip():
        raise _EmptyReply("the response had no content")
    return content


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


def _retry_after(exc: BaseException) -> float | None:
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
