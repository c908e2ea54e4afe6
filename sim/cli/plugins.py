"""Subcommands other packages add to `societas`, found through the entry point group
`societas.commands`.

`analysis` adds `report` and `inspect` this way (see its `analysis.commands` and the project's
`pyproject.toml`): the engine never imports `analysis`; `analysis` plugs into the engine. An
entry point's name is the subcommand's name and its value names a `Command`, e.g.

    [project.entry-points."societas.commands"]
    report = "analysis.commands:REPORT"

A plugin is imported only when its subcommand is the one being run, or when `societas --help`
lists every subcommand: `analysis` imports pandas (a second), which `societas run` need not
pay for. A plugin cannot replace a built-in subcommand of the same name.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

GROUP = "societas.commands"


@dataclass(frozen=True)
class Command:
    """A subcommand: its one-line help, its flags, and what it does (returns the exit status).

    `run` may raise `sim.errors.UserError` (or an `OSError`) for bad input: `societas` prints it
    as one `societas: error:` line and exits with status 2, as for its own subcommands."""

    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def plugin_entries(builtin: set[str]) -> dict[str, EntryPoint]:
    """The registered subcommands not named like a built-in one, by name, in name order."""
    found = {entry.name: entry for entry in entry_points(group=GROUP)
             if entry.name not in builtin}
    return dict(sorted(found.items()))


def load_command(entry: EntryPoint) -> Command:
    command = entry.load()
    if not isinstance(command, Command):
        raise TypeError(f"entry point {entry.name} = {entry.value} in {GROUP} is not a "
                        "sim.cli.plugins.Command")
    return command
