"""An adaptive Butcher tableau laid out for the stepper (`dynsim.learn.stepper`).

The stepper runs a method in one of two forms:

- the FSAL form of the numerics (`ButcherTableau.matrices`): the last stage is
  f(t + h, y_new) and starts the next step;
- torchdiffeq's form (`MethodSpec.carry_last`, fehlberg2 and adaptive_heun, always with
  `mid`): the method as written, its last stage (at c = 1, evaluated at the embedded
  solution) starting the next step although y_new is the propagated solution. One call
  per step fewer, and what torchdiffeq computes.

The dense output is the tableau's own, or with `MethodSpec.mid` torchdiffeq's quartic
through y0, y(t + h/2) = y + h sum mid_j k_j and y_new with the first and last stages as
end slopes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from dynsim.numerics.tableau import quartic_coefficients

_METHODS: dict[tuple[Any, ...], Method] = {}


def method_for(settings: Any, like: torch.Tensor) -> Method:
    """The (cached) `Method` of the settings' method for `like`'s dtype and device."""
    spec = settings.spec
    key = (id(settings.tableau), spec.carry_last, spec.mid, like.dtype, like.device)
    method = _METHODS.get(key)  # (the Method keeps the tableau alive)
    if method is None:
        if len(_METHODS) > 64:
            _METHODS.clear()
        method = _METHODS[key] = Method(settings, like)
    return method


class Method:
    """A tableau as tensors of one dtype and device, laid out for the stepper.

    One step keeps a single accumulator Z of shape (R, *state) whose rows are linear in the
    stages: row i - 1 (1 <= i < S) holds the increment of stage i's input over y,
    h sum_j A[i, j] k_j, then (`new_row`) that of y_new (the last stage input in the FSAL
    form), those of the dense output's extra stages, the dense output's Bernstein
    coefficients h sum_j dense[j, p] k_j and the error estimates h sum_j e_j k_j. Stage j
    adds its k_j to every row at once, Z += h G[:, j] k_j (one `addcmul`), and stage i's
    input is y + Z[i - 1]: three autograd nodes per stage, no stacking and no reshapes
    around func. The rows hold increments rather than y plus them, so y is added once
    (rounding at |y| once, as with a single matrix product).
    """

    def __init__(self, settings: Any, like: torch.Tensor) -> None:
        tableau, spec = settings.tableau, settings.spec
        self.tableau = tableau
        self.carry_last = spec.carry_last
        m = tableau.matrices
        if spec.carry_last:
            a, c, b = tableau.matrix(), np.array(tableau.c), np.array(tableau.b)
            errors = [np.array(w) for w in (tableau.b_error, tableau.b_error_low)
                      if w is not None]
            dense_a, dense_c = np.zeros((0, len(c))), np.zeros(0)
        else:
            a, c, b = m.A, m.c, m.b
            errors = [w for w in (m.e, m.e_low) if w is not None]
            dense_a, dense_c = m.dense_A, m.dense_c
        dense = m.dense if spec.mid is None else np.array(quartic_coefficients(b, spec.mid))
        self.dense = dense  # (S + X, P): y(t + th h) = y + h sum_j k_j sum_p dense[j, p] th^(p+1)
        s, x, p = len(c), len(dense_c), dense.shape[1]
        self.stages, self.extra = s, x
        self.c, self.dense_c = c.tolist(), dense_c.tolist()
        self.new_row = s - 1 if spec.carry_last else s - 2
        first = s - 1 + int(spec.carry_last)  # the first row after the stage inputs and y_new
        self.dense_row, self.error_row = first + x, first + x + p
        rows = np.zeros((self.error_row + len(errors), s + x))  # row r gets h G[r, j] k_j
        rows[:s - 1, :s] = a[1:]
        rows[self.new_row, :s] = b
        rows[first:first + x] = dense_a
        rows[self.dense_row:self.error_row] = _bernstein(p) @ dense.T
        for i, w in enumerate(errors):
            rows[self.error_row + i, :s] = w
        self.rows = len(rows)
        self.n_errors = len(errors)

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.tensor(array, dtype=like.dtype, device=like.device)

        self._columns = tensor(rows.T)  # (J, R)
        # without autograd: the stages stacked as K (J, n), stage inputs y + h A[i, :i] K[:i]
        # and the rows after the stage inputs as one product h G[S-1:, :S] K[:S]
        self.a_rows = [tensor(a[i:i + 1, :i]) for i in range(s)]
        self.tail = tensor(rows[s - 1:, :s])
        self._shaped: dict[int, list[torch.Tensor]] = {}
        self.degree = p
        self._binomials = [(math.comb(p, q), q, p - q) for q in range(1, p + 1)]
        # a non-finite end stage escapes error weights that ignore it: check it then
        self.check_end = bool(errors) and all(w[-1] == 0 for w in errors)
        self.exponent = 1.0 / (tableau.error_order + 1)

    def bernstein(self, theta: float) -> list[float]:
        """The Bernstein polynomials b_1 .. b_P of the dense output's degree P at `theta`."""
        rest = 1.0 - theta
        return [c * theta**q * rest**r for c, q, r in self._binomials]

    def shaped(self, ndim: int) -> list[torch.Tensor]:
        """The columns of G as (R, 1, ..., 1), to scale a stage of `ndim` dimensions."""
        out = self._shaped.get(ndim)
        if out is None:
            shape = (self.rows,) + (1,) * ndim
            out = self._shaped[ndim] = [col.reshape(shape) for col in self._columns]
        return out


def _bernstein(degree: int) -> np.ndarray:
    """(P, P) map from the coefficients of theta^1 .. theta^P to those of the Bernstein
    polynomials b_1 .. b_P of degree P (b_q = C(P, q) theta^q (1 - theta)^(P - q)).

    The dense output's monomial coefficients alternate in sign and reach ~10 times the
    step's change; its Bernstein coefficients stay near the interpolant's values, and the
    b_q are non-negative, so in float32 the interpolant is summed without cancellation.
    """
    return np.array([[math.comb(q, p) / math.comb(degree, p) if p <= q else 0.0
                      for p in range(1, degree + 1)] for q in range(1, degree + 1)])
