"""Fixed-grid methods with torchdiffeq's semantics: the grid, the steps, the outputs.

The grid is `t` itself, or `step_size` apart from t[0] with the last point moved onto t[-1]
(torchdiffeq's rule), or what `grid_constructor(func, y0, t)` returns; it must start at
t[0] and end at t[-1]. Each grid interval is one step of an explicit Runge–Kutta tableau
(the stage sums of the `ButcherTableau`) or of an Adams method (`dynsim.learn.adams`).
Outputs between grid points are interpolated linearly (`interp="linear"`) or by the cubic
Hermite polynomial through both ends (`"cubic"`, one more func call per step). Times are
tensors built from `t`, so gradients reach `t` through the steps as in torchdiffeq.
With `perturb`, func sees each step's first time just after it and an end-of-step time
just before it (discontinuities on grid points are then on one side of each step).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from dynsim.core.errors import InputError, IntegrationError
from dynsim.learn import tolerance
from dynsim.learn.methods import ADAMS, IMPLICIT
from dynsim.learn.options import Settings
from dynsim.learn.stepper import NO_CALLBACKS, Callbacks

Func = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
EventFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

MAX_EVENT_STEPS = 20_000
"""Steps a fixed-grid event search takes before giving up (torchdiffeq's limit)."""


def nudged(t: torch.Tensor, toward: float) -> torch.Tensor:
    """`t` moved to the next float of its dtype toward `toward`, keeping its gradient."""
    with torch.no_grad():
        step = torch.nextafter(t, torch.full_like(t, toward)) - t
    return t + step


class Stepper:
    """One method's steps: `step(func, t0, dt, t1, y0) -> (dy, f0)`."""

    def __init__(self, settings: Settings, y0: torch.Tensor) -> None:
        self.settings = settings
        tableau = settings.tableau
        self.c = [float(c) for c in tableau.c]
        self.a = [[float(v) for v in row] for row in tableau.a]
        self.b = [float(v) for v in tableau.b]
        self.perturb = settings.perturb
        self.multistep: Any = None  # Adams or implicit steps
        if settings.spec.kind == ADAMS:
            from dynsim.learn.adams import Adams

            self.multistep = Adams(settings, y0, self.rk_step)
        elif settings.spec.kind == IMPLICIT:
            from dynsim.learn.implicit import ImplicitStep

            flat = y0.reshape(-1)  # (the Newton iteration works on flat stages)
            self.multistep = ImplicitStep(tableau, tolerance.like(settings.rtol, flat),
                                          tolerance.like(settings.atol, flat),
                                          settings.max_iters, y0)

    def call(self, func: Func, t: torch.Tensor, y: torch.Tensor, toward: float | None
             ) -> torch.Tensor:
        """func at t in y's real dtype (then nudged toward `toward` when perturbing)."""
        t = t.to(y.real.dtype if y.is_complex() else y.dtype)
        if self.perturb and toward is not None:
            t = nudged(t, toward)
        return func(t, y)

    def step(self, func: Func, t0: torch.Tensor, dt: torch.Tensor, t1: torch.Tensor,
             y0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The increment of one step from (t0, y0) to t1 and f(t0, y0)."""
        if self.multistep is not None:
            return self.multistep.step(self, func, t0, dt, t1, y0)
        f0 = self.call(func, t0, y0, t1.item())
        return self.rk_step(func, t0, dt, t1, y0, f0), f0

    def rk_step(self, func: Func, t0: torch.Tensor, dt: torch.Tensor, t1: torch.Tensor,
                y0: torch.Tensor, f0: torch.Tensor) -> torch.Tensor:
        """The tableau's increment dt * sum_j b_j k_j from the first stage `f0`."""
        ks = [f0]
        dt_y = dt.to(y0.dtype)
        for i in range(1, len(self.c)):
            increment = _combination(self.a[i], ks)
            y_i = y0 if increment is None else torch.addcmul(y0, dt_y, increment)
            if self.c[i] == 1.0:
                k = self.call(func, t1, y_i, t0.item())
            else:
                k = self.call(func, t0 + self.c[i] * dt, y_i, None)
            ks.append(k)
        return dt_y * _combination(self.b, ks)


def _combination(weights: list[float], ks: list[torch.Tensor]) -> torch.Tensor | None:
    """sum_j w_j k_j over the non-zero weights (None if all are zero)."""
    out = None
    for w, k in zip(weights, ks, strict=False):
        if w != 0.0:
            out = (k if w == 1.0 else k * w) if out is None else torch.add(out, k, alpha=w)
    return out


def grid(settings: Settings, func: Func, y0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The time grid of a fixed-grid solve over the output times `t` (see the module)."""
    if settings.grid_constructor is not None:
        out = settings.grid_constructor(func, y0, t)
        if not isinstance(out, torch.Tensor) or out.ndim != 1 or len(out) < 2:
            raise InputError("options['grid_constructor'] must return a 1-D tensor of at "
                             "least two times")
        out = out.to(t.device)
        if out[0].item() != t[0].item() or out[-1].item() != t[-1].item():
            raise InputError(f"options['grid_constructor'] must return a grid from t[0] = "
                             f"{t[0].item():g} to t[-1] = {t[-1].item():g}, got "
                             f"{out[0].item():g} .. {out[-1].item():g}")
        return out
    if settings.step_size is None:
        return t
    start, end = t[0], t[-1]
    span = abs(end.item() - start.item())
    count = math.ceil(span / settings.step_size + 1)
    direction = 1.0 if span == 0 or end.item() >= start.item() else -1.0
    steps = torch.arange(0, count - 1, dtype=t.dtype, device=t.device)
    return torch.cat([steps * (direction * settings.step_size) + start, end.reshape(1)])


def solve(func: Func, y0: torch.Tensor, t: torch.Tensor, settings: Settings,
          callbacks: Callbacks = NO_CALLBACKS) -> torch.Tensor:
    """The states (T, *y0.shape) at the output times `t` (a 1-D monotone tensor)."""
    time_grid = grid(settings, func, y0, t)
    stepper = Stepper(settings, y0)
    cubic = settings.interp == "cubic"
    outputs = [y0]
    wanted = t.tolist()
    direction = 1.0 if wanted[-1] >= wanted[0] else -1.0
    j = 1
    y = y0
    nodes = time_grid.tolist()
    for i in range(len(nodes) - 1):
        t0, t1 = time_grid[i], time_grid[i + 1]
        dt = t1 - t0
        if callbacks.step is not None:
            callbacks(callbacks.step, t0, y, dt)
        dy, f0 = stepper.step(func, t0, dt, t1, y)
        y1 = y + dy
        f1 = None
        if j < len(wanted) and (nodes[i + 1] - wanted[j]) * direction >= 0:
            _check_finite(nodes[0], nodes[i + 1], y1)  # (a non-finite value stays so)
        while j < len(wanted) and (nodes[i + 1] - wanted[j]) * direction >= 0:
            if cubic:
                f1 = func(t1, y1) if f1 is None else f1
                outputs.append(hermite(t0, y, f0, t1, y1, f1, t[j]))
            elif wanted[j] == nodes[i]:
                outputs.append(y)
            elif wanted[j] == nodes[i + 1]:
                outputs.append(y1)
            else:
                outputs.append(linear(t0, t1, y, y1, t[j]))
            j += 1
        y = y1
    return torch.stack(outputs)


def solve_until(func: Func, y0: torch.Tensor, t0: torch.Tensor, direction: float,
                settings: Settings, event_fn: EventFn) -> tuple[torch.Tensor, torch.Tensor]:
    """Step `step_size` at a time from t0 until `event_fn` changes sign; the event time
    (bisected on the interpolant to atol) and the state there."""
    if settings.step_size is None:
        raise InputError("an event_fn with a fixed-grid method needs options['step_size']")
    stepper = Stepper(settings, y0)
    dt = torch.tensor(direction * settings.step_size, dtype=t0.dtype, device=t0.device)
    y = y0
    with torch.no_grad():
        sign0 = torch.sign(event_fn(t0, y0))
    for _ in range(MAX_EVENT_STEPS):
        t1 = t0 + dt
        dy, f0 = stepper.step(func, t0, dt, t1, y)
        y1 = y + dy
        _check_finite(t0.item(), t1.item(), y1)
        with torch.no_grad():
            crossed = bool(torch.sign(event_fn(t1, y1)) != sign0)
        if crossed:
            if settings.interp == "cubic":
                f1 = func(t1, y1)

                def interpolant(s: torch.Tensor, a: Any = (t0, y, f0, t1, y1, f1)) -> Any:
                    return hermite(*a, s)
            else:
                def interpolant(s: torch.Tensor, a: Any = (t0, t1, y, y1)) -> Any:
                    return linear(*a, s)
            return bisect(interpolant, sign0, t0, t1, event_fn,
                          tolerance.smallest(settings.atol))
        t0, y = t1, y1
    raise IntegrationError(f"odeint: no event within {MAX_EVENT_STEPS} steps of step_size "
                           f"{settings.step_size:g}")


def bisect(interpolant: Callable[[torch.Tensor], torch.Tensor], sign0: torch.Tensor,
           t0: torch.Tensor, t1: torch.Tensor, event_fn: EventFn, tol: float
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """The event time in [t0, t1] by bisection to `tol` and the interpolated state there."""
    with torch.no_grad():
        lo, hi = t0.detach(), t1.detach()
        count = math.ceil(math.log2(abs(float(hi - lo)) / tol)) if tol > 0 else 60
        for _ in range(max(count, 0)):
            mid = (lo + hi) / 2
            if bool(torch.sign(event_fn(mid, interpolant(mid))) == sign0):
                lo = mid
            else:
                hi = mid
        event_t = (lo + hi) / 2
    return event_t, interpolant(event_t)


def linear(t0: torch.Tensor, t1: torch.Tensor, y0: torch.Tensor, y1: torch.Tensor,
           t: torch.Tensor) -> torch.Tensor:
    """y at t on the line through (t0, y0) and (t1, y1) (exactly y0, y1 at the ends)."""
    if t.item() == t0.item():
        return y0
    if t.item() == t1.item():
        return y1
    return y0 + ((t - t0) / (t1 - t0)).to(y0.dtype) * (y1 - y0)


def hermite(t0: torch.Tensor, y0: torch.Tensor, f0: torch.Tensor, t1: torch.Tensor,
            y1: torch.Tensor, f1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """y at t on the cubic Hermite polynomial through (t0, y0, f0) and (t1, y1, f1)."""
    s = ((t - t0) / (t1 - t0)).to(y0.dtype)
    dt = (t1 - t0).to(y0.dtype)
    h00 = (1 + 2 * s) * (1 - s) * (1 - s)
    h10 = s * (1 - s) * (1 - s)
    h01 = s * s * (3 - 2 * s)
    h11 = s * s * (s - 1)
    return h00 * y0 + h10 * dt * f0 + h01 * y1 + h11 * dt * f1


def _check_finite(t0: float, t1: float, y1: torch.Tensor) -> None:
    with torch.no_grad():
        if not bool(torch.isfinite(y1).all()):
            raise IntegrationError(
                f"odeint: the solution became non-finite between t = {t0:.6g} and "
                f"{t1:.6g} (blow-up, or NaN from func); try a smaller step_size or an "
                f"adaptive method")
