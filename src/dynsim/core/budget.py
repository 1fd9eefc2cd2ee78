"""Checking the memory a request needs before any of it is allocated.

A request's size follows from its shape (trajectories x output times x states, grid points,
sweep values). `check_memory` compares that estimate with the memory available now (Linux:
`MemAvailable`, capped by the cgroup limit; elsewhere the physical memory) and refuses what
cannot fit with a message giving the estimate and the way out. Without the check, numpy's
allocation succeeds lazily and the kernel kills the process later with no message.
"""

from __future__ import annotations

import os
from pathlib import Path

from dynsim.core.errors import InputError

FLOAT = 8
"""Bytes per float64."""

USABLE = 0.8
"""Share of the available memory one request may take."""

BATCH_ROW_FLOATS = 40
"""Floats the batched integrator keeps per trajectory and state besides the outputs (stages,
error estimates, dense output and event work arrays; generous)."""


def available_memory() -> int | None:
    """Bytes of memory available to this process now, or None if unknown."""
    amounts = [v for v in (_meminfo_available(), _cgroup_room()) if v is not None]
    if amounts:
        return min(amounts)
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def batch_bytes(trajectories: int, times: int, states: int) -> int:
    """Estimated bytes of a batched integration: its outputs plus the solver's work arrays."""
    return FLOAT * trajectories * states * (times + BATCH_ROW_FLOATS)


def check_memory(needed: float, what: str, way_out: str) -> None:
    """Refuse a request of `needed` bytes that cannot fit in the memory available.

    `what` names the request ("1 trajectory x 1e9 output times x 3 states"), `way_out` says
    what to change.
    """
    available = available_memory()
    if available is None or needed <= USABLE * available:
        return
    raise InputError(f"{what} needs about {format_bytes(needed)} of memory, but only "
                     f"{format_bytes(available)} is available; {way_out}")


def format_bytes(count: float) -> str:
    """1.5e9 -> '1.5 GB' (decimal units)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= size:
            return f"{count / size:.3g} {unit}"
    return f"{int(count)} bytes"


def _meminfo_available() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def _cgroup_room() -> int | None:
    """The cgroup (v2) limit minus what the group uses, if there is a limit."""
    root = Path("/sys/fs/cgroup")
    try:
        limit = (root / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int((root / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None
