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
