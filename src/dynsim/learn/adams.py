"""Adams methods on a fixed grid (torchdiffeq's explicit_adams, implicit_adams/fixed_adams).

The k-step Adams–Bashforth predictor uses the last k values of f, newest first; the
implicit variant corrects it with the (k+1)-term Adams–Moulton formula by functional
iteration (at most `max_iters` times, until successive increments agree to rtol/atol in the
max norm, else a warning and the oldest value is dropped). k grows by one per step up to
max_order - 1; until 3 values exist, steps are RK4 (3/8 rule). The coefficients are the
integrals over one step of the Lagrange polynomials through the equally spaced nodes,
computed exactly with fractions; like torchdiffeq, the grid is treated as equally spaced.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Callable
from fractions import Fraction
from functools import cache
from typing import Any

import torch

from dynsim.learn import tolerance
from dynsim.learn.options import Settings

MIN_ORDER = 4
"""Below this many stored values (plus one) the step is RK4."""


@cache
def coefficients(nodes: tuple[int, ...]) -> tuple[float, ...]:
    """int_0^1 L_j(u) du for the Lagrange basis L_j on the integer `nodes` (steps from t0)."""
    out = []
    for j, xj in enumerate(nodes):
        poly = [Fraction(1)]  # coefficients of prod_{i != j} (u - x_i) / (x_j - x_i)
        for i, xi in enumerate(nodes):
            if i == j:
                continue
            scale = Fraction(1, xj - xi)
            poly = [(high - xi * low) * scale
                    for low, high in zip([*poly, Fraction(0)], [Fraction(0), *poly],
                                         strict=True)]
        out.append(float(sum(a / (p + 1) for p, a in enumerate(poly))))
    return tuple(out)


def bashforth(k: int) -> tuple[float, ...]:
    """The k-step Adams–Bashforth weights of f_n, f_{n-1}, ..., f_{n-k+1}."""
    return coefficients(tuple(-i for i in range(k)))


def moulton(k: int) -> tuple[float, ...]:
    """The k-term Adams–Moulton weights of f_{n+1}, f_n, ..., f_{n-k+2}."""
    return coefficients(tuple(1 - i for i in range(k)))


class Adams:
    """The history and steps of one Adams solve."""

    def __init__(self, settings: Settings, y0: torch.Tensor, rk_step: Callable[..., Any]
                 ) -> None:
        self.implicit = settings.spec.implicit
        self.max_iters, self.max_order = settings.max_iters, settings.max_order
        self.rtol, self.atol = (tolerance.like(v, y0) for v in (settings.rtol, settings.atol))
        self.history: deque[torch.Tensor] = deque(maxlen=max(self.max_order - 1, 1))
        self.last_t: float | None = None
        self.rk_step = rk_step

    def step(self, owner: Any, func: Any, t0: torch.Tensor, dt: torch.Tensor,
             t1: torch.Tensor, y0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The increment from (t0, y0) to t1 and f(t0, y0)."""
        f0 = owner.call(func, t0, y0, t1.item())
        if self.last_t != t0.item():
            self.history.appendleft(f0)
            self.last_t = t0.item()
        order = min(len(self.history), self.max_order - 1)
        if order < MIN_ORDER - 1:
            return self.rk_step(func, t0, dt, t1, y0, self.history[0]), f0
        dy = _dot(bashforth(order), dt, self.history, y0)
        if self.implicit:
            weights = moulton(order + 1)
            known = _dot(weights[1:], dt, self.history, y0)
            converged = False
            for _ in range(self.max_iters):
                previous = dy
                f = owner.call(func, t1, y0 + dy, t0.item())
                dy = _dot(weights[:1], dt, deque([f]), y0) + known
                converged = self._converged(previous, dy)
                if converged:
                    break
            if not converged:
                warnings.warn("odeint: implicit_adams' functional iteration did not converge; "
                              "the solution may be inaccurate (try a smaller step_size)",
                              stacklevel=6)
                self.history.pop()
        return dy, f0

    def _converged(self, a: torch.Tensor, b: torch.Tensor) -> bool:
        with torch.no_grad():
            scale = self.atol + self.rtol * torch.maximum(a.abs(), b.abs())
            return bool(((a - b).abs() / scale).max() < 1)


_WEIGHTS: dict[tuple[tuple[float, ...], Any], torch.Tensor] = {}


def _dot(weights: tuple[float, ...], dt: torch.Tensor, values: deque[torch.Tensor],
         like: torch.Tensor) -> torch.Tensor:
    """dt sum_i weights[i] values[i] over the shorter of the two (both hold at least one),
    with the weights dt w_i in float64 and the sum cast to `like`'s dtype (torchdiffeq's
    rounding; the weights are cached per tuple and device)."""
    key = (weights, dt.device)
    w = _WEIGHTS.get(key)
    if w is None:
        w = _WEIGHTS[key] = torch.tensor(weights, dtype=torch.float64, device=dt.device)
    scaled = dt.to(torch.float64) * w
    out = None
    for i, v in enumerate(values):
        if i >= len(weights):
            break
        out = scaled[i] * v if out is None else torch.addcmul(out, scaled[i], v)
    return out.to(like.dtype)
