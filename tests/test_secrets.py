"""API keys never reach stderr, the run directory, the response cache or the report.

The keys used here are deliberately not `sk-`-shaped: a scrubber that only knows what keys
usually look like would let them through. The server echoes them back in its errors (as real
providers and proxies do with the key or Authorization header they rejected).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from analysis import write_report
from scenarios.donor_game.scripted_player import is_strategy_request, scripted_player
from sim.cli import main
from sim.config import ConfigError, RunConfig, load_config
from sim.llm.redaction import scrub, scrub_values
from sim.llm.settings import LLMSettings
from sim.testing.scripted_server import ChatRequest, Fault, ScriptedLLMServer

#: The key the run authenticates with, through api_key_env (a name that is not *_API_KEY).
AUTH_KEY = "Zq7tR2pL9wXk4mNbVc"
#: Another provider's key the run can see in its environment, never sent anywhere.
OTHER_KEY = "mellon8friend2gate"
#: A proxy's own token, in no environment variable: caught by its Bearer shape.
PROXY_TOKEN = "proxytoken0123456789"
SECRETS = (AUTH_KEY, OTHER_KEY, PROXY_TOKEN)


def echoing_server(request: ChatRequest):  # type: ignore[no-untyped-def]
    """Plays normally, except: every donation prompt of g0-a01 fails with a 500 that echoes
    every key (its decisions fall back), and the first prompt of generation 2 gets a 401 that
    does (the run stops there)."""
    echo = (f"rejected {request.headers.get('authorization')}; env had {OTHER_KEY}; "
            f"upstream said Authorization: Bearer {PROXY_TOKEN}")
    if any("Your name is g2-" in str(m.get("content")) for m in request.messages):
        return Fault("status", status=401, message=f"invalid api key: {echo}")
    prompt = request.messages[-1]["content"]  # (the client's outage probe sends one message)
    if not is_strategy_request(request) and "Your name is g0-a01." in prompt:
        return Fault("status", status=500, message=echo)
    return scripted_player(request)


def files_leaking(root: Path) -> list[str]:
    """Files under `root` (SQLite WAL and journal files included) holding any secret."""
    leaks = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            leaks += [f"{path.name}: {s}" for s in SECRETS if s.encode() in data]
    return leaks


def test_scrub_removes_every_kind_of_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACME_API_KEY", OTHER_KEY)
    text = (f"saw {OTHER_KEY}, Authorization: Bearer {PROXY_TOKEN}, api_key={AUTH_KEY}, "
            f'"x-api-key": "{AUTH_KEY}", key sk-proj-abcdefghijklmnop1234')
    scrubbed = scrub(text)
    assert not any(secret in scrubbed for secret in SECRETS), scrubbed
    assert "sk-proj" not in scrubbed and scrubbed.count("***") == 5
    ordinary = "Bearer of bad news: set api_key_env=OPENAI_API_KEY and give 40%."
    assert scrub(ordinary) == ordinary
    # model replies lose exact secret values only, never words that merely look like keys
    assert scrub_values(f"Bearer of {OTHER_KEY}, api_key=whatever") == (
        "Bearer of ***, api_key=whatever")


@pytest.mark.parametrize("transport", ["direct", "litellm"])
def test_keys_echoed_by_the_server_reach_no_output(tmp_path: Path, transport: str) -> None:
    run_parent, cache = tmp_path / "runs", tmp_path / "cache" / "responses.sqlite"
    env = {**os.environ, "PROVIDER_TOKEN": AUTH_KEY, "ACME_API_KEY": OTHER_KEY}
    with ScriptedLLMServer(echoing_server) as server:
        completed = subprocess.run(
            [sys.executable, "-m", "sim.cli", "run", "donor-game", "--quiet", "--no-figures",
             "--out", str(run_parent), "--cache", str(cache), "--model", "openai/scripted",
             "--set", f'api_base="{server.url}"', "--set", "api_key_env=PROVIDER_TOKEN",
             "--set", "agents=4", "--set", "generations=3", "--set", "rounds=3",
             "--set", "max_retries=1", "--set", "timeout_s=10.0",
             "--set", f"transport={transport}"],
            capture_output=True, text=True, env=env, timeout=300)
        echoed = [r for r in server.requests
                  if any("Your name is g2-" in str(m.get("content")) for m in r.messages)]
    assert echoed, "the run never met the 401 that echoes the key"
    assert echoed[0].headers["authorization"] == f"Bearer {AUTH_KEY}"  # the key was used
    assert completed.returncode == 2, completed.stderr
    assert "societas: error:" in completed.stderr and "***" in completed.stderr
    assert not [s for s in SECRETS if s in completed.stderr + completed.stdout], completed.stderr
    (run_dir,) = run_parent.iterdir()
    db = sqlite3.connect(run_dir / "run.sqlite")
    try:
        errors = [e for (e,) in db.execute("SELECT error FROM llm_calls WHERE error IS NOT NULL")]
    finally:
        db.close()
    assert errors and all("***" in e for e in errors if "rejected" in e), errors
    assert any("rejected" in e for e in errors), "no echoed error was logged"
    report = write_report([run_dir], tmp_path / "report.html")
    assert report.stat().st_size > 10_000
    assert files_leaking(run_dir) == []
    assert files_leaking(cache.parent) == []
    assert files_leaking(tmp_path) == []  # the report too


@pytest.mark.parametrize("pasted", [
    "sk-abcdefghijklmnopqrstuv",  # a key where its variable's name belongs
    "mellon8friend2gate",  # not key-shaped, but the value of a set *_API_KEY variable
    "my key",  # not a variable name at all
    "AIzaSyD4kq9XbT2mW7vR0pLnC8eH5uJ3fG6",  # a valid name, but shaped like a generated key
])
def test_a_key_given_as_api_key_env_is_refused_and_never_saved(
        pasted: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ACME_API_KEY", OTHER_KEY)
    out = tmp_path / "runs"
    status = main(["run", "donor-game", "--model", "openai/scripted", "--out", str(out),
                   "--quiet", "--no-figures", "--set", f'api_key_env="{pasted}"'])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and err.startswith("societas: error: ")
    assert "api_key_env" in err and pasted not in err
    assert not out.exists() or not any(out.rglob("*"))  # no config.toml, no store


def test_a_key_in_a_config_file_or_the_api_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('model = "openai/x"\napi_key_env = "sk-abcdefghijklmnopqrstuv"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(RunConfig, path=path)
    assert "sk-abcdef" not in str(caught.value)
    with pytest.raises(ValueError):
        LLMSettings(model="openai/x", api_key_env="sk-abcdefghijklmnopqrstuv")
    assert load_config(RunConfig, values={"api_key_env": "OPENAI_API_KEY"}).api_key_env == (
        "OPENAI_API_KEY")


@pytest.mark.parametrize(("api_base", "where"), [
    (f"http://me:{AUTH_KEY}@127.0.0.1:9/v1", "a user name or password before the host"),
    (f"http://127.0.0.1:9/v1?api_key={AUTH_KEY}", "the query parameter api_key="),
])
def test_a_key_in_api_base_is_refused_at_once_and_never_saved(
        api_base: str, where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Such a URL was written to config.json, config.toml and the store, and printed; the
    userinfo form was refused by the HTTP client and waited out as an outage (exit 4)."""
    out = tmp_path / "runs"
    status = main(["run", "donor-game", "--model", "openai/scripted", "--out", str(out),
                   "--quiet", "--no-figures", "--set", f'api_base="{api_base}"'])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and err.startswith("societas: error: ")
    assert where in err and "api_key_env" in err and AUTH_KEY not in err
    assert "give api_base without it: http://127.0.0.1:9/v1" in err
    assert not out.exists()
    status = main(["sweep", "donor-game", "--model", "openai/scripted", "--out", str(out),
                   "--quiet", "--grid", f'api_base="{api_base}","http://127.0.0.1:9/v1"'])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and AUTH_KEY not in err
    assert not out.exists()
    with pytest.raises(ValueError, match="carries a credential") as caught:
        LLMSettings(model="openai/x", api_base=api_base)
    assert AUTH_KEY not in str(caught.value)


def test_scrub_removes_credentials_in_urls() -> None:
    text = (f"POST http://me:{AUTH_KEY}@proxy:8080/v1?api-version=2&key={OTHER_KEY}&x=1 "
            f"failed; retry https://{PROXY_TOKEN}@host/v1?access_token={PROXY_TOKEN}")
    scrubbed = scrub(text)
    assert not any(secret in scrubbed for secret in SECRETS), scrubbed
    assert "http://***@proxy:8080/v1?api-version=2&key=***&x=1" in scrubbed


def test_keys_set_changed_or_watched_mid_run_are_scrubbed_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The secrets are looked for again whenever the environment or the watched names change
    (`secret_values` keeps what it found in the environment it last saw)."""
    from sim.llm import redaction

    assert scrub_values(f"a {AUTH_KEY} b") == f"a {AUTH_KEY} b"
    monkeypatch.setenv("ACME_API_KEY", AUTH_KEY)
    assert scrub_values(f"a {AUTH_KEY} b") == "a *** b"
    monkeypatch.setenv("ACME_API_KEY", OTHER_KEY)  # the same variable, another value
    assert scrub_values(f"{AUTH_KEY} {OTHER_KEY}") == f"{AUTH_KEY} ***"
    monkeypatch.delenv("ACME_API_KEY")
    assert scrub_values(OTHER_KEY) == OTHER_KEY
    monkeypatch.setenv("SOCIETAS_TEST_TOKEN", PROXY_TOKEN)
    assert scrub_values(PROXY_TOKEN) == PROXY_TOKEN  # not a *_API_KEY, not watched yet
    monkeypatch.setattr(redaction, "_watched", {"SOCIETAS_TEST_TOKEN"})
    assert scrub_values(PROXY_TOKEN) == "***"
