"""Numerical integration: Butcher tableaus, step-size control and the batched integrator.

`integrate(f, y0, t_eval, tableau, ...)` runs any `ButcherTableau` on numpy arrays or torch
tensors (`iterate` yields partial solutions); `RungeKuttaSolver` wraps a tableau as a solver
plugin; `get_tableau("dopri5")` finds the tableau of a registered one. Solver plugins with
their own stepping reuse the event root finding (`crossings`, `locate`, `time_tolerance`),
the per-trajectory outcomes (`Outcomes`, `state_text`), the blow-up rule
(`BLOWUP_GROWTH`) of the engine and `setting`, which names a setting in messages as the
user gives it (`max_steps` from Python, `--max-steps` under the `dynsim` command).
"""

from dynsim.core.spelling import setting
from dynsim.numerics.engine import BLOWUP_GROWTH, integrate, iterate
from dynsim.numerics.events import crossings, locate, time_tolerance
from dynsim.numerics.outcomes import Outcomes, state_text
from dynsim.numerics.runge_kutta import RungeKuttaSolver, get_tableau
from dynsim.numerics.tableau import ButcherTableau, alternating_to_monomial

__all__ = ["BLOWUP_GROWTH", "ButcherTableau", "Outcomes", "RungeKuttaSolver",
           "alternating_to_monomial", "crossings", "get_tableau", "integrate", "iterate",
           "locate", "setting", "state_text", "time_tolerance"]
