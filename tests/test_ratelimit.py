"""The shared model-call rate limit: pacing, the concurrency cap, a 429 pausing every run, the
limit holding across pool workers (counted at the server), and stores that do not change.

Unit behaviour runs on a fake clock; everything else goes through litellm to the scripted
server on 127.0.0.1, which records when each request arrived.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import socket
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from scenarios.donor_game.scripted_player import scripted_player
from sim.cli import main
from sim.errors import UserError
from sim.llm.client import LLMClient
from sim.llm.limiter_service import LimiterService, LimiterUnavailable, RemoteLimiter
from sim.llm.ratelimit import LimiterCore, LocalLimiter, RateLimit, parse_rate_limit
from sim.llm.settings import LLMSettings
from sim.store import snapshot
from sim.sweeps.plan import plan_sweep, run_sweep
from sim.testing.scripted_server import ChatRequest, Fault, ScriptedLLMServer

KEY = "openai/scripted@http://127.0.0.1:1/v1"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_requests_and_tokens_per_minute_pace_request_starts() -> None:
    clock = FakeClock()
    core = LimiterCore(RateLimit(requests_per_min=120), clock=clock)
    first, wait = core.try_acquire(KEY)
    assert first is not None and wait == 0
    refused, wait = core.try_acquire(KEY)
    assert refused is None and wait == pytest.approx(0.5)  # 60 s / 120 requests
    clock.now += 0.5
    assert core.try_acquire(KEY)[0] is not None
    assert core.try_acquire("another-model@x")[0] is not None  # limits are per endpoint
    # Tokens: a request of n tokens holds the next one back n·60/limit seconds.
    core = LimiterCore(RateLimit(tokens_per_min=6000), clock=clock)
    assert core.try_acquire(KEY, tokens=300)[0] is not None
    refused, wait = core.try_acquire(KEY, tokens=10)
    assert refused is None and wait == pytest.approx(3.0)


def test_the_concurrency_cap_counts_permits_until_given_back_or_reclaimed() -> None:
    clock = FakeClock()
    core = LimiterCore(RateLimit(concurrent=2), clock=clock)
    a, _ = core.try_acquire(KEY, hold_s=10)
    b, _ = core.try_acquire(KEY, hold_s=10)
    assert a and b and core.try_acquire(KEY)[0] is None
    assert core.stats()["in_flight"] == 2
    core.release(KEY, a, cost_usd=0.25)
    c, _ = core.try_acquire(KEY, hold_s=10)
    assert c is not None and core.try_acquire(KEY)[0] is None
    clock.now += 11  # b's and c's holders died without giving them back
    assert core.try_acquire(KEY)[0] is not None
    assert core.stats()["cost_usd"] == 0.25 and core.stats()["answered"] == 1


def test_a_pause_holds_every_request_to_the_endpoint_back() -> None:
    clock = FakeClock()
    core = LimiterCore(clock=clock)  # no limits: only the pause
    core.pause(KEY, 2.0)
    refused, wait = core.try_acquire(KEY)
    assert refused is None and wait == pytest.approx(2.0)
    assert core.try_acquire("another-model@x")[0] is not None
    clock.now += 2.0
    assert core.try_acquire(KEY)[0] is not None


def test_rate_limit_specs_are_read_and_bad_ones_refused_in_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_rate_limit("requests_per_min=60, tokens_per_min=9e4,concurrent=4") == \
        RateLimit(60, 90000, 4)
    assert parse_rate_limit({"concurrent": 2}) == RateLimit(concurrent=2)
    for bad in ("requests_per_min", "rpm=5", "concurrent=1.5", "requests_per_min=-1",
                "tokens_per_min=abc", ","):
        with pytest.raises(UserError):
            parse_rate_limit(bad)
    for argv in (["sweep", "donor-game", "--rate-limit", "concurrent=0"],
                 ["run", "donor-game", "--rate-limit", "rpm=5"]):
        assert main([*argv, "--quiet"]) == 2
        error = capsys.readouterr().err
        assert error.startswith("societas: error: ") and error.count("\n") == 1, error
    sweep_file = tmp_path / "sweep.toml"
    sweep_file.write_text('scenario = "donor-game"\n[rate_limit]\nrequests_per_minute = 5\n')
    assert main(["sweep", "--sweep-file", str(sweep_file), "--out", str(tmp_path / "s")]) == 2
    error = capsys.readouterr().err
    assert "unknown rate limit key(s) requests_per_minute" in error and error.count("\n") == 1
    assert not (tmp_path / "s").exists()


def test_executor_ray_without_ray_is_one_line_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed
    code = main(["sweep", "donor-game", "--executor", "ray", "--out", str(tmp_path / "s")])
    error = capsys.readouterr().err
    assert code == 2 and error.count("\n") == 1 and "pip install 'societas[ray]'" in error
    assert not (tmp_path / "s").exists()


def test_the_service_refuses_strangers_and_frees_a_dead_workers_permits() -> None:
    with LimiterService(RateLimit(concurrent=1)) as service:
        service.serve()
        port = int(service.address.rsplit(":", 1)[1].split("/")[0])

        def ask(token: str, *messages: dict) -> list[bytes]:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                stream = connection.makefile("rwb")
                stream.write(json.dumps({"token": token}).encode() + b"\n")
                replies = []
                for message in messages:
                    stream.write(json.dumps(message).encode() + b"\n")
                    stream.flush()
                    replies.append(stream.readline())
                return replies  # the connection closes here, as a killed worker's would

        acquire = {"op": "acquire", "key": KEY, "tokens": 1, "hold": 60}
        assert ask("not-the-token", acquire) == [b""]  # hung up on, nothing granted
        assert json.loads(ask(service.address.rsplit("/", 1)[1], acquire)[0])["permit"]
        # That worker died holding its permit: the slot came back with its connection.
        deadline = time.monotonic() + 5
        while service.stats()["in_flight"] and time.monotonic() < deadline:
            time.sleep(0.01)
        limiter = RemoteLimiter(service.address)

        async def again() -> None:
            await limiter.release(await limiter.acquire(KEY, 1, 60.0))

        asyncio.run(asyncio.wait_for(again(), 5))
    assert service.stats()["calls"] == 2 and service.stats()["in_flight"] == 0


def test_a_limiter_that_never_answers_times_out_and_a_fork_does_not_keep_it_listening(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An orphaned worker once waited forever: it had inherited the sweep's listening socket,
    so connections to the dead sweep's port were accepted and never answered."""
    monkeypatch.setattr("sim.llm.limiter_service.REQUEST_TIMEOUT_S", 0.3)
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        limiter = RemoteLimiter(f"tcp://127.0.0.1:{silent.getsockname()[1]}/token")
        started = time.monotonic()
        with pytest.raises(LimiterUnavailable, match=r"did not answer within 0\.3 s"):
            asyncio.run(limiter.acquire(KEY, 1, 60.0))
        assert time.monotonic() - started < 3
    with LimiterService() as service:
        port = int(service.address.rsplit(":", 1)[1].split("/")[0])
        reader, writer = os.pipe()
        with warnings.catch_warnings():  # the child only writes one word and exits
            warnings.simplefilter("ignore", DeprecationWarning)
            child = os.fork()
        if child == 0:  # pragma: no cover (the child reports through the pipe)
            os.write(writer, b"closed" if service._socket is None else b"open")
            os._exit(0)
        os.waitpid(child, 0)
        assert os.read(reader, 16) == b"closed"
        os.close(reader)
        os.close(writer)
    with pytest.raises(OSError):  # the service is gone: nobody listens on its port any more
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


class Arrivals:
    """A responder that notes when each request arrived and how many were in flight at once."""

    def __init__(self, replies: Any = "OK", latency: float = 0.0) -> None:
        self.replies, self.latency = replies, latency
        self.times: list[float] = []
        self.in_flight = self.peak_in_flight = 0
        self._lock = threading.Lock()

    def __call__(self, request: ChatRequest) -> Any:
        with self._lock:
            self.times.append(time.monotonic())
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            time.sleep(self.latency)
            return self.replies(request) if callable(self.replies) else self.replies
        finally:
            with self._lock:
                self.in_flight -= 1


def test_a_429_with_retry_after_pauses_the_other_runs_calls_too() -> None:
    """Two clients (two runs) share one limiter: after the first gets a 429 asking for 0.4 s,
    the second's request waits out the pause although it never saw the 429."""
    first_reply = iter([Fault("status", status=429, retry_after=0.4)])
    arrivals = Arrivals(lambda request: next(first_reply, "OK"))
    with ScriptedLLMServer(arrivals) as server:
        # A long timeout: a first call through litellm costs seconds of CPU on a busy machine.
        settings = LLMSettings(model="openai/scripted", api_base=server.url, timeout_s=60.0,
                               backoff_base_s=0.01, backoff_max_s=1.0)
        service = LimiterService().start()  # the shared limiter, as a pool sweep serves it
        try:
            async def both() -> list[Any]:
                limiters = [RemoteLimiter(service.address) for _ in range(2)]
                run_a, run_b = (LLMClient(settings, limiter) for limiter in limiters)
                a = asyncio.ensure_future(run_a.complete([{"role": "user", "content": "a"}]))
                while service.stats()["pauses"] == 0:
                    await asyncio.sleep(0.005)
                b = await run_b.complete([{"role": "user", "content": "b"}])
                replies = [await a, b]
                for limiter in limiters:
                    await limiter.aclose()
                return replies

            a, b = asyncio.run(both())
        finally:
            service.close()
    assert a.text == b.text == "OK" and a.attempts == 2 and b.attempts == 1
    rejected, *later = arrivals.times
    assert len(later) == 2 and min(later) - rejected >= 0.38  # b waited although it got no 429


def test_the_limiter_counts_every_attempt_and_what_each_reply_cost() -> None:
    """What the live view shows: requests (a retry is one), none left in flight, and the cost
    litellm priced (a model in its bundled price table, served by the scripted server)."""
    limiter = LocalLimiter()
    with ScriptedLLMServer([Fault("status", status=500), "I give 40%."]) as server:
        settings = LLMSettings(model="openai/gpt-4o-mini", api_base=server.url, timeout_s=5.0,
                               max_retries=1, backoff_base_s=0.01, backoff_max_s=0.05)
        result = asyncio.run(LLMClient(settings, limiter).complete([{"role": "user",
                                                                    "content": "How much?"}]))
    stats = limiter.stats()
    assert result.attempts == 2 and result.cost_usd > 0
    assert stats["calls"] == stats["answered"] == 2 and stats["in_flight"] == 0
    assert stats["cost_usd"] == pytest.approx(result.cost_usd, rel=1e-9)


def sweep_stores(plan: Any) -> dict[str, Any]:
    return {spec.name: snapshot(Path(spec.run_dir) / "run.sqlite") for spec in plan.specs}


def _serve_in_child(connection: Any, log_path: str, latency: float) -> None:
    """The scripted server, in a process of its own: arrival times and calls in flight go to
    a file (the test process keeps no server thread, so the pool can fork its workers)."""
    lock, state = threading.Lock(), {"in_flight": 0}
    with open(log_path, "a", buffering=1) as log:
        def respond(request: ChatRequest) -> str:
            with lock:
                state["in_flight"] += 1
                log.write(f"{time.monotonic()} {state['in_flight']}\n")
            try:
                time.sleep(latency)
                return scripted_player(request)
            finally:
                with lock:
                    state["in_flight"] -= 1

        with ScriptedLLMServer(respond) as server:
            connection.send(server.url)
            connection.recv()  # until the test is done


def arrivals_in(log: Path) -> tuple[list[float], int]:
    """(arrival times, most requests in flight at once) as the server saw them."""
    rows = [line.split() for line in log.read_text().splitlines()]
    return [float(t) for t, _ in rows], max((int(n) for _, n in rows), default=0)


@pytest.mark.slow  # seconds: two worker processes, LLM runs
def test_the_limit_holds_across_pool_workers_and_changes_no_store(tmp_path: Path) -> None:
    """2 LLM runs on 2 workers, each run wanting several calls at once, limited to 1 in flight
    and 1200 requests/min (one request start per 0.05 s): the server never sees more. The
    same sweep unlimited and inline stores exactly the same."""
    import litellm  # noqa: F401  (now, so that forked workers start with it)

    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    server = context.Process(target=_serve_in_child,
                             args=(theirs, str(tmp_path / "arrivals"), 0.05), daemon=True)
    with warnings.catch_warnings():  # the threads are OpenBLAS's (see sim.sweeps.executors)
        warnings.filterwarnings("ignore", message=".*use of fork\\(\\) may lead",
                                category=DeprecationWarning)
        server.start()
    try:
        fixed = {"agents": 4, "generations": 1, "rounds": 1, "games": 1, "timeout_s": 10.0,
                 "api_base": ours.recv()}
        limited = plan_sweep("donor-game", seeds=range(2), models=["openai/scripted"],
                             fixed=fixed, out=tmp_path / "limited",
                             rate_limit="requests_per_min=1200,concurrent=1")
        outcomes = run_sweep(limited, "pool", workers=2)
        assert [o.status for o in outcomes] == ["finished"] * 2
        times, peak = arrivals_in(tmp_path / "arrivals")
        assert peak == 1 and len(times) >= 8
        # Starts are paced 0.05 s apart; a request reaches the server a little after its
        # permit (more so on a busy machine), so the span is checked, not each gap.
        assert max(times) - min(times) >= (len(times) - 1) * 0.05 - 0.1
        free = plan_sweep("donor-game", seeds=range(2), models=["openai/scripted"],
                          fixed=fixed, out=tmp_path / "free")
        run_sweep(free, "inline")
        all_times, peak = arrivals_in(tmp_path / "arrivals")
        assert len(all_times) == 2 * len(times)
        assert peak > 1  # unlimited, a run's calls do go out together
    finally:
        ours.send("stop")
        server.join(timeout=10)
    assert sweep_stores(limited) == sweep_stores(free)


def test_a_single_run_takes_its_own_limit(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    arrivals = Arrivals(scripted_player, latency=0.02)
    with ScriptedLLMServer(arrivals) as server:
        code = main(["run", "donor-game", "--model", "openai/scripted", "--set",
                     f"api_base={server.url!r}", "--set", "agents=4", "--set", "generations=1",
                     "--set", "rounds=1", "--set", "games=1", "--no-figures", "--no-cache",
                     "--rate-limit", "concurrent=1", "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    assert arrivals.peak_in_flight == 1 and len(arrivals.times) >= 4
    # The live view's log lines (stderr is not a terminal here) say how the calls went.
    assert "calls in flight" in capsys.readouterr().err


def test_local_limiter_counts_calls_and_cost_for_the_live_view() -> None:
    limiter = LocalLimiter(RateLimit(concurrent=1))

    async def two_calls() -> None:
        first = await limiter.acquire(KEY, 10, 5.0)
        waiting = asyncio.ensure_future(limiter.acquire(KEY, 10, 5.0))
        await asyncio.sleep(0.02)
        assert not waiting.done() and limiter.stats()["in_flight"] == 1
        released = time.monotonic()
        await limiter.release(first, 0.5)
        second = await waiting
        # Woken by the release, not by its next look (every SLOT_POLL_S = 0.1 s).
        assert time.monotonic() - released < 0.08
        await limiter.release(second, 0.25)

    asyncio.run(two_calls())
    assert limiter.stats() == {"calls": 2, "in_flight": 0, "answered": 2, "cost_usd": 0.75,
                               "pauses": 0}
