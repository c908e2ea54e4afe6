"""LLMClient against a real HTTP server on 127.0.0.1: replies, faults, retries, concurrency.

Everything goes over loopback through litellm exactly as a real run would, so these tests pin
down how litellm surfaces each failure, not just how our code would like it to.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from sim.llm.client import LLMClient
from sim.llm.outcomes import Completion, ModelUnreachable, ProviderDown
from sim.llm.settings import REPLY_FIELDS, TRANSPORT_FIELDS, LLMSettings
from sim.testing.scripted_server import ChatRequest, Fault, ScriptedLLMServer

MESSAGES = [{"role": "user", "content": "how much do you donate"}]


def fast_settings(url: str, **overrides: Any) -> LLMSettings:
    values: dict[str, Any] = {
        "model": "openai/scripted",
        "api_base": url,
        "timeout_s": 5.0,
        "max_retries": 3,
        "backoff_base_s": 0.01,
        "backoff_max_s": 0.05,
    }
    values.update(overrides)
    return LLMSettings(**values)


def complete(settings: LLMSettings, messages: list[dict] | None = None) -> Completion:
    return asyncio.run(LLMClient(settings).complete(messages or MESSAGES))


def only_this_request(fault: Fault) -> Any:
    """A provider that works, except for MESSAGES (what a probe must tell apart from an outage)."""
    return lambda request: fault if request.messages == MESSAGES else "OK"


def closed_port() -> int:
    """A loopback port that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the client --------------------------------------------------------------------------------


def test_scripted_reply_comes_back_with_tokens_counted() -> None:
    with ScriptedLLMServer(["I donate half of it"]) as server:
        result = complete(fast_settings(server.url, temperature=0.3, max_tokens=50))
        request = server.requests[0]
    assert result.text == "I donate half of it"
    assert result.error is None
    assert result.attempts == 1
    assert result.prompt_tokens == 5  # whitespace-split words of "how much do you donate"
    assert result.completion_tokens == 5
    assert result.cost_usd == 0.0  # unknown model: no price, not an error
    assert result.latency_s > 0
    assert request.messages == MESSAGES
    assert request.body["temperature"] == 0.3
    assert request.body["max_tokens"] == 50


def test_rate_limit_retry_after_is_honoured() -> None:
    script = [Fault("status", 429, retry_after=0.4), "fine"]
    with ScriptedLLMServer(script) as server:
        started = time.perf_counter()
        result = complete(fast_settings(server.url, backoff_max_s=2.0))
        wall = time.perf_counter() - started
    assert result.text == "fine"
    assert result.attempts == 2
    assert 0.35 <= result.latency_s <= wall
    assert wall < 1.5


def test_retry_after_is_capped_by_backoff_max() -> None:
    with ScriptedLLMServer([Fault("status", 429, retry_after=30), "fine"]) as server:
        result = complete(fast_settings(server.url, backoff_max_s=0.1))
    assert result.text == "fine"
    assert result.latency_s < 1.0


def test_server_error_then_success() -> None:
    with ScriptedLLMServer([Fault("status", 500), "recovered"]) as server:
        result = complete(fast_settings(server.url))
        assert server.request_count == 2
    assert result.text == "recovered"
    assert result.attempts == 2
    assert result.error is None


def test_persistent_503_on_one_request_falls_back_after_one_probe() -> None:
    with ScriptedLLMServer(only_this_request(Fault("status", 503))) as server:
        client = LLMClient(fast_settings(server.url, max_retries=2))
        result = asyncio.run(client.complete(MESSAGES))
        assert server.request_count == 3 + 1  # three attempts, then one probe
        probe = server.requests[-1]
    assert result.text is None
    assert result.attempts == 3
    assert result.error is not None and "503" in result.error
    assert "\n" not in result.error
    assert client.probes == 1 and probe.messages != MESSAGES
    assert probe.body["max_tokens"] <= 8


def test_provider_failing_everything_stops_after_its_patience() -> None:
    with ScriptedLLMServer(Fault("status", 503, message="overloaded")) as server:
        url = server.url
        settings = fast_settings(url, max_retries=1, outage_patience_s=0.5)
        started = time.perf_counter()
        with pytest.raises(ProviderDown) as caught:
            complete(settings)
        took = time.perf_counter() - started
    message = str(caught.value)
    assert 0.5 <= took < 3.0
    assert "503" in message and "outage_patience_s = 0.5" in message
    assert url in message and "\n" not in message


def test_an_outage_is_waited_out_instead_of_falling_back() -> None:
    """The provider answers, goes down for a while (probe included), then recovers: the call
    gets its real reply after the outage, not a fallback."""
    down_until = 0.0

    def flaky(request: ChatRequest) -> str | Fault:
        if request.index == 0:
            return "before"
        return Fault("status", 503) if time.monotonic() < down_until else "after"

    with ScriptedLLMServer(flaky) as server:
        client = LLMClient(fast_settings(server.url, max_retries=1, outage_patience_s=30))

        async def run() -> list[Completion]:
            nonlocal down_until
            first = await client.complete(MESSAGES)
            down_until = time.monotonic() + 0.6
            return [first, await client.complete(MESSAGES)]

        first, second = asyncio.run(run())
    assert (first.text, second.text) == ("before", "after")
    assert second.attempts > 2  # more than its retries: it waited for the provider
    assert client.probes == 1


def test_timeout_then_success() -> None:
    with ScriptedLLMServer([Fault("timeout", delay=3.0), "late but fine"]) as server:
        started = time.perf_counter()
        result = complete(fast_settings(server.url, timeout_s=0.3))
        wall = time.perf_counter() - started
    assert result.text == "late but fine"
    assert result.attempts == 2
    assert wall < 2.0


def test_persistent_timeout_reports_timeout() -> None:
    with ScriptedLLMServer(only_this_request(Fault("timeout", delay=3.0))) as server:
        result = complete(fast_settings(server.url, timeout_s=0.2, max_retries=1))
    assert result.text is None
    assert result.attempts == 2
    assert result.error is not None and result.error.startswith("Timeout")


@pytest.mark.parametrize(
    "fault",
    [Fault("malformed_json"), Fault("empty_choices"), "", "   "],
    ids=["malformed", "empty-choices", "empty-content", "blank-content"],
)
def test_unusable_200_responses_are_retried(fault: Fault | str) -> None:
    with ScriptedLLMServer([fault, "usable"]) as server:
        result = complete(fast_settings(server.url))
        assert server.request_count == 2
    assert result.text == "usable"
    assert result.attempts == 2


def test_persistent_empty_choices_gives_up() -> None:
    with ScriptedLLMServer([Fault("empty_choices")]) as server:
        result = complete(fast_settings(server.url, max_retries=1))
    assert result.text is None
    assert result.attempts == 2
    assert result.error is not None and "no choices" in result.error


def test_connection_refused_raises_model_unreachable_at_once() -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    started = time.perf_counter()
    with pytest.raises(ModelUnreachable) as caught:
        complete(fast_settings(url, max_retries=2, backoff_base_s=1.0))
    message = str(caught.value)
    assert time.perf_counter() - started < 1.0  # no retry, no backoff: nothing ever answered
    assert url in message
    assert "refused" in message.lower()
    assert "\n" not in message


def test_connection_lost_after_answers_is_an_outage_not_a_misconfiguration() -> None:
    server = ScriptedLLMServer(["fine"]).start()
    client = LLMClient(fast_settings(server.url, max_retries=1, outage_patience_s=0.4))

    async def run() -> Completion:
        first = await client.complete(MESSAGES)
        server.stop()  # the provider goes away mid-run
        await client.complete(MESSAGES)
        return first

    with pytest.raises(ProviderDown, match="ConnectionError"):
        asyncio.run(run())


def test_missing_credentials_are_a_misconfiguration(monkeypatch: pytest.MonkeyPatch) -> None:
    """litellm reports the OpenAI client's missing key as an HTTP 500 from the "server"."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ModelUnreachable):  # litellm's first call loads its provider code
        complete(LLMSettings(model="openai/gpt-4o-mini", backoff_base_s=1.0))
    started = time.perf_counter()
    with pytest.raises(ModelUnreachable) as caught:
        complete(LLMSettings(model="openai/gpt-4o-mini", backoff_base_s=1.0))
    assert time.perf_counter() - started < 1.0  # no retry, no backoff
    message = str(caught.value)
    assert "no API key" in message and "OPENAI_API_KEY" in message and "api_key_env" in message


def test_first_call_goes_alone_so_a_bad_key_costs_one_request() -> None:
    with ScriptedLLMServer(Fault("status", 401, message="bad key")) as server:
        client = LLMClient(fast_settings(server.url))

        async def many() -> list[Any]:
            return await asyncio.gather(*(client.complete(MESSAGES) for _ in range(8)),
                                        return_exceptions=True)

        outcomes = asyncio.run(many())
        assert server.request_count == 1
    assert all(isinstance(o, ModelUnreachable) and "401" in str(o) for o in outcomes)


def test_first_call_is_answered_before_the_others_are_sent() -> None:
    arrivals: list[float] = []

    def timed(request: ChatRequest) -> str:
        arrivals.append(time.monotonic())
        return "ok"

    with ScriptedLLMServer(timed, delay=0.2) as server:
        client = LLMClient(fast_settings(server.url, max_concurrency=8))

        async def many() -> list[Completion]:
            return await asyncio.gather(*(client.complete(MESSAGES) for _ in range(5)))

        results = asyncio.run(many())
    assert [r.text for r in results] == ["ok"] * 5
    first, rest = sorted(arrivals)[0], sorted(arrivals)[1:]
    assert min(rest) - first >= 0.2  # the others waited for the first reply...
    assert max(rest) - min(rest) < 0.15  # ...then went together


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_unusable_model_raises_at_once(status: int) -> None:
    with ScriptedLLMServer([Fault("status", status)]) as server:
        with pytest.raises(ModelUnreachable, match=str(status)):
            complete(fast_settings(server.url))
        assert server.request_count == 1


def test_api_key_comes_from_env_and_never_appears_in_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "key-7Hq2-do-not-log-3f9a"
    monkeypatch.setenv("SOCIETAS_TEST_KEY", secret)

    def echo_key(request: ChatRequest) -> Fault:
        # What real providers do: "Incorrect API key provided: ..."
        auth = request.headers.get("authorization", "")
        return Fault("status", 500 if request.index == 0 else 401, message=f"bad key {auth}")

    with ScriptedLLMServer(echo_key) as server:
        client = LLMClient(fast_settings(server.url, api_key_env="SOCIETAS_TEST_KEY"))

        async def run() -> Completion:
            return await client.complete(MESSAGES)

        with pytest.raises(ModelUnreachable) as caught:
            asyncio.run(run())
        first = server.requests[0]
    assert first.headers["authorization"] == f"Bearer {secret}"
    assert secret not in str(caught.value)
    assert "***" in str(caught.value)
    assert secret not in repr(client)


def test_transient_error_text_is_scrubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "key-persistent-abc123"
    monkeypatch.setenv("SOCIETAS_TEST_KEY", secret)
    def echo(request: ChatRequest) -> str | Fault:
        if request.messages != MESSAGES:
            return "OK"  # the probe: the provider works, only this request fails
        return Fault("status", 502, message=f"upstream saw {request.headers.get('authorization')}")

    with ScriptedLLMServer(echo) as server:
        result = complete(fast_settings(server.url, api_key_env="SOCIETAS_TEST_KEY", max_retries=1))
    assert result.text is None
    assert result.error is not None
    assert secret not in result.error
    assert "***" in result.error


def test_missing_key_env_var_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOCIETAS_NO_SUCH_KEY", raising=False)
    with ScriptedLLMServer() as server:
        with pytest.raises(ModelUnreachable, match="SOCIETAS_NO_SUCH_KEY"):
            complete(fast_settings(server.url, api_key_env="SOCIETAS_NO_SUCH_KEY"))
        assert server.request_count == 0


def test_local_server_gets_a_dummy_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with ScriptedLLMServer() as server:
        result = complete(fast_settings(server.url))
        assert server.requests[0].headers["authorization"] == "Bearer sk-societas-local"
    assert result.text == "OK"


def test_identical_calls_are_not_cached_by_litellm() -> None:
    with ScriptedLLMServer(["one", "two"]) as server:
        client = LLMClient(fast_settings(server.url))

        async def twice() -> list[Completion]:
            return [await client.complete(MESSAGES), await client.complete(MESSAGES)]

        results = asyncio.run(twice())
        assert server.request_count == 2
    assert [r.text for r in results] == ["one", "two"]


def test_response_format_is_forwarded() -> None:
    with ScriptedLLMServer(['{"fraction": 0.5}']) as server:
        client = LLMClient(fast_settings(server.url))
        fmt = {"type": "json_object"}
        result = asyncio.run(client.complete(MESSAGES, response_format=fmt))
        assert server.requests[0].body["response_format"] == fmt
    assert result.text == '{"fraction": 0.5}'


def test_concurrent_completions_overlap() -> None:
    with ScriptedLLMServer(lambda r: f"reply {r.index}", delay=0.3) as server:
        client = LLMClient(fast_settings(server.url, max_concurrency=16))

        async def many() -> list[Completion]:
            return await asyncio.gather(*(client.complete(MESSAGES) for _ in range(16)))

        started = time.perf_counter()
        results = asyncio.run(many())
        wall = time.perf_counter() - started
        assert server.request_count == 16
    assert all(r.text and r.text.startswith("reply") for r in results)
    assert wall < 16 * 0.3 / 4  # serial would be 4.8 s


def test_max_concurrency_bounds_requests_in_flight() -> None:
    lock = threading.Lock()
    in_flight = 0
    peak = 0

    def slow(request: ChatRequest) -> str:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.1)
        with lock:
            in_flight -= 1
        return "done"

    with ScriptedLLMServer(slow) as server:
        client = LLMClient(fast_settings(server.url, max_concurrency=2))

        async def many() -> list[Completion]:
            return await asyncio.gather(*(client.complete(MESSAGES) for _ in range(6)))

        started = time.perf_counter()
        results = asyncio.run(many())
        wall = time.perf_counter() - started
    assert all(r.text == "done" for r in results)
    assert peak == 2
    assert wall >= 0.3  # 6 calls, 2 at a time, 0.1 s each


def test_client_is_reusable_across_event_loops() -> None:
    with ScriptedLLMServer(["a", "b"]) as server:
        client = LLMClient(fast_settings(server.url, max_concurrency=1))
        first = asyncio.run(client.complete(MESSAGES))
        second = asyncio.run(client.complete(MESSAGES))
    assert (first.text, second.text) == ("a", "b")


def test_importing_the_client_does_not_import_litellm() -> None:
    code = (
        "import sys; from sim.llm.client import LLMClient; "
        "from sim.llm.settings import LLMSettings; "
        "LLMClient(LLMSettings(model='openai/x')); "
        "assert 'litellm' not in sys.modules, 'litellm imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError):
        LLMSettings(model="")
    with pytest.raises(ValueError):
        LLMSettings(model="openai/x", max_concurrency=0)
    for url in ("htp:/nonsense", "127.0.0.1:8000/v1", "http://:8000/v1", "http://h:99999/v1",
                "http://a host/v1"):
        with pytest.raises(ValueError, match="api_base"):
            LLMSettings(model="openai/x", api_base=url)


def test_every_setting_is_either_part_of_a_replys_identity_or_transport() -> None:
    """A new setting must be classified: if it can change a reply, the cache key needs it."""
    fields = set(LLMSettings.__dataclass_fields__)
    assert set(REPLY_FIELDS) | set(TRANSPORT_FIELDS) == fields
    assert not set(REPLY_FIELDS) & set(TRANSPORT_FIELDS)


def test_reply_identity_normalises_the_endpoint_and_leaves_out_the_key() -> None:
    a = LLMSettings(model="openai/x", api_base="HTTP://LocalHost:80/v1/", api_key_env="K1")
    b = LLMSettings(model="openai/x", api_base="http://localhost/v1", api_key_env="K2",
                    timeout_s=5, max_retries=0)
    assert a.reply_identity() == b.reply_identity()
    assert "api_key_env" not in a.reply_identity()
    for changed in ({"api_base": "http://localhost:8001/v1"}, {"temperature": 0.0},
                    {"max_tokens": 10}, {"model": "openai/y"}):
        assert LLMSettings(**{**b.__dict__, **changed}).reply_identity() != b.reply_identity()


# -- the scripted server -----------------------------------------------------------------------


def post(url: str, payload: Any) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(payload).encode()
    request = urllib.request.Request(
        f"{url}/chat/completions", data=data, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_server_counts_requests_faults_included() -> None:
    body = {"model": "m", "messages": MESSAGES}
    with ScriptedLLMServer([Fault("status", 429, retry_after=2), "hi there"]) as server:
        status, headers, _ = post(server.url, body)
        assert (status, headers.get("Retry-After")) == (429, "2")
        status, _, raw = post(server.url, body)
        assert server.request_count == 2
        assert [r.index for r in server.requests] == [0, 1]
    reply = json.loads(raw)
    assert status == 200
    assert reply["created"] == 0
    assert reply["model"] == "m"
    assert reply["choices"][0]["message"] == {"role": "assistant", "content": "hi there"}
    assert reply["choices"][0]["finish_reason"] == "stop"
    assert reply["usage"] == {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}


def test_sequence_responder_repeats_its_last_reply() -> None:
    body = {"model": "m", "messages": MESSAGES}
    with ScriptedLLMServer(["first", "second"]) as server:
        texts = [json.loads(post(server.url, body)[2])["choices"][0]["message"]["content"]
                 for _ in range(4)]
    assert texts == ["first", "second", "second", "second"]


def test_server_fault_bodies() -> None:
    body = {"model": "m", "messages": MESSAGES}
    with ScriptedLLMServer([Fault("malformed_json"), Fault("empty_choices")]) as server:
        status, _, raw = post(server.url, body)
        assert status == 200
        with pytest.raises(ValueError):
            json.loads(raw)
        status, _, raw = post(server.url, body)
        assert status == 200 and json.loads(raw)["choices"] == []


def test_server_lists_models_and_defaults_to_ok() -> None:
    with ScriptedLLMServer() as server:
        with urllib.request.urlopen(f"{server.url}/models", timeout=5) as response:
            models = json.loads(response.read())
        reply = json.loads(post(server.url, {"model": "m", "messages": []})[2])
        assert server.request_count == 1  # GETs are not chat requests
    assert models["object"] == "list" and models["data"]
    assert reply["choices"][0]["message"]["content"] == "OK"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", ""])
def test_server_refuses_non_loopback_hosts(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        ScriptedLLMServer(host=host)


def test_server_accepts_localhost_and_stops_cleanly() -> None:
    server = ScriptedLLMServer(host="localhost").start()
    assert server.url.startswith("http://127.0.0.1:")
    server.stop()
    server.stop()  # idempotent


def test_unknown_fault_kind_is_rejected() -> None:
    with pytest.raises(ValueError):
        Fault("explode")
