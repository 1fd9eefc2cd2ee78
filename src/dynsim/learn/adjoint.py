"""The adjoint method (Chen et al. 2018) as a `torch.autograd.Function`.

Forward: the integration without an autograd graph; only the outputs y(t_i) are kept.
Backward: the augmented system z = [t_a, y, a, a_theta] (torchdiffeq's layout) with

    dy/dt = f(t, y),   da/dt = -a^T df/dy,   da_theta/dt = -a^T df/dtheta

is solved backwards from t_N with the adjoint method and tolerances, where at every output
time t_i y is reset to the forward value y(t_i) and a jumps by dL/dy(t_i) (the gradient
arriving there). Adaptive methods run through all output times in one solve that lands on
each (the step size carries over); fixed-grid methods and scipy_solver solve one output
interval at a time, as torchdiffeq does, so a grid_constructor sees each interval. Each
augmented evaluation builds the graph of one func call, takes one vector-Jacobian product
and drops it, so memory does not grow with the number of steps. At t_0, a + dL/dy(t_0) is
dL/dy0 and a_theta is dL/dtheta.

Gradients with respect to the output times need no extra integration: y(t_i) moves with
f(t_i, y_i) when t_i moves (i >= 1), and shifting t_0 moves every later output by
-Phi(t_i, t_0) f(t_0, y_0), so dL/dt_0 = -a(t_0) . f(t_0, y_0) with the adjoint before
the jump at t_0. The slot t_a therefore stays zero; it is there so that the adjoint norm
sees torchdiffeq's tuple (t_a, y, a, *a_theta).

The output's `grad_fn` carries `adjoint_options` (torchdiffeq's attribute): its "norm"
entry is the norm of the backward pass, which may be replaced before `backward()`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.autograd.function import once_differentiable

from dynsim.learn.integrate import Func, host_times, integrate, real_dtype, timed
from dynsim.learn.methods import ADAPTIVE
from dynsim.learn.options import Settings
from dynsim.learn.state import State
from dynsim.learn.stepper import Callbacks, solve

Norm = Callable[[Any], Any]


def rms(x: torch.Tensor) -> torch.Tensor:
    """torchdiffeq's RMS norm of one tensor."""
    return x.abs().pow(2).mean().sqrt()


def state_norm(state: State, norm: Norm | None) -> Norm:
    """The forward error norm of the solver's state tensor as a function (default: RMS, or
    the largest RMS over a tuple's parts)."""
    if norm is not None:
        return norm
    if state.is_tuple:
        return lambda y: max(rms(p) for p in state.split(y))
    return rms


def default_norm(state: State, forward_norm: Norm | None, seminorm: bool) -> Norm:
    """torchdiffeq's adjoint norm max(|t_a|, norm(y), norm(a), RMS of each a_theta) (the
    last left out for the seminorm), as a function of the tuple (t_a, y, a, *a_theta)."""
    of_state = state_norm(state, forward_norm)

    def norm(tensors: tuple[torch.Tensor, ...]) -> torch.Tensor:
        t, y, a, *params = tensors
        parts = [t.abs(), of_state(y), of_state(a)]
        if not seminorm:
            parts += [rms(p) for p in params]
        return torch.stack([torch.as_tensor(p, dtype=t.dtype) for p in parts]).max()

    norm.groups = None if forward_norm is not None else (state, seminorm)  # type: ignore
    return norm


def tuple_norm(state: State, user: Norm) -> Norm:
    """A user's adjoint norm of a tuple state: it gets (t_a, *y parts, *a parts, *a_theta)."""
    def norm(tensors: tuple[torch.Tensor, ...]) -> Any:
        t, y, a, *params = tensors
        return user((t, *state.split(y), *state.split(a), *params))

    return norm


class AdjointProblem:
    """What the backward pass needs besides the saved tensors."""

    def __init__(self, func: Func, state: State, t: torch.Tensor, forward: Settings,
                 backward: Settings, params: tuple[torch.Tensor, ...],
                 adjoint_options: dict[str, Any], callbacks: Callbacks,
                 adjoint_callbacks: Callbacks, check_untracked: bool = False) -> None:
        """`check_untracked`: the parameters are the default ones, so the backward pass
        warns of other tensors requiring grad that func uses (`untracked`)."""
        self.func, self.state, self.shape = func, state, state.y0.shape
        self.t = t.detach()
        self.times = host_times(t)
        self.forward, self.backward = forward, backward
        self.sizes = [p.numel() for p in params]
        self.adjoint_options = adjoint_options
        self.callbacks, self.adjoint_callbacks = callbacks, adjoint_callbacks
        self.check_untracked = check_untracked
        self.params = params  # (the leaves themselves: saved tensors may come back as others)

    def forward_solve(self, y0: torch.Tensor) -> torch.Tensor:
        """The forward outputs (T, *shape), without a graph."""
        with torch.no_grad():
            return integrate(self.func, y0, self.t, self.forward, self.state.groups,
                             self.forward.norm, self.callbacks)


def adjoint_odeint(problem: AdjointProblem, y0: torch.Tensor, t: torch.Tensor,
                   params: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The states at `t`, (T, *y0.shape), differentiable by the adjoint method."""
    return _AdjointFunction.apply(problem, y0, t, *params)


class _AdjointFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, problem: AdjointProblem, y0: torch.Tensor, t: torch.Tensor,
                *params: torch.Tensor) -> torch.Tensor:
        ys = problem.forward_solve(y0)
        ctx.problem, ctx.t_dtype = problem, t.dtype
        ctx.adjoint_options = problem.adjoint_options
        ctx.save_for_backward(ys, *params)
        return ys

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_ys: torch.Tensor) -> tuple[Any, ...]:
        problem: AdjointProblem = ctx.problem
        ys, *params = ctx.saved_tensors
        grad_y0, grad_params, grad_t = _Backward(problem, ys, grad_ys, tuple(params),
                                                 ctx.adjoint_options["norm"]).run(
            want_t=ctx.needs_input_grad[2])
        if grad_t is not None:
            grad_t = grad_t.to(ctx.t_dtype)
        return (None, grad_y0, grad_t, *grad_params)


class _Backward:
    """One backward pass: the augmented system solved from t_N to t_0."""

    def __init__(self, problem: AdjointProblem, ys: torch.Tensor, grad_ys: torch.Tensor,
                 params: tuple[torch.Tensor, ...], norm: Norm) -> None:
        self.problem, self.params, self.norm = problem, params, norm
        self.n = n = ys[0].numel()
        self.ys = ys.reshape(len(ys), n)
        self.grad_ys = grad_ys.reshape(len(ys), n)
        self.layout = [1, n, n, *problem.sizes]  # t_a, y, a, a_theta
        self.offsets = np.cumsum([0, *self.layout]).tolist()

    def parts(self, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """z as torchdiffeq's tuple (t_a 0-d, y, a, *a_theta), y and a in the solver's shape."""
        o, shape = self.offsets, self.problem.shape
        out = [z[0], z[o[1]:o[2]].view(shape), z[o[2]:o[3]].view(shape)]
        out += [z[o[3 + i]:o[4 + i]].view_as(p) for i, p in enumerate(self.params)]
        return tuple(out)

    def augmented(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """dz/dt of the augmented system at (t, z)."""
        o, shape, func = self.offsets, self.problem.shape, self.problem.func
        with torch.enable_grad():
            y = z[o[1]:o[2]].detach().view(shape).requires_grad_(True)
            fy = func(t.detach(), y)
            if not fy.requires_grad:  # func depends on neither y nor the parameters
                return torch.cat([z.new_zeros(1), fy.reshape(-1), torch.zeros_like(z[o[2]:])])
            if self.problem.check_untracked:
                self.problem.check_untracked = False  # (once: the first call)
                _warn_untracked(fy, (y, *self.problem.params))
            vjps = torch.autograd.grad(fy, (y, *self.params), -z[o[2]:o[3]].view(shape),
                                       allow_unused=True)
        out = [z.new_zeros(1), fy.detach().reshape(-1)]
        out += [torch.zeros(size, dtype=z.dtype, device=z.device) if v is None
                else v.reshape(-1) for v, size in zip(vjps, self.layout[2:], strict=True)]
        return torch.cat(out)

    def reset(self, i: int, z: torch.Tensor) -> torch.Tensor:
        """z at output time i: y from the forward pass, a plus the gradient arriving there."""
        o = self.offsets
        return torch.cat([z[:1], self.ys[i], z[o[2]:o[3]] + self.grad_ys[i], z[o[3]:]])

    def _norm_args(self) -> dict[str, Any]:
        """The stepper's groups, or a norm function, for the adjoint norm in use."""
        marker = getattr(self.norm, "groups", None)
        if marker is not None:
            state, seminorm = marker
            y_groups = state.sizes if state.is_tuple else [self.n]
            groups = [1, *y_groups, *y_groups] + ([] if seminorm else self.problem.sizes)
            return {"groups": groups}
        return {"norm": lambda ratio: self.norm(self.parts(ratio))}

    def run(self, want_t: bool) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor | None]:
        """dL/dy0, dL/dparams and (if `want_t`) dL/dt."""
        problem, o = self.problem, self.offsets
        times = problem.times
        last = len(times) - 1
        z0 = torch.cat([self.ys.new_zeros(1), self.ys[-1], self.grad_ys[-1],
                        self.ys.new_zeros(sum(problem.sizes))])
        callbacks = problem.adjoint_callbacks
        if callbacks.any:
            callbacks.wrap = self.parts
        backward, extra = problem.backward, self._norm_args()
        with torch.no_grad():
            if backward.spec.kind == ADAPTIVE:
                def jump(j: int, z: torch.Tensor) -> torch.Tensor:  # at times[last - j]
                    return self.reset(last - j, z)

                z = solve(timed(self.augmented, z0), z0, times[::-1].copy(), backward,
                          extra.get("groups"), jump, extra.get("norm"), callbacks)[-1]
            else:
                z = z0
                t = problem.t
                for i in range(last, 0, -1):
                    z = integrate(self.augmented, z, t[i - 1:i + 1].flip(0), backward,
                                  extra.get("groups"), extra.get("norm"), callbacks)[-1]
                    z = self.reset(i - 1, z) if i > 1 else z
            a0 = z[o[2]:o[3]]
            grad_params = [part.clone() for part in self.parts(z)[3:]]
            grad_t = None
            if want_t:
                func, shape = problem.func, problem.shape
                dtype = real_dtype(self.ys)
                slopes = torch.stack([
                    func(torch.scalar_tensor(float(ti), dtype=dtype, device=z.device),
                         self.ys[i].view(shape)).reshape(-1) for i, ti in enumerate(times)])
                grad_t = (slopes * self.grad_ys).sum(1)
                grad_t[0] = -(a0 * slopes[0]).sum()
        return (a0 + self.grad_ys[0]).reshape(problem.shape), grad_params, grad_t


def untracked(out: torch.Tensor, known: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
    """The leaves of `out`'s autograd graph (tensors requiring grad that it depends on)
    other than `known`."""
    ids = {id(k) for k in known}
    found: dict[int, torch.Tensor] = {}
    seen: set[int] = set()
    stack = [out.grad_fn] if out.grad_fn is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        leaf = getattr(node, "variable", None)  # AccumulateGrad: a leaf requiring grad
        if leaf is not None and id(leaf) not in ids:
            found[id(leaf)] = leaf
        stack.extend(child for child, _ in node.next_functions if child is not None)
    return list(found.values())


def _warn_untracked(out: torch.Tensor, known: tuple[torch.Tensor, ...]) -> None:
    """Warn that the gradients of tensors `out` depends on beyond `known` are left out."""
    missing = untracked(out, known)
    if missing:
        shapes = ", ".join(str(tuple(m.shape)) for m in missing)
        warnings.warn(f"odeint: the adjoint pass gives no gradient for {len(missing)} "
                      f"tensor(s) requiring grad that func uses but are not its parameters "
                      f"(shapes {shapes}): pass them with func's parameters as "
                      f"adjoint_params=(...), or make them parameters of an nn.Module func",
                      stacklevel=2)
