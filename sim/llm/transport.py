"""How a request reaches its model: through litellm, or straight over HTTP to an OpenAI-compatible
server (`transport = "auto" | "litellm" | "direct"`, an `LLMSettings` field).

litellm spends milliseconds of CPU on every call (about 5 ms here, against 0.2 ms for the HTTP
exchange itself), which is what caps a run when a model served on one's own GPU answers in tens
of milliseconds. For a model behind an OpenAI-compatible `api_base` (a local server, vLLM,
llama.cpp, the scripted test server, `local/smollm2`) the request is plain JSON, so the direct
transport sends it itself over one pooled aiohttp session per event loop: the same body litellm
sends (model name without its `openai/` prefix, messages, temperature, max_tokens and the
response format, when litellm passes those through unchanged), the same bearer key, and the
reply read from the same fields. Everything around the exchange (deadlines, retries, breaker,
Retry-After, the shared limiter, redaction, cache keys, replay) is the client's and does not
change. Failures are handed to litellm's own error mapping, built from the server's response as
litellm's OpenAI path builds it, so a run stores the same outcomes and the same messages
whichever transport carried its calls; tests hold both to that on every fault the scripted
server can inject. A dropped connection is described by its root cause, which names aiohttp's
error where litellm's would name httpx's.

`auto` (the default) takes the direct transport for an `openai/...` model (or `local/...`)
with an `api_base` that litellm neither prices nor rewrites the parameters of (o-series and
other reasoning models get `max_completion_tokens`), and litellm for every other model; prices
and model information come from litellm whichever transport carried the call. `direct` insists
(refused for other providers when the config is read, and at the first call for a model whose
parameters litellm would rewrite); `litellm` never goes direct.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.parse
import weakref
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sim.llm.outcomes import ModelUnreachable
from sim.llm.settings import TRANSPORTS

if TYPE_CHECKING:
    from sim.llm.local_model import Endpoint
    from sim.llm.settings import LLMSettings

__all__ = ["TRANSPORTS", "DirectTransport", "LiteLLMTransport", "check_transport",
           "choose_transport", "direct_capable"]

#: The provider prefix of models the direct transport can reach (with an api_base).
OPENAI_PREFIX = "openai/"
#: Parameters litellm adds to its own request that never reach the body of a plain request.
_NOT_SENT = frozenset({"stream", "extra_body"})


def direct_capable(model: str, api_base: str | None) -> bool:
    """Whether the direct transport can reach `model` at `api_base`: an OpenAI-compatible
    endpoint (`openai/...` with an api_base, or a local model, which is served as one)."""
    if model.startswith("local/"):
        return True
    if not model.startswith(OPENAI_PREFIX) or not api_base:
        return False
    return not urllib.parse.urlsplit(api_base).query


def check_transport(transport: str, model: str | None, api_base: str | None) -> str:
    """A config's `transport`, refused with one line where it cannot work."""
    if transport not in TRANSPORTS:
        raise ValueError(f"transport must be one of {', '.join(TRANSPORTS)}, got {transport!r}")
    if transport == "direct" and model is not None and not direct_capable(model, api_base):
        raise ValueError(
            f"transport 'direct' reaches OpenAI-compatible servers only: a model 'openai/...' "
            f"with an api_base, or 'local/...'; {model!r}"
            f"{' has no api_base' if api_base is None else ' is not one'}. Use transport "
            "'auto' (the default) or 'litellm'")
    return transport


def choose_transport(settings: LLMSettings, endpoint: Endpoint, litellm: Any,
                     api_key: str | None) -> LiteLLMTransport | DirectTransport:
    """The transport for a client's calls, decided at its first call (see the module doc)."""
    if settings.transport == "litellm" or not direct_capable(endpoint.model, endpoint.api_base):
        return LiteLLMTransport(litellm)
    bare = endpoint.model[len(OPENAI_PREFIX):]
    plain = _passes_through(litellm, bare, settings)
    priced = _price(litellm, endpoint.model, 1, 1) is not None
    if settings.transport == "auto" and (priced or not plain):
        return LiteLLMTransport(litellm)
    if not plain:
        raise ModelUnreachable(
            f"cannot use model {settings.model!r} with transport 'direct': litellm rewrites "
            "its parameters (a reasoning model's max_completion_tokens), which the direct "
            "transport does not; use transport 'auto' or 'litellm'")
    key = api_key or getattr(litellm, "api_key", None) or os.environ.get("OPENAI_API_KEY")
    return DirectTransport(litellm, endpoint.model, bare, str(endpoint.api_base), key,
                           settings.timeout_s, priced)


def _passes_through(litellm: Any, bare: str, settings: LLMSettings) -> bool:
    """Whether litellm sends temperature and max_tokens to this model as given."""
    from litellm.utils import get_optional_params

    try:
        params = get_optional_params(model=bare, custom_llm_provider="openai",
                                     temperature=settings.temperature,
                                     max_tokens=settings.max_tokens, drop_params=True)
    except Exception:  # litellm would refuse or rewrite them: not a plain request
        return False
    sent = {key: value for key, value in params.items() if key not in _NOT_SENT}
    return sent == {"temperature": settings.temperature, "max_tokens": settings.max_tokens}


def _price(litellm: Any, model: str, prompt_tokens: int, completion_tokens: int
           ) -> float | None:
    """What litellm charges for these tokens of `model`; None for a model it does not price."""
    try:
        prompt, completion = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
    except Exception:
        return None
    return float(prompt + completion)


class LiteLLMTransport:
    """Every call through `litellm.acompletion`, priced as litellm priced it."""

    name = "litellm"

    def __init__(self, litellm: Any) -> None:
        self.litellm = litellm

    async def send(self, kwargs: dict[str, Any]) -> Any:
        return await self.litellm.acompletion(**kwargs)

    def cost(self, response: Any) -> float:
        """The cost litellm already computed for this response (it prices every reply before
        returning it, into `_hidden_params["response_cost"]`); pricing it again would cost a
        few ms of CPU per call. Models without a price come back as None: free."""
        hidden = getattr(response, "_hidden_params", None) or {}
        cost = hidden.get("response_cost") if isinstance(hidden, dict) else getattr(
            hidden, "response_cost", None)
        try:
            return max(float(cost or 0.0), 0.0)
        except (TypeError, ValueError):
            return 0.0

    async def aclose(self) -> None:
        """Nothing of litellm's to close here (its clients live as long as the loop)."""


@dataclass
class _Message:
    content: Any


@dataclass
class _Choice:
    message: _Message


@dataclass
class _Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class DirectReply:
    """A chat completion read from the server's JSON: the fields the client reads of litellm's
    `ModelResponse` (choices[i].message.content, usage), and its cost."""

    choices: list[_Choice]
    usage: _Usage
    cost_usd: float = 0.0


@dataclass
class DirectTransport:
    """Calls straight to an OpenAI-compatible server; see the module docstring."""

    litellm: Any
    model: str  # as litellm names it ("openai/scripted"): its errors and prices use this
    served: str  # the name the server is sent ("scripted")
    api_base: str
    api_key: str | None
    timeout_s: float
    priced: bool = False
    name: str = "direct"
    _sessions: weakref.WeakKeyDictionary = field(default_factory=weakref.WeakKeyDictionary)

    @property
    def url(self) -> str:
        return self.api_base.rstrip("/") + "/chat/completions"

    async def send(self, kwargs: dict[str, Any]) -> DirectReply:
        """One request, as litellm's OpenAI path would send it (the same JSON body)."""
        body: dict[str, Any] = {"model": self.served, "messages": kwargs["messages"],
                                "temperature": kwargs["temperature"],
                                "max_tokens": kwargs["max_tokens"]}
        if kwargs.get("response_format") is not None:
            body["response_format"] = kwargs["response_format"]
        import aiohttp

        session = self._session()
        try:
            async with session.post(self.url, data=json.dumps(body).encode("utf-8")) as reply:
                content = await reply.read()
                status, headers = reply.status, reply.headers
        except aiohttp.ServerDisconnectedError as error:  # an OSError for the classifier, as
            raise ConnectionResetError(str(error)) from error  # httpx's is under litellm's
        if status >= 400:
            raise self._litellm_error(status, dict(headers), content)
        try:
            return self._read(json.loads(content))
        except Exception as error:  # a body that is no chat completion: litellm's way, too
            raise self._litellm_error(None, None, None, error) from None

    def _read(self, data: dict[str, Any]) -> DirectReply:
        choices = [_Choice(_Message((choice.get("message") or {}).get("content")))
                   for choice in data.get("choices") or []]
        usage = data.get("usage") or {}
        read = _Usage(int(usage.get("prompt_tokens") or 0),
                      int(usage.get("completion_tokens") or 0))
        cost = 0.0
        if self.priced:
            cost = _cached_price(self.litellm, self.model, read.prompt_tokens,
                                 read.completion_tokens) or 0.0
        return DirectReply(choices, read, cost)

    def cost(self, response: DirectReply) -> float:
        return response.cost_usd

    def _session(self) -> Any:
        """One pooled session per event loop (a session is bound to the loop it was made on)."""
        import aiohttp

        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            if self.api_key:
                headers["Authorization"] = f"Bearer {self.api_key}"
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=300),
                headers=headers,
                # per phase, as the OpenAI client's timeout is; the client's own deadline
                # bounds the whole call
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout_s,
                                              sock_read=self.timeout_s),
            )
            self._sessions[loop] = session
        return session

    async def aclose(self) -> None:
        """Close this loop's session (its pooled connections)."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None and not session.closed:
            await session.close()

    def _litellm_error(self, status: int | None, headers: dict[str, str] | None,
                       content: bytes | None, error: Exception | None = None) -> BaseException:
        """The exception litellm raises for this failure: the OpenAI client's error for the
        response (`status`, `headers`, `content`), or `error` met reading a 200, wrapped as
        litellm's OpenAI path wraps it, then through litellm's own mapping."""
        from litellm.litellm_core_utils.exception_mapping_utils import exception_type
        from litellm.llms.openai.common_utils import OpenAIError, upstream_error_response

        if error is None:
            error = _openai_status_error(self.url, status or 500, headers or {}, content or b"",
                                         self.api_key)
        response = getattr(error, "response", None)
        error_headers = getattr(error, "headers", None)
        if error_headers is None and response is not None:
            error_headers = getattr(response, "headers", None)
        wrapped = OpenAIError(
            status_code=getattr(error, "status_code", 500),
            message=getattr(error, "message", str(error)),
            response=upstream_error_response(error), headers=error_headers,
            body=getattr(error, "body", None))
        try:
            exception_type(model=self.model, custom_llm_provider="openai",
                           original_exception=wrapped, completion_kwargs={}, extra_kwargs={})
        except Exception as mapped:
            return mapped
        return wrapped  # not reached: exception_type always raises


def _openai_status_error(url: str, status: int, headers: dict[str, str], content: bytes,
                         api_key: str | None) -> BaseException:
    """The error the OpenAI client (which litellm's OpenAI path uses) makes of this response
    (its status, its body's message, its headers with Retry-After)."""
    import openai._base_client as base

    client = _status_reader(api_key or "unused")
    http = getattr(base, "httpx2", None) or base.httpx  # the HTTP library the client reads with
    response = http.Response(status, headers=headers, content=content,
                             request=http.Request("POST", url))
    return client._make_status_error_from_response(response)  # type: ignore[no-any-return]


@lru_cache(maxsize=4)
def _status_reader(api_key: str) -> Any:
    """An OpenAI client used only to read error responses, never to send anything."""
    import openai

    return openai.AsyncOpenAI(api_key=api_key, base_url="http://127.0.0.1/v1", max_retries=0)


@lru_cache(maxsize=65536)  # litellm's pricing costs about 0.7 ms a call
def _cached_price(litellm: Any, model: str, prompt_tokens: int, completion_tokens: int
                  ) -> float | None:
    return _price(litellm, model, prompt_tokens, completion_tokens)
