"""How to reach one model, and which of those settings decide what it answers.

Kept apart from the client because the whole engine needs these settings (configs validate
them, brains carry them, the response cache keys on them) while only the gateway needs the
client: reading or checking a config must not pull in the code that talks to models. The API
key is never a setting, only the name of the environment variable that holds it, so settings
can be logged, hashed and written into a run's config safely.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from sim.llm.redaction import check_key_env_name, scrub, watch_env

__all__ = [
    "LOCAL_DUMMY_KEY", "REPLY_FIELDS", "TRANSPORTS", "TRANSPORT_FIELDS", "LLMSettings",
    "check_api_base", "normalise_api_base",
]

#: Handed to local OpenAI-compatible servers, which ignore the key but whose client needs one.
LOCAL_DUMMY_KEY = "sk-societas-local"


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
    transport: str = "auto"  # how requests travel: 'auto' | 'litellm' | 'direct' (transport.py)

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
        if self.transport not in TRANSPORTS:
            raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, "
                             f"got {self.transport!r}")

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
    "transport",
)
#: How requests may travel to a model (`sim.llm.transport`).
TRANSPORTS = ("auto", "litellm", "direct")


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
            f"api_base {scrub(url)!r} is not a usable URL ({problem}); expected e.g. "
            "http://127.0.0.1:8000/v1"
        )
    carried = _credentials_in(parts)
    if carried:
        raise ValueError(
            f"api_base carries a credential ({carried}), which would be saved with the run "
            "(config.toml, config.json, its store) and shown in errors; put the key in an "
            "environment variable, name that variable with api_key_env (e.g. --set "
            "api_key_env=MY_PROVIDER_KEY), and give api_base without it: "
            f"{_without_credentials(parts)}"
        )
    return url


#: Query parameters that carry a secret when they are part of an `api_base`.
_SECRET_QUERY = re.compile(
    r"(?i)(?:x-)?(?:api[_-]?key|key|token|access[_-]?token|auth|authorization|password|passwd"
    r"|secret|client[_-]?secret|sig|signature)"
)


def _credentials_in(parts: urllib.parse.SplitResult) -> str:
    """What in the URL is a credential, said without repeating it ('' for nothing)."""
    found = []
    if "@" in parts.netloc:
        found.append("a user name or password before the host")
    names = [name for name, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
             if _SECRET_QUERY.fullmatch(name)]
    found += [f"the query parameter {name}=" for name in names]
    return ", ".join(found)


def _without_credentials(parts: urllib.parse.SplitResult) -> str:
    host = parts.netloc.rpartition("@")[2]
    query = [(name, value) for name, value in urllib.parse.parse_qsl(
        parts.query, keep_blank_values=True) if not _SECRET_QUERY.fullmatch(name)]
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path,
                                    urllib.parse.urlencode(query), ""))


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
