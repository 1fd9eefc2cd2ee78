"""Numerical integration: Butcher tableaus, step-size control and the batched integrator.

`integrate(f, y0, t_eval, tableau, ...)` runs any `ButcherTableau` on numpy arrays or torch
tensors (`iterate` yields partial solutions); `RungeKuttaSolver` wraps a tableau as a solver
plugin; `get_tableau("dopri5")` finds the tableau of a registered one.
"""

from dynsim.numerics.engine import integrate, iterate
from dynsim.numerics.runge_kutta import RungeKuttaSolver, get_tableau
from dynsim.numerics.tableau import ButcherTableau, alternating_to_monomial

__all__ = ["ButcherTableau", "RungeKuttaSolver", "alternating_to_monomial", "get_tableau",
           "integrate", "iterate"]
