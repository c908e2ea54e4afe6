"""`societas interview RUN_DIR`: its flags, and the answers printed (the work is
`sim.runs.interview.interview_run`).

    societas interview RUN_DIR --agent mara "What do you know about the party?"
    societas interview RUN_DIR --all "Who is running for mayor?" --at 2 09:00
    societas interview RUN_DIR --battery [--agent ID ...] [--model M --set api_base=...]
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Any

from sim.errors import UserError

EXIT_PROVIDER_DOWN = 4


def _day(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"the day is a whole number counted from 1 (--at 2 "
                                         f"09:00), got {text!r}")
    return value


def _intermixed(parser: argparse.ArgumentParser) -> None:
    """Let the question come after the flags (`RUN_DIR --agent ID "question"`): argparse
    otherwise fills every positional at the first one it meets, leaving the question over."""
    base = type(parser)

    class Intermixed(base):  # type: ignore[valid-type, misc]
        def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
            if getattr(self, "_intermixing", False):  # parse_known_intermixed_args' own calls
                return super().parse_known_args(args, namespace)
            self._intermixing = True
            try:
                return self.parse_known_intermixed_args(args, namespace)
            finally:
                self._intermixing = False

    parser.__class__ = Intermixed


def add_interview_parser(commands: argparse._SubParsersAction) -> None:
    interview = commands.add_parser(
        "interview", help="ask a finished run's residents a question (or the believability "
        "battery): they answer from their summary and memories; answers are stored in the run"
    )
    interview.add_argument("run_dir", metavar="RUN_DIR")
    interview.add_argument("question", nargs="?", help="the question (omit with --battery)")
    who = interview.add_mutually_exclusive_group()
    who.add_argument("--agent", action="append", default=[], metavar="ID",
                     help="a resident to ask (repeatable)")
    who.add_argument("--all", action="store_true", help="ask every resident living in town "
                     "at the moment asked (the default of --battery)")
    interview.add_argument("--battery", action="store_true", help="ask the believability "
                           "questions (self-knowledge, memory, plans, reactions, reflections)")
    interview.add_argument("--at", nargs=2, metavar=("DAY", "HH:MM"),
                           help="answer as of this moment of the run (days counted from 1; "
                           "default: the end of the run)")
    interview.add_argument("--model", help="answer with this model (litellm string) instead of "
                           "the run's brains")
    interview.add_argument("--set", dest="overrides", action="append", default=[],
                           metavar="KEY=VALUE", help="a model setting for this interview "
                           "(api_base, api_key_env, temperature, ...; repeatable)")
    _intermixed(interview)


def interview_command(args: argparse.Namespace) -> int:
    from sim.runs.interview import interview_run

    if args.battery and args.question:
        raise UserError("interview: --battery asks its own questions; leave out the question")
    if not args.battery and not args.question:
        raise UserError("interview: ask a question (in quotes), or --battery")
    if not args.battery and not args.all and not args.agent:
        raise UserError("interview: name a resident with --agent ID, or ask everyone with --all")
    at = None
    if args.at is not None:
        try:
            at = (_day(args.at[0]), args.at[1])
        except argparse.ArgumentTypeError as error:
            raise UserError(f"interview: --at: {error}") from None
    from sim.llm.outcomes import ModelUnreachable, ProviderDown
    from sim.memory.embeddings import EmbeddingError

    try:
        result = interview_run(args.run_dir, args.question, agents=args.agent, at=at,
                               battery=args.battery, model=args.model, overrides=args.overrides)
    except ModelUnreachable as error:
        raise UserError(f"model unreachable: {error}") from None
    except EmbeddingError as error:
        raise UserError(f"memory embedder: {error}") from None
    except ProviderDown as error:
        print(f"societas: stopped: {error}; nothing of this interview was stored; ask again "
              "once the provider is back (replies already received are in the run's cache)",
              file=sys.stderr)
        return EXIT_PROVIDER_DOWN
    print(f"interview {result.session} of {result.run_dir}, as of {result.at_text}:")
    for answer in result.answers:
        print(_format(answer))
    stats = result.stats
    print(f"{len(result.answers)} answers stored in the run's 'interviews' table "
          f"({_sources(result.answers)}); {stats.calls} model calls "
          f"({stats.cache_hits} from cache), {stats.repairs} repairs", file=sys.stderr)
    return 0


def _format(answer: Any) -> str:
    label = "" if answer.question.category == "question" else f" [{answer.question.category}]"
    wrap = textwrap.TextWrapper(width=96, initial_indent="    ", subsequent_indent="    ")
    return (f"\n{answer.agent}{label}: {answer.question.text}\n" + wrap.fill(answer.text)
            + ("" if answer.source == "llm" else f"\n    ({answer.source})"))


def _sources(answers: list[Any]) -> str:
    counts: dict[str, int] = {}
    for answer in answers:
        counts[answer.source] = counts.get(answer.source, 0) + 1
    return ", ".join(f"{source}: {n}" for source, n in sorted(counts.items())) or "none"
