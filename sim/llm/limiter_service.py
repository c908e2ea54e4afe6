"""One rate limiter for every run on this machine: a `LimiterCore` served on loopback TCP.

Pool workers are separate processes, so the sweep process keeps the limiter's state and the
runs ask it for permits over 127.0.0.1. The protocol is one JSON object a line; the first line
of a connection carries the service's random token, so another local user's process cannot
take permits. A waiting request is held by the service up to a second at a time (a long poll),
not polled from the worker, so a hundred waiting calls cost nothing. A permit belongs to its
connection: if a worker dies holding permits, its connections close and the slots come back.

Runs find their limiter by address (`RunSpec.limiter`): 'tcp://127.0.0.1:PORT/TOKEN' for this
service, 'local:N' for a core in the same process (an inline sweep), 'ray:NAME' for a Ray
cluster's limiter actor (`sim.llm.ray_limiter`). `connect_limiter` turns an address into a
`Limiter` once per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import secrets
import socket
import threading
import weakref
from typing import Any

from sim.llm.event_loop import LoopThread
from sim.llm.ratelimit import (
    Limiter,
    LimiterCore,
    LimiterUnavailable,
    LocalLimiter,
    Permit,
    RateLimit,
)

__all__ = ["LimiterService", "LimiterUnavailable", "RemoteLimiter", "connect_limiter",
           "register_local"]

#: How long the service holds one waiting acquire before the worker asks again.
LONG_POLL_S = 1.0
#: How long a worker waits for any answer (a long poll included) before it calls the sweep's
#: limiter gone: a service that accepts but never answers must not hold a run forever.
REQUEST_TIMEOUT_S = 15.0

#: Listening sockets of this process's services; a forked child closes its copies, so that a
#: worker outliving the sweep cannot keep the port open with nobody serving it.
_listening: weakref.WeakSet[LimiterService] = weakref.WeakSet()


def _close_inherited_listeners() -> None:
    for service in list(_listening):
        if service._socket is not None:
            with contextlib.suppress(OSError):
                service._socket.close()
            service._socket = None
    _listening.clear()


os.register_at_fork(after_in_child=_close_inherited_listeners)


class LimiterService:
    """A `LimiterCore` served to this machine's processes: `start()` it, or `with
    LimiterService(limit) as service:` (bound) and `service.serve()` when ready."""

    def __init__(self, limit: RateLimit | None = None) -> None:
        self.core = LimiterCore(limit)
        self._token = secrets.token_hex(16)
        self._socket: socket.socket | None = None
        self._loop: LoopThread | None = None
        self._server: asyncio.Server | None = None
        self.address = ""

    def bind(self) -> LimiterService:
        """Take a port (the address is known from here on) without starting a thread yet:
        a pool forks its workers only from a parent without threads (`sim.sweeps.executors`), and
        connections made before `serve()` wait in the listen queue."""
        if self._socket is None:
            self._socket = socket.create_server(("127.0.0.1", 0), backlog=256)
            _listening.add(self)
            port = self._socket.getsockname()[1]
            self.address = f"tcp://127.0.0.1:{port}/{self._token}"
        return self

    def serve(self) -> None:
        """Start answering, on a thread of its own; idempotent."""
        self.bind()
        if self._loop is None:
            self._loop = LoopThread("societas-limiter")
            self._server = self._loop.run(self._listen())

    def start(self) -> LimiterService:
        self.serve()
        return self

    async def _listen(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, sock=self._socket, limit=1 << 16)

    def stats(self) -> dict[str, Any]:
        return self.core.stats()

    def close(self) -> None:
        _listening.discard(self)
        loop, self._loop = self._loop, None
        if loop is not None:
            if self._server is not None:
                self._server.close()
            loop.close()
        if self._socket is not None:
            self._socket.close()

    def __enter__(self) -> LimiterService:
        return self.bind()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        core = self.core
        held: dict[int, str] = {}  # permits taken on this connection and not given back
        try:
            hello = json.loads(await reader.readline() or b"{}")
            if not secrets.compare_digest(str(hello.get("token", "")), self._token):
                return
            while line := await reader.readline():
                message = json.loads(line)
                op, reply = message.get("op"), {}
                if op == "acquire":
                    key = str(message["key"])
                    permit = await core.acquire(key, int(message.get("tokens", 0)),
                                                float(message.get("hold", 600.0)),
                                                max_wait=LONG_POLL_S)
                    if permit is not None:
                        held[permit] = key
                    reply = {"permit": permit}
                elif op == "release":
                    permit = int(message["permit"])
                    if permit in held:
                        core.release(held.pop(permit), permit, float(message.get("cost", 0.0)))
                elif op == "pause":
                    core.pause(str(message["key"]), float(message["seconds"]))
                elif op == "stats":
                    reply = core.stats()
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (ConnectionError, ValueError, KeyError, TypeError, AttributeError,
                asyncio.IncompleteReadError):
            pass  # a broken or hostile client: drop it, keep serving the others
        finally:
            for permit, key in held.items():  # its holder is gone: the slots come back
                core.release(key, permit)
            writer.close()


class RemoteLimiter:
    """A worker's side of `LimiterService`: connections per event loop, one per waiting or
    permitted request (a permit travels with its connection), reused afterwards."""

    def __init__(self, address: str) -> None:
        where, _, self._token = address.removeprefix("tcp://").partition("/")
        host, _, port = where.rpartition(":")
        self._host, self._port = host, int(port)
        self._idle: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[Any]]
        self._idle = weakref.WeakKeyDictionary()

    async def acquire(self, key: str, tokens: int, hold_s: float) -> Permit:
        connection = await self._connection()
        try:
            while True:
                reply = await self._ask(connection, {"op": "acquire", "key": key,
                                                     "tokens": tokens, "hold": hold_s})
                if reply.get("permit") is not None:
                    return Permit(key, int(reply["permit"]), connection)
        except BaseException:
            connection[1].close()  # cancelled mid-question: the connection is out of step
            raise

    async def release(self, permit: Permit, cost_usd: float = 0.0) -> None:
        connection = permit.handle
        try:
            await self._ask(connection, {"op": "release", "permit": permit.id,
                                         "cost": cost_usd})
        except BaseException:
            connection[1].close()  # the service frees what a closed connection held
            raise
        self._give_back(connection)

    async def pause(self, key: str, seconds: float) -> None:
        connection = await self._connection()
        await self._ask(connection, {"op": "pause", "key": key, "seconds": seconds})
        self._give_back(connection)

    async def stats(self) -> dict[str, Any]:
        connection = await self._connection()
        reply = await self._ask(connection, {"op": "stats"})
        self._give_back(connection)
        return reply

    async def aclose(self) -> None:
        """Close this event loop's idle connections (a run ending closes its loop)."""
        for _, writer in self._idle.pop(asyncio.get_running_loop(), []):
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _connection(self) -> Any:
        idle = self._idle.setdefault(asyncio.get_running_loop(), [])
        while idle:
            connection = idle.pop()
            if not connection[1].is_closing():
                return connection
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self._host, self._port), REQUEST_TIMEOUT_S)
        except (OSError, TimeoutError) as error:
            raise LimiterUnavailable(f"the sweep's rate limiter at {self._host}:{self._port} "
                                     f"cannot be reached ({error.strerror or error})") from None
        writer.write(json.dumps({"token": self._token}).encode() + b"\n")
        return reader, writer

    async def _ask(self, connection: Any, message: dict[str, Any]) -> dict[str, Any]:
        reader, writer = connection
        try:
            writer.write(json.dumps(message).encode() + b"\n")
            await asyncio.wait_for(writer.drain(), REQUEST_TIMEOUT_S)
            line = await asyncio.wait_for(reader.readline(), REQUEST_TIMEOUT_S)
        except ConnectionError:
            line = b""
        except TimeoutError:
            writer.close()
            raise LimiterUnavailable(f"the sweep's rate limiter at {self._host}:{self._port} "
                                     f"did not answer within {REQUEST_TIMEOUT_S:g} s "
                                     "(is the sweep's process gone?)") from None
        if not line:
            writer.close()
            raise LimiterUnavailable(f"the sweep's rate limiter at {self._host}:{self._port} "
                                     "closed the connection")
        return json.loads(line)

    def _give_back(self, connection: Any) -> None:
        self._idle.setdefault(asyncio.get_running_loop(), []).append(connection)


_local_cores: dict[str, LimiterCore] = {}
_local_ids = itertools.count(1)
_connected: dict[str, Limiter] = {}
_connected_lock = threading.Lock()


def register_local(core: LimiterCore) -> str:
    """An address for a core in this process (inline runs use it directly); `unregister` it
    when done."""
    address = f"local:{next(_local_ids)}"
    _local_cores[address] = core
    return address


def unregister(address: str) -> None:
    _local_cores.pop(address, None)
    with _connected_lock:
        _connected.pop(address, None)


def connect_limiter(address: str) -> Limiter:
    """The limiter at `address` (see the module docstring), one client per process."""
    with _connected_lock:
        limiter = _connected.get(address)
        if limiter is None:
            if address.startswith("local:"):
                core = _local_cores.get(address)
                if core is None:
                    raise LimiterUnavailable(f"no rate limiter {address} in this process")
                limiter = LocalLimiter(core)
            elif address.startswith("tcp://"):
                limiter = RemoteLimiter(address)
            elif address.startswith("ray:"):
                from sim.llm.ray_limiter import RayLimiter

                limiter = RayLimiter(address.removeprefix("ray:"))
            else:
                raise LimiterUnavailable(f"unknown rate limiter address {address!r}")
            _connected[address] = limiter
        return limiter
