"""Butcher tableaus: explicit Runge–Kutta methods as checked, frozen data.

A tableau holds the method (c, a, b), optionally an embedded error estimate and a continuous
extension (dense output). The integrator (`dynsim.numerics.engine`) steps any of them; it
works on the *FSAL form* of a method (see `ButcherTableau.fsal_stages`), in which the last
stage is always f(t + h, y_new). For FSAL methods (dopri5, tsit5, bosh3, dop853) that is the
method itself; for the others one stage is appended. That stage is the next step's first
stage, so it costs nothing, and it gives every method a cubic Hermite dense output for free.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

import numpy as np

Number = float | int | Fraction

_TOL = 1e-14
"""Consistency conditions hold to this tolerance, relative to the size of the summed terms."""


def _floats(values: Sequence[Number]) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def _close(terms: Sequence[float], target: float) -> bool:
    """Whether `sum(terms) == target` up to rounding of terms of that size."""
    scale = 1.0 + math.fsum(abs(x) for x in terms) + abs(target)
    return abs(math.fsum(terms) - target) <= _TOL * scale


@dataclass(frozen=True)
class RKMatrices:
    """A tableau in FSAL form as float64 arrays, ready for the integrator.

    `A` (S, S) strictly lower triangular, `c` (S,), `b` (S,) with `A[-1, :-1] == b[:-1]`,
    `b[-1] == 0`, `c[-1] == 1`. `e`/`e_low` (S,) are the error weights or None. `dense_A`
    (X, S + X) and `dense_c` (X,) are the X extra stages of the dense output, and `dense`
    (S + X, P) its coefficients: y(t + theta h) = y + h sum_j k_j sum_p dense[j, p] theta^(p+1).
    """

    A: np.ndarray
    c: np.ndarray
    b: np.ndarray
    e: np.ndarray | None
    e_low: np.ndarray | None
    dense: np.ndarray
    dense_A: np.ndarray
    dense_c: np.ndarray

    @property
    def stages(self) -> int:
        """S, the stages of one step in FSAL form (S - 1 new right-hand-side calls)."""
        return len(self.c)


@dataclass(frozen=True)
class ButcherTableau:
    """An explicit Runge–Kutta method, with optional error estimate and dense output.

    - `c` (s,), `a` (row i of the strictly lower triangle holds i entries), `b` (s,): the
      method, of order `order`. `fsal=True` declares the last row of `a` equal to `b`
      (first same as last), so the last stage is f(t + h, y_new).
    - `b_error` (s,): b - b_hat, the weights of the local error estimate (summing to 0) of
      the embedded solution b_hat; the estimate behaves like h^(error_order + 1), so
      `error_order` is the order of b_hat. `b_error_low` (s,) optionally adds a second,
      lower-order estimate, combined as in Hairer's DOP853:
      err = |e|^2 / sqrt(|e|^2 + 0.01 |e_low|^2) (see `dynsim.numerics.controller`), which
      behaves like h^(2 q - q_low + 1) for estimates of orders q and q_low: `error_order` is
      then 2 q - q_low (7 for DOP853's 5 and 3).
    - `dense` (rows: the stages of the FSAL form, then the `dense_c`/`dense_a` extra stages;
      columns: powers theta^1, theta^2, ...): the method's own continuous extension of
      order `dense_order`, y(t + theta h) = y + h sum_j k_j sum_p dense[j][p] theta^(p+1).
      Extra stage i has `dense_c[i]` and a row `dense_a[i]` over all earlier stages. Without
      `dense`, the cubic Hermite interpolant through both ends (order 3) is used.

    The constructor checks the consistency conditions (rows of A sum to c, weights sum to 1,
    error weights to 0, the dense output matches b at theta = 1 and sums to theta) and raises
    `ValueError` naming the first one that fails.
    """

    name: str
    order: int
    c: Sequence[Number]
    a: Sequence[Sequence[Number]]
    b: Sequence[Number]
    b_error: Sequence[Number] | None = None
    error_order: int | None = None
    b_error_low: Sequence[Number] | None = None
    fsal: bool = False
    dense: Sequence[Sequence[Number]] | None = None
    dense_order: int | None = None
    dense_c: Sequence[Number] = ()
    dense_a: Sequence[Sequence[Number]] = ()
    reference: str = ""

    def __post_init__(self) -> None:
        c, b = _floats(self.c), _floats(self.b)
        a = tuple(_floats(row) for row in self.a)
        s = len(c)
        if not isinstance(self.order, int) or self.order < 1:
            self._fail(f"order must be a positive integer, got {self.order!r}")
        if s == 0 or len(b) != s or len(a) != s or any(len(r) != i for i, r in enumerate(a)):
            self._fail(f"c, b and the rows of a must describe {s} stages (row i of a holds i "
                       "entries)")
        if c[0] != 0.0:
            self._fail(f"c[0] must be 0 for an explicit method, got {c[0]!r}")
        for i, row in enumerate(a):
            if not _close(row, c[i]):
                self._fail(f"row {i} of a sums to {math.fsum(row)!r}, not c[{i}] = {c[i]!r}")
        if not _close(b, 1.0):
            self._fail(f"weights b sum to {math.fsum(b)!r}, not 1")
        if self.fsal and (a[-1] != b[:-1] or b[-1] != 0.0 or c[-1] != 1.0):
            self._fail("FSAL needs the last row of a equal to b, b[-1] = 0 and c[-1] = 1")
        object.__setattr__(self, "c", c)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)
        self._check_error_weights(s)
        self._check_dense()

    def _fail(self, message: str) -> None:
        raise ValueError(f"tableau {self.name}: {message}")

    def _check_error_weights(self, s: int) -> None:
        if (self.b_error is None) != (self.error_order is None):
            self._fail("give both b_error and error_order, or neither")
        if self.b_error_low is not None and self.b_error is None:
            self._fail("b_error_low needs b_error")
        for label in ("b_error", "b_error_low"):
            weights = getattr(self, label)
            if weights is None:
                continue
            e = _floats(weights)
            if len(e) != s or not _close(e, 0.0):
                self._fail(f"{label} must be {s} numbers summing to 0")
            object.__setattr__(self, label, e)

    def _check_dense(self) -> None:
        dense_c = _floats(self.dense_c)
        dense_a = tuple(_floats(row) for row in self.dense_a)
        object.__setattr__(self, "dense_c", dense_c)
        object.__setattr__(self, "dense_a", dense_a)
        if self.dense is None:
            if dense_c or dense_a or self.dense_order is not None:
                self._fail("dense_c, dense_a and dense_order need dense coefficients")
            return
        if self.dense_order is None:
            self._fail("dense coefficients need dense_order")
        s = self.fsal_stages
        if len(dense_a) != len(dense_c) or any(len(r) != s + i for i, r in enumerate(dense_a)):
            self._fail(f"dense_a must hold one row per extra stage, row i with {s} + i entries")
        for i, row in enumerate(dense_a):
            if not _close(row, dense_c[i]):
                self._fail(f"row {i} of dense_a sums to {math.fsum(row)!r}, not {dense_c[i]!r}")
        rows = tuple(_floats(row) for row in self.dense)
        width = len(rows[0]) if rows else 0
        if len(rows) != s + len(dense_c) or width == 0 or any(len(r) != width for r in rows):
            self._fail(f"dense must have {s + len(dense_c)} rows (FSAL-form and extra stages) "
                       "of equal length")
        weights = self._fsal_b() + (0.0,) * len(dense_c)
        for j, row in enumerate(rows):
            if not _close(row, weights[j]):
                self._fail(f"dense row {j} sums to {math.fsum(row)!r} at theta = 1, "
                           f"not b[{j}] = {weights[j]!r}")
        for p in range(width):
            if not _close([row[p] for row in rows], 1.0 if p == 0 else 0.0):
                self._fail(f"dense column {p} must sum to {1 if p == 0 else 0} (the weights "
                           "must sum to theta)")
        object.__setattr__(self, "dense", rows)

    def _fsal_b(self) -> tuple[float, ...]:
        return tuple(self.b) if self.fsal else (*self.b, 0.0)

    @property
    def stages(self) -> int:
        """Number of stages s of the method as written."""
        return len(self.c)

    @property
    def fsal_stages(self) -> int:
        """Stages of the FSAL form: s for FSAL methods, else s + 1 (the end stage appended)."""
        return self.stages if self.fsal else self.stages + 1

    @property
    def adaptive(self) -> bool:
        """Whether the method carries an error estimate for step-size control."""
        return self.b_error is not None

    @property
    def interpolant_order(self) -> int:
        """Order of the dense output: `dense_order`, or 3 for the cubic Hermite default."""
        return self.dense_order if self.dense_order is not None else 3

    def matrix(self) -> np.ndarray:
        """The method's own (s, s) A matrix as float64."""
        return _lower(self.a, self.stages)

    @cached_property
    def matrices(self) -> RKMatrices:
        """The FSAL form as float64 arrays (see `RKMatrices`)."""
        s = self.fsal_stages
        rows = self.a if self.fsal else (*self.a, tuple(self.b))
        c = np.array(self.c if self.fsal else (*self.c, 1.0))
        b = np.array(self._fsal_b())

        def padded(weights: Sequence[float] | None) -> np.ndarray | None:
            if weights is None:
                return None
            return np.array(weights if self.fsal else (*weights, 0.0))

        x = len(self.dense_c)
        dense_a = np.zeros((x, s + x))
        for i, row in enumerate(self.dense_a):
            dense_a[i, :len(row)] = row
        dense = np.array(self.dense) if self.dense is not None else hermite_coefficients(b)
        return RKMatrices(A=_lower(rows, s), c=c, b=b, e=padded(self.b_error),
                          e_low=padded(self.b_error_low), dense=dense, dense_A=dense_a,
                          dense_c=np.array(self.dense_c))


def _lower(rows: Sequence[Sequence[float]], s: int) -> np.ndarray:
    out = np.zeros((s, s))
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out


def hermite_coefficients(b: np.ndarray) -> np.ndarray:
    """Cubic Hermite dense output of an FSAL-form method with weights `b` (S,), as (S, 3).

    Through y0, y1 = y0 + h sum b_j k_j with slopes k_0 = f(t, y0) and k_{S-1} = f(t + h, y1):
    y(theta) = y0 + h [(theta - 2 theta^2 + theta^3) k_0 + (3 theta^2 - 2 theta^3) sum b_j k_j
    + (theta^3 - theta^2) k_{S-1}].
    """
    out = np.outer(b, [0.0, 3.0, -2.0])
    out[0] += [1.0, -2.0, 1.0]
    out[-1] += [0.0, -1.0, 1.0]
    return out


def alternating_to_monomial(weights: Sequence[Sequence[float]]) -> tuple[tuple[float, ...], ...]:
    """Dense output given in Hairer's nested form, as coefficients of theta^1, theta^2, ...

    Hairer's DOP853 (and scipy's `Dop853DenseOutput`) writes y(theta) = y0 + theta (F0 +
    (1 - theta) (F1 + theta (F2 + (1 - theta) (F3 + ...)))) with F_m = h sum_j W[m, j] k_j.
    `weights` is W (rows m, columns stages j); the result has one row per stage j, as the
    `dense` field of `ButcherTableau` expects.
    """
    w = np.asarray(weights, dtype=float)
    basis = np.polynomial.Polynomial([0.0, 1.0])  # theta
    polys = []
    for m in range(w.shape[0]):
        polys.append(basis)
        basis = basis * (np.polynomial.Polynomial([1.0, -1.0]) if m % 2 == 0
                         else np.polynomial.Polynomial([0.0, 1.0]))
    width = w.shape[0]
    powers = np.zeros((w.shape[0], width))
    for m, poly in enumerate(polys):
        coef = poly.coef[1:]
        powers[m, :len(coef)] = coef
    return tuple(tuple(row) for row in w.T @ powers)


def quartic_coefficients(b: Sequence[float], mid: Sequence[float]) -> tuple[tuple[float, ...], ...]:
    """Dense output of an FSAL method through y0, y_mid, y1 and both end slopes, as (S, 4).

    `b` (S,) are the FSAL-form weights and `mid` (S,) the weights of y(t + h/2) =
    y0 + h sum mid_j k_j (summing to 1/2). The quartic through y0, y_mid, y1 with slopes
    k_0 and k_{S-1} at the ends (the interpolant torchdiffeq fits for every method) is
    y0 + h sum_j k_j (e0 theta + (eL - 4 e0 - 5 b + 16 mid) theta^2
    + (5 e0 - 3 eL + 14 b - 32 mid) theta^3 + (2 eL - 2 e0 - 8 b + 16 mid) theta^4),
    e0 and eL the first and last unit vectors.
    """
    bb, mm = np.asarray(b, dtype=float), np.asarray(mid, dtype=float)
    e0, el = np.zeros(len(bb)), np.zeros(len(bb))
    e0[0], el[-1] = 1.0, 1.0
    columns = [e0, el - 4 * e0 - 5 * bb + 16 * mm, 5 * e0 - 3 * el + 14 * bb - 32 * mm,
               2 * el - 2 * e0 - 8 * bb + 16 * mm]
    return tuple(tuple(row) for row in np.array(columns).T)
