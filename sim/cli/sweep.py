"""`societas sweep`: many runs from one command line or TOML sweep file, and how they went.

The live view (`sim.runs.live`) counts runs, not rounds (the runs' own bars would interleave), and
its ETA assumes the runs left take as long as the runs done so far. The final table lists every
run; the exit status is 0 only if every run finished.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sim.cli.text_table import format_table
from sim.errors import Terminated, UserError
from sim.sweeps.executors import EXECUTORS, make_executor

EXIT_RUNS_FAILED = 1


def add_sweep_parser(commands: argparse._SubParsersAction, positive: Any, count: Any
                     ) -> None:
    sweep = commands.add_parser(
        "sweep", help="run every combination of seeds, grid values and models, one run "
        "directory each; re-running it resumes it"
    )
    sweep.add_argument("scenario", nargs="?", help="scenario name (or `scenario` in the "
                       "sweep file)")
    sweep.add_argument("--seeds", metavar="SEEDS", help="0..19 (both ends), 0,3,5 or a mix "
                       "(default: 0)")
    sweep.add_argument("--grid", action="append", default=[], metavar="KEY=A,B,C",
                       help="a config key and the values to try (repeatable)")
    sweep.add_argument("--model", dest="models", action="append", default=[], metavar="M",
                       help="a litellm model string to try (repeatable)")
    sweep.add_argument("--set", dest="overrides", action="append", default=[],
                       metavar="KEY=VALUE", help="fix one config key for every run (repeatable)")
    sweep.add_argument("--config", metavar="FILE.toml", help="TOML file of config keys")
    sweep.add_argument("--sweep-file", metavar="SWEEP.toml", type=Path,
                       help="TOML file of the sweep's fields; flags add to or replace them")
    sweep.add_argument("--out", type=Path, metavar="DIR",
                       help="sweep directory (default: sweeps/SCENARIO-sweep)")
    sweep.add_argument("--executor", choices=EXECUTORS, default="pool",
                       help="pool: local worker processes (default); inline: one at a time "
                       "here; ray: a Ray cluster (pip install 'societas[ray]')")
    sweep.add_argument("--address", metavar="ADDR", help="the Ray cluster to join (default: "
                       "RAY_ADDRESS, else a local Ray instance started for the sweep)")
    add_rate_limit_option(sweep, "shared by every run of the sweep")
    sweep.add_argument("--workers", type=positive, metavar="N",
                       help="worker processes of the pool (default: the number of cores)")
    sweep.add_argument("--retries", type=count, default=1, metavar="N",
                       help="start a run again (resuming it) when its worker process or Ray "
                       "node died, up to N times (default: 1)")
    sweep.add_argument("--max-calls", type=positive, metavar="N",
                       help="each run stops cleanly before a round past N model calls")
    sweep.add_argument("--no-cache", action="store_true", help="runs neither read nor write "
                       "their response caches")
    sweep.add_argument("--figures", action="store_true", help="draw each run's figures "
                       "(default: none; `societas report` draws them)")
    sweep.add_argument("--quiet", action="store_true", help="no live view")


def sweep_command(args: argparse.Namespace, terminated: list[bool] | None = None) -> int:
    """Plan, run and account for the sweep; `terminated[0]` says whether SIGTERM came (a run
    it stopped ends the sweep as an interruption, reported as SIGTERM's)."""
    try:
        return _sweep(args)
    except KeyboardInterrupt:
        if terminated and terminated[0]:
            raise Terminated from None
        raise


def _sweep(args: argparse.Namespace) -> int:
    from sim.config import parse_override
    from sim.sweeps.plan import parse_grid, parse_seeds, plan_sweep, read_sweep_file, run_sweep

    fields: dict[str, Any] = read_sweep_file(args.sweep_file) if args.sweep_file else {}
    scenario = args.scenario or fields.pop("scenario", None)
    fields.pop("scenario", None)
    if not scenario:
        raise UserError("sweep: name a scenario (societas sweep SCENARIO ...) or set "
                        "`scenario` in the sweep file")
    if args.seeds is not None:
        fields["seeds"] = parse_seeds(args.seeds)
    grid = dict(fields.get("grid", {}))
    grid.update(parse_grid(text) for text in args.grid)
    fixed = dict(fields.get("fixed", {}))
    for text in args.overrides:
        keys, value = parse_override(text)
        fixed[".".join(keys)] = value
    fields.update(grid=grid, fixed=fixed)
    if args.models:
        fields["models"] = args.models
    if args.config:
        fields["config_file"] = args.config
    if args.out is not None:
        fields["out"] = args.out
    plan = plan_sweep(scenario, use_cache=not args.no_cache, max_calls=args.max_calls,
                      figures=args.figures, **fields)
    if args.rate_limit is not None:
        plan.rate_limit = args.rate_limit
    if args.address is not None and args.executor != "ray":
        raise UserError("--address is for --executor ray")
    executor = make_executor(args.executor, args.workers, address=args.address,
                             retries=args.retries)
    try:
        outcomes = run_sweep(plan, executor, progress=False if args.quiet else "terminal")
    except (KeyboardInterrupt, Terminated):  # the index says how far each run got
        print(f"societas: the sweep in {plan.out} stopped; run the same command again to "
              "resume it", file=sys.stderr)
        raise

    rows = [[o.name, "finished (before)" if o.status == "skipped" else o.status,
             f"{o.wall_s:.2f}", _shortened(o.message)] for o in outcomes]
    print(format_table(["run", "status", "wall_s", "message"], rows))
    print(f"sweep: {plan.out} ({len(outcomes)} runs; index {plan.out / 'sweep.json'})")
    failed = [o for o in outcomes if o.status not in ("finished", "skipped")]
    if failed:
        names = ", ".join(o.name for o in failed[:5]) + (" ..." if len(failed) > 5 else "")
        print(f"societas: {len(failed)} of {len(outcomes)} runs did not finish ({names}); "
              "re-run the same sweep to resume them", file=sys.stderr)
        return EXIT_RUNS_FAILED
    return 0


def _shortened(message: str, width: int = 80) -> str:
    """A message cut to the table's width says it was cut (sweep.json has it whole)."""
    return message if len(message) <= width else message[:width - 1] + "…"


def add_rate_limit_option(parser: argparse.ArgumentParser, shared: str) -> None:
    """`--rate-limit requests_per_min=N,tokens_per_min=N,concurrent=N` (for run and sweep)."""
    parser.add_argument("--rate-limit", type=_rate_limit, metavar="SPEC",
                        help="model-call limits per endpoint, e.g. requests_per_min=500,"
                        f"tokens_per_min=200000,concurrent=16 ({shared})")


def _rate_limit(text: str) -> Any:
    from sim.llm.ratelimit import parse_rate_limit

    try:
        return parse_rate_limit(text)
    except UserError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
