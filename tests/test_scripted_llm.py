"""The scripted server answers a kept-alive connection at once, however the body is framed.

Every timing in the test suite and the benchmarks is built on this server, so a reply that waits
on a delayed ACK (about 40 ms with Nagle's algorithm on) would inflate all of them.
"""

from __future__ import annotations

import http.client
import json
import socket
import time

from sim.testing.scripted_server import ScriptedLLMServer

BODY = json.dumps({"model": "scripted", "messages": [{"role": "user", "content": "hi"}]})
CHAIN = 20
DELAYED_ACK_S = 0.040


def post(connection: http.client.HTTPConnection, body: str = BODY,
         headers: dict[str, str] | None = None) -> tuple[int, dict]:
    connection.request("POST", "/v1/chat/completions", body=body,
                       headers={"Content-Type": "application/json", **(headers or {})})
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def test_a_chain_of_dependent_calls_does_not_wait_on_delayed_acks() -> None:
    with ScriptedLLMServer() as server:
        port = int(server.url.rsplit(":", 1)[1].split("/")[0])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        post(connection)  # connect and warm up
        first_socket = connection.sock
        started = time.perf_counter()
        for _ in range(CHAIN):  # each call waits for the previous reply, as a wave does
            status, payload = post(connection)
            assert status == 200 and payload["choices"][0]["message"]["content"] == "OK"
        elapsed = time.perf_counter() - started
        assert connection.sock is first_socket, "the connection was not kept alive"
        connection.close()
    # With Nagle on, this chain takes >= CHAIN * 40 ms; without, a few ms. Half is a margin a
    # loaded machine cannot eat.
    assert elapsed < CHAIN * DELAYED_ACK_S / 2, f"{CHAIN} calls took {elapsed * 1000:.0f} ms"


def test_chunked_body_and_bad_content_length_keep_the_stream_in_step() -> None:
    with ScriptedLLMServer() as server:
        port = int(server.url.rsplit(":", 1)[1].split("/")[0])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("POST", "/v1/chat/completions", body=iter([BODY[:10].encode(),
                                                                       BODY[10:].encode()]),
                           headers={"Content-Type": "application/json"},
                           encode_chunked=True)
        response = connection.getresponse()
        assert response.status == 200 and json.loads(response.read())["choices"]
        status, _ = post(connection)  # the same connection, still in step
        assert status == 200
        assert server.request_count == 2
        assert [r.messages for r in server.requests] == [json.loads(BODY)["messages"]] * 2
        connection.close()

        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Length: lots\r\n\r\n{}")
            reply = raw.recv(65536).decode()
        assert reply.startswith("HTTP/1.1 400") and "Content-Length" in reply


def _post_raw(port: int, body: str = BODY) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        return post(connection, body)
    finally:
        connection.close()


def _send_and_wait(server: ScriptedLLMServer, raw: socket.socket, body: str) -> None:
    """Send one request on a raw connection and wait until the server has received it."""
    raw.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: "
                f"{len(body)}\r\n\r\n{body}".encode())
    deadline = time.monotonic() + 5
    while server.request_count < 1 and time.monotonic() < deadline:
        time.sleep(0.01)


def test_many_connections_wait_out_their_latency_together() -> None:
    """One event loop serves every connection: 100 requests of 0.3 s each, sent at once from
    100 connections, take about one latency, not a queue of them."""
    import concurrent.futures

    with ScriptedLLMServer(delay=0.3, responder_blocks=False) as server:
        port = int(server.url.rsplit(":", 1)[1].split("/")[0])
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(100) as pool:
            statuses = [s for s, _ in pool.map(lambda _: _post_raw(port), range(100))]
        elapsed = time.perf_counter() - started
        assert server.request_count == 100
    assert statuses == [200] * 100
    assert elapsed < 100 * 0.3 / 5, f"100 concurrent requests took {elapsed:.1f} s"


def test_a_responder_that_blocks_holds_up_only_its_own_request() -> None:
    import threading

    release = threading.Event()

    def responder(request):
        if request.messages[0]["content"] == "wait":
            assert release.wait(10)
        return "done"

    with ScriptedLLMServer(responder) as server:
        port = int(server.url.rsplit(":", 1)[1].split("/")[0])
        waiting = json.dumps({"model": "m", "messages": [{"role": "user", "content": "wait"}]})
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            _send_and_wait(server, slow, waiting)
            status, payload = _post_raw(port)  # answered while the first one blocks
            assert status == 200 and payload["choices"][0]["message"]["content"] == "done"
            release.set()
            assert slow.recv(65536).startswith(b"HTTP/1.1 200")


def test_stop_cuts_kept_alive_connections_and_a_timeout_fault_in_progress() -> None:
    from sim.testing.scripted_server import Fault

    server = ScriptedLLMServer([Fault("timeout", delay=30.0)]).start()
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        _send_and_wait(server, raw, BODY)
        started = time.perf_counter()
        server.stop()
        assert time.perf_counter() - started < 5
        assert raw.recv(65536) == b""  # closed, unanswered, as a provider going away
