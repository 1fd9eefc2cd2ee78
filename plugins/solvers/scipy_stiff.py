"""Stiff solvers on scipy: radau, bdf and lsoda, one trajectory at a time.

Each trajectory of a batch runs its own scipy `OdeSolver` (`Radau`, `BDF` or `LSODA`) by
calling `step()` in a loop, so that dynsim keeps control between steps: it checks the
cancel token, counts steps, samples `t_eval` from each step's `dense_output()`, locates
events with the Runge–Kutta engine's root finder (`dynsim.numerics.locate`) and ends a
trajectory that fails with a status and a message, keeping its samples (NaN after). The
system's Jacobian, when it has one, is passed to scipy as `jac`; otherwise scipy estimates
it by finite differences, with one vectorised right-hand-side call. scipy is imported only
when one of these solvers runs. See docs/solvers.md.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

import dynsim
from dynsim.numerics import (
    BLOWUP_GROWTH,
    Outcomes,
    crossings,
    locate,
    setting,
    state_text,
    time_tolerance,
)

SNAPSHOT_INTERVAL = 0.05
"""Seconds between the partial solutions `iter_solve` yields."""

PROGRESS_INTERVAL = 0.1
"""Seconds between calls of the progress callback."""

FLOOR_SPACINGS = 10
"""The smallest step: this many floating-point spacings of t (scipy's Radau/BDF floor)."""

STATS = ("accepted", "rejected", "rhs_evaluations", "jacobian_evaluations",
         "lu_decompositions")

_EPS = float(np.finfo(np.float64).eps)

METHODS = (
    ("radau", "Radau", "Radau IIA, order 5, implicit (stiff), scipy; cubic dense output"),
    ("bdf", "BDF", "BDF (NDF), orders 1-5, implicit (stiff), scipy"),
    ("lsoda", "LSODA", "LSODA (ODEPACK): Adams, switching to BDF when stiff, scipy"),
)
"""(dynsim name, scipy.integrate class, description) of each solver."""


class ScipyStiffSolver:
    """A scipy `OdeSolver` class as a dynsim solver, run per trajectory with `step()`.

    `problem.max_steps` caps the steps each trajectory takes (scipy does not expose the
    steps it rejects inside one `step()`), `min_step` is the first step at least and ends a
    trajectory whose step falls below it, `dt` is ignored. See the module docstring.
    """

    def __init__(self, name: str, scipy_class: str, description: str) -> None:
        self.name = name
        self.scipy_class = scipy_class
        self.description = description

    def solve(self, problem: dynsim.Problem) -> dynsim.Solution:
        """Integrate every trajectory of `problem` (see `dynsim.Solver`)."""
        *_, solution = _Batch(problem, self).solutions(None)
        return solution

    def iter_solve(self, problem: dynsim.Problem) -> Iterator[dynsim.Solution]:
        """Partial solutions as the integration advances, the final one last."""
        return _Batch(problem, self).solutions(SNAPSHOT_INTERVAL)

    def make(self, fun: Callable[..., Any], t0: float, y0: np.ndarray, t1: float,
             options: dict[str, Any]) -> Any:
        """A scipy solver object of this method (scipy is imported here, not at load time)."""
        import scipy.integrate

        if self.scipy_class != "LSODA":
            options = {k: v for k, v in options.items() if k != "min_step"}
        return getattr(scipy.integrate, self.scipy_class)(fun, t0, y0, t1, **options)

    def quiet(self) -> contextlib.AbstractContextManager[Any]:
        """A context around `step()`: hides LSODA's failure warning (the message says it)."""
        return _lsoda_quiet() if self.scipy_class == "LSODA" else contextlib.nullcontext()

    def tolerances(self, rtol: Any, atol: Any) -> tuple[Any, np.ndarray]:
        """rtol and atol for scipy: Radau and BDF take one rtol (the smallest: stricter)."""
        rtol = np.maximum(np.asarray(rtol, dtype=float), 100 * _EPS)  # scipy's own floor
        if self.scipy_class != "LSODA":
            rtol = float(rtol.min())
        return rtol, np.asarray(atol, dtype=float)


@contextlib.contextmanager
def _lsoda_quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="lsoda: ", category=UserWarning)
        yield


def failure_reason(solver: Any, message: str | None) -> str:
    """scipy's words for a failed step; LSODA's own message for its `istate` if readable."""
    integrator = getattr(getattr(solver, "_lsoda_solver", None), "_integrator", None)
    istate = getattr(integrator, "istate", None)
    text = getattr(integrator, "messages", {}).get(istate) if istate is not None else None
    if isinstance(istate, int) and istate < 0 and text:
        return f"lsoda: {text}"
    return message or ""


class _Calls:
    """The right-hand side, Jacobian and event functions of one trajectory, for scipy.

    Counts right-hand-side calls, remembers the first exception (what raised, and at which
    t) and the first (t, state) where the right-hand side returned NaN or inf since the
    last accepted step (`bad`).
    """

    def __init__(self, problem: dynsim.Problem) -> None:
        self.rhs, self.jacobian = problem.rhs, problem.jacobian
        self.d = problem.y0.shape[1]
        self.count = 0
        self.error: tuple[str, Exception, float] | None = None
        self.bad: tuple[float, np.ndarray] | None = None

    def fun(self, t: float, y: np.ndarray) -> np.ndarray:
        """scipy's vectorised `fun`: y (D, k) -> (D, k)."""
        states = y.T
        self.count += 1
        out = np.asarray(self._guarded("the right-hand side", t,
                                       lambda: self.rhs(np.full(len(states), t), states)),
                         dtype=float).T
        if self.bad is None and not np.isfinite(out).all():
            column = int(np.flatnonzero(~np.isfinite(out).all(axis=0))[0])
            self.bad = (float(t), states[column].copy())
        return out

    def jac(self) -> Callable[[float, np.ndarray], np.ndarray] | None:
        """scipy's `jac` (y (D,) -> (D, D)) from the batched `problem.jacobian`, or None."""
        jacobian = self.jacobian
        if jacobian is None:
            return None

        def single(t: float, y: np.ndarray) -> np.ndarray:
            value = self._guarded("the Jacobian", t,
                                  lambda: jacobian(np.full(1, t), y[None, :]))
            return np.asarray(value, dtype=float).reshape(self.d, self.d)

        return single

    def event(self, event: dynsim.Event, t: np.ndarray, y: np.ndarray) -> np.ndarray:
        """g of `event` at times `t` (k,) and states `y` (k, D), as a float (k,) array."""
        value = self._guarded(f"the event function '{event.name}'", float(t[0]),
                              lambda: event.function(t, y))
        return np.broadcast_to(np.asarray(value, dtype=np.float64), (len(y),)).copy()

    def _guarded(self, what: str, t: float, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except Exception as exc:
            if self.error is None:
                self.error = (what, exc, float(t))
            raise


class _Batch:
    """One `solve`: the outputs, statuses, stats and events of all N trajectories."""

    def __init__(self, problem: dynsim.Problem, method: ScipyStiffSolver) -> None:
        self.problem, self.method = problem, method
        self.n, self.d = problem.y0.shape
        self.t0, self.t1 = (float(v) for v in problem.t_span)
        self.direction = math.copysign(1.0, self.t1 - self.t0)
        self.y = np.full((self.n, len(problem.t_eval), self.d), math.nan)
        self.outcomes = Outcomes(self.n)
        self.stats = {name: np.zeros(self.n, dtype=np.int64) for name in STATS}
        self.event_records: dict[str, list[list[tuple[float, np.ndarray]]]] = {
            e.name: [[] for _ in range(self.n)] for e in problem.events}
        self.fraction = 0.0

    def options(self, calls: _Calls) -> dict[str, Any]:
        """Keyword arguments for the scipy solver of one trajectory.

        With a `min_step`, the first step is at least that (scipy's own first guess may be
        smaller, and Radau and BDF cannot be told the floor: `_below_floor` enforces it).
        """
        p = self.problem
        first = p.first_step
        if p.min_step:
            first = max(first or 0.0, p.min_step)
        if first is not None:
            first = min(first, abs(self.t1 - self.t0))
        rtol, atol = self.method.tolerances(p.rtol, p.atol)
        return dict(rtol=rtol, atol=atol, first_step=first, min_step=p.min_step or 0.0,
                    vectorized=True, jac=calls.jac())

    def solutions(self, interval: float | None) -> Iterator[dynsim.Solution]:
        """Run every trajectory in turn; partial solutions every `interval` s (None: none)."""
        progress = self.problem.progress
        last_report = last_snapshot = time.perf_counter()
        for i in range(self.n):
            for fraction in _Trajectory(self, i).run():
                self.fraction = (i + fraction) / self.n
                now = time.perf_counter()
                if progress is not None and now - last_report >= PROGRESS_INTERVAL:
                    progress(self.fraction)
                    last_report = now
                if interval is not None and now - last_snapshot >= interval:
                    yield self.solution(final=False)
                    last_snapshot = time.perf_counter()
        if progress is not None:
            progress(1.0)
        yield self.solution(final=True)

    def end(self, i: int, status: dynsim.Status, message: str,
            counts: dict[str, int]) -> None:
        """Trajectory `i` ended with `status`; record its message and counters."""
        self.outcomes.end(np.array([i]), status, message)
        for name, value in counts.items():
            self.stats[name][i] = value

    def solution(self, final: bool) -> dynsim.Solution:
        """The solution so far (a copy of the samples when not `final`)."""
        return dynsim.Solution(
            y=self.y if final else self.y.copy(), status=list(self.outcomes.status),
            messages=list(self.outcomes.messages),
            stats={name: values.copy() for name, values in self.stats.items()},
            events={name: [self._log(records) for records in per_trajectory]
                    for name, per_trajectory in self.event_records.items()},
            progress=1.0 if final else self.fraction)

    def _log(self, records: list[tuple[float, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        times = np.array([t for t, _ in records], dtype=float)
        states = np.array([y for _, y in records], dtype=float).reshape(len(records), self.d)
        return times, states


class _Trajectory:
    """The integration of trajectory `i` of a batch by one scipy solver object."""

    def __init__(self, batch: _Batch, i: int) -> None:
        self.batch, self.i = batch, i
        self.problem, self.direction = batch.problem, batch.direction
        self.calls = _Calls(batch.problem)
        self.out = batch.y[i]
        self.y = np.array(batch.problem.y0[i], dtype=float)
        self.t = batch.t0
        self.solver: Any = None
        self.steps = 0
        self.next_output = 0
        self.g: list[float] = []
        self.scale = max(1.0, float(np.abs(self.y).max()))

    # -- the run --------------------------------------------------------------------------

    def run(self) -> Iterator[float]:
        """Integrate to the end, yielding the fraction of the time span done after each step."""
        if self.problem.t_eval[0] == self.t:
            self.out[0] = self.y
            self.next_output = 1
        if not self._start():
            return
        cancel, max_steps = self.problem.cancel, self.problem.max_steps
        while True:
            if cancel is not None and cancel.cancelled:
                self._cancelled()
                return
            if self.steps >= max_steps:
                self._max_steps()
                return
            if not self._step():
                return
            yield (self.t - self.batch.t0) / (self.batch.t1 - self.batch.t0)

    def _start(self) -> bool:
        """Check the start, set up the scipy solver; False if the trajectory already ended."""
        t0 = self.t
        if self.problem.cancel is not None and self.problem.cancel.cancelled:
            self._cancelled()
            return False
        try:
            f0 = self.calls.fun(t0, self.y[:, None])[:, 0]
            self.g = [float(self.calls.event(e, np.full(1, t0), self.y[None])[0])
                      for e in self.problem.events]
        except Exception as exc:
            self._exception(exc)
            return False
        if not (np.isfinite(self.y).all() and np.isfinite(f0).all()):
            what = "the initial state" if not np.isfinite(self.y).all() else \
                "the right-hand side"
            self._end(dynsim.Status.NON_FINITE,
                      f"{what} is not finite at t0 = {t0:g} (state {state_text(self.y)}); "
                      f"check the initial condition and parameters")
            return False
        self.calls.bad = None
        try:
            self.solver = self.batch.method.make(self.calls.fun, t0, self.y, self.batch.t1,
                                                 self.batch.options(self.calls))
        except Exception as exc:
            self._exception(exc)
            return False
        return True

    def _step(self) -> bool:
        """One scipy step with its events and outputs; False when the trajectory ended."""
        solver, t_old = self.solver, self.t
        try:
            with self.batch.method.quiet():
                message = solver.step()
        except Exception as exc:
            self._exception(exc)
            return False
        if solver.status == "failed" or self._below_floor(t_old, solver.t):
            self._failed(failure_reason(solver, message), t_old, solver.t)
            return False
        self.steps += 1
        if not np.isfinite(solver.y).all():  # LSODA may return NaN as a success
            if self.calls.bad is not None:
                self._non_finite_rhs(*self.calls.bad)
            else:
                self._non_finite_state()
            return False
        self.calls.bad = None
        dense = functools.cache(solver.dense_output)
        t_new, y_new = float(solver.t), np.array(solver.y, dtype=float)
        try:
            stop = self._events(t_old, t_new, y_new, dense) if self.problem.events else None
        except Exception as exc:  # an event function raised
            self._exception(exc)
            return False
        self._emit(t_new if stop is None else stop[0], t_new, y_new, dense)
        self.t, self.y = t_new, y_new
        if stop is not None:
            self._stopped(*stop)
            return False
        if solver.status == "finished":
            self._end(dynsim.Status.SUCCESS, "")
            return False
        return True

    def _below_floor(self, t_old: float, t_new: float) -> bool:
        """Whether the step just taken (not the last one) is below the smallest allowed."""
        if t_new == self.batch.t1:
            return False
        return abs(t_new - t_old) < self._floor(t_old)

    def _floor(self, t: float) -> float:
        spacing = abs(np.spacing(t)) if t != 0 else np.spacing(1.0)
        return max(self.problem.min_step or 0.0, FLOOR_SPACINGS * float(spacing))

    # -- outputs and events -----------------------------------------------------------------

    def _emit(self, limit: float, t_new: float, y_new: np.ndarray,
              dense: Callable[[], Any]) -> None:
        """Write the output times up to `limit` not written yet (from the dense output)."""
        t_eval = self.problem.t_eval
        end = int(np.searchsorted(self.direction * t_eval, self.direction * limit, "right"))
        if end <= self.next_output:
            return
        times = t_eval[self.next_output:end]
        exact = times == t_new
        values = np.empty((len(times), self.y.size))
        values[exact] = y_new
        if not exact.all():
            values[~exact] = dense()(times[~exact]).T
        self.out[self.next_output:end] = values
        self.next_output = end

    def _events(self, t_old: float, t_new: float, y_new: np.ndarray,
                dense: Callable[[], Any]) -> tuple[float, np.ndarray, int] | None:
        """Locate and record this step's crossings; the first terminal one (t, y, event)."""
        events = self.problem.events
        g_new = [float(self.calls.event(e, np.full(1, t_new), y_new[None])[0])
                 for e in events]
        found = [(e, *self._root(e, g_new[e], t_old, t_new, y_new, dense))
                 for e, event in enumerate(events)
                 if crossings(np.array([self.g[e]]), np.array([g_new[e]]), event.direction)[0]]
        self.g = g_new
        terminal = [(t, y, e) for e, t, y in found if events[e].terminal]
        stop = min(terminal, key=lambda r: r[0] * self.direction) if terminal else None
        for e, t, y in found:
            if stop is None or (t - stop[0]) * self.direction <= 0:
                self.batch.event_records[events[e].name][self.i].append((t, y))
        return stop

    def _root(self, e: int, g_new: float, t_old: float, t_new: float, y_new: np.ndarray,
              dense: Callable[[], Any]) -> tuple[float, np.ndarray]:
        """Time and state where event `e` crosses zero in the step (engine's `locate`)."""
        event, h = self.problem.events[e], t_new - t_old

        def g_at(theta: np.ndarray, rows: np.ndarray) -> np.ndarray:
            t = t_old + theta * h
            return self.calls.event(event, t, dense()(t).T)

        theta = float(locate(g_at, np.array([self.g[e]]), np.array([g_new]),
                             np.array([abs(h)]), time_tolerance(np.array([t_new])))[0])
        if theta == 1.0:
            return t_new, y_new.copy()
        t_root = t_old + theta * h
        return t_root, np.asarray(dense()(t_root), dtype=float)

    # -- ending ---------------------------------------------------------------------------

    def _end(self, status: dynsim.Status, message: str) -> None:
        solver = self.solver
        self.batch.end(self.i, status, message, {
            "accepted": self.steps, "rejected": 0, "rhs_evaluations": self.calls.count,
            "jacobian_evaluations": int(getattr(solver, "njev", 0)),
            "lu_decompositions": int(getattr(solver, "nlu", 0))})

    def _stopped(self, t: float, y: np.ndarray, e: int) -> None:
        event = self.problem.events[e]
        self._end(dynsim.Status.EVENT,
                  event.explain(t, y) if event.explain else
                  f"stopped by event '{event.name}' at t = {t:.6g}")

    def _cancelled(self) -> None:
        self._end(dynsim.Status.CANCELLED, f"cancelled at t = {self.t:.6g} of {self.batch.t1:g}")

    def _max_steps(self) -> None:
        self._end(dynsim.Status.MAX_STEPS,
                  f"reached max_steps = {self.problem.max_steps} at t = {self.t:.6g} of "
                  f"{self.batch.t1:g}; raise {setting('max_steps')} or loosen "
                  f"{setting('rtol')}/{setting('atol')}")

    def _exception(self, exc: Exception) -> None:
        """End after an exception inside scipy's step (or the start)."""
        if self.calls.error is not None:
            what, error, t = self.calls.error
            self._end(dynsim.Status.RHS_ERROR,
                      f"{what} raised {type(error).__name__}: {error} at t = {t:.6g}")
        elif self.calls.bad is not None:
            self._non_finite_rhs(*self.calls.bad)
        else:
            self._end(dynsim.Status.RHS_ERROR,
                      f"scipy's {self.batch.method.scipy_class} raised {type(exc).__name__}: "
                      f"{exc} after t = {self.t:.6g}; check the system's right-hand side and "
                      f"Jacobian (shapes, values)")

    def _failed(self, reason: str, t_old: float, t_new: float) -> None:
        """End after scipy gave up on a step or took one below the smallest allowed."""
        if self.calls.bad is not None:
            self._non_finite_rhs(*self.calls.bad)
            return
        floor = self._floor(t_old)
        size = float(np.abs(self.y).max())
        if size > BLOWUP_GROWTH * self.scale:
            self._end(dynsim.Status.NON_FINITE,
                      f"the solution blows up near t = {t_old:.6g}: |y| reached {size:.3g} "
                      f"and the step size fell below the minimum {floor:.3g}")
            return
        step = f"step size {abs(t_new - t_old):.3g}" if t_new != t_old else "the step size"
        self._end(dynsim.Status.STEP_TOO_SMALL,
                  f"{step} at t = {t_old:.6g} is below the minimum {floor:.3g} (singularity "
                  f"or discontinuity?); check the right-hand side near there, or loosen "
                  f"{setting('rtol')}/{setting('atol')}" + (f" ({reason})" if reason else ""))

    def _non_finite_rhs(self, t_bad: float, y_bad: np.ndarray) -> None:
        self._end(dynsim.Status.NON_FINITE,
                  f"the right-hand side returned NaN or inf at t = {t_bad:.6g} (state "
                  f"{state_text(y_bad)}) and smaller steps did not help; last finite state "
                  f"{state_text(self.y)} at t = {self.t:.6g}")

    def _non_finite_state(self) -> None:
        self._end(dynsim.Status.NON_FINITE,
                  f"the solution became non-finite (NaN or inf) after t = {self.t:.6g} "
                  f"(blow-up, or NaN from the right-hand side); last finite state "
                  f"{state_text(self.y)}")


@dynsim.hookimpl
def dynsim_register_solvers(register):
    for name, scipy_class, description in METHODS:
        register(ScipyStiffSolver(name, scipy_class, description))
