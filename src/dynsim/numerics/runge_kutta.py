"""`RungeKuttaSolver`: a solver plugin object for any `ButcherTableau`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from dynsim.core.errors import InputError
from dynsim.core.plugins import active_plugins
from dynsim.core.solver import Problem, Solution
from dynsim.numerics.engine import integrate, iterate
from dynsim.numerics.tableau import ButcherTableau


class RungeKuttaSolver:
    """Explicit Runge–Kutta with the batched engine (`dynsim.numerics.engine`).

    Adaptive when the tableau has an error estimate (`problem.dt` is then ignored), fixed
    step otherwise (`problem.dt`, default |t1 - t0| / 1000, landing on every output time).
    """

    def __init__(self, tableau: ButcherTableau, description: str) -> None:
        self.tableau = tableau
        self.name = tableau.name
        self.description = description

    @property
    def adaptive(self) -> bool:
        """Whether this solver controls its step size."""
        return self.tableau.adaptive

    def _options(self, problem: Problem) -> dict[str, Any]:
        return dict(t_span=problem.t_span, rtol=problem.rtol, atol=problem.atol,
                    dt=None if self.adaptive else problem.dt, max_steps=problem.max_steps,
                    first_step=problem.first_step, min_step=problem.min_step,
                    events=problem.events, cancel=problem.cancel, progress=problem.progress)

    def solve(self, problem: Problem) -> Solution:
        """Integrate every trajectory of `problem` (see `dynsim.Solver`)."""
        return integrate(problem.rhs, problem.y0, problem.t_eval, self.tableau,
                         **self._options(problem))

    def iter_solve(self, problem: Problem) -> Iterator[Solution]:
        """Partial solutions as the integration advances, the final one last."""
        return iterate(problem.rhs, problem.y0, problem.t_eval, self.tableau,
                       **self._options(problem))


def get_tableau(name: str) -> ButcherTableau:
    """The tableau of the registered Runge–Kutta solver `name` (e.g. for `integrate`)."""
    solver = active_plugins().get("solvers", name)
    if not isinstance(solver, RungeKuttaSolver):
        raise InputError(f"solver '{name}' is not an explicit Runge–Kutta method")
    return solver.tableau
