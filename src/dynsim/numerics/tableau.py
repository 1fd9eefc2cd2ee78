"""Butcher tableaus: explicit Runge–Kutta methods as checked, frozen data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

Number = float | int | Fraction


def _floats(values: Sequence[Number]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


@dataclass(frozen=True)
class ButcherTableau:
    """An explicit Runge–Kutta method.

    `c` (s,), `a` (rows of the strictly lower triangle: row i has i entries), `b` (s,)
    weights of the propagated solution of order `order`. Adaptive methods also give
    `b_error` = b - b_hat (the error-estimate weights, summing to 0) and `error_order`, the
    order of the embedded solution b_hat. The constructor checks the consistency conditions
    (rows of A sum to c, weights sum to 1, error weights to 0) to 1e-14.
    """

    name: str
    order: int
    c: Sequence[Number]
    a: Sequence[Sequence[Number]]
    b: Sequence[Number]
    b_error: Sequence[Number] | None = None
    error_order: int | None = None
    fsal: bool = False
    reference: str = ""

    def __post_init__(self) -> None:
        c, b = _floats(self.c), _floats(self.b)
        a = tuple(_floats(row) for row in self.a)
        s = len(c)
        if len(b) != s or len(a) != s or any(len(row) != i for i, row in enumerate(a)):
            raise ValueError(f"tableau {self.name}: c, b and the rows of a must describe {s} "
                             "stages (row i of a holds i entries)")
        for i, row in enumerate(a):
            if abs(sum(row) - c[i]) > 1e-14:
                raise ValueError(f"tableau {self.name}: row {i} of a sums to {sum(row)!r}, "
                                 f"not c[{i}] = {c[i]!r}")
        if abs(sum(b) - 1.0) > 1e-14:
            raise ValueError(f"tableau {self.name}: weights b sum to {sum(b)!r}, not 1")
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        if (self.b_error is None) != (self.error_order is None):
            raise ValueError(f"tableau {self.name}: give both b_error and error_order, or neither")
        if self.b_error is not None:
            e = _floats(self.b_error)
            if len(e) != s or abs(sum(e)) > 1e-14:
                raise ValueError(f"tableau {self.name}: error weights must be {s} numbers "
                                 "summing to 0")
            object.__setattr__(self, "b_error", e)
        if self.fsal and (a[-1] != b[:-1] or b[-1] != 0.0 or c[-1] != 1.0):
            raise ValueError(f"tableau {self.name}: FSAL needs the last row of a equal to b")

    @property
    def stages(self) -> int:
        """Number of stages s."""
        return len(self.c)

    @property
    def adaptive(self) -> bool:
        """Whether the method carries an error estimate for step-size control."""
        return self.b_error is not None

    def matrix(self) -> np.ndarray:
        """The full (s, s) A matrix as float64."""
        out = np.zeros((self.stages, self.stages))
        for i, row in enumerate(self.a):
            out[i, :i] = row
        return out
