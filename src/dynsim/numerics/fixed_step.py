"""Fixed-step Runge–Kutta integration of a batch of trajectories (numpy)."""

from __future__ import annotations

import math

import numpy as np

from dynsim.core.solver import Problem, Solution
from dynsim.core.trajectories import Status
from dynsim.numerics.outcomes import Outcomes
from dynsim.numerics.stages import rk_stages, weighted_sum
from dynsim.numerics.tableau import ButcherTableau

DEFAULT_STEPS = 1000
"""Without `dt`, a fixed-step method takes this many steps over the whole span."""


class FixedStepRungeKutta:
    """A fixed-step solver for any `ButcherTableau`.

    Between consecutive output times it takes the smallest number of equal steps no longer
    than `dt`, so every output time is hit exactly and no interpolation is needed. Without
    `dt` the step is |t1 - t0| / 1000.
    """

    adaptive = False

    def __init__(self, tableau: ButcherTableau, description: str) -> None:
        self.tableau = tableau
        self.name = tableau.name
        self.description = description

    def solve(self, problem: Problem) -> Solution:
        """Integrate every trajectory of `problem` (see `dynsim.Solver`)."""
        t0, t1 = problem.t_span
        dt = problem.dt or abs(t1 - t0) / DEFAULT_STEPS
        grid = np.concatenate(([t0], problem.t_eval)) if problem.t_eval[0] != t0 else \
            problem.t_eval
        skip = len(grid) - len(problem.t_eval)
        n, d = problem.y0.shape
        out = np.full((n, len(problem.t_eval), d), np.nan)
        outcomes = Outcomes(n)
        steps = np.zeros(n, dtype=np.int64)
        active = np.arange(n)
        y = problem.y0.astype(float, copy=True)
        if skip == 0:
            out[:, 0] = y
        for j in range(1, len(grid)):
            span = grid[j] - grid[j - 1]
            substeps = max(1, math.ceil(abs(span) / dt - 1e-9))
            h = span / substeps
            for i in range(substeps):
                if problem.cancel is not None and problem.cancel.cancelled:
                    outcomes.end(active, Status.CANCELLED, f"cancelled at t = {grid[j - 1]:.6g}")
                    return outcomes.solution(out, {"steps": steps})
                t = grid[j - 1] + i * h
                try:
                    k = rk_stages(problem.rhs, t, y, h, self.tableau)
                except Exception as exc:
                    outcomes.end(active, Status.RHS_ERROR,
                                 f"the right-hand side raised {type(exc).__name__}: {exc} "
                                 f"at t = {t:.6g}")
                    return outcomes.solution(out, {"steps": steps})
                y = weighted_sum(y, h, self.tableau.b, k)
                steps[active] += 1
                finite = np.isfinite(y).all(axis=1)
                if not finite.all():
                    outcomes.end(active[~finite], Status.NON_FINITE,
                                 f"the state became non-finite between t = {t:.6g} and "
                                 f"{t + h:.6g} (blow-up); try a smaller dt or an adaptive solver")
                    active, y = active[finite], y[finite]
                    if active.size == 0:
                        return outcomes.solution(out, {"steps": steps})
            out[active, j - skip] = y
        return outcomes.solution(out, {"steps": steps})
