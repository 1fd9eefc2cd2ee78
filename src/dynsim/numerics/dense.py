"""Dense output: the solution inside an accepted step, from its stages.

Every method's continuous extension has the stage-polynomial form

    y(t + theta h) = y + sum_p Q_p theta^(p+1),   Q_p = sum_j dense[j, p] h k_j,

with `dense` from the tableau: its own interpolant (dopri5, tsit5: order 4; dop853: order 7)
or the cubic Hermite one (`dynsim.numerics.tableau.hermite_coefficients`). Q is one matrix
product over the stored stages; each evaluation gathers the rows of the trajectories asked
for and runs a Horner loop, vectorised over trajectories that each have their own theta.
"""

from __future__ import annotations

import numpy as np

from dynsim.numerics.backend import Array, Backend


class DenseStep:
    """The dense output of one step for n trajectories (all active ones or a subset)."""

    def __init__(self, backend: Backend, coefficients: Array, stages: Array, y: Array) -> None:
        """`coefficients` (J, P) is `dense`, `stages` (J, n * D) the h * k_j, `y` (n, D)."""
        self.backend = backend
        n, self.d = y.shape
        self.y = y
        # Q_p of each trajectory as one row of D * P values, so a gather copies whole rows
        self.q = (stages.T @ coefficients).reshape(n, -1)

    @classmethod
    def of_rows(cls, backend: Backend, q: Array, y: Array) -> DenseStep:
        """The dense output of rows taken from steps' `rows` (a step each, concatenated)."""
        out = cls.__new__(cls)
        out.backend, out.d, out.q, out.y = backend, y.shape[1], q, y
        return out

    def rows(self, where: np.ndarray) -> tuple[Array, Array]:
        """Q and y of the trajectories `where`, copied (the step's buffers are reused)."""
        index = self.backend.index(where)
        return self.backend.take(self.q, index), self.backend.take(self.y, index)

    def __call__(self, theta: np.ndarray, rows: np.ndarray | slice | None = None) -> Array:
        """y at `theta` (host (m,), fractions of each step) for `rows` (None: all).

        `rows` are indices into the n trajectories of this step, or a slice of them.
        """
        b, d = self.backend, self.d
        q, y = self.q, self.y
        if isinstance(rows, slice):
            q, y = q[rows], y[rows]
        elif rows is not None:
            index = b.index(rows)
            q, y = b.take(q, index), b.take(y, index)
        m = y.shape[0]
        q = q.reshape(m * d, -1)
        th = b.from_host(np.repeat(theta, d))
        value = q[:, -1]
        for p in range(q.shape[1] - 2, -1, -1):
            value = value * th + q[:, p]
        return (value * th).reshape(m, d) + y


def stage_weights(coefficients: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Host (J, m) weights w with y(t + theta_i h) = y + h sum_j k_j w[j, i], for `theta` (m,).

    The same interpolant as `DenseStep`, written as stage weights: for a single system a
    few output times cost one matrix product over the stages.
    """
    powers = np.power.outer(np.asarray(theta, dtype=np.float64),
                            np.arange(1, coefficients.shape[1] + 1))
    return coefficients @ powers.T
