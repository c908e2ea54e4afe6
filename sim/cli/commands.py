"""The `societas` command: run, resume, view, list, report, export and write scenarios.

`report` and `inspect` are `analysis`'s, added through the entry point group `societas.commands`
(`sim.cli.plugins`), so that the engine never imports `analysis`.

Errors a user can fix (unknown scenario, bad flag or config key, unusable path, damaged store,
busy run, unreachable model) print one line that names the problem and exit with status 2; a
traceback means a bug in Societas. A run that stops early but cleanly says how to resume it:
status 3 when its budget ran out, 4 when the model's provider stayed down past its patience,
130 on Ctrl-C, 143 on SIGTERM. `replay` exits 1 when a run does not reproduce.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from sim.cli import view as view_cli
from sim.cli.arguments import non_negative_int, positive_int, usd_amount
from sim.cli.interview import add_interview_parser, interview_command
from sim.cli.plugins import load_command, plugin_entries
from sim.cli.sweep import add_rate_limit_option, add_sweep_parser
from sim.cli.text_table import format_table
from sim.config import load_config
from sim.errors import Terminated, UserError, describe_os_error
from sim.llm.providers import check_model_routable
from sim.llm.redaction import scrubbed_stderr
from sim.registry import UnknownScenario, get_scenario, scenario_names

if TYPE_CHECKING:
    from sim.runs.runner import RunOptions, RunResult

EXIT_USAGE = 2
EXIT_BUDGET = 3
EXIT_PROVIDER_DOWN = 4
EXIT_NOT_REPRODUCED = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report a Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM

#: The subcommands of `societas` itself; a plugin of the same name is left out.
BUILT_IN_COMMANDS = frozenset({"run", "resume", "replay", "view", "list", "show-config",
                               "export", "new-scenario", "sweep", "interview"})


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one `societas: error:` line like every other user error."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.partition(" ")[2]  # "run" in "societas run"; empty at the top
        print(f"societas: error: {command + ': ' if command else ''}{message} "
              f"(see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """Flags shared by `run` and `resume`: how to run, not what to simulate."""
    parser.add_argument("--max-cost", type=usd_amount, metavar="USD",
                        help="stop cleanly at a round boundary once model calls cost this much")
    parser.add_argument("--max-calls", type=non_negative_int, metavar="N",
                        help="stop cleanly before a round that would exceed N model calls")
    parser.add_argument("--replay-only", action="store_true",
                        help="answer every model call from the response cache; fail at a miss")
    parser.add_argument("--cache", type=Path, metavar="FILE",
                        help="response cache file to share between runs "
                        "(default: RUN_DIR/responses.sqlite, the run's own)")
    parser.add_argument("--no-cache", action="store_true",
                        help="neither read nor write the response cache")
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    parser.add_argument("--no-figures", action="store_true", help="skip drawing figures")
    add_rate_limit_option(parser, "this run's own")
    view_cli.add_view_options(parser)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser. `command`: the subcommand about to run, when known; other plugins'
    subcommands are then only named, not imported (`sim.cli.plugins`)."""
    parser = _Parser(
        prog="societas",
        description="Agent-based social simulation with LLM-backed and rule-based agents.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run a scenario and write its store and figures")
    run.add_argument("scenario", help="scenario name, e.g. donor-game (see `societas list`)")
    run.add_argument("--config", metavar="FILE.toml", help="TOML file of config keys")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config key (repeatable); values are read as TOML",
    )
    run.add_argument("--seed", type=int, help="random seed (default: config's, 0)")
    run.add_argument("--model", help="litellm model string for LLM brains, e.g. openai/gpt-4o")
    run.add_argument("--out", default="runs", help="parent directory of run directories")
    _add_run_options(run)

    resume = commands.add_parser(
        "resume", help="continue a run that stopped early, from its last committed round"
    )
    resume.add_argument("run_dir", type=Path)
    _add_run_options(resume)

    replay = commands.add_parser(
        "replay", help="re-execute a finished run from its own store, with no model calls, and "
        "check that it reproduces every committed round (writes nothing)"
    )
    replay.add_argument("run_dir", type=Path)
    view_cli.add_view_parser(commands)

    commands.add_parser("list", help="list available scenarios")

    _add_plugin_commands(commands, command)  # `analysis`'s inspect and report, by name
    _add_authoring_commands(commands)
    add_sweep_parser(commands, positive_int, non_negative_int)
    add_interview_parser(commands)
    return parser


def _add_plugin_commands(commands: argparse._SubParsersAction, wanted: str | None) -> None:
    for name, entry in plugin_entries(BUILT_IN_COMMANDS).items():
        if wanted is None or wanted == name:
            plugin = load_command(entry)
            plugin.add_arguments(commands.add_parser(name, help=plugin.help))
        else:  # a choice the parser knows, loaded only if chosen
            commands.add_parser(name)


def _chosen_command(argv: list[str]) -> str | None:
    """The subcommand `argv` names (its first word that is not a flag); None for a bare
    `--help`, which lists every subcommand with its help."""
    return next((word for word in argv if not word.startswith("-")), None)


def _add_authoring_commands(commands: argparse._SubParsersAction) -> None:
    """show-config, export and new-scenario: their logic lives in modules of their own."""
    show = commands.add_parser(
        "show-config", help="every config key of a scenario: name, type, default and meaning"
    )
    show.add_argument("scenario", help="scenario name (see `societas list`)")
    show.add_argument("--format", choices=("text", "toml"), default="text",
                      help="text: a reference (default); toml: a complete, commented config "
                      "file for `societas run SCENARIO --config FILE`")

    export = commands.add_parser(
        "export", help="write a run's tables as CSV or Parquet files, one file per table"
    )
    export.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    export.add_argument("--format", choices=("csv", "parquet"), default="csv",
                        help="csv (default) or parquet (needs pyarrow: the 'export' extra)")
    export.add_argument("--out", type=Path, metavar="DIR",
                        help="directory for the files (default: RUN_DIR/export)")
    export.add_argument("--tables", metavar="A,B",
                        help="only these tables, comma-separated (default: every table)")

    new = commands.add_parser(
        "new-scenario", help="write a working scenario package to start a new game from"
    )
    new.add_argument("name", help="the scenario's name, e.g. stag-hunt (letters, digits, "
                     "- or _, starting with a letter)")
    new.add_argument("--dir", type=Path, default=Path("."), metavar="PATH",
                     help="where to create the package's folder (default: here)")


def main(argv: list[str] | None = None) -> int:
    """The `societas` command; nothing it prints to stderr carries an API key."""
    with scrubbed_stderr():
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    # A run stopped by a fatal model error abandons calls in flight; litellm then leaves
    # un-awaited coroutines behind, whose warnings would bury the one line that matters.
    warnings.filterwarnings("ignore", message="coroutine .* was never awaited")
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser(_chosen_command(argv)).parse_args(argv)
    except SystemExit as exit_:  # --help, or a bad flag already reported in one line
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    try:
        if args.command == "list":
            return _list()
        if args.command in ("run", "resume"):
            with _sigterm_stops_the_run() as terminated:
                return _run(args, terminated) if args.command == "run" else _resume(
                    args, terminated)
        if args.command == "sweep":
            from sim.cli.sweep import sweep_command

            with _sigterm_stops_the_run() as terminated:
                return sweep_command(args, terminated)
        if args.command == "replay":
            return _replay(args.run_dir)
        if args.command == "interview":
            return interview_command(args)
        if args.command == "view":
            return view_cli.view_command_main(args)
        if args.command not in BUILT_IN_COMMANDS:  # a plugin's (report, inspect)
            return load_command(plugin_entries(BUILT_IN_COMMANDS)[args.command]).run(args)
        if args.command in ("show-config", "export", "new-scenario"):
            return _authoring(args)
    except (UserError, UnknownScenario) as error:
        print(f"societas: error: {_message(error)}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:  # the file system refused: a path the user can change
        print(f"societas: error: {describe_os_error(error)}", file=sys.stderr)
        return EXIT_USAGE
    except Terminated:
        print("societas: terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("societas: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_USAGE


def _by_brain(decisions: dict[str, int]) -> str:
    """' (rule: 12, llm: 3)', or nothing for a run that stopped before its first decision."""
    parts = ", ".join(f"{kind}: {count}" for kind, count in sorted(decisions.items()))
    return f" ({parts})" if parts else ""


def _message(error: BaseException) -> str:
    return str(error.args[0]) if isinstance(error, LookupError) and error.args else str(error)


@contextlib.contextmanager
def _sigterm_stops_the_run() -> Iterator[list[bool]]:
    """SIGTERM (`kill`, a scheduler's stop) ends a run like Ctrl-C: the round in progress is
    rolled back, the run is marked interrupted and can be resumed. Yields [whether it came]."""
    received = [False]
    if threading.current_thread() is not threading.main_thread():
        yield received  # signal handlers can only be set from the main thread
        return

    def stop(signum: int, frame: object) -> None:
        received[0] = True
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once is enough: let cleanup finish
        raise Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


def _list() -> int:
    for name in scenario_names():
        scenario = get_scenario(name)
        print(f"{name:<16} {scenario.summary}")
    return 0


def _run_options(args: argparse.Namespace) -> RunOptions:
    from sim.llm.gateway import Budget
    from sim.runs.runner import RunOptions

    if args.replay_only and args.no_cache:
        raise UserError("--replay-only needs the response cache; drop --no-cache")
    return RunOptions(
        use_cache=not args.no_cache,
        cache_path=args.cache,
        replay_only=args.replay_only,
        budget=Budget(max_cost_usd=args.max_cost, max_calls=args.max_calls),
        progress=not args.quiet,
        figures=not args.no_figures, limit=args.rate_limit, on_start=view_cli.viewer_for(args),
    )


def _run(args: argparse.Namespace, terminated: list[bool]) -> int:
    from sim.runs.runner import run_scenario

    scenario = get_scenario(args.scenario)
    config = load_config(
        scenario.config_type,
        path=args.config,
        overrides=args.overrides,
        values={"seed": args.seed, "model": args.model},
    )
    options = _run_options(args)
    if config.model is not None:  # a model litellm cannot route: refused before the estimate
        check_model_routable(config.model, config.api_base)
        if scenario.estimate is not None:
            print(scenario.estimate(config).describe(config.model), file=sys.stderr)
    return view_cli.run_with_view(options, lambda: _finish(
        lambda: run_scenario(scenario, config, out=args.out, options=options), terminated))


def _resume(args: argparse.Namespace, terminated: list[bool]) -> int:
    from sim.runs.runner import resume_run

    options = _run_options(args)
    return view_cli.run_with_view(options, lambda: _finish(
        lambda: resume_run(args.run_dir, options), terminated))


def _replay(run_dir: Path) -> int:
    from sim.llm.cache import CacheMiss
    from sim.runs.replay import NotReplayable, replay_run
    from sim.store import ResumeDiverged

    try:
        result = replay_run(run_dir)
    except NotReplayable as error:
        print(f"societas: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (CacheMiss, ResumeDiverged) as error:
        print(f"societas: not reproduced: {error}", file=sys.stderr)
        return EXIT_NOT_REPRODUCED
    sessions = (f" ({result.sessions} interview session{'s' if result.sessions > 1 else ''})"
                if result.sessions else "")
    print(f"reproduced all {result.checkpoints} checkpoints of {run_dir}{sessions}: "
          f"{result.decisions} decisions, {result.calls} model calls answered from its store, "
          f"none made; {result.wall_s:.1f} s")
    return 0


def _finish(start: Callable[[], RunResult], terminated: list[bool]) -> int:
    """Run, then print the account of the run and how to go on if it stopped early."""
    from sim.llm.cache import CacheMiss
    from sim.llm.outcomes import ModelUnreachable
    from sim.memory.embeddings import EmbeddingError
    from sim.store import ResumeDiverged

    try:
        result = start()
    except ModelUnreachable as error:
        resume = ("" if error.run_dir is None else
                  f"; finished rounds are saved: once that is fixed, continue with: "
                  f"societas resume {error.run_dir}")
        print(f"societas: error: model unreachable: {error}{resume}", file=sys.stderr)
        return EXIT_USAGE
    except EmbeddingError as error:
        print(f"societas: error: memory embedder: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (CacheMiss, ResumeDiverged) as error:
        print(f"societas: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if result.already_finished:
        print(f"{result.run_dir}: {result.message}")
        return 0
    if result.replayed_checkpoints:
        print(f"resumed after {result.replayed_checkpoints} committed rounds (replayed, "
              f"not rewritten)")
    if result.summary is not None and result.summary[1]:
        print(format_table(*result.summary))
    stats = result.stats
    print(
        f"{sum(stats.decisions.values())} decisions"
        f"{_by_brain(stats.decisions)}; "
        f"{stats.calls} model calls ({stats.cache_hits} from cache"
        f"{f', {stats.replayed_calls} from the store' if stats.replayed_calls else ''}), "
        f"{stats.retries} retries, "
        f"{stats.repairs} repairs, {stats.fallbacks} fallbacks; {result.wall_s:.1f} s"
    )
    if stats.breaker_trips or stats.probes:
        print(f"the provider failed repeatedly: dispatch was paused {stats.breaker_trips} times, "
              f"{stats.probes} probe requests asked whether it answered at all")
    for model, usage in sorted(stats.by_model.items()):
        print(
            f"{model}: {usage['calls']:.0f} calls, {usage['prompt_tokens']:.0f} prompt + "
            f"{usage['completion_tokens']:.0f} completion tokens, ${usage['cost_usd']:.4f}"
        )
    for path in result.figures:
        print(f"figure: {path}")
    print(f"run: {result.run_dir}")
    if result.status == "finished":
        return 0
    hint = f"societas resume {result.run_dir}"
    if result.status == "budget":
        print(f"societas: stopped: {result.message}; continue with a higher budget: {hint} "
              "--max-cost/--max-calls ...", file=sys.stderr)
        return EXIT_BUDGET
    if result.status == "provider_down":
        print(f"societas: stopped: {result.message}; finished rounds are saved; continue once "
              f"the provider is back: {hint}", file=sys.stderr)
        return EXIT_PROVIDER_DOWN
    print(f"societas: {result.message}; finished rounds are saved; continue with: {hint}",
          file=sys.stderr)
    return EXIT_TERMINATED if terminated[0] else EXIT_INTERRUPTED


def _authoring(args: argparse.Namespace) -> int:
    if args.command == "show-config":
        from sim.cli.config_docs import show_config

        print(show_config(args.scenario, args.format), end="")
    elif args.command == "export":
        from sim.runs.export import export_run, parse_tables

        tables = parse_tables(args.tables) if args.tables is not None else None
        for path in export_run(args.run_dir, args.out, format=args.format, tables=tables):
            print(f"wrote {path}")
    else:
        from sim.cli.scaffold import new_scenario

        created = new_scenario(args.name, args.dir)
        print(f"wrote {created}: edit its README.md to start; install it with "
              f"pip install -e {created}")
    return 0
