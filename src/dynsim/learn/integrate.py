"""One solve of a tensor state by whichever solver runs the method (the forward pass).

Adaptive methods run in the stepper (host float times), fixed-grid and Adams methods on
their grid (tensor times), `scipy_solver` in `scipy.integrate.solve_ivp`. All take
`f(t, y)` with `t` a scalar tensor of y's real dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from dynsim.learn import fixed_grid, stepper
from dynsim.learn.methods import ADAPTIVE, SCIPY
from dynsim.learn.options import Settings
from dynsim.learn.stepper import NO_CALLBACKS, Callbacks

Func = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def real_dtype(y: torch.Tensor) -> torch.dtype:
    """The dtype func receives its time in: y's, or its real counterpart if complex."""
    return y.real.dtype if y.is_complex() else y.dtype


def timed(func: Func, like: torch.Tensor) -> stepper.Timed:
    """`func` called with host float times, as the stepper calls it."""
    dtype, device = real_dtype(like), like.device

    def f(t: float, y: torch.Tensor) -> torch.Tensor:
        return func(torch.scalar_tensor(t, dtype=dtype, device=device), y)

    return f


def host_times(t: torch.Tensor) -> np.ndarray:
    """The times as host float64."""
    return t.detach().cpu().to(torch.float64).numpy()


def integrate(func: Func, y0: torch.Tensor, t: torch.Tensor, settings: Settings,
              groups: list[int] | None = None, norm: Callable[[Any], Any] | None = None,
              callbacks: Callbacks = NO_CALLBACKS) -> torch.Tensor:
    """The states (T, *y0.shape) at the times `t` (1-D, monotone, len >= 2); differentiable
    by backprop to y0 and func's tensors (not to t: see `odeint`), except for scipy_solver."""
    kind = settings.spec.kind
    if kind == ADAPTIVE:
        return stepper.solve(timed(func, y0), y0, host_times(t), settings, groups,
                             norm=norm, callbacks=callbacks)
    if kind == SCIPY:
        from dynsim.learn.scipy_solver import solve as scipy_solve

        return scipy_solve(func, y0, t, settings)
    return fixed_grid.solve(func, y0, t, settings, callbacks)
