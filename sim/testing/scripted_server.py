"""A scripted OpenAI-compatible chat server on loopback, for tests, benchmarks and dry runs.

The machines that build this project have no internet, yet the LLM path (litellm, retries,
backoff, concurrency) must be exercised over real HTTP. This server answers
`POST /v1/chat/completions` with replies chosen by a script and can inject the faults real
providers produce (429 with Retry-After, 5xx, timeouts, malformed JSON, empty choices), or
fail only some requests as a real server does while answering the others
(`failing_structured_output`, `failing_long_prompts`).

It uses only the standard library: one asyncio event loop, on a thread of its own, serves
every connection (`sim.testing.loopback_http` frames the requests), so injected latency
overlaps the way it does at a real provider and a wave of hundreds of requests is answered
about when the latency says (a thread per connection needed 150 ms of the server's CPU for a
wave of 200). A responder function runs on a worker thread, so one that sleeps holds up only
its own request. It refuses to bind anything but a loopback address: it must never be
reachable from another machine.

Replies go out with TCP_NODELAY and always carry a Content-Length, so a keep-alive connection
answers at once. Without it a reply's headers and body are two small writes, and Nagle's
algorithm holds the body until the client acknowledges the headers, which a delayed ACK puts
off by about 40 ms: every timing measured against the server would have included it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import json
import socket
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sim.testing.loopback_http import HEAD_LIMIT, BadRequest, HttpRequest, read_request, reply_head

__all__ = ["ChatRequest", "Fault", "Reply", "Responder", "ScriptedLLMServer",
           "failing_long_prompts", "failing_structured_output"]

FAULT_KINDS = frozenset({"status", "timeout", "malformed_json", "empty_choices"})
DEFAULT_REPLY = "OK"
SERVED_MODEL = "scripted"
JSON = "application/json"
#: Connections waiting to be accepted: a burst of concurrent connects beyond the backlog is
#: dropped and retried by the kernel a second later, which would fake a latency spike.
LISTEN_BACKLOG = 1024
#: Responders running at once (threads are made as requests need them, up to this).
WORKER_THREADS = 512
START_TIMEOUT_S = 10.0


@dataclass
class Fault:
    """A misbehaviour to answer one request with, instead of a reply.

    kind: 'status' (HTTP error `status`, with a Retry-After header when `retry_after` is set),
    'timeout' (sleep `delay` seconds, then answer normally, so a client with a shorter timeout
    gives up), 'malformed_json' (200 whose body is not JSON), 'empty_choices' (200 with
    `"choices": []`). `message` replaces the error text of a 'status' fault, so tests can make
    the server echo what a real provider would (e.g. the API key it rejected).
    """

    kind: str
    status: int = 500
    retry_after: float | None = None
    delay: float = 30.0
    message: str = "scripted fault"

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            expected = ", ".join(sorted(FAULT_KINDS))
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {expected}")


Reply = str | Fault


@dataclass
class ChatRequest:
    """One chat-completion request as the server received it."""

    messages: list[dict[str, Any]]
    model: str
    body: dict[str, Any]
    index: int  # 0-based arrival ordinal among chat-completion requests
    headers: dict[str, str] = field(default_factory=dict)  # lower-cased names


Responder = Callable[[ChatRequest], Reply]


def _default_responder(request: ChatRequest) -> Reply:
    return DEFAULT_REPLY


@dataclass
class _SequenceResponder:
    """Replies in arrival order, repeating the last one once the script runs out."""

    replies: Sequence[Reply]

    def __post_init__(self) -> None:
        if len(self.replies) == 0:
            raise ValueError("a scripted reply sequence needs at least one reply")

    def __call__(self, request: ChatRequest) -> Reply:
        return self.replies[min(request.index, len(self.replies) - 1)]


def _is_loopback(host: str) -> bool:
    """True when every address `host` names is a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost could resolve anywhere


def count_tokens(text: str) -> int:
    """Whitespace-split word count: a deterministic stand-in for a tokenizer."""
    return len(text.split())


@dataclass
class _State:
    """What the serving loop and the responders' threads share with the server object."""

    responder: Responder
    delay: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    count: int = 0
    requests: list[ChatRequest] = field(default_factory=list)


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "scripted_error", "code": status}}


def _completion_body(request: ChatRequest, text: str) -> dict[str, Any]:
    prompt_tokens = sum(count_tokens(str(m.get("content") or "")) for m in request.messages)
    completion_tokens = count_tokens(text)
    return {
        "id": f"chatcmpl-scripted-{request.index}",
        "object": "chat.completion",
        "created": 0,
        "model": request.model or SERVED_MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def failing_structured_output(responder: Responder | None = None,
                              fault: Fault | None = None) -> Responder:
    """A server that cannot do constrained output (as some local and proxy servers): `fault`
    (HTTP 500 by default) for every request that asks for a response format, `responder` (or
    "OK") for the rest, a client's outage probe included."""
    answer = responder or _default_responder
    failure = fault or Fault("status", 500, message="response_format is not supported")

    def respond(request: ChatRequest) -> Reply:
        return failure if request.body.get("response_format") else answer(request)

    return respond


def failing_long_prompts(max_chars: int, responder: Responder | None = None,
                         fault: Fault | None = None) -> Responder:
    """A server with a small context: `fault` (HTTP 500 by default) for every request whose
    messages hold more than `max_chars` characters, `responder` (or "OK") for the rest."""
    answer = responder or _default_responder
    failure = fault or Fault("status", 500, message="prompt too long for this server")

    def respond(request: ChatRequest) -> Reply:
        size = sum(len(str(m.get("content") or "")) for m in request.messages)
        return failure if size > max_chars else answer(request)

    return respond



class ScriptedLLMServer:
    """An OpenAI-compatible chat server on loopback whose replies come from a script.

    `responder` is a function of the request, a sequence of replies consumed in arrival order
    (its last item repeats), or None for a fixed "OK". `delay` seconds are waited before every
    answer. A function runs on a worker thread, so one that sleeps or blocks holds up only its
    own request, as a slow model would; `responder_blocks=False` calls it on the server's event
    loop instead (a few tens of microseconds less a request, for a function that returns at
    once, such as a scenario's scripted player). `tcp_nodelay=False` brings back the
    delayed-ACK wait of every reply, only so that `benchmarks/scripted_server.py` can show what
    it cost. Use as a context manager, or call `start()` and `stop()`.
    """

    def __init__(
        self,
        responder: Responder | Sequence[Reply] | None = None,
        *,
        delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        tcp_nodelay: bool = True,
        responder_blocks: bool = True,
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"ScriptedLLMServer binds loopback only, not {host!r}")
        if delay < 0:
            raise ValueError("delay must be >= 0")
        threaded = responder_blocks and callable(responder)
        if responder is None:
            responder = _default_responder
        elif isinstance(responder, str | Fault):
            responder = _SequenceResponder([responder])  # one reply, always
        elif not callable(responder):
            responder = _SequenceResponder(list(responder))
        self._state = _State(responder=responder, delay=delay)
        self._host = "127.0.0.1" if host == "localhost" else host
        self._port = port
        self._tcp_nodelay = tcp_nodelay
        self._threaded = threaded
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._address: tuple[str, int] | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._workers: ThreadPoolExecutor | None = None

    @property
    def url(self) -> str:
        """The api_base to hand to litellm, e.g. "http://127.0.0.1:54321/v1"."""
        if self._address is None:
            raise RuntimeError("server not started")
        host, port = self._address
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}/v1"

    @property
    def delay(self) -> float:
        """Seconds waited before every answer; settable, so a test can make a run slow while it
        waits for the moment to interrupt it, then let the resumed run go at full speed."""
        return self._state.delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("delay must be >= 0")
        self._state.delay = seconds

    @property
    def request_count(self) -> int:
        """Chat-completion requests received so far, faults included."""
        with self._state.lock:
            return self._state.count

    @property
    def requests(self) -> list[ChatRequest]:
        """A snapshot of the well-formed chat-completion requests, in arrival order."""
        with self._state.lock:
            return list(self._state.requests)

    def start(self) -> ScriptedLLMServer:
        if self._thread is not None:
            return self
        loop = asyncio.new_event_loop()
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        thread = threading.Thread(target=self._serve, args=(loop, ready), name="scripted-llm",
                                  daemon=True)
        if self._threaded:
            self._workers = ThreadPoolExecutor(max_workers=WORKER_THREADS,
                                               thread_name_prefix="scripted-llm-responder")
        self._loop, self._thread = loop, thread
        thread.start()
        try:
            ready.result(timeout=START_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise
        return self

    def _serve(self, loop: asyncio.AbstractEventLoop,
               ready: concurrent.futures.Future[None]) -> None:
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(asyncio.start_server(
                self._connection, self._host, self._port, backlog=LISTEN_BACKLOG,
                limit=HEAD_LIMIT))
            self._address = self._server.sockets[0].getsockname()[:2]
        except BaseException as error:
            loop.close()  # first: `start` then finds nothing to stop (no 5 s wait, no warning)
            ready.set_exception(error)
            return
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:  # handlers mid-delay (a 'timeout' fault): end them now
                task.cancel()
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.close()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended already
                asyncio.run_coroutine_threadsafe(self._close(), loop).result(timeout=5)
                loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if self._workers is not None:
            self._workers.shutdown(wait=False, cancel_futures=True)
        self._loop = self._thread = self._server = self._workers = None
        self._address = None

    async def _close(self) -> None:
        """Stop listening and cut kept-alive connections too, as a provider that goes away
        would."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- serving ------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        """Serve one connection's requests, one after another, until it closes."""
        self._writers.add(writer)
        sock = writer.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, int(self._tcp_nodelay))
        try:
            while True:
                try:
                    request = await read_request(reader, writer)
                except BadRequest as error:  # the stream's framing is lost: no keep-alive
                    await self._send(writer, 400, _error_body(400, str(error)), close=True)
                    return
                if request is None:
                    return
                status, data, content_type, headers = await self._answer(request)
                await self._send(writer, status, data, content_type, headers,
                                 close=not request.keep_alive)
                if not request.keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client gave up (e.g. its timeout fired); nothing left to tell it
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _answer(self, http: HttpRequest
                      ) -> tuple[int, dict[str, Any] | bytes, str, dict[str, str] | None]:
        """(status, JSON payload or raw body, content type, extra headers) for one request."""
        route = http.path.rstrip("/")
        if http.method == "GET":
            if route in ("/v1/models", "/models"):
                return 200, {"object": "list", "data": [{
                    "id": SERVED_MODEL, "object": "model", "created": 0,
                    "owned_by": "societas"}]}, JSON, None
            return 404, _error_body(404, f"no route GET {http.path}"), JSON, None
        if http.method != "POST":
            return 501, _error_body(501, f"unsupported method {http.method}"), JSON, None
        if route not in ("/v1/chat/completions", "/chat/completions"):
            return 404, _error_body(404, f"no route POST {http.path}"), JSON, None
        state = self._state
        try:
            body = json.loads(http.body or b"{}")
            if not isinstance(body, dict):
                raise ValueError("request body must be a JSON object")
        except ValueError as exc:
            with state.lock:
                state.count += 1
            return 400, _error_body(400, f"invalid JSON body: {exc}"), JSON, None
        with state.lock:
            request = ChatRequest(messages=list(body.get("messages") or []),
                                  model=str(body.get("model", "")), body=body,
                                  index=state.count, headers=http.headers)
            state.count += 1
            state.requests.append(request)
        if state.delay > 0:
            await asyncio.sleep(state.delay)
        try:
            if self._workers is not None:
                reply = await asyncio.get_running_loop().run_in_executor(
                    self._workers, state.responder, request)
            else:
                reply = state.responder(request)
        except Exception as exc:  # a broken script should show up as a 500, not a hang
            return (500, _error_body(500, f"responder raised {type(exc).__name__}: {exc}"),
                    JSON, None)
        if isinstance(reply, str):
            return 200, _completion_body(request, reply), JSON, None
        if reply.kind == "status":
            headers = None
            if reply.retry_after is not None:
                headers = {"Retry-After": _format_seconds(reply.retry_after)}
            return reply.status, _error_body(reply.status, reply.message), JSON, headers
        if reply.kind == "timeout":
            await asyncio.sleep(reply.delay)
            return 200, _completion_body(request, DEFAULT_REPLY), JSON, None
        if reply.kind == "malformed_json":
            return 200, b'{"id": "chatcmpl-broken", "choices": [', JSON, None
        payload = _completion_body(request, "")  # empty_choices
        payload["choices"] = []
        return 200, payload, JSON, None

    async def _send(self, writer: asyncio.StreamWriter, status: int,
                    payload: dict[str, Any] | bytes, content_type: str = "application/json",
                    headers: dict[str, str] | None = None, *, close: bool = False) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        head = reply_head(status, content_type, len(data), headers, close=close)
        if self._tcp_nodelay:
            writer.write(head + data)
        else:  # two writes, as http.server made them: Nagle holds the body back
            writer.write(head)
            writer.write(data)
        await writer.drain()
