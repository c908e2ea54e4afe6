"""A scripted OpenAI-compatible chat server on loopback, for tests, benchmarks and dry runs.

The machines that build this project have no internet, yet the LLM path (litellm, retries,
backoff, concurrency) must be exercised over real HTTP. This server answers
`POST /v1/chat/completions` with replies chosen by a script and can inject the faults real
providers produce (429 with Retry-After, 5xx, timeouts, malformed JSON, empty choices), or
fail only some requests as a real server does while answering the others
(`failing_structured_output`, `failing_long_prompts`).

It uses only the standard library and serves each request on its own thread, so injected
latency overlaps the way it does at a real provider and concurrency can be measured. It refuses
to bind anything but a loopback address: it must never be reachable from another machine.

Replies go out with TCP_NODELAY and always carry a Content-Length, so a keep-alive connection
answers at once. Without it a reply's headers and body are two small writes, and Nagle's
algorithm holds the body until the client acknowledges the headers, which a delayed ACK puts
off by about 40 ms: every timing measured against the server would have included it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ChatRequest", "Fault", "Reply", "Responder", "ScriptedLLMServer",
           "failing_long_prompts", "failing_structured_output"]

FAULT_KINDS = frozenset({"status", "timeout", "malformed_json", "empty_choices"})
DEFAULT_REPLY = "OK"
SERVED_MODEL = "scripted"


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
    """What the handler threads share with the server object."""

    responder: Responder
    delay: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    count: int = 0
    requests: list[ChatRequest] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: litellm's clients reuse their connections
    disable_nagle_algorithm = True  # TCP_NODELAY on every accepted socket (module docstring)
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: per-request lines would drown test output."""

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            payload = {
                "object": "list",
                "data": [{"id": SERVED_MODEL, "object": "model", "created": 0,
                          "owned_by": "societas"}],
            }
            self._send_json(200, payload)
        else:
            self._send_json(404, _error_body(404, f"no route GET {self.path}"))

    def do_POST(self) -> None:
        try:
            raw = self._read_body()
        except ValueError as exc:
            self.close_connection = True  # the stream's framing is lost: no keep-alive
            self._send_json(400, _error_body(400, str(exc)))
            return
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send_json(404, _error_body(404, f"no route POST {self.path}"))
            return
        state = self.server.state
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("request body must be a JSON object")
        except ValueError as exc:
            with state.lock:
                state.count += 1
            self._send_json(400, _error_body(400, f"invalid JSON body: {exc}"))
            return
        with state.lock:
            request = ChatRequest(
                messages=list(body.get("messages") or []),
                model=str(body.get("model", "")),
                body=body,
                index=state.count,
                headers={name.lower(): value for name, value in self.headers.items()},
            )
            state.count += 1
            state.requests.append(request)
        if state.delay > 0:
            time.sleep(state.delay)
        try:
            reply = state.responder(request)
        except Exception as exc:  # a broken script should show up as a 500, not a hang
            self._send_json(500, _error_body(500, f"responder raised {type(exc).__name__}: {exc}"))
            return
        self._answer(request, reply)

    def _read_body(self) -> bytes:
        """The whole request body, so the next request on a kept-alive connection starts
        where it should: by Content-Length, or chunk by chunk."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline(1024).split(b";")[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    raise ValueError(f"bad chunk size {size_line!r}") from None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)  # the CRLF after each chunk
        text = self.headers.get("Content-Length") or "0"
        try:
            length = int(text)
        except ValueError:
            raise ValueError(f"bad Content-Length {text!r}") from None
        if length < 0:
            raise ValueError(f"bad Content-Length {text!r}")
        return self.rfile.read(length) if length else b""

    def _answer(self, request: ChatRequest, reply: Reply) -> None:
        if isinstance(reply, str):
            self._send_json(200, _completion_body(request, reply))
            return
        if reply.kind == "status":
            headers = {}
            if reply.retry_after is not None:
                headers["Retry-After"] = _format_seconds(reply.retry_after)
            self._send_json(reply.status, _error_body(reply.status, reply.message), headers)
        elif reply.kind == "timeout":
            time.sleep(reply.delay)
            self._send_json(200, _completion_body(request, DEFAULT_REPLY))
        elif reply.kind == "malformed_json":
            self._send(200, b'{"id": "chatcmpl-broken", "choices": [', "application/json")
        elif reply.kind == "empty_choices":
            payload = _completion_body(request, "")
            payload["choices"] = []
            self._send_json(200, payload)

    def _send_json(self, status: int, payload: dict[str, Any],
                   headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _send(self, status: int, data: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (e.g. its timeout fired); nothing left to tell it


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


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a sleeping 'timeout' fault must not block interpreter exit
    # socketserver's default listen backlog is 5: a burst of concurrent connects beyond it is
    # dropped and retried by the kernel a second later, which would fake a latency spike.
    request_queue_size = 256
    state: _State
    connections: set[socket.socket]

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        self.connections.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        self.connections.discard(request)
        super().shutdown_request(request)

    def drop_connections(self) -> None:
        """Cut kept-alive connections too, as a provider that goes away would."""
        for connection in list(self.connections):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class ScriptedLLMServer:
    """An OpenAI-compatible chat server on loopback whose replies come from a script.

    `responder` is a function of the request, a sequence of replies consumed in arrival order
    (its last item repeats), or None for a fixed "OK". `delay` seconds are slept before every
    answer. `tcp_nodelay=False` brings back the delayed-ACK wait of every reply, only so that
    `benchmarks/scripted_server.py` can show what it cost. Use as a context manager, or call
    `start()` and `stop()`.
    """

    def __init__(
        self,
        responder: Responder | Sequence[Reply] | None = None,
        *,
        delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        tcp_nodelay: bool = True,
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"ScriptedLLMServer binds loopback only, not {host!r}")
        if delay < 0:
            raise ValueError("delay must be >= 0")
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
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The api_base to hand to litellm, e.g. "http://127.0.0.1:54321/v1"."""
        if self._server is None:
            raise RuntimeError("server not started")
        host, port = self._server.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}/v1"

    @property
    def delay(self) -> float:
        """Seconds slept before every answer; settable, so a test can make a run slow while it
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
        if self._server is not None:
            return self
        server_class = _Server
        if ":" in self._host:
            server_class = type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
        handler = _Handler
        if not self._tcp_nodelay:
            handler = type("_NagleHandler", (_Handler,), {"disable_nagle_algorithm": False})
        server = server_class((self._host, self._port), handler)
        server.state = self._state
        server.connections = set()
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05},
            name="scripted-llm", daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> ScriptedLLMServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
