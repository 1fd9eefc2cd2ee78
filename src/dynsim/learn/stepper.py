"""One ODE system on torch, stepped with an adaptive Butcher tableau: the path behind `odeint`.

torchdiffeq treats the whole state as one system (one step size, one error norm), so the
batched engine's per-trajectory bookkeeping (index sets, compaction, events) would be pure
overhead here. This module steps a single state (any shape) instead, reusing the numerics
pieces: the tableau's FSAL form and dense-output coefficients (`ButcherTableau.matrices`,
laid out by `dynsim.learn.rk_method`, which also holds torchdiffeq's own form of some
methods), the I controller's constants, Hairer's initial step, the error-norm combination
and the minimum step (`dynsim.numerics.controller`). It takes torchdiffeq's steps: the
initial step in the error norm in use and not capped by the span, steps past the last
output time, stage times in the state's precision, times and step sizes in float32 with
options['dtype'] = torch.float32. Fixed-grid methods run in `dynsim.learn.fixed_grid`.

The state keeps its shape, so func sees the stage inputs without reshapes around it. One
accumulator per step holds every linear combination of the stages the step needs (stage
inputs, dense output, error estimate; see `Method`): each stage adds its k to all of them
with one `addcmul`, so autograd records three cheap nodes per stage. Step-size control runs
without a graph, on host floats, with one host sync per step. Outputs inside a step come
from the method's dense output, summed in the Bernstein basis; tolerances are numbers or
per element (`dynsim.learn.tolerance`). With a `jump` (the adjoint pass) every output
time is a stop the steps land on exactly, where the state may be replaced. The options of
torchdiffeq's adaptive solvers apply (`Settings`): min/max step,
`step_t` and `jump_t` stops (after a jump func is evaluated again just past it), the
controller's safety and factors, a callable norm, the callbacks; a stage at the end of a
step is evaluated just before it (torchdiffeq's perturbation, which keeps each step on one
side of a discontinuity). With an `event` the integration stops where it changes sign.
Failures raise `IntegrationError` with a one-line message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from dynsim.core.errors import IntegrationError
from dynsim.learn import tolerance
from dynsim.learn.options import Settings
from dynsim.learn.rk_method import Method, method_for
from dynsim.numerics import controller as ctl

Timed = Callable[[float, torch.Tensor], torch.Tensor]
"""f(t, y): `t` a host float, `y` of the state's shape; returns that shape."""

Jump = Callable[[int, torch.Tensor], torch.Tensor]
"""jump(i, y) -> the state to continue from at output time i (the adjoint adds its jumps)."""

Event = Callable[[float, torch.Tensor], torch.Tensor]
"""event(t, y) -> a scalar tensor; the integration stops where its sign changes."""


class Callbacks:
    """torchdiffeq's step callbacks of func: callback_step(t0, y0, dt) before each attempt,
    callback_accept_step / callback_reject_step after it (absent ones are None)."""

    NAMES = ("callback_step", "callback_accept_step", "callback_reject_step")

    def __init__(self, owner: Any, suffix: str = "", wrap: Callable[[Any], Any] | None = None
                 ) -> None:
        found = [getattr(owner, name + suffix, None) for name in self.NAMES]
        self.step, self.accept, self.reject = found
        self.wrap = wrap
        self.any = any(c is not None for c in found)

    def __call__(self, which: Callable[..., Any] | None, t: float | torch.Tensor,
                 y: torch.Tensor, h: float | torch.Tensor,
                 dtype: torch.dtype = torch.float64) -> None:
        """Call `which` (one of the three) with (t, y, dt) as tensors (host floats in
        `dtype`), y as func sees it, dt >= 0 also backwards in time (as torchdiffeq, which
        integrates backwards in negated time)."""
        if which is not None:
            t, h = (v if isinstance(v, torch.Tensor) else
                    torch.tensor(v, dtype=dtype, device=y.device) for v in (t, h))
            which(t, y if self.wrap is None else self.wrap(y), h.abs())


NO_CALLBACKS = Callbacks(None)


def step_factor(err: float, exponent: float, capped: bool, safety: float = ctl.SAFETY,
                ifactor: float = ctl.MAX_FACTOR, dfactor: float = ctl.MIN_FACTOR) -> float:
    """The I controller's factor for a step with error norm `err` (NaN: not finite).

    `PIController(order, beta1=1, beta2=0).factors` for one system, on host floats: SAFETY
    err^(-1/(order+1)) within [MIN_FACTOR, MAX_FACTOR], at most 1 after a rejection
    (torchdiffeq's safety, dfactor and ifactor options replace the three constants).
    """
    if err != err:
        factor = dfactor
    elif err == 0.0:
        factor = ifactor
    else:
        factor = min(max(safety * err ** -exponent, dfactor), ifactor)
    return min(factor, 1.0) if capped else factor


def solve(f: Timed, y0: torch.Tensor, times: np.ndarray, settings: Settings,
          groups: list[int] | None = None, jump: Jump | None = None,
          norm: Callable[[torch.Tensor], Any] | None = None,
          callbacks: Callbacks = NO_CALLBACKS) -> torch.Tensor:
    """The states (T, ...) at the times `times` (host float64, strictly monotone), y0 first.

    - `groups`: sizes of consecutive parts of the flattened state whose RMS error norms are
      combined by their maximum (torchdiffeq's mixed norm); values after the last part are
      left out of the norm (a seminorm). None: one RMS norm over the whole state.
    - `jump`: land on every output time and continue from `jump(i, y)` (its output is the
      state before the jump); None: step freely and interpolate the outputs.
    - `norm`: a function of the scaled error (y's shape) replacing `groups` and the
      settings' norm.

    Autograd flows through the returned states when `y0` or `f` carry gradients.
    """
    run = _Run(f, y0, times, settings, groups, jump, norm, callbacks)
    return run.run().view(len(times), *y0.shape)


class DenseSolution:
    """The dense output of a whole solve: y at any time between its ends."""

    def __init__(self, steps: list[tuple[float, float, torch.Tensor, torch.Tensor]],
                 method: Method, shape: torch.Size) -> None:
        self.starts = np.array([s[0] for s in steps])
        self.sizes = np.array([s[1] for s in steps])
        self.y = torch.stack([s[2] for s in steps])  # (M, n)
        self.coefficients = torch.stack([s[3] for s in steps])  # (M, P, n)
        self.method, self.shape = method, shape

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        """y at the times `t` (a tensor of any shape), of shape (*t.shape, *y0.shape)."""
        times = t.detach().cpu().to(torch.float64).reshape(-1).numpy()
        direction = 1.0 if self.sizes[0] > 0 else -1.0
        index = np.searchsorted(self.starts * direction, times * direction, side="right") - 1
        index = np.clip(index, 0, len(self.starts) - 1)
        theta = (times - self.starts[index]) / self.sizes[index]
        weights = torch.tensor([self.method.bernstein(th) for th in theta],
                               dtype=self.y.dtype, device=self.y.device)  # (K, P)
        rows = torch.as_tensor(index, device=self.y.device)
        out = self.y[rows] + torch.einsum("kp,kpn->kn", weights, self.coefficients[rows])
        return out.view(*t.shape, *self.shape)


def solve_dense(f: Timed, y0: torch.Tensor, t0: float, t1: float, settings: Settings
                ) -> DenseSolution:
    """Solve from t0 to t1 and keep every step's dense output (torchdiffeq's odeint_dense)."""
    run = _Run(f, y0, np.array([t0, t1]), settings, None, None, None, NO_CALLBACKS)
    run.record = []
    run.run()
    return DenseSolution(run.record, run.method, y0.shape)


def solve_until(f: Timed, y0: torch.Tensor, t0: float, direction: float, settings: Settings,
                event: Event, callbacks: Callbacks = NO_CALLBACKS
                ) -> tuple[float, torch.Tensor]:
    """The first time after `t0` (going in `direction`) where `event` changes sign, and the
    state there (on the method's dense output, bisected to atol in time, as torchdiffeq)."""
    times = np.array([t0, direction * math.inf])
    run = _Run(f, y0, times, settings, None, None, None, callbacks, event)
    out = run.run()
    return run.event_time, out[-1].view(y0.shape)


class _Run:
    """The state of one `solve` call."""

    def __init__(self, f: Timed, y0: torch.Tensor, times: np.ndarray, settings: Settings,
                 groups: list[int] | None, jump: Jump | None,
                 norm: Callable[[torch.Tensor], Any] | None, callbacks: Callbacks,
                 event: Event | None = None) -> None:
        self.f, self.times, self.settings, self.jump = f, times, settings, jump
        self.norm = norm if norm is not None else settings.norm
        self.callbacks, self.event = callbacks, event
        self.record: list[tuple[float, float, torch.Tensor, torch.Tensor]] | None = None
        self.method = method_for(settings, y0)
        self.columns = self.method.shaped(y0.ndim)
        self.zeros = y0.new_zeros((self.method.rows, *y0.shape))
        self.stacked = not torch.is_grad_enabled()  # (see `_stages_stacked`)
        if self.stacked:
            m = self.method
            self.k_stack = y0.new_empty((m.stages, y0.numel()))
            self.z_stack = y0.new_zeros((m.rows, *y0.shape))
        self.t_end = float(times[-1])
        self.direction = math.copysign(1.0, self.t_end - float(times[0]))
        self.n = n = y0.numel()
        self.groups = None if groups is None or list(groups) == [n] else list(groups)
        self.counts = np.array([n] if self.groups is None else self.groups, dtype=np.float64)
        if self.groups is not None:  # (n, G) indicator: per-group sums in one product
            member = torch.from_numpy(np.repeat(np.arange(len(self.groups)), self.groups))
            self.indicator = torch.zeros(n, len(self.groups), device=y0.device,
                                         dtype=y0.real.dtype if y0.is_complex() else y0.dtype)
            self.indicator[torch.arange(len(member)), member] = 1.0
        # CPU states: the step-size control reads them as numpy views (a few small numpy
        # operations cost less than the equivalent torch ones and need no host sync)
        self.host = on_host(y0)
        if self.host and self.groups is not None:
            self.indicator_host = self.indicator.numpy()
        # tolerances: floats, or per element as tensors of y's shape and host arrays
        self.rtol, self.atol = (tolerance.like(v, y0) for v in (settings.rtol, settings.atol))
        self.uniform = isinstance(self.rtol, float) and isinstance(self.atol, float)
        self.rtol_host, self.atol_host = tolerance.host(settings.rtol), \
            tolerance.host(settings.atol)
        self.y0 = y0
        real = y0.real.dtype if y0.is_complex() else y0.dtype
        self.time_type = np.float32 if real in (torch.float32, torch.float16,
                                                torch.bfloat16) else np.float64
        # torchdiffeq's times and step sizes are in promote(options['dtype'], y's dtype)
        self.clock = np.float32 if settings.dtype == torch.float32 and \
            self.time_type is np.float32 else None
        self.time_list = [self.tick(v) for v in times.tolist()]
        self.time_dtype = torch.float64 if self.clock is None else torch.float32
        d, t0 = self.direction, float(times[0])
        self.step_stops = sorted((s for s in settings.step_t if (s - t0) * d > 0),
                                 key=lambda s: s * d)
        self.jump_stops = sorted((s for s in settings.jump_t if (s - t0) * d > 0),
                                 key=lambda s: s * d)

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> torch.Tensor:
        """Step from times[0] to times[-1]; the states at all output times as (T, n)."""
        times, y = self.time_list, self.y0
        t = times[0]
        self.outputs: list[torch.Tensor] = [y.reshape(1, self.n)]  # joined at the end
        self.next = 1  # the next output index
        k = self.f(t, y)
        self._check_start(t, y, k)
        self.h = self.tick(self._initial_step(t, y, k))
        if self.event is not None:
            with torch.no_grad():
                self.sign0 = float(torch.sign(self.event(t, y)))
            if self.sign0 == 0.0:
                self.event_time = t
                return torch.cat([self.outputs[0], y.reshape(1, self.n)])
        attempts, reached = 0, self.next  # attempts since the last output (torchdiffeq's count)
        callbacks, settings = self.callbacks, self.settings
        while self.next < len(times):
            if self.next != reached:
                attempts, reached = 0, self.next
            if attempts >= settings.max_steps:
                raise IntegrationError(
                    f"odeint reached max_num_steps = {settings.max_steps} at t = {t:.6g} "
                    f"before the output time {times[self.next]:g}; the problem may be stiff, "
                    f"or raise options['max_num_steps']")
            attempts += 1
            h = self.h
            if not settings.min_step <= abs(h) <= settings.max_step:
                h = self.tick(math.copysign(min(max(abs(h), settings.min_step),
                                                settings.max_step), h))
            if callbacks.step is not None:
                callbacks(callbacks.step, t, y, h, self.time_dtype)
            t_new, step, landing, jumped = self._target(t, h)
            z, y_new, k_new = (self._stages_stacked if self.stacked else self._stages)(
                t, step, y, k, t_new)
            if not self._accept(t, step, y, z, y_new, k_new):
                if callbacks.reject is not None:
                    callbacks(callbacks.reject, t, y, step, self.time_dtype)
                continue
            if callbacks.accept is not None:
                callbacks(callbacks.accept, t, y, step, self.time_dtype)
            if self.event is not None and self._crossed(t, step, t_new, y, z, y_new):
                break
            self._emit(t, step, t_new, y, z, y_new)
            if self.record is not None:
                self._record(t, step, t_new, y, z)
            t, y, k = t_new, y_new, k_new
            if jumped:  # func changes at t: continue with its value just after it
                k = self.f(self.nudge(t, t + self.direction), y)
            if landing and self.jump is not None and self.next < len(times):
                y = self.jump(self.next - 1, y)
                k = self.f(t, y)
        return torch.cat(self.outputs)

    def stage_time(self, t: float, c: float, h: float) -> float:
        """t + c h, in the precision func sees its time in (as torchdiffeq: float32 sums
        for a float32 state)."""
        if self.time_type is np.float64:
            return t + c * h
        kind = self.time_type
        return float(kind(t) + kind(c) * kind(h))

    def tick(self, value: float) -> float:
        """`value` rounded to the precision of times and step sizes (float32 with
        options['dtype'] = torch.float32 for a float32 state, as torchdiffeq; else float64)."""
        return value if self.clock is None else float(self.clock(value))

    def nudge(self, t: float, toward: float) -> float:
        """The float next to t toward `toward` in the precision func sees its time in."""
        kind = self.time_type
        return float(np.nextafter(kind(t), kind(toward)))

    def _crossed(self, t: float, h: float, t_new: float, y: torch.Tensor, z: torch.Tensor,
                 y_new: torch.Tensor) -> bool:
        """Whether the event changed sign in the step; if so, record where and the state."""
        with torch.no_grad():
            if float(torch.sign(self.event(t_new, y_new))) == self.sign0:
                return False
            if self.method.extra:
                z = self._dense_stages(t, h, y, z)
            lo, hi = t, t_new
            atol = tolerance.smallest(self.settings.atol)
            count = math.ceil(math.log2(abs(h) / atol)) if atol else 60
            for _ in range(max(count, 0)):
                mid = 0.5 * (lo + hi)
                value = self._dense(t, t_new - t, y, z, [mid])
                if float(torch.sign(self.event(mid, value.view(y.shape)))) == self.sign0:
                    lo = mid
                else:
                    hi = mid
        self.event_time = 0.5 * (lo + hi)
        self.outputs.append(self._dense(t, t_new - t, y, z, [self.event_time]))
        return True

    def _accept(self, t: float, step: float, y: torch.Tensor, z: torch.Tensor,
                y_new: torch.Tensor, k_new: torch.Tensor) -> bool:
        """Whether the step is accepted; adaptive methods also choose the next step size."""
        settings = self.settings
        err, finite = self._error(y, z, y_new, k_new)
        accepted = finite and (err <= 1.0 or abs(step) <= settings.min_step)
        # torchdiffeq's controller: an accepted step never shrinks the next one
        shrink = 1.0 if finite and err < 1.0 else settings.dfactor
        self.h = self.tick(step * step_factor(err if finite else math.nan,
                                              self.method.exponent, False, settings.safety,
                                              settings.ifactor, shrink))
        if not accepted:
            floor = float(ctl.min_step(np.array([t]), 0.0)[0])
            if abs(self.h) < floor:
                self._fail_small(t, self.h, floor, finite, y)
        return accepted

    def _target(self, t: float, h: float) -> tuple[float, float, bool, bool]:
        """The end of the next step, its size, whether it lands on the next output time (a
        stop) and whether on a `jump_t` time.

        Steps land on every output time with a `jump`, and on the step_t and jump_t times;
        otherwise they step past output times (the outputs are interpolated), as torchdiffeq.
        The size is h unless the step was cut short: with float32 times (options['dtype']),
        t + h rounds, and as in torchdiffeq the state still advances by h.
        """
        d = self.direction
        for stops in (self.step_stops, self.jump_stops):
            while stops and (stops[0] - t) * d <= 0:
                stops.pop(0)
        t_new, landing = self.tick(t + h), False
        if self.jump is not None:
            stop = self.time_list[self.next]
            if (t_new - stop) * d >= 0:
                t_new, landing = stop, True
        jumped = False
        for stops, is_jump in ((self.step_stops, False), (self.jump_stops, True)):
            if stops and (t_new - stops[0]) * d > 0:
                t_new, landing, jumped = stops[0], False, is_jump
            elif stops and t_new == stops[0]:
                jumped = jumped or is_jump
        free = t_new == self.tick(t + h)
        return t_new, h if free else t_new - t, landing, jumped

    # -- one step -------------------------------------------------------------------------

    def _stages(self, t: float, h: float, y: torch.Tensor, k: torch.Tensor, t_new: float
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The accumulator Z of a step (see `Method`), y_new and the last stage, which
        starts the next step (FSAL form: f(t_new, y_new))."""
        m, columns = self.method, self.columns
        z = torch.addcmul(self.zeros, columns[0], k, value=h)
        end = self.nudge(t_new, t)  # stages at the step's end: just before it
        y_i = y
        for i in range(1, m.stages):
            y_i = torch.add(y, z.select(0, i - 1))
            k = self.f(end if m.c[i] == 1.0 else self.stage_time(t, m.c[i], h), y_i)
            z = torch.addcmul(z, columns[i], k, value=h)
        return z, torch.add(y, z.select(0, m.new_row)) if m.carry_last else y_i, k

    def _stages_stacked(self, t: float, h: float, y: torch.Tensor, k: torch.Tensor,
                        t_new: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`_stages` without autograd, for large states: the stages are stored as rows of K
        and each stage input is one matrix-vector product over the earlier ones, which
        reads the memory about a third as often as the accumulator's updates of every row.
        Z's rows after the stage inputs (dense output, error) are one product at the end;
        its stage-input rows are left unset (nothing reads them after the step)."""
        m, big_k = self.method, self.k_stack
        big_k[0].copy_(k.reshape(-1))
        flat = y.reshape(1, self.n)
        end = self.nudge(t_new, t)
        y_i = y
        for i in range(1, m.stages):
            y_i = torch.addmm(flat, m.a_rows[i], big_k[:i], alpha=h).view(y.shape)
            k = self.f(end if m.c[i] == 1.0 else self.stage_time(t, m.c[i], h), y_i)
            big_k[i].copy_(k.reshape(-1))
        z = self.z_stack
        tail = z.view(m.rows, self.n)[m.stages - 1:]
        torch.mm(m.tail, big_k, out=tail)
        tail.mul_(h)
        return z, torch.add(y, z.select(0, m.new_row)) if m.carry_last else y_i, k

    def _error(self, y: torch.Tensor, z: torch.Tensor, y_new: torch.Tensor,
               k_new: torch.Tensor) -> tuple[float, bool]:
        """The error norm of a step (host float) and whether it is finite."""
        m = self.method
        if self.norm is not None:
            return self._user_norm(y, z, y_new)
        if self.host:
            host = self._error_sums_host(y, z, y_new, k_new)
        else:
            host = self._error_sums(y, z, y_new, k_new)
        if len(host) == 1:  # one RMS norm: on host floats
            return math.sqrt(host[0] / self.n), math.isfinite(host[0])
        if m.check_end and not np.isfinite(host[-1]):
            return math.nan, False
        g = len(self.counts)
        low = host[g:2 * g] if m.n_errors == 2 else None
        norms, finite = ctl.combine_error(host[:g], low, self.counts)
        return float(norms.max()), bool(finite.all())

    def _user_norm(self, y: torch.Tensor, z: torch.Tensor, y_new: torch.Tensor
                   ) -> tuple[float, bool]:
        """The norm function's value of the scaled main error estimate."""
        m = self.method
        with torch.no_grad():
            scale = self._scale(torch.maximum(y.abs(), y_new.abs()))
            err = float(torch.as_tensor(self.norm(z.select(0, m.error_row) / scale)).abs())
        return err, math.isfinite(err)

    def _error_sums(self, y: torch.Tensor, z: torch.Tensor, y_new: torch.Tensor,
                    k_new: torch.Tensor) -> np.ndarray:
        """sum((err / scale)^2) per error estimate and group, then sum(k_new) if checked."""
        m = self.method
        with torch.no_grad():
            flat = z.view(m.rows, self.n)
            scale = self._scale(torch.maximum(y.abs(), y_new.abs()).reshape(-1))
            ratio = flat.narrow(0, m.error_row, m.n_errors).div(scale).abs().square_()  # (E, n)
            sums = ratio @ self.indicator if self.groups is not None else ratio.sum(1)
            if m.check_end:
                sums = torch.cat([sums.reshape(-1), k_new.sum().abs().reshape(1)])
            return np.array(sums.reshape(-1).tolist(), dtype=np.float64)

    def _error_sums_host(self, y: torch.Tensor, z: torch.Tensor, y_new: torch.Tensor,
                         k_new: torch.Tensor) -> np.ndarray:
        """`_error_sums` of CPU tensors, on numpy views of them."""
        m = self.method
        flat = _numpy(z).reshape(m.rows, self.n)
        with np.errstate(all="ignore"):  # (non-finite values are handled by the caller)
            scale = np.maximum(np.abs(_numpy(y)), np.abs(_numpy(y_new)))
            scale *= self.rtol_host
            scale += self.atol_host
            ratio = flat[m.error_row:m.error_row + m.n_errors] / scale
            ratio *= ratio
            sums = ratio @ self.indicator_host if self.groups is not None else ratio.sum(1)
            sums = sums.reshape(-1).astype(np.float64)
            return np.append(sums, float(_numpy(k_new).sum())) if m.check_end else sums

    def _emit(self, t: float, h: float, t_new: float, y: torch.Tensor, z: torch.Tensor,
              y_new: torch.Tensor) -> None:
        """Record every output time the step (t, t_new] passed."""
        times, d = self.time_list, self.direction
        end = self.next
        while end < len(times) and (times[end] - t_new) * d <= 0:
            end += 1
        if end == self.next:
            return
        inner = [times[i] for i in range(self.next, end) if times[i] != t_new]
        if inner:
            if self.method.extra:
                z = self._dense_stages(t, h, y, z)
            self.outputs.append(self._dense(t, t_new - t, y, z, inner))
        if end - self.next > len(inner):  # the step ended on an output time
            self.outputs.append(y_new.reshape(1, self.n))
        self.next = end

    def _record(self, t: float, h: float, t_new: float, y: torch.Tensor, z: torch.Tensor
                ) -> None:
        """Keep the step's dense output (`solve_dense`)."""
        m = self.method
        if m.extra:
            z = self._dense_stages(t, h, y, z)
        rows = z.view(m.rows, self.n).narrow(0, m.dense_row, m.degree)
        self.record.append((t, t_new - t, y.reshape(-1),
                            rows.clone() if self.stacked else rows))

    def _dense(self, t: float, span: float, y: torch.Tensor, z: torch.Tensor,
               at: list[float]) -> torch.Tensor:
        """The dense output (len(at), n) at the times `at` inside the step from t to
        t + span: y + sum_q b_q(theta) (Bernstein coefficient q); `z` must hold the extra
        stages (`_dense_stages`)."""
        m = self.method
        w = torch.tensor([m.bernstein((ti - t) / span) for ti in at], dtype=z.dtype,
                         device=z.device)
        coefficients = z.view(m.rows, self.n).narrow(0, m.dense_row, m.degree)
        return torch.addmm(y.reshape(1, self.n), w, coefficients)

    def _dense_stages(self, t: float, h: float, y: torch.Tensor,
                      z: torch.Tensor) -> torch.Tensor:
        """Z with the dense output's extra stages (DOP853) added, computed on demand."""
        m = self.method
        for x in range(m.extra):
            k = self.f(t + m.dense_c[x] * h, torch.add(y, z.select(0, m.stages - 1 + x)))
            z = torch.addcmul(z, self.columns[m.stages + x], k, value=h)
        return z

    # -- right-hand side, initial step, failures ---------------------------------------------

    def _initial_step(self, t: float, y: torch.Tensor, k: torch.Tensor) -> float:
        """Hairer's initial step (the formulas of `dynsim.numerics.controller`) in the error
        norm in use, not capped by the span: torchdiffeq's selection (or `first_step`)."""
        if self.settings.first_step is not None:
            return self.direction * self.settings.first_step
        with torch.no_grad():
            scale = self._scale(y.abs())
            d0, d1 = (np.array([self._norm_value(v / scale)]) for v in (y, k))
            h0 = float(ctl.initial_guess(d0, d1, math.inf)[0])
            f1 = self.f(t + self.direction * h0, torch.add(y, k, alpha=self.direction * h0))
            change = self._norm_value((f1 - k) / scale)
        size = float(ctl.initial_choice(np.array([h0]), d1, np.array([change]),
                                        self.settings.tableau.error_order, math.inf)[0])
        floor = float(ctl.min_step(np.array([t]), 0.0)[0])
        return self.direction * max(size if math.isfinite(size) else 1e-6, floor)

    def _scale(self, size: torch.Tensor) -> torch.Tensor:
        """The error scale atol + rtol size (`size` of y's shape, or flattened)."""
        if self.uniform:
            return torch.add(self.atol, size, alpha=self.rtol)
        rtol, atol = (v if isinstance(v, float) else v.reshape(size.shape)
                      for v in (self.rtol, self.atol))
        return size * rtol + atol

    def _norm_value(self, scaled: torch.Tensor) -> float:
        """The error norm in use of a scaled tensor of y's shape: the norm function, the
        largest RMS over the groups, or the RMS."""
        if self.norm is not None:
            return float(torch.as_tensor(self.norm(scaled)).abs())
        squares = scaled.abs().square().reshape(-1)
        if self.groups is None:
            return math.sqrt(float(squares.mean()))
        sums = np.array((squares @ self.indicator).tolist())
        return float(np.sqrt(sums / self.counts).max())

    def _check_start(self, t: float, y: torch.Tensor, k: torch.Tensor) -> None:
        with torch.no_grad():
            if not bool(torch.isfinite(y.sum() + k.sum())):
                what = "the initial state" if not bool(torch.isfinite(y).all()) else "func"
                raise IntegrationError(f"odeint: {what} is not finite at t0 = {t:g}; check y0 "
                                       f"and the parameters of func")

    def _fail_small(self, t: float, h: float, floor: float, finite: bool,
                    y: torch.Tensor) -> None:
        if not finite:
            raise IntegrationError(
                f"odeint: the solution became non-finite (NaN or inf) after t = {t:.6g} and "
                f"smaller steps did not help (blow-up, or NaN from func)")
        size = float(y.detach().abs().max())
        raise IntegrationError(
            f"odeint: step size {abs(h):.3g} at t = {t:.6g} is below the minimum {floor:.3g} "
            f"(|y| = {size:.3g}: blow-up, singularity or discontinuity?); loosen rtol/atol "
            f"or check func near there")


def on_host(y0: torch.Tensor) -> bool:
    """Whether the step-size control reads the state through numpy (CPU float32/float64);
    otherwise it runs as torch operations on the state's device with one sync per step."""
    return y0.device.type == "cpu" and y0.dtype in (torch.float32, torch.float64)


def _numpy(x: torch.Tensor) -> np.ndarray:
    """A CPU tensor's values as a flat numpy array (a view when it is contiguous)."""
    return x.detach().numpy().reshape(-1)

