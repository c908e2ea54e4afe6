"""Runs on machines that do not share the sweep's disk: node-local scratch, and the trip back.

A cluster of machines with local disks has no sweep directory every node can write (and SQLite
on a network file system is a risk of its own). So a run on such a node is written to the
node's local scratch and its whole directory travels back to the sweep directory on the driver
when it ends, finished or stopped (a stopped run's partial directory comes back too, so that
`resume` and the next invocation of the sweep work from the driver). A run to be resumed
travels the other way first: the driver sends the directory it holds, and the node unpacks it
into its scratch before resuming.

Where a run is written is decided on the node (`run_on_this_node`):

- `SOCIETAS_SCRATCH` set in the node's environment: in that directory, always (what a cluster
  admin sets per node, e.g. to a local SSD);
- else, if the node sees the sweep directory the driver wrote (a marker file holding a token
  only this sweep knows): in place, as on one machine or a shared file system;
- else: in the system's temporary directory.

A directory travels as a gzip'd tar archive of its files (not the lock file, which belongs to
a process); it is unpacked beside its final place and swapped in by renames, so a reader of the
sweep directory never sees half a run.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from sim.runs.runlock import LOCK_FILENAME
from sim.sweeps.run_spec import RunOutcome, RunSpec, execute_spec

__all__ = ["MARKER_FILENAME", "SCRATCH_ENV", "pack", "partial_run", "place_marker",
           "run_on_this_node", "unpack"]

#: The node's own scratch directory for runs (set per node by whoever runs the cluster).
SCRATCH_ENV = "SOCIETAS_SCRATCH"
#: Written by the driver in the sweep directory, so a node can tell whether it sees it.
MARKER_FILENAME = ".societas-sweep-marker"
STORE_FILENAME = "run.sqlite"  # sim.store's; not imported so that workers start light


def pack(run_dir: Path) -> bytes:
    """A run directory's files as a gzip'd tar archive (fast compression: SQLite shrinks
    several-fold, and the archive crosses a network)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as archive:
        for path in sorted(run_dir.rglob("*")):
            if path.is_file() and path.name != LOCK_FILENAME:
                archive.add(path, arcname=str(path.relative_to(run_dir)), recursive=False)
    return buffer.getvalue()


def unpack(data: bytes, run_dir: Path) -> None:
    """Replace `run_dir` by the archive's contents: unpacked beside it, then swapped in."""
    run_dir = Path(run_dir)
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    incoming = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.incoming-", dir=run_dir.parent))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            archive.extractall(incoming, filter="data")  # no absolute paths, links or '..'
        old = None
        if run_dir.exists():
            old = run_dir.with_name(f".{run_dir.name}.old-{incoming.name[-8:]}")
            run_dir.rename(old)
        incoming.rename(run_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if incoming.exists():
            shutil.rmtree(incoming, ignore_errors=True)


def partial_run(run_dir: Path) -> bytes | None:
    """What the driver sends with a run it holds a store of (one to resume), else None."""
    return pack(run_dir) if (run_dir / STORE_FILENAME).is_file() else None


def place_marker(sweep_dir: Path, token: str) -> Path:
    """Let nodes that see the sweep directory know it (`run_on_this_node`)."""
    marker = sweep_dir / MARKER_FILENAME
    marker.write_text(token, encoding="ascii")
    return marker


def _sees(marker: str, token: str) -> bool:
    try:
        return Path(marker).read_text(encoding="ascii") == token
    except OSError:
        return False


def run_on_this_node(spec: RunSpec, seed: bytes | None, marker: str, token: str,
                     stop_requested: Callable[[], bool] | None = None
                     ) -> tuple[RunOutcome, bytes | None]:
    """Run (or resume) `spec` here; returns its outcome and, when it ran in this node's
    scratch, its directory as an archive for the driver (the scratch copy is removed).
    `stop_requested` stops the run at a round, resumably (`execute_spec`)."""
    scratch = os.environ.get(SCRATCH_ENV)
    if not scratch and _sees(marker, token):
        return execute_spec(spec, stop_requested), None
    base = Path(scratch) if scratch else Path(tempfile.gettempdir()) / "societas-scratch"
    local = base / token / spec.name
    shutil.rmtree(local, ignore_errors=True)  # a copy left by an earlier, killed try
    local.mkdir(parents=True)
    try:
        if seed is not None:
            unpack(seed, local)
        outcome = execute_spec(replace(spec, run_dir=str(local)), stop_requested)
        return replace(outcome, run_dir=spec.run_dir), pack(local)
    finally:
        shutil.rmtree(local, ignore_errors=True)
        with contextlib.suppress(OSError):
            local.parent.rmdir()  # the sweep's scratch folder, once its last run is out
