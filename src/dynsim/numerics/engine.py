"""The batched integrator: N trajectories, one vectorised computation, per-trajectory steps.

`integrate(f, y0, t_eval, tableau, ...)` steps any `ButcherTableau` on numpy arrays or torch
tensors (device and dtype taken from `y0`; autograd flows through states and stages).

How one step goes, for the M trajectories still active (each with its own t, h and error
history): every stage is one batched call f(t, y) with t an (M,) array; the error norm gives
each trajectory its own accept/reject decision and next step (`controller`); accepted ones
advance, rejected ones retry with a smaller step in the next round, so a hard trajectory
never shrinks the steps of the others. After an accepted step, events are checked and
located (`events`) and every output time the step passed is filled from the dense output
(`dense`), in batches of many steps (`outputs.Interpolations`). Trajectories that fail
leave the active set at the end of the step; those that end at a good state (finished,
stopped by an event) wait, taking zero steps, until they are an eighth of the active ones.
Then the arrays are compacted, so the work stays proportional to the active count.

Bookkeeping (times, step sizes, error norms, indices, counters) lives in float64 numpy
arrays on the host; states and stages stay in the backend. On torch that means a few small
(M,)-sized copies between host and device per step (step sizes and stage times in, error
norms out: one synchronisation), never a copy of a state; the step-size control is not
differentiated (as in diffrax) and event times are located on detached values.

Failures never raise: each trajectory ends with a `Status` and a message (see
`dynsim.core.trajectories.Status`), keeps its outputs up to then and has NaN after.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from dynsim.core.cancel import CancelToken
from dynsim.core.errors import InputError
from dynsim.core.events import Event
from dynsim.core.solver import Solution, check_events, check_step_options, check_tolerances
from dynsim.core.spelling import setting
from dynsim.core.trajectories import Status
from dynsim.numerics import controller as ctl
from dynsim.numerics.backend import Array, NumpyBackend, backend_for
from dynsim.numerics.dense import DenseStep
from dynsim.numerics.events import crossings, locate, time_tolerance
from dynsim.numerics.outcomes import Outcomes, state_text
from dynsim.numerics.outputs import Interpolations, Samples
from dynsim.numerics.stages import BufferStages, TrackedStages, run_stages
from dynsim.numerics.tableau import ButcherTableau

RHS = Callable[[Any, Array], Array]
"""f(t, y): `y` (M, D) in the input's array type, `t` an (M,) array of the same kind."""

DEFAULT_FIXED_STEPS = 1000
"""Without `dt`, a method without error estimate takes |t1 - t0| / 1000 steps."""

BLOWUP_GROWTH = 1e8
"""A trajectory whose step size underflows after |y| grew by this factor (relative to
max(1, |y0|)) is reported as a blow-up (`non_finite`), not as `step_too_small`."""

SNAPSHOT_INTERVAL = 0.05
"""Seconds between the partial solutions `iterate` yields (at least 10x their cost)."""

PROGRESS_INTERVAL = 0.1
"""Seconds between calls of the progress callback."""

OUTPUT_CHUNK = 6144
"""Values (trajectories x states) interpolated at once on numpy (`outputs.Interpolations`)."""

_HOST_FIELDS = ("ids", "t", "h", "memory", "nxt", "t_next", "n_acc", "n_extra", "scale0")


def integrate(f: RHS, y0: Array, t_eval: Sequence[float] | Array, tableau: ButcherTableau, *,
              t_span: tuple[float, float] | None = None,
              rtol: float | Sequence[float] | Array = 1e-6,
              atol: float | Sequence[float] | Array = 1e-9,
              dt: float | None = None, max_steps: int = 100_000,
              first_step: float | None = None, min_step: float | None = None,
              events: Sequence[Event] = (), cancel: CancelToken | None = None,
              progress: Callable[[float], None] | None = None) -> Solution:
    """Integrate dy/dt = f(t, y) for every row of `y0` (N, D) and sample it at `t_eval`.

    - `f(t, y)`: `y` (M, D) any subset of the batch, `t` an (M,) array (a tensor of y's
      dtype and device for torch input); returns (M, D). It must not modify `y`.
    - `y0`: numpy array or torch tensor (N, D); the output `y` (N, T, D) is of the same kind,
      and on torch differentiable with respect to `y0` and whatever `f` closes over.
    - `t_eval` (T,): output times, monotone in the direction of `t_span` (default
      `(t_eval[0], t_eval[-1])`), inside it; may run backwards.
    - `rtol`, `atol`: scalars or one per state. `max_steps` caps the attempted steps
      (accepted + rejected) of each trajectory; `first_step` (|h|) replaces Hairer's initial
      step; `min_step` raises the smallest allowed |h| (default 10 ulps of t).
    - `dt`: take fixed steps of at most `dt` (any tableau, no error control); methods without
      error estimate do so anyway, with |t1 - t0| / 1000 by default.
    - `events`: `Event`s with `function(t, y)` (parameters bound), `cancel` a `CancelToken`
      checked between steps, `progress(fraction)` called now and then.

    Returns a `Solution`: `y`, one `Status` and message per trajectory, `stats` (accepted,
    rejected, rhs_evaluations per trajectory) and `events` (per event, per trajectory
    (times, states)). Raises `InputError` for invalid arguments, never for a failing
    trajectory.
    """
    run = _Integration(f, y0, t_eval, tableau, t_span, rtol, atol, dt, max_steps, first_step,
                       min_step, events, cancel, progress)
    *_, solution = run.solutions(None)
    return solution


def iterate(f: RHS, y0: Array, t_eval: Sequence[float] | Array, tableau: ButcherTableau, *,
            t_span: tuple[float, float] | None = None,
            rtol: float | Sequence[float] | Array = 1e-6,
            atol: float | Sequence[float] | Array = 1e-9,
            dt: float | None = None, max_steps: int = 100_000,
            first_step: float | None = None, min_step: float | None = None,
            events: Sequence[Event] = (), cancel: CancelToken | None = None,
            progress: Callable[[float], None] | None = None,
            interval: float = SNAPSHOT_INTERVAL) -> Iterator[Solution]:
    """Like `integrate`, but yield partial solutions as they grow, the final one last.

    Partial solutions (`progress` < 1) hold NaN where nothing is computed yet and show
    unfinished trajectories as `success`; they are copies, safe to keep. One is yielded
    every `interval` seconds at most (and at least 10 times its own cost apart).
    Arguments are checked at once, before the first `next()`.
    """
    run = _Integration(f, y0, t_eval, tableau, t_span, rtol, atol, dt, max_steps, first_step,
                       min_step, events, cancel, progress)
    return run.solutions(interval)


def _host_vector(value: Any, label: str) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{label} must be numbers, got {value!r}") from None
    return out


class _Integration:
    """One call of `integrate`/`iterate`: the checked inputs and the state of the run."""

    def __init__(self, f: RHS, y0: Array, t_eval: Any, tableau: ButcherTableau,
                 t_span: tuple[float, float] | None, rtol: Any, atol: Any, dt: float | None,
                 max_steps: int, first_step: float | None, min_step: float | None,
                 events: Sequence[Event], cancel: CancelToken | None,
                 progress: Callable[[float], None] | None) -> None:
        if not isinstance(tableau, ButcherTableau):
            raise InputError(f"tableau must be a ButcherTableau, got {type(tableau).__name__}")
        self.f, self.tableau, self.cancel, self.progress_callback = f, tableau, cancel, progress
        b = self.backend = backend_for(y0)
        y = b.asarray(y0)
        if y.ndim != 2 or y.shape[0] == 0 or y.shape[1] == 0:
            raise InputError(f"y0 must have shape (N, D) with N, D >= 1, got {tuple(y.shape)}")
        self.y0 = y
        self.n, self.d = int(y.shape[0]), int(y.shape[1])
        self._check_times(_host_vector(t_eval, "t_eval").ravel(), t_span)
        self._check_options(rtol, atol, dt, max_steps, first_step, min_step, events)
        mats = tableau.matrices
        self.stages, self.extra = mats.stages, len(mats.dense_c)
        rows = [np.concatenate(([1.0], mats.A[i, :i])) for i in range(1, self.stages)]
        rows += [np.concatenate(([1.0], mats.dense_A[x, :self.stages + x]))
                 for x in range(self.extra)]
        self.weights = [None, *(b.from_host(r) for r in rows)]
        self.c = np.concatenate([mats.c, mats.dense_c])
        self.e = None if mats.e is None else b.from_host(mats.e)
        self.e_low = None if mats.e_low is None else b.from_host(mats.e_low)
        self.dense = b.from_host(mats.dense)
        self.ones = b.from_host(np.ones(self.d))
        # outputs are interpolated in pieces of this many on numpy, so that the temporaries
        # stay in cache and small enough not to page-fault; torch takes them in one go
        self.chunk = max(1, OUTPUT_CHUNK // self.d) if isinstance(b, NumpyBackend) else \
            self.n * len(self.t_eval)
        self.time: Callable[[np.ndarray], Any] = (
            (lambda t: t) if isinstance(b, NumpyBackend) else b.from_host)
        # stage times of a step go to the backend in one copy (numpy: nothing to do)
        self.convert = None if isinstance(b, NumpyBackend) else b.fresh
        self.outcomes = Outcomes(self.n)
        self.event_errors: dict[int, tuple[str, Exception, float]] = {}
        self.out = Samples(b, self.n, len(self.t_eval), self.d)
        self.pending = Interpolations(b, self.out, self.t_eval, self.chunk)
        self.stats = {name: np.zeros(self.n, dtype=np.int64)
                      for name in ("accepted", "rejected", "rhs_evaluations")}
        self.event_chunks: list[list[tuple[np.ndarray, np.ndarray, Any]]] = [
            [] for _ in self.events]
        self.g_prev: list[np.ndarray] = []
        self.iterations = 0
        self.parked, self.unsafe = 0, False
        self.check_end_stage = self.adaptive and mats.e[-1] == 0 and (
            mats.e_low is None or mats.e_low[-1] == 0)
        self.store: Any = None

    # -- input checks -------------------------------------------------------------------

    def _check_times(self, t_eval: np.ndarray, t_span: tuple[float, float] | None) -> None:
        if t_eval.size == 0 or not np.isfinite(t_eval).all():
            raise InputError("t_eval must be a non-empty list of finite times")
        if t_span is None:
            if t_eval.size < 2:
                raise InputError("give t_span, or at least two output times")
            t_span = (t_eval[0], t_eval[-1])
        span = _host_vector(t_span, "t_span").ravel()
        if span.size != 2:
            raise InputError(f"t_span must be two numbers (t0, t1), got {t_span!r}")
        t0, t1 = float(span[0]), float(span[1])
        if not (math.isfinite(t0) and math.isfinite(t1)) or t0 == t1:
            raise InputError(f"t_span must be two different finite numbers, got ({t0}, {t1})")
        self.t0, self.t1 = t0, t1
        self.direction = math.copysign(1.0, t1 - t0)
        if np.any(np.diff(t_eval) * self.direction <= 0):
            raise InputError("t_eval must be strictly increasing (decreasing when t1 < t0)")
        if (t_eval[0] - t0) * self.direction < 0 or (t1 - t_eval[-1]) * self.direction < 0:
            raise InputError(f"t_eval must lie within t_span [{min(t0, t1):g}, {max(t0, t1):g}]")
        self.t_eval = t_eval
        # for the next output time of each trajectory by one gather, and for `searchsorted`
        self.t_eval_then_end = np.append(t_eval, self.direction * math.inf)
        self.t_eval_forward = self.direction * t_eval
        # evenly spaced output times are found by division, others by binary search
        steps = np.diff(t_eval)
        uniform = steps.size and np.all(np.abs(steps - steps[0]) <= 1e-9 * abs(steps[0]))
        self.output_step = float(steps[0]) if uniform else None

    def _check_options(self, rtol: Any, atol: Any, dt: float | None, max_steps: int,
                       first_step: float | None, min_step: float | None,
                       events: Sequence[Event]) -> None:
        rtol_arr, atol_arr = check_tolerances(rtol, atol, self.d)
        rtol_arr = np.maximum(rtol_arr, 10 * self.backend.eps)  # below, roundoff dominates
        self.tol = ctl.Tolerances(self.backend, rtol_arr, atol_arr, self.n)
        check_step_options(dt, max_steps, first_step, min_step)
        self.events = check_events(events)
        self.adaptive = dt is None and self.tableau.adaptive
        span = abs(self.t1 - self.t0)
        self.fixed = None if self.adaptive else ctl.FixedSteps(
            float(dt) if dt is not None else span / DEFAULT_FIXED_STEPS, self.t_eval, self.t1)
        self.controller = ctl.PIController(self.tableau.error_order) if self.adaptive else None
        self.max_steps = int(max_steps)
        self.first_step = None if first_step is None else float(first_step)
        self.min_step = 0.0 if min_step is None else float(min_step)
        # no trajectory's minimum step exceeds this one (|t| <= max(|t0|, |t1|) throughout)
        self.floor_bound = float(ctl.min_step(np.array([max(abs(self.t0), abs(self.t1))]),
                                              self.min_step)[0])

    # -- the run --------------------------------------------------------------------------

    @property
    def m(self) -> int:
        """The number of active trajectories."""
        return len(self.ids)

    def _reached(self, t: np.ndarray, target: np.ndarray) -> np.ndarray:
        """Whether times `t` are at or past `target` in the direction of integration."""
        return t >= target if self.direction > 0 else t <= target

    def solutions(self, interval: float | None) -> Iterator[Solution]:
        """Run to the end, yielding partial solutions every `interval` s (None: only the last)."""
        self._start()
        last_report = last_snapshot = time.perf_counter()
        snapshot_cost = 0.0
        while self.m:
            if self.cancel is not None and self.cancel.cancelled:
                rows = np.flatnonzero(~self.ending)
                self._end(rows, Status.CANCELLED,
                          [f"cancelled at t = {self.t[i]:.6g} of {self.t1:g}" for i in rows])
                self._compact()
                break
            self._step()
            if interval is None and self.progress_callback is None:
                continue
            now = time.perf_counter()
            if self.progress_callback is not None and now - last_report >= PROGRESS_INTERVAL:
                self.progress_callback(self._progress())
                last_report = now
            if interval is not None and self.m and \
                    now - last_snapshot >= max(interval, 10 * snapshot_cost):
                snapshot = self._solution(final=False)
                last_snapshot = time.perf_counter()
                snapshot_cost = last_snapshot - now
                yield snapshot
        if self.progress_callback is not None:
            self.progress_callback(1.0)
        yield self._solution(final=True)

    def _start(self) -> None:
        """Evaluate f at t0, write outputs at t0, end the trajectories that fail there."""
        b, n, y = self.backend, self.n, self.y0
        self.ids = np.arange(n)
        self.t = np.full(n, self.t0)
        self.h = np.zeros(n)
        self.memory = ctl.PIController.initial_memory(n)
        self.after_reject = np.zeros(0, dtype=np.int64)  # rows whose last step was rejected
        self.nxt = np.zeros(n, dtype=np.int64)
        self.n_acc = np.zeros(n, dtype=np.int64)
        self.n_extra = np.ones(n, dtype=np.int64)  # rhs calls beyond S - 1 per step
        y0_host = b.host(b.detach(y)).astype(np.float64)
        self.scale0 = np.maximum(1.0, np.abs(y0_host).max(axis=1))
        self.ending = np.zeros(n, dtype=bool)
        broken: dict[int, tuple[Exception, float]] = {}
        k = self._call(self.t, y, broken)
        if tuple(k.shape) != (n, self.d):
            raise InputError(f"the right-hand side returned shape {tuple(k.shape)} for y of "
                             f"shape {(n, self.d)}; it must return an array of y's shape")
        kind = TrackedStages if b.tracked(y, k) else BufferStages
        self.store = kind(b, self.weights, self.stages + self.extra, y, k, n * self.d)
        if self.t_eval[0] == self.t0:
            self.out.write(self.ids * len(self.t_eval) * self.d, y)
            self.nxt[:] = 1
        self.t_next = self._next_output_times(self.nxt)
        self._fail_broken(broken)
        finite_y = np.isfinite(y0_host).all(axis=1)
        finite_k = np.isfinite(b.host(b.detach(k)).astype(np.float64)).all(axis=1)
        for i in np.flatnonzero(~(finite_y & finite_k) & ~self.ending):
            what = "the initial state" if not finite_y[i] else "the right-hand side"
            self._end(np.array([i]), Status.NON_FINITE,
                      f"{what} is not finite at t0 = {self.t0:g} (state "
                      f"{state_text(y0_host[i])}); check the initial condition and parameters")
        if self.events:
            self.g_prev = [self._g(event, self.t, b.detach(y)) for event in self.events]
            self._fail_events()
        self._compact()
        if self.adaptive and self.m:
            self._initial_steps()

    def _next_output_times(self, nxt: np.ndarray) -> np.ndarray:
        return self.t_eval_then_end[nxt]

    def _initial_steps(self) -> None:
        span = self.t1 - self.t0
        if self.first_step is not None:
            size = np.full(self.m, min(self.first_step, abs(span)))
        else:
            scratch: dict[int, tuple[Exception, float]] = {}
            size = ctl.initial_step(self.backend, lambda t, y: self._call(t, y, scratch),
                                    self.t0, self.store.state, self.store.deriv, span,
                                    self.tableau.error_order, self.tol)
            self.n_extra += 1
        floor = ctl.min_step(self.t, self.min_step)
        self.h = self.direction * np.maximum(np.nan_to_num(size, nan=1e-6), floor)

    def _step(self) -> None:
        """One attempted step of every active trajectory."""
        b, d, s, store = self.backend, self.d, self.stages, self.store
        t = self.t
        if self.fixed is not None:
            h, target = self.fixed.steps(t, self.nxt)
            t_new = np.where(np.isnan(target), t + h, target)
            if self.parked:
                t_new[self.ending] = t[self.ending]
        else:
            t_new = t + self.h
            # (times past t1 become t1; as `t_new[t_new >= t1] = t1` forwards)
            clip = np.minimum if self.direction > 0 else np.maximum
            clip(t_new, self.t1, out=t_new)
        h = t_new - t
        h_flat = b.fresh(np.repeat(h, d))
        broken: dict[int, tuple[Exception, float]] = {}
        store.begin(h_flat)
        y_new, k_new = run_stages(lambda tt, yy, tb=None: self._call(tt, yy, broken, tb),
                                  store, t, h, self.c, h_flat, 1, s, t_new, self.convert)
        self.iterations += 1
        y_new_d = b.detach(y_new)
        if self.adaptive:
            err, finite = ctl.error_norm(self.e, self.e_low, b.detach(store.stages(s)),
                                         b.detach(store.state), y_new_d, self.tol, self.ones)
            accepted = err <= 1.0
            if self.check_end_stage:
                k_flat = b.detach(k_new).reshape(-1)
                finite &= np.isfinite(b.host(ctl.row_sums(k_flat, d, self.ones)))
        else:
            total = (y_new_d + b.detach(k_new)).reshape(-1)
            finite = np.isfinite(b.host(ctl.row_sums(total, d, self.ones)))
            accepted = np.ones(self.m, dtype=bool)
        if broken:
            finite[list(broken)] = False
        accepted &= finite
        if self.parked:
            accepted &= ~self.ending
            rejected = np.flatnonzero(~accepted & ~self.ending)
        else:
            rejected = np.flatnonzero(~accepted)
        self.n_acc += accepted
        if self.adaptive:
            self._control(h, err, rejected, finite, broken)
        elif rejected.size:
            rows = rejected[~_mask(broken, self.m)[rejected]]
            self._end(rows, Status.NON_FINITE,
                      [f"the state became non-finite between t = {t[i]:.6g} and "
                       f"{t_new[i]:.6g} (blow-up); try a smaller {setting('dt')} or an "
                       "adaptive solver"
                       for i in rows])
        stop_t = self._after_accepted(accepted, t_new, h, h_flat, y_new, broken)
        if broken:
            self._fail_broken(broken)
        if self.event_errors:
            self._fail_events()
        store.finish(rejected)
        self.t = t_new
        self.t[rejected] = t[rejected]
        done = t_new == self.t1
        done &= accepted
        if self.parked:
            done &= ~self.ending
        if stop_t is not None:
            done &= np.isnan(stop_t)
        if done.any():
            self._end(np.flatnonzero(done), Status.SUCCESS, "")
        if self.iterations >= self.max_steps:
            self._end_max_steps(np.flatnonzero(~self.ending))
        self._compact()

    def _control(self, h: np.ndarray, err: np.ndarray, rejected: np.ndarray,
                 finite: np.ndarray, broken: dict[int, tuple[Exception, float]]) -> None:
        """Next step sizes; end the trajectories whose step would fall below the minimum."""
        capped = np.concatenate([rejected, self.after_reject])
        factor, self.memory = self.controller.factors(err, self.memory, rejected, capped)
        h_next = h * factor
        h_abs = np.abs(h_next)
        if self.parked:
            h_abs[self.ending] = math.inf  # (they take zero steps below)
        if h_abs.min() >= self.floor_bound:
            # no step near the minimum: the clamping below would change nothing (factors are
            # positive, so h_next keeps the sign of h)
            self.h = h_next
        else:
            floor = ctl.min_step(self.t, self.min_step)
            small = rejected[h_abs[rejected] < floor[rejected]]
            if broken:
                small = small[~_mask(broken, self.m)[small]]
            np.maximum(h_abs, floor, out=h_abs)
            self.h = np.copysign(h_abs, h)
            if small.size:
                self._end_small_steps(small, h_next, finite)
        if self.parked:
            self.h[self.ending] = 0.0
        self.after_reject = rejected

    def _after_accepted(self, accepted: np.ndarray, t_new: np.ndarray, h: np.ndarray,
                        h_flat: Array, y_new: Array,
                        broken: dict[int, tuple[Exception, float]]) -> np.ndarray | None:
        """Events and outputs of the accepted steps; terminal-event times (NaN: none) or None."""
        outputs = self._reached(t_new, self.t_next)
        outputs &= accepted
        crossed = self._crossings(accepted, t_new, y_new) if self.events else []
        if not crossed and not outputs.any():
            return None
        need = outputs & (t_new != self.t_next)
        for _, rows, _ in crossed:
            need[rows] = True
        dense = local = None
        if need.any():
            dense, local = self._dense(need, h, h_flat, broken)
        stop_t = None
        if crossed:
            stop_t = self._locate(crossed, t_new, h, dense, local)
            for e, _, g_new in crossed:
                np.copyto(self.g_prev[e], g_new, where=accepted)
        if outputs.any():
            limit = t_new if stop_t is None else np.where(np.isnan(stop_t), t_new, stop_t)
            self._emit(np.flatnonzero(outputs), limit, t_new, h, y_new, dense, local)
        return stop_t

    def _crossings(self, accepted: np.ndarray, t_new: np.ndarray,
                   y_new: Array) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """(event, rows, g at t_new) of the events that changed sign in some accepted step.

        For the other events the new values of g are kept at once.
        """
        y_d = self.backend.detach(y_new)
        out = []
        for e, event in enumerate(self.events):
            g_new = self._g(event, t_new, y_d)
            rows = np.flatnonzero(accepted & crossings(self.g_prev[e], g_new, event.direction))
            if rows.size:
                out.append((e, rows, g_new))
            else:
                np.copyto(self.g_prev[e], g_new, where=accepted)
        return out

    def _locate(self, crossed: list[tuple[int, np.ndarray, np.ndarray]], t_new: np.ndarray,
                h: np.ndarray, dense: DenseStep | None,
                local: np.ndarray | None) -> np.ndarray:
        """Locate and record the crossings; end the trajectories a terminal event stops.

        Returns per trajectory the time of its terminal event in this step (NaN: none).
        """
        b = self.backend
        stop_t = np.full(self.m, np.nan)
        stop_event = np.full(self.m, -1)
        records = []
        for e, rows, g_new in crossed:
            t_root, y_root = self._roots(e, rows, g_new, t_new, h, dense, local)
            records.append((e, rows, t_root, y_root))
            if self.events[e].terminal:
                current = stop_t[rows]
                first = np.isnan(current) | ((t_root - current) * self.direction < 0)
                stop_t[rows[first]] = t_root[first]
                stop_event[rows[first]] = e
        for e, rows, t_root, y_root in records:
            limit = stop_t[rows]
            keep = np.flatnonzero(np.isnan(limit) | ((t_root - limit) * self.direction <= 0))
            if keep.size:
                self.event_chunks[e].append((self.ids[rows[keep]], t_root[keep],
                                             b.take(y_root, b.index(keep))))
        self._end_events(records, stop_event)
        return stop_t

    def _dense(self, need: np.ndarray, h: np.ndarray, h_flat: Array,
               broken: dict[int, tuple[Exception, float]]
               ) -> tuple[DenseStep, np.ndarray | None]:
        """Dense output for the rows `need`, or for all rows when that is most of them.

        Returns it and the position of each row in it (None: all rows, in order).
        """
        b, m, s = self.backend, self.m, self.stages
        rows = np.flatnonzero(need)
        local = None
        # all rows at once avoids gathers, unless that costs extra stages of rows not needing it
        if rows.size == m or (not self.extra and rows.size * 2 >= m):
            rows = np.arange(m)
            store, t, hr, hr_flat = self.store, self.t, h, h_flat
        else:
            store, t, hr = self.store.subset(rows), self.t[rows], h[rows]
            hr_flat = b.from_host(np.repeat(hr, self.d))
            local = np.full(m, -1)
            local[rows] = np.arange(rows.size)
        if self.extra:
            sub: dict[int, tuple[Exception, float]] = {}
            run_stages(lambda tt, yy: self._call(tt, yy, sub), store, t, hr, self.c, hr_flat,
                       s, s + self.extra)
            self.n_extra[rows] += self.extra
            broken.update({int(rows[i]): v for i, v in sub.items()})
        return DenseStep(b, self.dense, store.stages(s + self.extra), store.state), local

    def _roots(self, e: int, rows: np.ndarray, g_new: np.ndarray, t_new: np.ndarray,
               h: np.ndarray, dense: DenseStep,
               local: np.ndarray | None) -> tuple[np.ndarray, Array]:
        """Crossing times and states of event `e` in the steps of `rows`."""
        b, event = self.backend, self.events[e]
        t, hr, loc = self.t[rows], h[rows], rows if local is None else local[rows]

        def g_at(theta: np.ndarray, sub: np.ndarray) -> np.ndarray:
            with b.no_grad():
                y = b.detach(dense(theta, loc[sub]))
                return self._g(event, t[sub] + theta * hr[sub], y, rows[sub])

        theta = locate(g_at, self.g_prev[e][rows], g_new[rows], np.abs(hr),
                       time_tolerance(t_new[rows]))
        t_root = np.where(theta == 1.0, t_new[rows], t + theta * hr)
        return t_root, dense(theta, loc)

    def _emit(self, rows: np.ndarray, limit: np.ndarray, t_new: np.ndarray, h: np.ndarray,
              y_new: Array, dense: DenseStep | None, local: np.ndarray | None) -> None:
        """Write every output time up to `limit` passed by the steps of `rows`.

        An output at a step's end takes y_new at once; those inside the steps wait in
        `self.pending`, which interpolates them in batches from the steps' dense output.
        """
        b = self.backend
        end = self._outputs_up_to(limit[rows])
        start = self.nxt[rows]
        self.nxt[rows] = end
        self.t_next[rows] = self._next_output_times(end)
        # only the last output time a step passes can be its end
        exact = (self.t_eval[end - 1] == t_new[rows]) & (end > start)
        if exact.any():
            hit = rows[exact]
            values = y_new if hit.size == self.m else b.take(y_new, b.index(hit))
            self.out.write((self.ids[hit] * len(self.t_eval) + end[exact] - 1) * self.d, values)
            end = end - exact
        inner = end > start
        if not inner.all():
            rows, start, end = rows[inner], start[inner], end[inner]
            if not rows.size:
                return
        # (`dense` exists: `_after_accepted` builds it for steps with inner outputs)
        q, y = dense.rows(rows if local is None else local[rows])  # type: ignore[union-attr]
        self.pending.add(self.ids[rows], start, end, self.t[rows], h[rows], q, y)

    def _outputs_up_to(self, limit: np.ndarray) -> np.ndarray:
        """How many output times each `limit` has reached (the index of the first one not)."""
        t_eval, n_out = self.t_eval, len(self.t_eval)
        if self.output_step is None or limit.size < 1000:  # (searchsorted is slow for many)
            return np.searchsorted(self.t_eval_forward, self.direction * limit, "right")
        guess = np.floor((limit - t_eval[0]) / self.output_step).astype(np.int64) + 1
        np.minimum(np.maximum(guess, 0, out=guess), n_out, out=guess)
        # the guess may be one off from rounding: move it onto the exact count
        up = guess < n_out
        up[up] = self._reached(limit[up], t_eval[guess[up]])
        guess += up
        down = guess > 0
        down[down] = ~self._reached(limit[down], t_eval[guess[down] - 1])
        guess -= down
        return guess

    # -- right-hand side and event calls --------------------------------------------------

    def _call(self, t: np.ndarray, y: Array, broken: dict[int, tuple[Exception, float]],
              t_b: Any = None) -> Array:
        """f(t, y); if it raises, find the rows that raise (bisection) and give them NaN.

        `t_b` is `t` already in the backend's form (None: converted here)."""
        try:
            return self.f(self.time(t) if t_b is None else t_b, y)
        except Exception:
            pass
        b = self.backend
        return b.concat(self._rows_apart(self.f, t, y, broken, b.full((1, self.d), math.nan)))

    def _rows_apart(self, f: Callable[[Any, Array], Any], t: np.ndarray, y: Array,
                    broken: dict[int, tuple[Exception, float]], nan_row: Any) -> list[Any]:
        """f(t, y) in pieces, halving those that raise; a row that raises alone gets `nan_row`
        and is recorded in `broken` (row -> exception, t)."""
        pieces: list[Any] = []
        todo = [(0, len(t))]
        while todo:
            lo, hi = todo.pop()
            try:
                pieces.append(f(self.time(t[lo:hi]), y[lo:hi]))
            except Exception as exc:
                if hi - lo == 1:
                    broken.setdefault(lo, (exc, float(t[lo])))
                    pieces.append(nan_row)
                else:
                    mid = (lo + hi) // 2
                    todo += [(mid, hi), (lo, mid)]
        return pieces

    def _g(self, event: Event, t: np.ndarray, y: Array,
           rows: np.ndarray | None = None) -> np.ndarray:
        """The event function at host times `t` (M,) and states `y` (M, D), as host (M,).

        Rows where it raises get NaN (no crossing) and are recorded in `event_errors` (by
        their position among the active rows: `rows[i]`, or i) to end as `rhs_error`."""
        b = self.backend

        def g(t_b: Any, yy: Array) -> np.ndarray:
            value = b.host(b.asarray(event.function(t_b, yy)))
            if value.shape == (yy.shape[0],):
                return value.astype(np.float64)  # (a copy: the function may keep its array)
            return np.broadcast_to(value.astype(np.float64), (yy.shape[0],)).copy()

        try:
            return g(self.time(t), y)
        except Exception:
            pass
        broken: dict[int, tuple[Exception, float]] = {}
        values = np.concatenate(self._rows_apart(g, t, y, broken, np.full(1, math.nan)))
        for i, (exc, at) in broken.items():
            row = i if rows is None else int(rows[i])
            self.event_errors.setdefault(row, (event.name, exc, at))
        return values

    # -- ending trajectories ----------------------------------------------------------------

    def _end(self, rows: np.ndarray, status: Status, message: str | Sequence[str]) -> None:
        """Trajectories at local `rows` end with `status`; they leave at the next compaction."""
        ids = self.ids[rows]
        self.outcomes.end(ids, status, message)
        self.ending[rows] = True
        self.h[rows] = 0.0  # until compaction, ended rows take zero steps at a valid state
        self.parked += len(rows)
        self.unsafe |= status in (Status.NON_FINITE, Status.RHS_ERROR)
        accepted = self.n_acc[rows]
        self.stats["accepted"][ids] = accepted
        self.stats["rejected"][ids] = self.iterations - accepted
        self.stats["rhs_evaluations"][ids] = (self.n_extra[rows]
                                              + (self.stages - 1) * self.iterations)

    def _fail_broken(self, broken: dict[int, tuple[Exception, float]]) -> None:
        rows = np.array(sorted(i for i in broken if not self.ending[i]), dtype=np.int64)
        if rows.size:
            self._end(rows, Status.RHS_ERROR,
                      [f"the right-hand side raised {type(broken[i][0]).__name__}: "
                       f"{broken[i][0]} at t = {broken[i][1]:.6g}" for i in rows])

    def _fail_events(self) -> None:
        rows = np.array(sorted(i for i in self.event_errors if not self.ending[i]),
                        dtype=np.int64)
        if rows.size:
            self._end(rows, Status.RHS_ERROR,
                      [f"the event function '{self.event_errors[i][0]}' raised "
                       f"{type(self.event_errors[i][1]).__name__}: {self.event_errors[i][1]} "
                       f"at t = {self.event_errors[i][2]:.6g}" for i in rows])
        self.event_errors.clear()

    def _end_small_steps(self, rows: np.ndarray, h_next: np.ndarray,
                         finite: np.ndarray) -> None:
        b = self.backend
        y = b.host(b.detach(b.take(self.store.state, b.index(rows)))).astype(np.float64)
        size = np.abs(y).max(axis=1)
        floor = ctl.min_step(self.t[rows], self.min_step)
        for j, i in enumerate(rows):
            t = self.t[i]
            if not finite[i]:
                self._end(np.array([i]), Status.NON_FINITE,
                          f"the solution became non-finite (NaN or inf) after t = {t:.6g} and "
                          f"smaller steps did not help (blow-up, or NaN from the right-hand "
                          f"side); last finite state {state_text(y[j])}")
            elif size[j] > BLOWUP_GROWTH * self.scale0[i]:
                self._end(np.array([i]), Status.NON_FINITE,
                          f"the solution blows up near t = {t:.6g}: |y| reached {size[j]:.3g} "
                          f"and the step size fell below the minimum {floor[j]:.3g}")
            else:
                self._end(np.array([i]), Status.STEP_TOO_SMALL,
                          f"step size {abs(h_next[i]):.3g} at t = {t:.6g} is below the minimum "
                          f"{floor[j]:.3g} (singularity or discontinuity?); check the "
                          f"right-hand side near there, or loosen {setting('rtol')}/"
                          f"{setting('atol')}")

    def _end_max_steps(self, rows: np.ndarray) -> None:
        if self.adaptive:
            hint = (f"the problem may be stiff: try {setting('solver', 'radau')} or "
                    f"{setting('solver', 'bdf')}, or raise {setting('max_steps')}")
        else:
            hint = f"raise {setting('max_steps')} or use a larger {setting('dt')}"
        self._end(rows, Status.MAX_STEPS,
                  [f"reached max_steps = {self.max_steps} at t = {self.t[i]:.6g} of "
                   f"{self.t1:g}; {hint}" for i in rows])

    def _end_events(self, records: list[tuple[int, np.ndarray, np.ndarray, Array]],
                    stop_event: np.ndarray) -> None:
        b = self.backend
        for e, rows, t_root, y_root in records:
            event = self.events[e]
            hit = np.flatnonzero(stop_event[rows] == e)
            if hit.size == 0:
                continue
            states = b.host(b.detach(b.take(y_root, b.index(hit)))).astype(np.float64)
            messages = [event.explain(float(t_root[j]), states[n]) if event.explain
                        else f"stopped by event '{event.name}' at t = {t_root[j]:.6g}"
                        for n, j in enumerate(hit)]
            self._end(rows[hit], Status.EVENT, messages)

    def _compact(self) -> None:
        """Drop the trajectories that ended from the active arrays.

        Trajectories that ended at a state where the right-hand side is fine (success,
        event, step too small) stay parked, taking zero steps, until they are an eighth of
        the active ones; the others (non-finite, rhs error) leave at once.
        """
        if not (self.parked and (self.unsafe or 8 * self.parked >= self.m)):
            return
        keep = np.flatnonzero(~self.ending)
        for name in _HOST_FIELDS:
            setattr(self, name, getattr(self, name)[keep])
        kept = self.after_reject[~self.ending[self.after_reject]]
        self.after_reject = np.searchsorted(keep, kept)
        self.g_prev = [g[keep] for g in self.g_prev]
        self.store.compact(keep)
        self.ending = np.zeros(self.m, dtype=bool)
        self.parked, self.unsafe = 0, False

    # -- results ------------------------------------------------------------------------

    def _progress(self) -> float:
        t = self.t[~self.ending]
        if not t.size:
            return 1.0
        return float(np.min((t - self.t0) / (self.t1 - self.t0)))

    def _solution(self, final: bool) -> Solution:
        self.pending.flush()
        stats = {name: values.copy() for name, values in self.stats.items()}
        live = np.flatnonzero(~self.ending)
        ids, accepted = self.ids[live], self.n_acc[live]
        stats["accepted"][ids] = accepted
        stats["rejected"][ids] = self.iterations - accepted
        stats["rhs_evaluations"][ids] = self.n_extra[live] + (self.stages - 1) * self.iterations
        return Solution(y=self.out.result(copy=not final), status=list(self.outcomes.status),
                        messages=list(self.outcomes.messages), stats=stats,
                        events={e.name: self._event_log(i) for i, e in enumerate(self.events)},
                        progress=1.0 if final else self._progress())

    def _event_log(self, e: int) -> list[tuple[np.ndarray, Array]]:
        b, chunks = self.backend, self.event_chunks[e]
        if not chunks:
            return [(np.zeros(0), b.full((0, self.d), math.nan)) for _ in range(self.n)]
        ids = np.concatenate([c[0] for c in chunks])
        order = np.argsort(ids, kind="stable")
        times = np.concatenate([c[1] for c in chunks])[order]
        states = b.take(b.concat([c[2] for c in chunks]), b.index(order))
        bounds = np.concatenate([[0], np.cumsum(np.bincount(ids, minlength=self.n))])
        return [(times[bounds[i]:bounds[i + 1]], states[bounds[i]:bounds[i + 1]])
                for i in range(self.n)]


def _mask(rows: dict[int, Any], m: int) -> np.ndarray:
    out = np.zeros(m, dtype=bool)
    if rows:
        out[list(rows)] = True
    return out
