"""Serving the view on this machine, offline: Solara's Starlette app under uvicorn.

Solara's page is made offline here, not by hope:

- its front-end files come from the `solara-assets` package, which Solara serves itself only
  when both have the same version: the `view` extra pins the two together (see pyproject);
- production mode leaves out the check the page otherwise loads from solara.dev, and the
  development tools;
- telemetry is off, and `solara run` (whose start asks PyPI for a newer version) is not used.

The browser tests fail on any request that leaves 127.0.0.1 (tests/test_view_browser.py).
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import sys
import threading
import time
import warnings
import webbrowser
from pathlib import Path

#: The run the served app shows (`analysis.viewer.app` reads it).
RUN_ENV = "SOCIETAS_VIEW_RUN"
#: Solara's settings, fixed before Solara is imported.
OFFLINE_SETTINGS = {
    "SOLARA_MODE": "production",
    "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False",
    "SOLARA_APP": "analysis.viewer.app:Page",
    "SOLARA_THEME_SHOW_BANNER": "False",
}


def bind(host: str, port: int) -> socket.socket:
    """The listening socket (port 0: a free one), or one `societas: error:` line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        # a name that does not resolve, or an address not of this machine, is the host's fault
        fix = ("choose another address with --host"
               if isinstance(error, socket.gaierror) or error.errno == errno.EADDRNOTAVAIL
               else "choose another port with --port")
        print(f"societas: error: cannot serve the view on {host}:{port}: "
              f"{error.strerror or error}; {fix}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None  # a usage error, as every `societas: error:` line
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve(run_dir: str | Path, *, host: str = "127.0.0.1", port: int = 8765,
          browser: bool = True) -> int:
    """Serve the view of `run_dir` (or of every run in a directory of runs) until SIGINT or
    SIGTERM; prints `view: URL` once it answers."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        print(f"societas: error: {run_dir} is not a run directory (nor a directory of runs)",
              file=sys.stderr)
        return 2
    sock = bind(host, port)
    if not host.startswith("127.") and host not in ("localhost", "::1"):
        print(f"societas: the view is served to the network on {host}: anyone who can reach "
              "this machine can read the run", file=sys.stderr, flush=True)
    os.environ.update(OFFLINE_SETTINGS)
    os.environ[RUN_ENV] = str(run_dir.resolve())
    # Solara warns on every page that cookies for iframes need https: not our use
    warnings.filterwarnings("ignore", message="Cookies with samesite=none")
    import uvicorn
    from solara.server.starlette import app

    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on",
                                           timeout_graceful_shutdown=2,
                                           ws="websockets-sansio"))
    url = url_of(sock)

    def announce() -> None:
        deadline = time.monotonic() + 120
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        if server.started:
            print(f"view: {url}", flush=True)
            if browser:
                webbrowser.open(url)

    threading.Thread(target=announce, daemon=True).start()
    # Ctrl-C in a terminal reaches the view's process too: that is its end, not an error
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    return 0
