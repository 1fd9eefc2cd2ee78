"""The flow of a bound system as the batched engine sees it, for the trajectory analyses.

`Flow` turns a system with fixed parameters into the engine's f(t, y) on (M, D) rows. It
can carry one parameter per row (`sweep`): the engine hands f any subset of the rows and
cannot say which, so the parameter travels inside the state as an extra component with zero
derivative, and the system's rhs receives it as an (M,) array (rhs functions written with
numpy broadcasting, like every built-in one, accept that). The helpers here also build the
event functions the analyses share (hyperplane sections, local extrema of a state) and the
time-dependent Jacobian of the variational equations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from dynsim.analysis.bound import BoundSystem
from dynsim.analysis.grid import finite_number
from dynsim.analysis.jacobian import Method, jacobian_function
from dynsim.core.errors import InputError, SystemDefinitionError
from dynsim.core.events import Event
from dynsim.core.solver import Solution
from dynsim.core.system import System
from dynsim.core.trajectories import Status
from dynsim.numerics import get_tableau, integrate

DEFAULT_SOLVER = "dopri5"
"""Explicit Runge–Kutta method of the trajectory analyses (any registered one works)."""
RTOL, ATOL = 1e-8, 1e-10
"""Default tolerances of the trajectory analyses: two digits tighter than `simulate`'s, so
located crossings and extrema are good to ~1e-8 relative."""
MAX_STEPS = 100_000
"""Step cap per trajectory and integration call (that of `simulate`)."""

Hyperplane = tuple[np.ndarray, float]
"""(normal (D,), offset): the points y with normal . y = offset."""


@dataclass(frozen=True, eq=False)
class Flow:
    """dy/dt of `system` with parameter `values`, as the engine's f(t, rows).

    With `sweep` (a parameter name), each row is (y_1..y_D, value of `sweep`) and the last
    component has zero derivative. `solver` names a registered explicit Runge–Kutta method.
    """

    system: System
    values: Mapping[str, float]
    sweep: str | None = None
    solver: str = DEFAULT_SOLVER
    rtol: float = RTOL
    atol: float = ATOL

    @property
    def dimension(self) -> int:
        """The number of states D (without the swept parameter)."""
        return self.system.dimension

    def params(self, rows: np.ndarray) -> Mapping[str, Any]:
        """The parameters of `rows` (M, width): `values`, with the swept one per row."""
        if self.sweep is None:
            return self.values
        return {**self.values, self.sweep: rows[:, self.dimension]}

    def rhs(self, t: Any, rows: np.ndarray) -> np.ndarray:
        """dy/dt of the states of `rows` (M, width) as (M, D)."""
        with np.errstate(all="ignore"):
            out = np.asarray(self.system.rhs(t, rows[:, :self.dimension], self.params(rows)),
                             dtype=float)
        if out.shape != (len(rows), self.dimension):
            raise SystemDefinitionError(
                f"system '{self.system.name}': rhs returned shape {out.shape} for "
                f"{len(rows)} states; with a parameter per row ({self.sweep}) it must "
                "broadcast the parameter like the states")
        return out

    def field(self, t: Any, rows: np.ndarray) -> np.ndarray:
        """The engine's f: d rows / dt (M, width), zero for the swept parameter."""
        out = self.rhs(t, rows)
        if self.sweep is None:
            return out
        return np.concatenate([out, np.zeros((len(rows), 1))], axis=1)

    def rows(self, y: np.ndarray, sweep_values: np.ndarray | None = None) -> np.ndarray:
        """Rows (N, width) for states `y` (N, D) and, with `sweep`, one value each (N,)."""
        if self.sweep is None:
            return np.array(y, dtype=float)
        return np.column_stack([y, sweep_values])

    def integrate(self, rows: np.ndarray, t_eval: Sequence[float], *,
                  t_span: tuple[float, float] | None = None, events: Sequence[Event] = (),
                  f: Callable[[Any, np.ndarray], np.ndarray] | None = None,
                  rtol: float | None = None, atol: float | None = None) -> Solution:
        """`integrate` the engine from `rows` with this flow's solver and tolerances.

        `f` replaces the field (e.g. by the variational equations); `rtol`/`atol` override.
        Floating-point warnings are silenced: a blow-up ends its trajectory with a status.
        """
        with np.errstate(all="ignore"):
            return integrate(f or self.field, rows, t_eval, get_tableau(self.solver),
                             t_span=t_span, rtol=self.rtol if rtol is None else rtol,
                             atol=self.atol if atol is None else atol, max_steps=MAX_STEPS,
                             events=events)

    def advance(self, rows: np.ndarray, t0: float, duration: float) -> tuple[np.ndarray,
                                                                           np.ndarray]:
        """The rows after `duration` from time `t0`, and which rows succeeded (N,)."""
        if duration <= 0:
            return rows, np.ones(len(rows), dtype=bool)
        solution = self.integrate(rows, [t0, t0 + duration])
        return solution.y[:, -1], succeeded(solution)

    def section_event(self, plane: Hyperplane, direction: int, name: str = "section") -> Event:
        """A non-terminal event at the crossings of the hyperplane `plane` in `direction`."""
        normal, offset = plane
        dim = self.dimension
        return Event(name, lambda t, rows: rows[:, :dim] @ normal - offset, direction=direction)

    def extremum_event(self, state: int, kind: str) -> Event:
        """A non-terminal event at the local maxima (`kind` 'max') or minima of a state.

        A maximum of y_i is where dy_i/dt = rhs_i falls through zero (direction -1).
        """
        direction = -1 if kind == "max" else 1
        return Event(f"{kind}_{state}", lambda t, rows: self.rhs(t, rows)[:, state],
                     direction=direction)


def succeeded(solution: Solution) -> np.ndarray:
    """Which trajectories of `solution` ended successfully (N,) bool."""
    return np.array([s == Status.SUCCESS for s in solution.status], dtype=bool)


def positive_time(value: object, label: str, *, zero: bool = False) -> float:
    """`value` as a finite time > 0 (>= 0 with `zero`)."""
    number = finite_number(value, label)
    if number < 0 or (number == 0 and not zero):
        raise InputError(f"{label} must be {'>= 0' if zero else 'positive'}, got {number:g}")
    return number


def hyperplane(system: System, normal: Mapping[str, float] | Sequence[float],
               offset: float = 0.0) -> Hyperplane:
    """The hyperplane normal . y = offset; `normal` maps state names to coefficients (the
    others 0) or lists one coefficient per state."""
    dim = system.dimension
    if isinstance(normal, Mapping):
        vector = np.zeros(dim)
        for name, value in normal.items():
            vector[system.state_index(name)] = finite_number(value, f"normal['{name}']")
    else:
        vector = np.asarray(normal, dtype=float)
        if vector.shape != (dim,) or not np.isfinite(vector).all():
            raise InputError(f"normal must be {dim} finite numbers "
                             f"({', '.join(system.states)}) or a mapping by state name, "
                             f"got {normal!r}")
    if not np.any(vector):
        raise InputError("the normal of a section must not be zero")
    return vector, finite_number(offset, "offset")


def section_text(system: System, plane: Hyperplane) -> str:
    """A hyperplane in words, e.g. 'z = 27' or '1*x + -1*y = 0'."""
    normal, offset = plane
    nonzero = np.flatnonzero(normal)
    if nonzero.size == 1 and normal[nonzero[0]] == 1.0:
        return f"{system.states[nonzero[0]]} = {offset:g}"
    terms = " + ".join(f"{normal[i]:g}*{system.states[i]}" for i in nonzero)
    return f"{terms} = {offset:g}"


def check_direction(direction: object) -> int:
    """`direction` as -1, 0 or 1 (as for events)."""
    if direction not in (-1, 0, 1) or isinstance(direction, bool):
        raise InputError(f"direction must be -1, 0 or 1, got {direction!r}")
    return int(direction)  # type: ignore[call-overload]


def time_jacobian(bound: BoundSystem,
                  method: Method = "auto") -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """(t (M,), y (M, D)) -> Jacobian (M, D, D) of `bound`'s system at each row's own time.

    Uses `dynsim.analysis.jacobian.jacobian_function` with the time broadcast to the shape
    its evaluations take: the system's Jacobian sees y (M, D); finite differences see the
    shifted points (M, K, D, D), so t goes in as (M, 1, 1).
    """
    jacobian_function(bound, method)  # checks `method` and the system's Jacobian now
    own = method in ("auto", "system") and bound.system.jacobian is not None

    def jac(t: np.ndarray, y: np.ndarray) -> np.ndarray:
        times = np.broadcast_to(np.asarray(t, dtype=float), (len(y),))
        shaped = times if own else times[:, None, None]
        return jacobian_function(replace(bound, t=shaped), method)(y)  # type: ignore[arg-type]

    return jac


def time_grid(t0: float, duration: float, points: int) -> np.ndarray:
    """`points` evenly spaced times over [t0, t0 + duration], the end exact."""
    times = t0 + np.linspace(0.0, duration, points)
    times[-1] = t0 + duration
    return times


def relative_distance(a: np.ndarray, b: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """max_i |a_i - b_i| / scale_i over the last axis."""
    return np.max(np.abs(a - b) / scale, axis=-1)


def whole(value: object, label: str, low: int = 1) -> int:
    """`value` as a whole number >= `low`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise InputError(f"{label} must be a whole number >= {low}, got {value!r}")
    return int(value)

