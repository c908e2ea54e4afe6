"""`python -m sim.testing`: the scripted model server run by hand, as a user would.

Each test starts the real command as a child process, talks to it over HTTP on loopback, and
stops it with Ctrl-C (SIGINT), which must end it cleanly with status 0.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from scenarios.donor_game.scripted_player import scripted_player
from sim.testing import ChatRequest

STARTUP_S = 30.0


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    """The server as a child process, and the URL it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sim.testing", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + STARTUP_S
    assert process.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], deadline - time.monotonic())
        if not ready:
            break
        line = process.stdout.readline()
        if not line:  # exited before printing its URL
            break
        for word in line.split():
            if word.startswith("http://127.0.0.1:"):
                return process, word
    process.kill()
    _, err = process.communicate()
    pytest.fail(f"the server printed no URL; stderr: {err}")


def stop(process: subprocess.Popen[str]) -> str:
    """Ctrl-C, then what it printed afterwards; it must exit 0 within seconds."""
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    return out


def chat(url: str, content: str = "How much do you give?") -> str:
    body = json.dumps({"model": "scripted",
                       "messages": [{"role": "user", "content": content}]}).encode()
    request = urllib.request.Request(f"{url}/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["choices"][0]["message"]["content"]


def test_serves_a_fixed_reply_on_loopback_until_ctrl_c() -> None:
    process, url = start("--reply", "Answer: 42", "--delay", "0.05")
    try:
        started = time.perf_counter()
        assert chat(url) == "Answer: 42"
        assert time.perf_counter() - started >= 0.05  # --delay is applied
    finally:
        out = stop(process)
    assert "stopped after 1 requests" in out


def test_replies_file_lines_are_cycled_in_arrival_order(tmp_path: Path) -> None:
    replies = tmp_path / "replies.txt"
    replies.write_text('{"percent": 10}\n\nAnswer: 20\n', encoding="utf-8")
    process, url = start("--replies-file", str(replies))
    try:
        answers = [chat(url) for _ in range(3)]
    finally:
        stop(process)
    assert answers == ['{"percent": 10}', "Answer: 20", '{"percent": 10}']


def test_a_scenarios_player_answers_its_prompts() -> None:
    """`--player donor-game` finds the Donor Game's scripted player through the registry."""
    prompt = "You are the donor. You currently have 10 units. How many do you give?"
    process, url = start("--player", "donor-game")
    try:
        reply = chat(url, prompt)
    finally:
        stop(process)
    sent = ChatRequest(messages=[{"role": "user", "content": prompt}], model="scripted",
                       body={}, index=0)
    assert reply == scripted_player(sent)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--delay", "-1"], "expected seconds >= 0"),
        (["--player", "no-such-game"], "unknown scenario 'no-such-game'"),
        (["--player", "json:no_such_function"], "has no function 'no_such_function'"),
        (["--replies-file", "/nonexistent/replies.txt"], "cannot read --replies-file"),
        (["--reply", "x", "--player", "donor-game"], "not allowed with argument"),
    ],
)
def test_bad_input_is_one_error_line_and_status_2(args: list[str], says: str) -> None:
    result = subprocess.run([sys.executable, "-m", "sim.testing", *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m sim.testing: error:"), lines
    assert says in lines[0]



def test_a_port_in_use_is_one_error_line_naming_it() -> None:
    """`--port` of a running server once printed an empty "error: " line after 5 s, and a
    warning about a coroutine never awaited."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "sim.testing", "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("python -m sim.testing: error:"), lines
    assert str(port) in lines[0] and "in use" in lines[0]
