"""Small timing helpers shared by the benchmarks (they are not part of the test suite)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any


def best_of(function: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The shortest wall time of `repeats` calls of `function()`, and its last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def best_of_interleaved(functions: Sequence[Callable[[], Any]],
                        repeats: int) -> list[tuple[float, Any]]:
    """Like `best_of` for each function, with the runs taking turns (fair under load)."""
    best: list[float] = [float("inf")] * len(functions)
    results: list[Any] = [None] * len(functions)
    for _ in range(repeats):
        for i, function in enumerate(functions):
            start = time.perf_counter()
            results[i] = function()
            best[i] = min(best[i], time.perf_counter() - start)
    return list(zip(best, results, strict=True))


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows as a plain-text table with aligned columns."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


class StolenTime:
    """The share of CPU time the virtual machine's host took during a `with` block (the
    'steal' column of /proc/stat): on a shared host it is why the same run of a benchmark
    varies twofold. None where /proc/stat is missing."""

    def __init__(self) -> None:
        self.share: float | None = None
        self._start: list[int] | None = None

    @staticmethod
    def _counters() -> list[int] | None:
        try:
            with open("/proc/stat") as stat:
                fields = stat.readline().split()[1:]
        except OSError:
            return None
        return [int(v) for v in fields[:8]] if len(fields) >= 8 else None

    def __enter__(self) -> StolenTime:
        self._start = self._counters()
        return self

    def __exit__(self, *exc: object) -> None:
        end = self._counters()
        if self._start is None or end is None:
            return
        spent = [b - a for a, b in zip(self._start, end, strict=True)]
        self.share = spent[7] / sum(spent) if sum(spent) else 0.0

    def __str__(self) -> str:
        return "unknown" if self.share is None else f"{self.share:.0%}"
