"""`simulate` and `simulate_iter`: integrate a batch of initial states of a registered system."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dynsim.core.budget import batch_bytes, check_memory
from dynsim.core.cancel import CancelToken
from dynsim.core.errors import InputError, SystemDefinitionError
from dynsim.core.events import Event, EventLog
from dynsim.core.guard import check_derivative
from dynsim.core.plugins import active_plugins
from dynsim.core.solver import (
    Problem,
    Solution,
    Solver,
    check_events,
    check_step_options,
    check_tolerances,
)
from dynsim.core.spelling import setting, stream_hint
from dynsim.core.system import System
from dynsim.core.trajectories import Trajectories

DEFAULT_SOLVER = "dopri5"
DEFAULT_POINTS = 1001
DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-9
DEFAULT_MAX_STEPS = 100_000


def get_system(system: str | System) -> System:
    """The registered system called `system` (or `system` itself if it is a `System`)."""
    if isinstance(system, System):
        return system
    return active_plugins().get("systems", system)


def get_solver(solver: str | Solver) -> Solver:
    """The registered solver called `solver` (or `solver` itself if it is a solver object)."""
    if isinstance(solver, str):
        return active_plugins().get("solvers", solver)
    return solver


def simulate(
    system: str | System,
    y0: Sequence[float] | Sequence[Sequence[float]] | np.ndarray,
    t_span: Sequence[float],
    *,
    params: Mapping[str, float] | None = None,
    solver: str | Solver = DEFAULT_SOLVER,
    dt: float | None = None,
    points: int = DEFAULT_POINTS,
    t_eval: Sequence[float] | np.ndarray | None = None,
    rtol: float | Sequence[float] = DEFAULT_RTOL,
    atol: float | Sequence[float] = DEFAULT_ATOL,
    max_steps: int = DEFAULT_MAX_STEPS,
    first_step: float | None = None,
    min_step: float | None = None,
    events: Sequence[Event] = (),
    cancel: CancelToken | None = None,
    progress: Callable[[float], None] | None = None,
) -> Trajectories:
    """Integrate one or many initial states of `system` over `t_span`.

    `y0` is one state (D,) or a batch (N, D). Output times are `t_eval` if given, else
    `points` evenly spaced times over `t_span` (which may run backwards). The default
    solver is dopri5 (adaptive: `rtol`, `atol` — numbers or one per state — `first_step`,
    `min_step`); fixed-step solvers use `dt`. Each trajectory takes at most `max_steps`
    steps. `events` are `dynsim.Event`s (e.g. `dynsim.leave_box(...)`), recorded in
    `Trajectories.events`; `cancel` stops the run (unfinished trajectories end as
    `cancelled`); `progress(fraction)` is called now and then.

    Returns `Trajectories` with `t` (T,), `y` (N, T, D) and one status per trajectory; a
    trajectory that fails keeps its samples up to the failure and has NaN afterwards.
    """
    run = _Run.prepare(system, y0, t_span, params, solver, dt, points, t_eval, rtol, atol,
                       max_steps, first_step, min_step, events, cancel, progress)
    with np.errstate(all="ignore"):  # overflow and NaN become statuses, not warnings
        solution = run.solver.solve(run.problem)
    return run.finish(solution)


def simulate_iter(
    system: str | System,
    y0: Sequence[float] | Sequence[Sequence[float]] | np.ndarray,
    t_span: Sequence[float],
    *,
    params: Mapping[str, float] | None = None,
    solver: str | Solver = DEFAULT_SOLVER,
    dt: float | None = None,
    points: int = DEFAULT_POINTS,
    t_eval: Sequence[float] | np.ndarray | None = None,
    rtol: float | Sequence[float] = DEFAULT_RTOL,
    atol: float | Sequence[float] = DEFAULT_ATOL,
    max_steps: int = DEFAULT_MAX_STEPS,
    first_step: float | None = None,
    min_step: float | None = None,
    events: Sequence[Event] = (),
    cancel: CancelToken | None = None,
    progress: Callable[[float], None] | None = None,
) -> Iterator[Trajectories]:
    """Like `simulate`, but yield partial `Trajectories` as they grow, the final one last.

    Partial results hold NaN where nothing is computed yet (the GUI draws them while the
    integration runs). Solvers without `iter_solve` yield only the final result. Arguments
    are checked at once, before the first `next()`.
    """
    run = _Run.prepare(system, y0, t_span, params, solver, dt, points, t_eval, rtol, atol,
                       max_steps, first_step, min_step, events, cancel, progress)
    iter_solve = getattr(run.solver, "iter_solve", None)

    parts = (iter_solve(run.problem) if callable(iter_solve)
             else (run.solver.solve(run.problem) for _ in range(1)))
    return (run.finish(solution) for solution in _quietly(parts))


def _quietly(parts: Iterator[Solution]) -> Iterator[Solution]:
    """Advance `parts` with numpy's floating-point warnings off (failures are statuses)."""
    while True:
        with np.errstate(all="ignore"):
            part = next(parts, None)
        if part is None:
            return
        yield part


@dataclass(frozen=True)
class _Run:
    """A checked simulation request: the system, the solver and the `Problem` for it."""

    system: System
    params: Mapping[str, float]
    solver: Solver
    problem: Problem

    @classmethod
    def prepare(cls, system: str | System, y0: object, t_span: object,
                params: Mapping[str, float] | None, solver: str | Solver, dt: float | None,
                points: int, t_eval: object, rtol: object, atol: object, max_steps: int,
                first_step: float | None, min_step: float | None, events: Sequence[Event],
                cancel: CancelToken | None,
                progress: Callable[[float], None] | None) -> _Run:
        sys_obj = get_system(system)
        values = sys_obj.parameter_values(params)
        initial = as_initial_states(y0, sys_obj)
        span = as_time_span(t_span)
        check_output_memory(initial.shape[0], points, t_eval, sys_obj.dimension)
        times = output_times(span, points, t_eval)  # type: ignore[arg-type]
        check_step_options(dt, max_steps, first_step, min_step)
        rtol_arr, atol_arr = check_tolerances(rtol, atol, sys_obj.dimension)
        bound_events = tuple(e.bind(values) for e in check_events(events))
        if progress is not None and not callable(progress):
            raise InputError("progress must be a callable taking the fraction done")
        solver_obj = get_solver(solver)

        def rhs(t: float | np.ndarray, y: np.ndarray) -> np.ndarray:
            return sys_obj.rhs(t, y, values)

        jacobian = None
        if sys_obj.jacobian is not None:
            system_jacobian = sys_obj.jacobian

            def jacobian(t: float | np.ndarray, y: np.ndarray) -> np.ndarray:
                return system_jacobian(t, y, values)

        _check_rhs_shape(sys_obj, rhs, span[0], initial)
        problem = Problem(
            rhs=rhs, y0=initial, t_span=span, t_eval=times, dt=dt,
            rtol=_scalar_or_array(rtol_arr), atol=_scalar_or_array(atol_arr),
            max_steps=int(max_steps), first_step=first_step, min_step=min_step,
            jacobian=jacobian, events=bound_events, cancel=cancel, progress=progress,
            system=sys_obj.name)
        return cls(sys_obj, values, solver_obj, problem)

    def finish(self, solution: Solution) -> Trajectories:
        """The `Trajectories` of one (partial or final) solution."""
        events = {name: EventLog(t=tuple(np.asarray(t) for t, _ in per_traj),
                                 y=tuple(np.asarray(y) for _, y in per_traj))
                  for name, per_traj in solution.events.items()}
        return Trajectories(
            t=self.problem.t_eval, y=solution.y, states=self.system.states,
            status=tuple(solution.status), messages=tuple(solution.messages),
            system=self.system.name, params=self.params, stats=solution.stats, events=events,
        )


def _scalar_or_array(values: np.ndarray) -> float | np.ndarray:
    return float(values[0]) if np.all(values == values[0]) else values


def check_output_memory(trajectories: int, points: object, t_eval: object,
                        dimension: int) -> None:
    """Refuse, before allocating, a simulation whose outputs cannot fit in memory."""
    times = np.size(t_eval) if t_eval is not None else points
    if not isinstance(times, numbers.Real) or isinstance(times, bool):
        return  # `output_times` explains what is wrong with it
    plural = "y" if trajectories == 1 else "ies"
    check_memory(batch_bytes(trajectories, int(times), dimension),
                 f"{trajectories} trajector{plural} x {times:.6g} output times x {dimension} "
                 "states",
                 f"use fewer {setting('points')} or trajectories, or {stream_hint()}, or split "
                 "the initial states over several runs (processes or machines)")


def as_initial_states(y0: object, system: System) -> np.ndarray:
    """`y0` as a float (N, D) array, checked against the system's states."""
    try:
        arr = np.array(y0, dtype=float)
    except (TypeError, ValueError):
        raise InputError(
            f"initial conditions must be numbers, one row of {system.dimension} per trajectory "
            f"({', '.join(system.states)})"
        ) from None
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != system.dimension or arr.shape[0] == 0:
        raise InputError(
            f"each initial condition needs {system.dimension} values "
            f"({', '.join(system.states)}), got shape {np.shape(y0)}"
        )
    if not np.isfinite(arr).all():
        row = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
        raise InputError(f"initial condition {row} is not finite: {arr[row].tolist()}")
    return arr


def as_time_span(t_span: object) -> tuple[float, float]:
    """`t_span` as two distinct finite floats (t1 < t0 integrates backwards)."""
    try:
        t0, t1 = (float(v) for v in t_span)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InputError(f"t_span must be two numbers (t0, t1), got {t_span!r}") from None
    if not (math.isfinite(t0) and math.isfinite(t1)) or t0 == t1:
        raise InputError(f"t_span must be two different finite numbers, got ({t0}, {t1})")
    if not math.isfinite(t1 - t0):
        raise InputError(f"t_span ({t0:g}, {t1:g}) is longer than the largest float; give a "
                         "shorter time span")
    return t0, t1


def output_times(span: tuple[float, float], points: int,
                 t_eval: Sequence[float] | np.ndarray | None) -> np.ndarray:
    """The output times: `t_eval` checked against `span`, or `points` evenly spaced."""
    t0, t1 = span
    if t_eval is None:
        if not isinstance(points, numbers.Integral) or isinstance(points, bool) or points < 2:
            raise InputError(f"points must be a whole number >= 2, got {points!r}")
        return np.linspace(t0, t1, int(points))
    times = np.asarray(t_eval, dtype=float)
    if times.ndim != 1 or times.size == 0 or not np.isfinite(times).all():
        raise InputError("t_eval must be a non-empty list of finite times")
    direction = math.copysign(1.0, t1 - t0)
    if np.any(np.diff(times) * direction <= 0):
        raise InputError("t_eval must be strictly increasing (decreasing when t1 < t0)")
    lo, hi = min(t0, t1), max(t0, t1)
    if times.min() < lo or times.max() > hi:
        raise InputError(f"t_eval must lie within t_span [{lo:g}, {hi:g}]")
    return times


def _check_rhs_shape(system: System, rhs: object, t0: float, y0: np.ndarray) -> None:
    """Refuse a right-hand side that returns complex values or the wrong shape, up front."""
    try:
        with np.errstate(all="ignore"):  # non-finite values are the solver's to report
            out = rhs(t0, y0)  # type: ignore[operator]
    except SystemDefinitionError:
        raise
    except Exception:
        return  # the solver reports it per trajectory as rhs_error
    check_derivative(system.name, out, y0)
