"""`stream_csv`: simulate and write CSV in chunks as they are computed, in bounded memory.

The output keeps the CSV's trajectory-major order: trajectories are integrated in groups
small enough that a group's rows fit in `CHUNK_BYTES`; a trajectory whose rows alone do not
fit is integrated window by window of output times, each window starting from the state
where the last one ended (the adaptive step size restarts at each window, so values agree
with a single run to the tolerances, not bit for bit; `max_steps` applies per window). The
`status` column is always written: a row written before its trajectory failed says
`success`; the last row of each trajectory says how it ended (docs/csv.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TextIO

import numpy as np

from dynsim.core.budget import FLOAT
from dynsim.core.csvio import csv_header, csv_rows
from dynsim.core.errors import InputError
from dynsim.core.simulate import DEFAULT_POINTS, as_initial_states, as_time_span, get_system
from dynsim.core.system import System
from dynsim.core.trajectories import Status

CHUNK_BYTES = 32 * 10**6
"""Output values (bytes) integrated and written at a time."""


def stream_csv(system: str | System, y0: Any, t_span: Sequence[float], handle: TextIO, *,
               params: Mapping[str, float] | None = None, points: int = DEFAULT_POINTS,
               chunk_bytes: int = CHUNK_BYTES,
               **options: Any) -> list[tuple[Status, str]]:
    """Simulate like `dynsim.simulate` and write the CSV to `handle` chunk by chunk.

    `options` are `simulate`'s (solver, dt, rtol, atol, max_steps, ...; not `t_eval` or
    `events`). Returns (status, message) per trajectory.
    """
    from dynsim.core.simulate import simulate

    sys_obj = get_system(system)
    states = as_initial_states(y0, sys_obj)
    t0, t1 = as_time_span(t_span)
    if not isinstance(points, int) or isinstance(points, bool) or points < 2:
        raise InputError(f"points must be a whole number >= 2, got {points!r}")
    row_bytes = FLOAT * (sys_obj.dimension + 1)
    per_group = max(1, chunk_bytes // (row_bytes * points))
    window = max(2, chunk_bytes // row_bytes)
    handle.write(csv_header(sys_obj.states, with_status=True))
    ends: list[tuple[Status, str]] = []
    for first in range(0, len(states), per_group):
        group = states[first:first + per_group]
        ended = [(Status.SUCCESS, "")] * len(group)
        whole = per_group > 1 or points <= window
        start = 0
        for times in _window_iter(t0, t1, points, window, 0):
            traj = simulate(sys_obj, group, (times[0], times[-1]), params=params,
                            t_eval=times, **options)
            y, skip = traj.y, (0 if start == 0 else 1)
            for j, status in enumerate(traj.status):
                if ended[j][0] == Status.SUCCESS:
                    ended[j] = (status, traj.messages[j])
            if whole:  # whole trajectories: their final statuses are known
                for j in range(len(group)):
                    handle.writelines(csv_rows(first + j, times, y[j], ended[j][0]))
                break
            row = first
            failed = ended[0][0] != Status.SUCCESS
            handle.writelines(csv_rows(row, times[skip:], y[0, skip:],
                                       ended[0][0] if failed else Status.SUCCESS))
            start += len(times) - 1
            if failed:
                _write_rest(handle, row, t0, t1, points, start + 1, window,
                            sys_obj.dimension, ended[0][0])
                break
            group = y[:, -1]
        ends += ended
    return ends


def _window_iter(t0: float, t1: float, points: int, window: int,
                 start: int) -> Iterator[np.ndarray]:
    step = (t1 - t0) / (points - 1)
    while start < points - 1:
        stop = min(points, start + window)
        times = np.arange(start, stop, dtype=np.float64) * step + t0
        if stop == points:
            times[-1] = t1
        yield times
        start = stop - 1


def _write_rest(handle: TextIO, row: int, t0: float, t1: float, points: int, start: int,
                window: int, dimension: int, status: Status) -> None:
    """NaN rows of trajectory `row` from output time `start` on, marked with `status`."""
    if start >= points:
        return
    for times in _window_iter(t0, t1, points, window, start - 1):
        nan = np.full((len(times) - 1, dimension), np.nan)
        handle.writelines(csv_rows(row, times[1:], nan, status))
