"""`odeint`: torchdiffeq's calling convention on dynsim's Runge–Kutta methods.

`odeint(func, y0, t)` integrates dy/dt = func(t, y) with the whole state `y0` (..., D) as
one system (one step size, one error norm, as torchdiffeq does), and returns the states at
the times `t`, shape (T, ..., D). Gradients flow by backprop through the solver's
operations, or with `adjoint=True` by the adjoint method (`dynsim.learn.adjoint`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import torch

from dynsim.core.errors import InputError
from dynsim.learn.options import Settings, adjoint_settings, settings
from dynsim.learn.stepper import Timed, solve
from dynsim.numerics import ButcherTableau

Func = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""func(t, y): `t` a scalar tensor, `y` of y0's shape; returns dy/dt of y's shape."""


def odeint(func: Func, y0: torch.Tensor, t: torch.Tensor, method: str | ButcherTableau = "dopri5",
           rtol: float = 1e-7, atol: float = 1e-9, adjoint: bool = False,
           options: Mapping[str, Any] | None = None,
           adjoint_params: Iterable[torch.Tensor] | None = None, *,
           adjoint_rtol: float | None = None, adjoint_atol: float | None = None,
           adjoint_options: Mapping[str, Any] | None = None) -> torch.Tensor:
    """Solve dy/dt = func(t, y), y(t[0]) = y0, and return y at every time of `t`.

    - `func(t, y)`: `t` a scalar tensor, `y` of `y0`'s shape (..., D); returns the same
      shape. It may couple the batch elements: the whole state is one system.
    - `y0`: a floating tensor (float32 or float64, CPU or CUDA); the result, of shape
      (T, ..., D), has its dtype and device.
    - `t`: 1-D, strictly increasing or strictly decreasing; the result starts with y0.
    - `method`: any registered explicit Runge–Kutta solver (`dynsim list`), e.g. "dopri5"
      (default), "tsit5", "dop853", "bosh3", fixed-step "rk4", "midpoint", "euler", or a
      `ButcherTableau`. `rtol`, `atol`: the error control of adaptive methods.
    - `options` (torchdiffeq's keys): `step_size` (fixed-step methods; default one step per
      output interval), `first_step` (adaptive methods), `max_num_steps` (default 100000).
    - `adjoint=True`: gradients by the adjoint method of Chen et al. (2018), memory constant
      in the number of steps, for `y0`, `t` and `adjoint_params` (default:
      `func.parameters()` when func is an `nn.Module`; they must be given otherwise).
      `adjoint_rtol`/`adjoint_atol` default to rtol/atol, `adjoint_options` to `options`
      plus `norm`: "mixed" (torchdiffeq's default: the largest RMS norm of y, the adjoint
      and each parameter's adjoint) or "seminorm" (parameters' adjoints left out).

    Without `adjoint`, gradients flow by backprop through the solver to `y0` and everything
    func uses (not to `t`). Raises `InputError` for bad arguments and `IntegrationError`
    when the integration fails (non-finite values, max_num_steps, step size too small).
    """
    y0, times = _check_inputs(y0, t)
    forward = settings(method, rtol, atol, options)
    f = timed(func, y0)
    if len(times) == 1:
        return y0[None].clone()
    if not adjoint:
        if adjoint_params is not None or adjoint_options is not None:
            raise InputError("adjoint_params and adjoint_options need adjoint=True")
        return solve(f, y0, times, forward)
    from dynsim.learn.adjoint import adjoint_odeint

    backward = adjoint_settings(forward, adjoint_rtol, adjoint_atol,
                                options if adjoint_options is None else adjoint_options)
    params = _adjoint_params(func, adjoint_params)
    return adjoint_odeint(f, y0, torch.as_tensor(t), times, forward, backward, params)


def timed(func: Func, y0: torch.Tensor) -> Timed:
    """`func` called with host float times, checking the shape it returns."""
    shape, dtype, device = y0.shape, y0.dtype, y0.device

    def f(t: float, y: torch.Tensor) -> torch.Tensor:
        out = func(torch.scalar_tensor(t, dtype=dtype, device=device), y)
        if not isinstance(out, torch.Tensor) or out.shape != shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise InputError(f"func returned {got} for y of shape {tuple(shape)}; it must "
                             f"return a tensor of y's shape")
        return out

    return f


def _check_inputs(y0: Any, t: Any) -> tuple[torch.Tensor, np.ndarray]:
    if not isinstance(y0, torch.Tensor) or not y0.is_floating_point():
        raise InputError(f"y0 must be a floating-point torch tensor, got "
                         f"{getattr(y0, 'dtype', type(y0).__name__)}")
    if y0.dtype in (torch.float16, torch.bfloat16):
        raise InputError(f"y0 is {y0.dtype}: too few digits for step-size control (the error "
                         "estimates drown in rounding); use torch.float32 or torch.float64, "
                         "e.g. y0.float()")
    if y0.ndim == 0 or y0.numel() == 0:
        raise InputError(f"y0 must have shape (..., D) with D >= 1, got {tuple(y0.shape)}")
    if not isinstance(t, torch.Tensor):
        t = torch.as_tensor(t)
    times = t.detach().cpu().to(torch.float64).numpy()
    if times.ndim != 1 or times.size == 0:
        raise InputError(f"t must be a 1-D tensor of output times, got shape {tuple(t.shape)}")
    if not np.isfinite(times).all():
        raise InputError("t must hold finite times")
    steps = np.diff(times)
    if steps.size and not (np.all(steps > 0) or np.all(steps < 0)):
        raise InputError("t must be strictly increasing or strictly decreasing")
    return y0, times


def _adjoint_params(func: Func, given: Iterable[torch.Tensor] | None) -> tuple[torch.Tensor, ...]:
    if given is None:
        if not isinstance(func, torch.nn.Module):
            raise InputError("with adjoint=True, func must be an nn.Module or the tensors to "
                             "differentiate must be passed as adjoint_params (may be ())")
        given = func.parameters()
    params = tuple(given)
    if any(not isinstance(p, torch.Tensor) for p in params):
        raise InputError("adjoint_params must be tensors")
    return tuple(p for p in params if p.requires_grad)


__all__ = ["Func", "Settings", "odeint", "timed"]
