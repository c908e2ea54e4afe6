"""`python -m analysis.viewer RUN_DIR [--host H] [--port P] [--no-browser]`: what `societas view`
and `societas run --view` start (see `sim.cli.view_process`)."""

from __future__ import annotations

import argparse
import sys

from analysis.viewer.server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="societas view")
    parser.add_argument("run_dir")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args(argv)
    return serve(args.run_dir, host=args.host, port=args.port, browser=not args.no_browser)


if __name__ == "__main__":
    sys.exit(main())
