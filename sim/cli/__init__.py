"""The command line: `societas` and its subcommands (console script `sim.cli:main`).

How the package reads, from the command to the work each subcommand hands on:

- `commands`: the parser (every subcommand's flags), `main`, and the dispatch of `run`, `resume`,
  `replay`, `list`, `inspect`, `report`, `show-config`, `export` and `new-scenario`; errors a user
  can fix become one `societas: error:` line and exit status 2;
- `sweep`, `interview`, `view`: the `sweep`, `interview` and `view` subcommands (and `--view`
  of `run`/`resume`), with `view_process` starting the browser view as a child process;
- `config_docs`: `show-config`, every key of a scenario's config; `scaffold` (with
  `templates/scenario/`): `new-scenario`; `text_table`: the terminal's tables.

This is the top layer: it builds on `sim.runs`, `sim.sweeps` and the core, and nothing in the
engine imports it. `python -m sim.cli` runs the command.
"""

from sim._exports import lazy_exports

__all__, __getattr__, __dir__ = lazy_exports(globals(), {
    "sim.cli.commands": ("EXIT_BUDGET", "EXIT_INTERRUPTED", "EXIT_NOT_REPRODUCED",
                         "EXIT_PROVIDER_DOWN", "EXIT_TERMINATED", "EXIT_USAGE", "build_parser",
                         "main"),
})
