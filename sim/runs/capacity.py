"""Will a run fit in memory? Checked before it starts, from the scenario's own estimate.

Without this, a mistyped population (`agents=1e9`) allocates until the machine swaps or the
kernel kills something, and the user learns nothing from the wreck. The estimate is the
scenario's (`ScenarioSpec.memory_estimate`, bytes measured per agent on real runs); a scenario that
gives none, or a machine that does not say what it has free, is not checked.
"""

from __future__ import annotations

import os

from sim.errors import UserError
from sim.registry import ScenarioSpec


def check_memory(scenario: ScenarioSpec, config: object) -> None:
    """Refuse a run whose estimated peak memory exceeds what the machine has available."""
    if scenario.memory_estimate is None:
        return
    available = available_memory()
    if available is None:
        return
    # what the run adds: the interpreter and libraries are resident already, so not "available"
    needed = scenario.memory_estimate(config)
    if needed > available:
        raise UserError(
            f"this run would need about {_size(needed)} of memory, but the machine has "
            f"{_size(available)} available; make the run smaller (e.g. fewer agents)"
        )


def available_memory() -> int | None:
    """Bytes the kernel can give without swapping (Linux's MemAvailable), None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:  # other POSIX systems: free physical memory, a lower bound
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
