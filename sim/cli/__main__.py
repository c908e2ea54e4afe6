"""`python -m sim.cli`: the `societas` command, where its console script is not on PATH."""

import sys

from sim.cli.commands import main

sys.exit(main())
