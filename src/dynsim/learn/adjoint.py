"""The adjoint method (Chen et al. 2018) as a `torch.autograd.Function`.

Forward: the integration without an autograd graph; only the outputs y(t_i) are kept.
Backward: the augmented system z = [y, a, a_theta] with

    dy/dt = f(t, y),   da/dt = -a^T df/dy,   da_theta/dt = -a^T df/dtheta

is solved backwards from t_N with the same method, landing on every output time t_i, where
y is reset to the forward value y(t_i) and a jumps by dL/dy(t_i) (the gradient arriving
there), as in torchdiffeq. Each evaluation of the augmented right-hand side builds the graph
of one func call, takes one vector-Jacobian product and drops it, so memory does not grow
with the number of steps. At t_0, a + dL/dy(t_0) is dL/dy0 and a_theta is dL/dtheta.

Gradients with respect to the output times need no extra integration: y(t_i) moves with
f(t_i, y_i) when t_i moves (i >= 1), and shifting t_0 moves every later output by
-Phi(t_i, t_0) f(t_0, y_0), so dL/dt_0 = -a(t_0) . f(t_0, y_0) with the adjoint before
the jump at t_0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from dynsim.learn.options import Settings
from dynsim.learn.stepper import Timed, solve


def adjoint_odeint(f: Timed, y0: torch.Tensor, t: torch.Tensor, times: np.ndarray,
                   forward: Settings, backward: Settings,
                   params: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The states at `times`, (T, *y0.shape), differentiable by the adjoint method."""
    problem = _Problem(f, y0.shape, times, forward, backward, params)
    return _AdjointFunction.apply(problem, y0, t, *params)


class _Problem:
    """What the backward pass needs besides the saved tensors."""

    def __init__(self, f: Timed, shape: torch.Size, times: np.ndarray, forward: Settings,
                 backward: Settings, params: tuple[torch.Tensor, ...]) -> None:
        self.f, self.shape, self.times = f, shape, times
        self.forward, self.backward = forward, backward
        self.sizes = [p.numel() for p in params]


class _AdjointFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, problem: _Problem, y0: torch.Tensor, t: torch.Tensor,
                *params: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            ys = solve(problem.f, y0, problem.times, problem.forward).reshape(
                len(problem.times), -1)
        ctx.problem, ctx.t_dtype = problem, t.dtype
        ctx.save_for_backward(ys, *params)
        return ys.reshape(len(problem.times), *problem.shape)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_ys: torch.Tensor) -> tuple[Any, ...]:
        problem: _Problem = ctx.problem
        ys, *params = ctx.saved_tensors
        grad_y0, grad_params, grad_t = _adjoint_pass(problem, ys, grad_ys.reshape(ys.shape),
                                                     tuple(params),
                                                     want_t=ctx.needs_input_grad[2])
        if grad_t is not None:
            grad_t = grad_t.to(ctx.t_dtype)
        return (None, grad_y0, grad_t, *grad_params)


def _adjoint_pass(problem: _Problem, ys: torch.Tensor, grad_ys: torch.Tensor,
                  params: tuple[torch.Tensor, ...],
                  want_t: bool) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
    """dL/dy0, dL/dparams and (if `want_t`) dL/dt from the augmented system, solved backwards."""
    times, n, shape = problem.times, ys.shape[1], problem.shape

    def f(t: float, y: torch.Tensor) -> torch.Tensor:  # on flat states
        return problem.f(t, y.view(shape)).reshape(-1)

    last = len(times) - 1
    z0 = torch.cat([ys[-1], grad_ys[-1], ys.new_zeros(sum(problem.sizes))])

    def augmented(t: float, z: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            y = z[:n].detach().requires_grad_(True)
            fy = f(t, y)
            if not fy.requires_grad:  # func depends on neither y nor the parameters
                return torch.cat([fy, torch.zeros_like(z[n:])])
            vjps = torch.autograd.grad(fy, (y, *params), -z[n:2 * n], allow_unused=True)
        parts = [fy.detach()] + [torch.zeros(size, dtype=z.dtype, device=z.device)
                                 if v is None else v.reshape(-1)
                                 for v, size in zip(vjps, [n, *problem.sizes], strict=True)]
        return torch.cat(parts)

    def jump(j: int, z: torch.Tensor) -> torch.Tensor:  # at times[last - j]
        i = last - j
        return torch.cat([ys[i], z[n:2 * n] + grad_ys[i], z[2 * n:]])

    groups = [n, n] + (problem.sizes if problem.backward.norm == "mixed" else [])
    with torch.no_grad():
        z = solve(augmented, z0, times[::-1].copy(), problem.backward, groups, jump)[-1]
        a0 = z[n:2 * n]
        grad_params = [z[2 * n + o:2 * n + o + s].view_as(p) for o, s, p in
                       zip(np.cumsum([0, *problem.sizes[:-1]]), problem.sizes, params,
                           strict=True)] if params else []
        grad_t = None
        if want_t:
            slopes = torch.stack([f(float(ti), ys[i]) for i, ti in enumerate(times)])
            grad_t = (slopes * grad_ys).sum(1)
            grad_t[0] = -(a0 * slopes[0]).sum()
    return (a0 + grad_ys[0]).reshape(problem.shape), grad_params, grad_t
