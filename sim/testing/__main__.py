"""`python -m sim.testing`: run the scripted model server by hand until Ctrl-C.

For trying a scenario's LLM path without a model or a network: start the server in one
terminal, then point a run at the URL it prints:

    python -m sim.testing --player donor-game --delay 0.2
    societas run donor-game --model openai/scripted --set api_base=URL

Replies come from one of: `--reply TEXT` (always the same), `--replies-file FILE` (one reply a
line, taken in arrival order and cycled), or `--player` (a scenario's scripted player, which
answers its prompts the way real models do). The server binds loopback only, as it always does.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from sim.testing.scripted_server import (
    DEFAULT_REPLY,
    ChatRequest,
    Reply,
    ScriptedLLMServer,
    failing_long_prompts,
    failing_structured_output,
)

PROG = "python -m sim.testing"
#: The module a scenario package keeps its scripted player in, and the function's name.
PLAYER_MODULE = "scripted_player"
PLAYER_FUNCTION = "scripted_player"


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one `error:` line, as in the `societas` command."""

    def error(self, message: str) -> NoReturn:
        print(f"{PROG}: error: {message} (see {PROG} --help)", file=sys.stderr)
        raise SystemExit(2)


def _delay(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected seconds >= 0, got {text!r}")
    return value


def _port(text: str) -> int:
    # sim.cli.arguments.port_number's rule; this core package may not import the command line
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return value


def _chars(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number of characters >= 1, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Serve scripted chat completions on 127.0.0.1 (OpenAI-compatible, "
        "POST /v1/chat/completions) until Ctrl-C. Use the printed URL as api_base, with any "
        "model name such as openai/scripted.",
    )
    parser.add_argument("--port", type=_port, default=0,
                        help="port to listen on (default: any free one)")
    parser.add_argument("--delay", type=_delay, default=0.0, metavar="SECONDS",
                        help="latency added to every reply (default: 0)")
    replies = parser.add_mutually_exclusive_group()
    replies.add_argument("--reply", metavar="TEXT",
                         help=f"answer every request with TEXT (default: {DEFAULT_REPLY!r})")
    replies.add_argument("--replies-file", type=Path, metavar="FILE",
                         help="answer with FILE's lines, one per request in arrival order, "
                         "starting again after the last")
    replies.add_argument("--player", metavar="SCENARIO|MODULE:FUNCTION",
                         help="answer like a model playing a scenario: a scenario name "
                         f"(its package's {PLAYER_MODULE}.{PLAYER_FUNCTION}, e.g. donor-game) "
                         "or any function of a ChatRequest returning the reply text at once "
                         "(it runs on the server's event loop)")
    parser.add_argument("--fail-structured", action="store_true",
                        help="answer every request that asks for a response format with HTTP "
                        "500, as a server without constrained output does")
    parser.add_argument("--fail-prompts-over", type=_chars, metavar="CHARS",
                        help="answer every request whose messages exceed CHARS characters "
                        "with HTTP 500, as a server with a small context does")
    return parser


def cycled(replies: Sequence[Reply]) -> Callable[[ChatRequest], Reply]:
    """A responder answering request i with replies[i % len(replies)]."""
    if not replies:
        raise ValueError("no replies to cycle through")
    return lambda request: replies[request.index % len(replies)]


def read_replies(path: Path) -> list[str]:
    """One reply a line; blank lines are skipped (an empty reply is a fault, not a script)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read --replies-file {path}: {error}") from None
    replies = [line for line in lines if line.strip()]
    if not replies:
        raise ValueError(f"--replies-file {path} has no non-blank line")
    return replies


def load_player(name: str) -> Callable[[ChatRequest], Reply]:
    """The function behind `--player`: `module:function`, or a registered scenario's own."""
    if ":" in name:
        module_name, _, function = name.partition(":")
    else:
        from sim.registry import UnknownScenario, scenario_target

        try:
            package = scenario_target(name).partition(":")[0]
        except UnknownScenario as error:
            raise ValueError(str(error)) from None
        module_name, function = f"{package}.{PLAYER_MODULE}", PLAYER_FUNCTION
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"--player {name}: cannot import {module_name} ({error})") from None
    player = getattr(module, function, None)
    if not callable(player):
        raise ValueError(f"--player {name}: {module_name} has no function {function!r}")
    return player


def main(argv: list[str] | None = None) -> int:
    """Serve until Ctrl-C; 2 (with one `error:` line) for bad flags or replies."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        if args.replies_file is not None:
            responder: Callable[[ChatRequest], Reply] = cycled(read_replies(args.replies_file))
        elif args.player is not None:
            responder = load_player(args.player)
        else:
            reply = args.reply if args.reply is not None else DEFAULT_REPLY
            responder = lambda request: reply  # noqa: E731
        if args.fail_structured:
            responder = failing_structured_output(responder)
        if args.fail_prompts_over is not None:
            responder = failing_long_prompts(args.fail_prompts_over, responder)
        # every responder here answers at once: on the serving loop, no thread hop
        server = ScriptedLLMServer(responder, delay=args.delay, port=args.port,
                                   responder_blocks=False).start()
    except (ValueError, OSError) as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2
    try:  # a Ctrl-C may come as soon as the URL is out, before print returns
        print(f"scripted model server at {server.url} (Ctrl-C stops it)", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print(f"stopped after {server.request_count} requests", flush=True)
    return 0


def _stop_on_signals() -> None:
    """Ctrl-C and SIGTERM stop the server cleanly, even when started in the background (where
    the shell has told this process to ignore SIGINT)."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, interrupt)


if __name__ == "__main__":
    _stop_on_signals()
    raise SystemExit(main())
