"""CSV export and import of trajectories: `trajectory,t,<state names>`, trajectory-major.

Floats are written with Python's shortest round-trip repr, so every value parses back to the
identical float64 (NaN marks output times after a trajectory failed). When some trajectory
did not succeed, a last column `status` holds each trajectory's `Status` (the reader takes
it from the trajectory's last row). Files of successful runs are plain numbers:
`pandas.read_csv(path)` and `numpy.loadtxt(path, delimiter=",", skiprows=1)` read them as is.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from dynsim.core.atomic import atomic_write
from dynsim.core.budget import available_memory
from dynsim.core.cancel import CancelToken
from dynsim.core.errors import DataFileError
from dynsim.core.system import RESERVED_STATE_NAMES
from dynsim.core.textfile import read_user_text
from dynsim.core.trajectories import Status, Trajectories

FIXED_COLUMNS = ("trajectory", "t")
STATUS_COLUMN = "status"
"""The optional last column: the trajectory's `Status` (written when some did not succeed)."""
RESERVED_COLUMNS = RESERVED_STATE_NAMES
ROWS_PER_CHUNK = 20_000
"""Rows formatted at a time: writing memory stays small for any number of rows."""
SERIES_HINT = "(dynsim.read_csv_series reads trajectories with their own times)"


def write_csv(
    traj: Trajectories | Sequence[Trajectories], path: str | Path, *,
    cancel: CancelToken | None = None
) -> None:
    """Write `traj` to `path` atomically; on any failure an existing file stays untouched.

    A sequence of `Trajectories` (with the same states, each with its own times) is written
    as one file, numbered on; `read_csv_series` reads such a file back.
    """
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        write_csv_to(traj, handle, cancel=cancel)


def write_csv_to(
    traj: Trajectories | Sequence[Trajectories], handle: TextIO, *,
    cancel: CancelToken | None = None
) -> None:
    """Write `traj` (or several, each with its own times) as CSV text to an open stream.

    The `status` column is added only when some trajectory did not succeed, so the files
    of successful runs are plain numbers (see docs/csv.md).
    """
    parts = (traj,) if isinstance(traj, Trajectories) else tuple(traj)
    if not parts or any(p.states != parts[0].states for p in parts):
        raise DataFileError("write_csv needs trajectories, all with the same states")
    with_status = any(s != Status.SUCCESS for p in parts for s in p.status)
    handle.write(csv_header(parts[0].states, with_status))
    first = 0
    for part in parts:
        for index in range(part.n_trajectories):
            status = part.status[index] if with_status else None
            for chunk in csv_rows(first + index, part.t, part.y[index], status):
                if cancel is not None:
                    cancel.raise_if_cancelled("CSV export")
                handle.write(chunk)
        first += part.n_trajectories


def csv_header(states: tuple[str, ...], with_status: bool) -> str:
    """The header line: `trajectory,t,<states>` and `,status` if asked."""
    return ",".join((*FIXED_COLUMNS, *states, *((STATUS_COLUMN,) if with_status else ()))) + "\n"


def csv_rows(index: int, t: np.ndarray, y: np.ndarray, status: str | None) -> Iterator[str]:
    """Rows of trajectory `index` at times `t` (T,) with states `y` (T, D), in chunks of text;
    `status` (if not None) ends every row."""
    tail = f",{status}\n" if status is not None else "\n"
    for start in range(0, len(t), ROWS_PER_CHUNK):
        times = map(repr, t[start:start + ROWS_PER_CHUNK].tolist())
        rows = y[start:start + ROWS_PER_CHUNK].tolist()
        yield "".join(f"{index},{time},{','.join(map(repr, row))}{tail}"
                      for time, row in zip(times, rows, strict=True))


def read_csv(path: str | Path) -> Trajectories:
    """Read a `trajectory,t,<states>` CSV file back into `Trajectories`.

    Trajectories must be numbered 0..N-1, stored one after another, and share one time grid.
    Problems are reported as `FILE:LINE:COL: message`.
    """
    path, data, states, status = _read(path)
    return _to_trajectories(path, data, states, status)


def read_csv_series(path: str | Path) -> list[Trajectories]:
    """Read a `trajectory,t,<states>` CSV file whose trajectories may each have their own
    (irregular) times: one single-trajectory `Trajectories` per trajectory, in order.

    Within a trajectory the times must be finite and strictly increasing. Every file
    `read_csv` reads is read here too (with its statuses).
    """
    path, data, states, row_status = _read(path)
    starts, counts = _trajectory_rows(path, data[:, 0])
    out = []
    for i, (start, count) in enumerate(zip(starts, counts, strict=True)):
        block = data[start:start + count]
        t = block[:, 1]
        bad = np.flatnonzero(~np.isfinite(t))
        if bad.size:
            raise DataFileError(f"{path}:{start + bad[0] + 2}:{len(str(i)) + 2}: t must be a "
                                f"finite number, got {float(t[bad[0]])!r}")
        back = np.flatnonzero(np.diff(t) <= 0)
        if back.size:
            raise DataFileError(f"{path}:{start + back[0] + 3}:{len(str(i)) + 2}: times of "
                                f"trajectory {i} must increase, got {float(t[back[0] + 1])!r} "
                                f"after {float(t[back[0]])!r}")
        status = () if row_status is None else (row_status[start + count - 1],)
        out.append(Trajectories(t=t, y=block[None, :, 2:], states=states, status=status))
    return out


def _read(path: str | Path) -> tuple[Path, np.ndarray, tuple[str, ...], list[Status] | None]:
    """The file's rows as numbers, its states, and each row's status (None: no column)."""
    path = Path(path)
    text = read_user_text(path, DataFileError, limit=csv_size_limit())
    header = text.partition("\n")[0].rstrip("\r")
    states, with_status = _parse_header(path, header)
    width = 2 + len(states)
    data = _parse_rows(path, text, width, with_status)
    status = _parse_status(path, text, width, header) if with_status else None
    return path, data, states, status


def csv_size_limit() -> int:
    """The largest CSV file read: what its text and parsed numbers can take in memory."""
    available = available_memory()
    return MAX_CSV_BYTES if available is None else min(MAX_CSV_BYTES, int(available // 4))


MAX_CSV_BYTES = 16 * 10**9
"""CSV files larger than this are refused whatever the memory."""


def _parse_header(path: Path, header: str) -> tuple[tuple[str, ...], bool]:
    columns = [c.strip() for c in header.split(",")]
    with_status = len(columns) > 3 and columns[-1] == STATUS_COLUMN
    if with_status:
        columns = columns[:-1]
    if tuple(columns[:2]) != FIXED_COLUMNS or len(columns) < 3:
        raise DataFileError(
            f"{path}:1:1: header must be 'trajectory,t,<state names>', got '{header[:80]}'"
        )
    states = columns[2:]
    for offset, name in enumerate(states):
        if not name or name in states[:offset] or name in RESERVED_COLUMNS:
            col = len(",".join(columns[: 2 + offset])) + 2
            why = "is reserved" if name in RESERVED_COLUMNS else "is empty or repeated"
            raise DataFileError(f"{path}:1:{col}: state column name {name!r} {why}")
    return tuple(states), with_status


def _parse_rows(path: Path, text: str, width: int, with_status: bool) -> np.ndarray:
    body = text.split("\n", 1)[1] if "\n" in text else ""
    if not body.strip():
        raise DataFileError(f"{path}:2:1: the file has a header but no data rows")
    columns = width + with_status
    try:
        data = np.loadtxt(io.StringIO(body), delimiter=",", ndmin=2, dtype=np.float64,
                          usecols=range(width) if with_status else None)
    except ValueError:
        data = None
    if data is None or data.shape[1] != width:
        _raise_first_bad_cell(path, body, columns, width)
    return data


def _parse_status(path: Path, text: str, width: int, header: str) -> list[Status]:
    """The `status` cell of every row, checked to be a status name."""
    known = {s.value: s for s in Status}
    out = []
    for lineno, line in enumerate(text.split("\n")[1:], start=2):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        cell = line.rsplit(",", 1)[1].strip()
        if cell not in known:
            col = len(line) - len(line.rsplit(",", 1)[1]) + 1
            raise DataFileError(f"{path}:{lineno}:{col}: unknown status '{cell[:40]}'; "
                                f"expected one of {', '.join(known)}")
        out.append(known[cell])
    return out


def _raise_first_bad_cell(path: Path, body: str, columns: int, numbers: int) -> None:
    for lineno, line in enumerate(body.split("\n"), start=2):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        cells = line.split(",")
        if len(cells) != columns:
            raise DataFileError(
                f"{path}:{lineno}:1: expected {columns} comma-separated values, got {len(cells)}"
            )
        col = 1
        for cell in cells[:numbers]:
            try:
                float(cell)
            except ValueError:
                raise DataFileError(
                    f"{path}:{lineno}:{col}: expected a number, got '{cell.strip()[:40]}'"
                ) from None
            col += len(cell) + 1
    raise DataFileError(f"{path}:2:1: could not read the data rows")


def _trajectory_rows(path: Path, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First row and row count of each trajectory, checking the numbering 0, 1, 2, ..."""
    bad = np.flatnonzero((ids != np.round(ids)) | (ids < 0) | ~np.isfinite(ids))
    if bad.size:
        raise DataFileError(
            f"{path}:{bad[0] + 2}:1: trajectory must be a whole number >= 0, "
            f"got {float(ids[bad[0]])!r}"
        )
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    n = len(starts)
    expected = np.arange(n)
    if not np.array_equal(ids[starts], expected):
        row = starts[np.flatnonzero(ids[starts] != expected)[0]]
        raise DataFileError(
            f"{path}:{row + 2}:1: trajectories must be numbered 0, 1, 2, ... one after another; "
            f"found {int(ids[row])} where {int(expected[np.searchsorted(starts, row)])} belongs"
        )
    return starts, np.diff(np.r_[starts, len(ids)])


def _to_trajectories(path: Path, data: np.ndarray, states: tuple[str, ...],
                     row_status: list[Status] | None) -> Trajectories:
    ids = data[:, 0]
    starts, counts = _trajectory_rows(path, ids)
    n = len(starts)
    if np.any(counts != counts[0]):
        i = int(np.flatnonzero(counts != counts[0])[0])
        raise DataFileError(
            f"{path}:{starts[i] + 2}:1: trajectory {i} has {counts[i]} rows but trajectory 0 "
            f"has {counts[0]}; all trajectories must share one time grid {SERIES_HINT}"
        )
    t_count = int(counts[0])
    if not np.isfinite(data[:, 1]).all():
        row = int(np.flatnonzero(~np.isfinite(data[:, 1]))[0])
        raise DataFileError(f"{path}:{row + 2}:{len(str(int(ids[row]))) + 2}: t must be a "
                            f"finite number, got {float(data[row, 1])!r}")
    t = data[:t_count, 1]
    times = data[:, 1].reshape(n, t_count)
    mismatch = np.flatnonzero(np.any(times != t, axis=1))
    if mismatch.size:
        i = int(mismatch[0])
        j = int(np.flatnonzero(times[i] != t)[0])
        raise DataFileError(
            f"{path}:{i * t_count + j + 2}:{len(str(i)) + 2}: trajectory {i} has t = "
            f"{float(times[i, j])!r} where trajectory 0 has {float(t[j])!r}; all trajectories "
            f"must share one time grid {SERIES_HINT}"
        )
    y = data[:, 2:].reshape(n, t_count, len(states))
    status = () if row_status is None else tuple(row_status[(i + 1) * t_count - 1]
                                                  for i in range(n))
    return Trajectories(t=t, y=y, states=states, status=status)
