"""Keeping API keys out of everything a run writes or prints.

A key can reach text in more ways than its own shape suggests: a provider echoes the key it
rejected in its error, a proxy quotes the `Authorization: Bearer ...` header, a user pastes a
key where the name of its environment variable belongs. So `scrub` removes, from any text that
leaves the model client (errors in `llm_calls`, the response cache, stderr, the report):

- the value of every environment variable named `*_API_KEY`, and of every variable a config
  names in `api_key_env` (registered with `watch_env`), whatever it looks like;
- bearer tokens and `api_key=`/`x-api-key:` style assignments;
- strings shaped like provider keys (`sk-...`, `pk-...`, `rk-...`);
- credentials in URLs: a user name and password (`http://user:KEY@host`) and secret query
  parameters (`?api_key=`, `&token=`); an `api_base` carrying them is refused outright
  (`sim.llm.settings.check_api_base`), this catches them anywhere else.

`check_key_env_name` refuses a value given as `api_key_env` that is not the name of an
environment variable, before it can be written into a run's config.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import traceback
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any, TextIO

__all__ = [
    "REDACTED", "check_key_env_name", "scrub", "scrub_values", "scrubbed_stderr",
    "secret_values", "watch_env",
]

REDACTED = "***"
#: Values shorter than this are not treated as secrets: scrubbing "1" or "true" from every
#: message would mangle it, and no provider issues keys that short.
MIN_SECRET_LENGTH = 8
#: What local OpenAI-compatible servers are sent as a key (sim.llm.settings): not a secret.
_NOT_SECRETS = frozenset({"sk-societas-local"})

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_PATTERNS = [
    # "Authorization: Bearer abc", "bearer abc"
    re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=\-]{8,}"),
    # api_key=..., "api-key": "...", x-api-key: ..., apikey ...
    re.compile(r"(?i)\b((?:x-)?api[_-]?key)(\"?'?\s*[:=]\s*\"?'?)[^\s\"',;}]{4,}"),
    re.compile(r"\b(?:sk|pk|rk)-(?!societas-local\b)[A-Za-z0-9_\-]{12,}"),
    # a URL's user name and password: http://user:KEY@host/v1
    re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@'\"]+@"),
    # a URL's secret query parameters: ?key=..., &access_token=...
    re.compile(r"(?i)([?&](?:x-)?(?:api[_-]?key|key|token|access[_-]?token|auth|authorization"
               r"|password|passwd|secret|client[_-]?secret|sig|signature)=)[^&\s#'\"]+"),
]

_watched: set[str] = set()


def watch_env(name: str | None) -> None:
    """Treat the value of environment variable `name` as a secret from now on."""
    if name:
        _watched.add(name)


def secret_values() -> list[str]:
    """The values to scrub: every `*_API_KEY` variable and every watched one, longest first
    (so a key that contains another is removed whole).

    Read afresh on every call (a key set a moment ago is scrubbed at once), from the
    environment's raw bytes where the platform keeps them: decoding every variable through
    `os.environ` cost a quarter of a millisecond, on every model reply."""
    data = getattr(os.environ, "_data", None)
    if not isinstance(data, dict) or not isinstance(next(iter(data), b""), bytes):
        return _secrets(tuple((name, value) for name, value in os.environ.items()
                              if _is_secret_name(name)))
    watched = _watched_bytes()
    last = _last_found
    # The values are looked for again only when the environment differs from the last one
    # looked at (a dict comparison, in C), or other names are watched.
    if last is None or last[1] is not watched or last[0] != data:
        found = _secrets(tuple(
            (name, value) for name, value in data.items()
            if len(value) >= MIN_SECRET_LENGTH
            and (name.upper().endswith(b"_API_KEY") or name in watched)))
        last = _remember(dict(data), watched, found)
    return last[2]


#: The environment last looked at, the watched names then, and the secrets found in it.
_last_found: tuple[dict[bytes, bytes], frozenset[bytes], list[str]] | None = None


def _remember(environment: dict[bytes, bytes], watched: frozenset[bytes], found: list[str]
              ) -> tuple[dict[bytes, bytes], frozenset[bytes], list[str]]:
    global _last_found
    _last_found = (environment, watched, found)
    return _last_found


def _is_secret_name(name: str) -> bool:
    return name.upper().endswith("_API_KEY") or name in _watched


def _watched_bytes() -> frozenset[bytes]:
    names = frozenset(_watched)
    if _watched_cache[0] != names:
        _watched_cache[:] = [names, frozenset(os.fsencode(n) for n in names)]
    return _watched_cache[1]


_watched_cache: list = [None, frozenset()]


@functools.lru_cache(maxsize=64)
def _secrets(found: tuple[tuple[Any, Any], ...]) -> list[str]:
    """The secret values among `found` (names and values, raw or decoded), longest first."""
    values = {os.fsdecode(value) if isinstance(value, bytes) else value for _, value in found}
    return sorted((v for v in values if len(v) >= MIN_SECRET_LENGTH and v not in _NOT_SECRETS),
                  key=len, reverse=True)


def scrub(text: str) -> str:
    """`text` with every secret replaced by `***` (see the module docstring)."""
    if not text:
        return text
    for value in secret_values():
        if value in text:
            text = text.replace(value, REDACTED)
    text = _PATTERNS[0].sub(rf"\1 {REDACTED}", text)
    text = _PATTERNS[1].sub(rf"\1\2{REDACTED}", text)
    text = _PATTERNS[2].sub(REDACTED, text)
    text = _PATTERNS[3].sub(rf"\1{REDACTED}@", text)
    return _PATTERNS[4].sub(rf"\1{REDACTED}", text)


def scrub_values(text: str) -> str:
    """Only the exact secret values removed: for model replies, where a pattern could eat
    ordinary words and a changed reply would change the run."""
    if not text:
        return text
    for value in secret_values():
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def check_key_env_name(name: str) -> str:
    """`name` if it can be the name of the environment variable holding a key, else
    ValueError. The message never repeats `name`: it may be the key itself."""
    if not _ENV_NAME.match(name):
        raise ValueError(
            "must be the NAME of the environment variable that holds the key (letters, digits "
            "and underscores, e.g. OPENAI_API_KEY), not the key itself; the value given was "
            "not saved"
        )
    if name in secret_values():
        raise ValueError(
            "looks like an API key (it is the value of a *_API_KEY environment variable); "
            "give the variable's name instead; the value given was not saved"
        )
    if name not in os.environ and _looks_random(name):
        raise ValueError(
            "looks like an API key (long, mixed-case letters and digits, and no such "
            "variable is set); give the variable's name instead; the value given was not saved"
        )
    return name


def _looks_random(name: str) -> bool:
    """Long and mixed like a generated key (`AIzaSyD...`), not like a variable name."""
    return (len(name) >= 24 and any(c.islower() for c in name)
            and any(c.isupper() for c in name) and any(c.isdigit() for c in name))


class _ScrubbingStream:
    """A text stream that scrubs what is written to it, then passes it on."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(scrub(text))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding, ...
        return getattr(self._stream, name)


@contextlib.contextmanager
def scrubbed_stderr() -> Iterator[None]:
    """Scrub everything written to `sys.stderr` inside the block (our messages, warnings,
    litellm's log lines), and every uncaught exception's traceback from then on."""
    original = sys.stderr
    sys.stderr = _ScrubbingStream(original)  # type: ignore[assignment]
    sys.excepthook = _scrubbing_excepthook
    try:
        yield
    finally:
        sys.stderr = original


def _scrubbing_excepthook(kind: type[BaseException], value: BaseException,
                          tb: TracebackType | None) -> None:
    sys.stderr.write(scrub("".join(traceback.format_exception(kind, value, tb))))
