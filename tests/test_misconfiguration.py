"""A misconfigured model is a user error, not a passing fault: one line, exit 2, at once.

Each case once went through retries and fallbacks to exit 0 (63 s for 8 calls with a forgotten
key): litellm reports a missing key and a malformed URL as an HTTP 500 from the "server". Now
the run's first call goes alone and any of these stops the run after it, through the real CLI
and litellm against a loopback server (or a port where nothing listens).
"""

from __future__ import annotations

import socket
import sqlite3
import time
from pathlib import Path

import pytest

from sim.cli import main
from sim.llm.client import _load_litellm
from sim.testing.scripted_server import Fault, ScriptedLLMServer

#: The issue's budget for a misconfigured run was 63 s; these must be nowhere near it.
FAST_S = 10.0


@pytest.fixture(scope="module", autouse=True)
def imported() -> None:
    """Import the engine (mesa) and litellm before the clocks start: their seconds of import are
    paid by every LLM run, misconfigured or not, and are not what these tests measure."""
    import sim.runs.runner  # noqa: F401

    _load_litellm()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"


def run(tmp_path: Path, model: str, *settings: str) -> tuple[int, float]:
    args = ["run", "donor-game", "--model", model, "--out", str(tmp_path / "runs"), "--quiet",
            "--no-figures", "--set", "agents=4", "--set", "generations=1", "--set", "rounds=2"]
    for setting in settings:
        args += ["--set", setting]
    started = time.perf_counter()
    status = main(args)
    return status, time.perf_counter() - started


def the_error(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    errors = [line for line in captured.err.splitlines() if line.startswith("societas: error:")]
    assert len(errors) == 1, captured.err
    others = [line for line in captured.err.splitlines() if line and line not in errors]
    assert all(line.startswith("LLM brains use ") for line in others), captured.err
    assert "fallback" not in captured.out  # no run account: nothing was played
    return errors[0]


def run_status(tmp_path: Path) -> str | None:
    stores = list((tmp_path / "runs").glob("*/run.sqlite"))
    if not stores:
        return None
    db = sqlite3.connect(stores[0])
    try:
        assert db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0] == 0
        return db.execute("SELECT value FROM meta WHERE key = 'status'").fetchone()[0]
    finally:
        db.close()


def test_key_variable_not_set(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.delenv("SOCIETAS_NO_SUCH_KEY", raising=False)
    with ScriptedLLMServer() as server:
        status, took = run(tmp_path, "openai/scripted", f'api_base="{server.url}"',
                           'api_key_env="SOCIETAS_NO_SUCH_KEY"')
        assert server.request_count == 0
    assert status == 2 and took < FAST_S
    assert "SOCIETAS_NO_SUCH_KEY" in the_error(capsys)
    assert not (tmp_path / "runs").exists()  # known before anything is written


def test_no_key_anywhere_for_a_hosted_model(tmp_path: Path, monkeypatch, capsys) -> None:
    """The case that used to retry into fallbacks: litellm calls it an HTTP 500."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    status, took = run(tmp_path, "openai/gpt-4o-mini")
    assert status == 2 and took < FAST_S
    line = the_error(capsys)
    assert "no API key" in line and "OPENAI_API_KEY" in line and "api_key_env" in line
    assert run_status(tmp_path) == "failed"


@pytest.mark.parametrize(("status_code", "words"), [(401, "Incorrect API key provided"),
                                                     (403, "not allowed"),
                                                     (404, "model does not exist")])
def test_rejected_key_or_unknown_model_costs_one_request(
    tmp_path: Path, capsys, status_code: int, words: str,
) -> None:
    with ScriptedLLMServer(Fault("status", status_code, message=words)) as server:
        status, took = run(tmp_path, "openai/scripted", f'api_base="{server.url}"')
        assert server.request_count == 1  # the first call went alone, and was not retried
    assert status == 2 and took < FAST_S
    line = the_error(capsys)
    assert str(status_code) in line and words in line and "openai/scripted" in line


def test_nothing_listening_at_api_base(tmp_path: Path, capsys) -> None:
    url = closed_port_url()
    status, took = run(tmp_path, "openai/scripted", f'api_base="{url}"')
    assert status == 2 and took < FAST_S
    line = the_error(capsys)
    assert url in line and "refused" in line.lower()


def test_unknown_host(tmp_path: Path, capsys) -> None:
    # .invalid never resolves (RFC 2606), so no lookup leaves this machine
    status, took = run(tmp_path, "openai/scripted", 'api_base="http://no-such-host.invalid/v1"')
    assert status == 2 and took < FAST_S
    assert "no-such-host.invalid" in the_error(capsys)


@pytest.mark.parametrize("url", ["htp:/nonsense", "127.0.0.1:8000/v1", "http://:8000/v1",
                                 "http://127.0.0.1:99999/v1"])
def test_malformed_api_base_is_refused_before_the_run(tmp_path: Path, capsys, url: str) -> None:
    status, took = run(tmp_path, "openai/scripted", f'api_base="{url}"')
    assert status == 2 and took < FAST_S
    line = the_error(capsys)
    assert "api_base" in line and url in line
    assert run_status(tmp_path) is None  # a config mistake: no run directory at all
