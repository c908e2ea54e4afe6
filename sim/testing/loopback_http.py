"""Just enough HTTP/1.1 for the scripted model server, on asyncio streams.

The scripted server once served each connection on a thread of `http.server`: its header
parsing (the email package's) and a thread woken per reply cost about 0.7 ms of CPU a request
here, so a wave of 200 replies of 50 ms took 150 ms, and the server, not the client, set the
pace of every large benchmark. One event loop reads every connection instead, and this module
frames requests (a body by Content-Length or in chunks, keep-alive, `Expect: 100-continue`)
and writes replies, each with a Content-Length so a kept-alive connection answers at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from http import HTTPStatus

__all__ = ["BadRequest", "HttpRequest", "read_request", "reply_head"]

#: The longest request line plus headers read (the stream's limit is set to it).
HEAD_LIMIT = 1 << 20
_CHUNK_LINE_LIMIT = 1024


class BadRequest(ValueError):
    """A request this server cannot frame; answered with 400, and the connection closed."""


@dataclass
class HttpRequest:
    """One request: its method, path, headers (names lower-cased) and whole body."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    keep_alive: bool


async def read_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                       ) -> HttpRequest | None:
    """The next request on the connection; None when the client closed it between requests.
    Raises `BadRequest` for a request that cannot be framed (the stream is then out of step)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as partial:
        if partial.partial.strip():
            raise BadRequest("the request ended inside its headers") from None
        return None
    except asyncio.LimitOverrunError:
        raise BadRequest("request headers too long") from None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        raise BadRequest(f"bad request line {lines[0][:80]!r}")
    method, path, version = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            raise BadRequest(f"bad header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    connection = headers.get("connection", "").lower()
    keep_alive = ("close" not in connection if version == "HTTP/1.1"
                  else "keep-alive" in connection)
    if headers.get("expect", "").lower() == "100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    try:
        body = await _read_body(reader, headers)
    except asyncio.IncompleteReadError:
        raise BadRequest("the connection closed inside the request body") from None
    return HttpRequest(method, path, headers, body, keep_alive)


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    """The whole body, so the next request on a kept-alive connection starts where it should:
    by Content-Length, or chunk by chunk."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks = []
        while True:
            size_line = (await reader.readline())[:_CHUNK_LINE_LIMIT].split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise BadRequest(f"bad chunk size {size_line!r}") from None
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readline()  # the CRLF after each chunk
    text = headers.get("content-length") or "0"
    try:
        length = int(text)
    except ValueError:
        raise BadRequest(f"bad Content-Length {text!r}") from None
    if length < 0:
        raise BadRequest(f"bad Content-Length {text!r}")
    return await reader.readexactly(length) if length else b""


def reply_head(status: int, content_type: str, length: int,
               headers: dict[str, str] | None = None, *, close: bool = False) -> bytes:
    """A reply's status line and headers, Content-Length always among them."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}",
             f"Content-Length: {length}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
