"""One ODE system on torch, stepped with any Butcher tableau: the lean path behind `odeint`.

torchdiffeq treats the whole state as one system (one step size, one error norm), so the
batched engine's per-trajectory bookkeeping (index sets, compaction, events) would be pure
overhead here. This module steps a single state (any shape) instead, reusing the numerics
pieces: the tableau's FSAL form (`ButcherTableau.matrices`), the PI controller, Hairer's
initial step, the error-norm combination, the minimum step, fixed steps landing on output
times (`dynsim.numerics.controller`) and the dense-output coefficients
(`dynsim.numerics.dense.stage_weights`).

The loop works on the state flattened to (n,): each stage input is one `addmv` over the
stacked stages (y + h K @ A_i), so autograd records four cheap nodes per stage (with the
two reshapes around func); step-size control runs without a graph and syncs one small
host array per step. Outputs inside a step come from the method's dense output; with a
`jump` (the adjoint pass) every output time is a stop the steps land on exactly, where the
state may be replaced. Failures raise `IntegrationError` with a one-line message.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from dynsim.core.errors import IntegrationError
from dynsim.learn.options import Settings
from dynsim.numerics import controller as ctl
from dynsim.numerics.dense import stage_weights

Timed = Callable[[float, torch.Tensor], torch.Tensor]
"""f(t, y): `t` a host float, `y` of the state's shape; returns that shape."""

Jump = Callable[[int, torch.Tensor], torch.Tensor]
"""jump(i, y) -> the state to continue from at output time i (the adjoint adds its jumps)."""

_NO_ROWS = np.zeros(0, dtype=np.int64)
_ROW = np.zeros(1, dtype=np.int64)


_METHODS: dict[tuple[Any, ...], Method] = {}


def method_for(settings: Settings, like: torch.Tensor) -> Method:
    """The (cached) `Method` of the settings' tableau for `like`'s dtype and device."""
    key = (id(settings.tableau), like.dtype, like.device)  # the Method keeps the tableau alive
    method = _METHODS.get(key)
    if method is None:
        if len(_METHODS) > 64:
            _METHODS.clear()
        method = _METHODS[key] = Method(settings, like)
    return method


class Method:
    """A tableau's FSAL form as tensors of one dtype and device."""

    def __init__(self, settings: Settings, like: torch.Tensor) -> None:
        self.tableau = settings.tableau
        m = settings.tableau.matrices
        self.stages, self.extra = m.stages, len(m.dense_c)
        self.c, self.dense_c = m.c, m.dense_c

        def tensor(x: np.ndarray) -> torch.Tensor:
            return torch.tensor(x, dtype=like.dtype, device=like.device)

        self.rows = [tensor(m.A[i, :i]) for i in range(m.stages)]
        self.dense_rows = [tensor(m.dense_A[x, :m.stages + x]) for x in range(self.extra)]
        errors = [w for w in (m.e, m.e_low) if w is not None]
        self.errors = tensor(np.stack(errors)) if errors else None
        # a non-finite end stage escapes error weights that ignore it: check it then
        self.check_end = bool(errors) and all(w[-1] == 0 for w in errors)
        self.single_error = len(errors) == 1 and not self.check_end
        self.e_last = float(errors[0][-1]) if self.single_error else 0.0
        self.e_head = self.errors[0, :-1].contiguous() if self.single_error else None
        self.dense = m.dense
        # the I controller, as torchdiffeq's: a single system gains little from the PI one
        self.controller = (ctl.PIController(settings.tableau.error_order, beta1=1.0, beta2=0.0)
                           if settings.adaptive else None)


def solve(f: Timed, y0: torch.Tensor, times: np.ndarray, settings: Settings,
          groups: list[int] | None = None, jump: Jump | None = None) -> torch.Tensor:
    """The states (T, ...) at the times `times` (host float64, strictly monotone), y0 first.

    - `groups`: sizes of consecutive parts of the state whose RMS error norms are combined
      by their maximum (torchdiffeq's mixed norm); values after the last part are left out
      of the norm (a seminorm). None: one RMS norm over the whole state.
    - `jump`: land on every output time and continue from `jump(i, y)` (its output is the
      state before the jump); None: step freely and interpolate the outputs.

    Autograd flows through the returned states when `y0` or `f` carry gradients.
    """
    if y0.ndim == 1:
        return _Run(f, y0, times, settings, groups, jump).run()
    shape = y0.shape  # the loop works on flat states: one addmv per stage

    def flat(t: float, y: torch.Tensor) -> torch.Tensor:
        return f(t, y.view(shape)).reshape(-1)

    flat_jump = None if jump is None else (
        lambda i, y: jump(i, y.view(shape)).reshape(-1))  # type: ignore[misc]
    out = _Run(flat, y0.reshape(-1), times, settings, groups, flat_jump).run()
    return out.view(len(times), *shape)


class _Run:
    """The state of one `solve` call."""

    def __init__(self, f: Timed, y0: torch.Tensor, times: np.ndarray, settings: Settings,
                 groups: list[int] | None, jump: Jump | None) -> None:
        self.f, self.times, self.settings, self.jump = f, times, settings, jump
        self.method = method_for(settings, y0)
        self.t_end = float(times[-1])
        self.direction = math.copysign(1.0, self.t_end - float(times[0]))
        n = y0.numel()
        self.groups = None if groups is None or list(groups) == [n] else list(groups)
        self.counts = np.array([n] if self.groups is None else self.groups, dtype=np.float64)
        if self.groups is not None:  # (n, G) indicator: per-group sums in one product
            member = torch.from_numpy(np.repeat(np.arange(len(self.groups)), self.groups))
            self.indicator = torch.zeros(n, len(self.groups), dtype=y0.dtype, device=y0.device)
            self.indicator[torch.arange(len(member)), member] = 1.0
        self.rtol = max(settings.rtol, torch.finfo(y0.dtype).eps)  # below, roundoff rules
        self.fixed = None if settings.adaptive else ctl.FixedSteps(
            settings.step_size or math.inf, times, self.t_end)
        self.y0 = y0

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> torch.Tensor:
        """Step from times[0] to times[-1]; the states at all output times (T, ...)."""
        times, y = self.times, self.y0
        t = float(times[0])
        self.outputs: list[torch.Tensor] = [y[None]]  # blocks of outputs, joined at the end
        self.next = 1  # the next output index
        k = self.f(t, y)
        if self.method.controller and self.settings.first_step is None:
            self.h = self._initial_step(t, y, k)  # (it checks y0 and f(t0, y0) are finite)
        else:
            self._check_start(t, y, k)
            self.h = self._initial_step(t, y, k) if self.method.controller else 0.0
        self.memory = ctl.PIController.initial_memory(1)
        self.after_reject, attempts = False, 0
        while self.next < len(times):
            if attempts >= self.settings.max_steps:
                raise IntegrationError(
                    f"odeint reached max_num_steps = {self.settings.max_steps} at t = {t:.6g} "
                    f"of {self.t_end:g}; the problem may be stiff, or raise "
                    f"options['max_num_steps']")
            attempts += 1
            t_new, landing = self._target(t, self.h)
            step = t_new - t
            stages, y_new, k_new = self._stages(t, step, y, k, t_new)
            if not self._accept(t, t_new, y, stages, y_new, k_new):
                continue
            self._emit(t, step, t_new, y, stages, y_new)
            t, y, k = t_new, y_new, k_new
            if landing and self.jump is not None and self.next < len(times):
                y = self.jump(self.next - 1, y)
                k = self.f(t, y)
        return torch.cat(self.outputs)

    def _accept(self, t: float, t_new: float, y: torch.Tensor, stages: list[torch.Tensor],
                y_new: torch.Tensor, k_new: torch.Tensor) -> bool:
        """Whether the step is accepted; adaptive methods also choose the next step size."""
        if self.method.controller is None:
            self._check_finite(t, t_new, y_new, k_new)
            return True
        step = t_new - t
        err, finite = self._error(step, stages, y, y_new, k_new)
        accepted = finite and err <= 1.0
        factor, self.memory = self.method.controller.factors(
            np.array([err if finite else math.nan]), self.memory,
            _NO_ROWS if accepted else _ROW,
            _ROW if self.after_reject or not accepted else _NO_ROWS)
        self.h = step * float(factor[0])
        if not accepted:
            floor = float(ctl.min_step(np.array([t]), 0.0)[0])
            if abs(self.h) < floor:
                self._fail_small(t, self.h, floor, finite, y)
        self.after_reject = not accepted
        return accepted

    def _target(self, t: float, h: float) -> tuple[float, bool]:
        """The end of the next step, and whether it lands on the next output time (a stop).

        Fixed steps land on every output time; adaptive ones on every output time with a
        `jump`, else only on the last.
        """
        if self.fixed is not None:
            step, target = self.fixed.steps(np.array([t]), np.array([self.next]))
            landing = not math.isnan(target[0])
            return (float(target[0]) if landing else t + float(step[0])), landing
        stop = float(self.times[self.next if self.jump is not None else -1])
        if (t + h - stop) * self.direction >= 0:
            return stop, True
        return t + h, False

    # -- one step -------------------------------------------------------------------------

    def _stages(self, t: float, h: float, y: torch.Tensor, k: torch.Tensor,
                t_new: float) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
        """The stages k_0 .. k_{S-1} of a step; the last is f(t_new, y_new) (FSAL form)."""
        m = self.method
        stages = [k]
        y_i = k_i = y
        for i in range(1, m.stages):
            self.matrix = torch.stack(stages, 1)  # (n, i): the last serves the error too
            y_i = torch.addmv(y, self.matrix, m.rows[i], alpha=h)
            k_i = self.f(t_new if i == m.stages - 1 else t + m.c[i] * h, y_i)
            stages.append(k_i)
        return stages, y_i, k_i

    def _error(self, h: float, stages: list[torch.Tensor], y: torch.Tensor,
               y_new: torch.Tensor, k_new: torch.Tensor) -> tuple[float, bool]:
        """The error norm of a step (host float) and whether it is finite."""
        m = self.method
        with torch.no_grad():
            if m.single_error:  # e @ K = e[:-1] @ K[:-1] + e[-1] k_new, no new stack
                err = torch.addmv(k_new, self.matrix, m.e_head, beta=m.e_last)
            else:  # (E, n), before the factor h
                err = m.errors @ torch.stack(stages)
            scale = torch.add(self.settings.atol, torch.maximum(y.abs(), y_new.abs()),
                              alpha=self.rtol)
            ratio = err.div_(scale)
            if self.groups is not None:
                sums = ratio.square_() @ self.indicator
            elif m.single_error:
                sums = torch.dot(ratio, ratio)
            else:
                sums = ratio.square_().sum(1)
            if m.check_end:
                sums = torch.cat([sums.reshape(-1), k_new.sum().reshape(1)])
            host = np.array(sums.reshape(-1).tolist(), dtype=np.float64)
        if m.check_end and not np.isfinite(host[-1]):
            return math.nan, False
        host *= h * h
        g = len(self.counts)
        low = host[g:2 * g] if m.errors.shape[0] == 2 else None
        norms, finite = ctl.combine_error(host[:g], low, self.counts)
        return float(norms.max()), bool(finite.all())

    def _emit(self, t: float, h: float, t_new: float, y: torch.Tensor,
              stages: list[torch.Tensor], y_new: torch.Tensor) -> None:
        """Record every output time the step (t, t_new] passed."""
        times, d = self.times, self.direction
        end = self.next
        while end < len(times) and (times[end] - t_new) * d <= 0:
            end += 1
        if end == self.next:
            return
        inner = [i for i in range(self.next, end) if times[i] != t_new]
        if inner:
            theta = (times[inner] - t) / h
            all_stages = self._dense_stages(t, h, y, stages)
            w = torch.from_numpy(stage_weights(self.method.dense, theta).T.copy()).to(
                device=y.device, dtype=y.dtype)
            self.outputs.append(torch.addmm(y, w, torch.stack(all_stages), alpha=h))
        if end - self.next > len(inner):  # the step ended on an output time
            self.outputs.append(y_new[None])
        self.next = end

    def _dense_stages(self, t: float, h: float, y: torch.Tensor,
                      stages: list[torch.Tensor]) -> list[torch.Tensor]:
        """The stages plus the dense output's extra ones (DOP853), computed on demand."""
        m = self.method
        out = list(stages)
        for x in range(m.extra):
            y_x = torch.addmv(y, torch.stack(out, 1), m.dense_rows[x], alpha=h)
            out.append(self.f(t + m.dense_c[x] * h, y_x))
        return out

    # -- right-hand side, initial step, failures ---------------------------------------------

    def _initial_step(self, t: float, y: torch.Tensor, k: torch.Tensor) -> float:
        """Hairer's initial step (the formulas of `dynsim.numerics.controller`), on tensors."""
        span = self.t_end - t
        if self.settings.first_step is not None:
            return self.direction * min(self.settings.first_step, abs(span))
        with torch.no_grad():
            scale = torch.add(self.settings.atol, y.abs(), alpha=self.rtol)
            d01 = torch.stack([y, k]).div_(scale).square_().mean(1).sqrt_()
            d0, d1 = np.array(d01.tolist(), dtype=np.float64)[:, None]
            if not np.isfinite(d0[0] + d1[0]):
                self._check_start(t, y, k)
            h0 = ctl.initial_guess(d0, d1, span)
            f1 = self.f(t + self.direction * float(h0[0]),
                        torch.add(y, k, alpha=self.direction * float(h0[0])))
            d2 = float((f1 - k).div_(scale).square_().mean().sqrt_()) / h0
        size = float(ctl.initial_choice(h0, d1, d2, self.settings.tableau.error_order,
                                        span)[0])
        floor = float(ctl.min_step(np.array([t]), 0.0)[0])
        return self.direction * max(size if math.isfinite(size) else 1e-6, floor)

    def _check_start(self, t: float, y: torch.Tensor, k: torch.Tensor) -> None:
        with torch.no_grad():
            if not bool(torch.isfinite(y.sum() + k.sum())):
                what = "the initial state" if not bool(torch.isfinite(y).all()) else "func"
                raise IntegrationError(f"odeint: {what} is not finite at t0 = {t:g}; check y0 "
                                       f"and the parameters of func")

    def _check_finite(self, t: float, t_new: float, y_new: torch.Tensor,
                      k_new: torch.Tensor) -> None:
        with torch.no_grad():
            if not bool(torch.isfinite(y_new.sum() + k_new.sum())):
                raise IntegrationError(
                    f"odeint: the solution became non-finite between t = {t:.6g} and "
                    f"{t_new:.6g} (blow-up); try a smaller step_size or an adaptive method")

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

