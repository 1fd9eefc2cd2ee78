"""Terminal events of `odeint(..., event_fn=...)`: where to stop, and the gradients there.

`event_fn(t, y)` may return any tensor; as in torchdiffeq its entries are made positive at
t0 and combined by their minimum, so the solve stops at the first entry to cross zero.
The event time t_e solves g(t_e, y(t_e)) = 0; the solvers find it without a graph and
return y(t_e) differentiable as if t_e were a constant. `reroute` adds what moving t_e
contributes (implicit function theorem): with F = f(t_e, y_e) and
dg/dt = dg/dt + dg/dy . F, a loss L(t_e, y_e) has dL/dt_e,total = dL/dt_e + dL/dy_e . F
and the state receives dL/dy_e - dg/dy dL/dt_e,total / (dg/dt), which flows on to y0, t0
and every parameter, by backprop or by the adjoint alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

Func = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def combined(event_fn: Func, t0: torch.Tensor, y0: torch.Tensor) -> Func:
    """One scalar event function from `event_fn`: min over its entries, each made positive
    at (t0, y0)."""
    with torch.no_grad():
        signs = torch.sign(event_fn(t0, y0))

    def g(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.min(event_fn(t, y) * signs)

    return g


def reroute(func: Func, event: Func, event_t: torch.Tensor, state: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """(t_e, y_e) with the event time's gradients (see the module); `state` is y(t_e)
    differentiable with t_e held fixed, `event_t` carries no gradient."""
    return _Reroute.apply(func, event, event_t.detach(), state)


class _Reroute(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, func: Func, event: Func, event_t: torch.Tensor,
                state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ctx.func, ctx.event = func, event
        ctx.save_for_backward(event_t, state)
        return event_t.clone(), state.detach().clone()

    @staticmethod
    def backward(ctx: Any, grad_t: torch.Tensor | None, grad_state: torch.Tensor | None
                 ) -> tuple[Any, ...]:
        event_t, state = ctx.saved_tensors
        te = event_t.detach().requires_grad_(True)
        ye = state.detach().requires_grad_(True)
        with torch.enable_grad():
            value = ctx.event(te, ye)
            dg_dt, dg_dy = torch.autograd.grad(value, (te, ye), allow_unused=True)
        with torch.no_grad():
            slope = ctx.func(te.detach().to(state.real.dtype if state.is_complex()
                                            else state.dtype), ye.detach())
            dg_dt = torch.zeros_like(te) if dg_dt is None else dg_dt
            dg_dy = torch.zeros_like(ye) if dg_dy is None else dg_dy
            grad_state = torch.zeros_like(ye) if grad_state is None else grad_state
            grad_t = torch.zeros_like(te) if grad_t is None else grad_t
            total_dt = dg_dt + (dg_dy * slope).sum()
            total_grad_t = grad_t + (grad_state * slope).sum()
            out = grad_state - dg_dy * (total_grad_t / (total_dt + 1e-12)).to(ye.dtype)
        return None, None, None, out
