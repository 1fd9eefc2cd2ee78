"""Implicit Runge–Kutta methods on a fixed grid (torchdiffeq's implicit method names).

A method is its full Butcher tableau (`ImplicitTableau`). One step solves the stage
equations K_i = f(t0 + c_i h, y0 + h sum_j A_ij K_j) by simplified Newton iterations: the
Jacobian J = df/dy at (t0, y0) (autograd, once per step, without a graph) gives the matrix
I - h A (x) J, factorised once; the iterations start from K_i = f(t0, y0) and stop when the
change is below rtol/atol in the max norm (at most `max_iters`, default 4 as for Adams;
then a warning). The iterations themselves are recorded by autograd, so the step is
differentiated through its converged fixed point. The increment is h sum_i b_i K_i.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

MAX_NEWTON = 10
"""Newton iterations per step before the warning (the stage system is usually linear-ish)."""

_R6, _R3, _R15, _R2 = math.sqrt(6), math.sqrt(3), math.sqrt(15), math.sqrt(2)


@dataclass(frozen=True)
class ImplicitTableau:
    """A Runge–Kutta method with a full A (s, s), nodes c (s,), weights b (s,), its order."""

    name: str
    order: int
    c: tuple[float, ...]
    a: tuple[tuple[float, ...], ...]
    b: tuple[float, ...]
    reference: str = ""

    def __post_init__(self) -> None:
        s = len(self.c)
        if len(self.b) != s or len(self.a) != s or any(len(r) != s for r in self.a):
            raise ValueError(f"tableau {self.name}: c, b and the rows of a must have {s} entries")
        for i, row in enumerate(self.a):
            if abs(sum(row) - self.c[i]) > 1e-14:
                raise ValueError(f"tableau {self.name}: row {i} of a does not sum to c[{i}]")
        if abs(sum(self.b) - 1.0) > 1e-14:
            raise ValueError(f"tableau {self.name}: weights b do not sum to 1")


_GAMMA = 1 - _R2 / 2
_TRBDF = 2 - _R2  # TR-BDF2's first stage fraction; d = gamma / 2, w = sqrt(2) / 4

IMPLICIT_TABLEAUS = (
    ImplicitTableau("implicit_euler", 1, (1.0,), ((1.0,),), (1.0,),
                    "the backward Euler method"),
    ImplicitTableau("implicit_midpoint", 2, (0.5,), ((0.5,),), (1.0,),
                    "the implicit midpoint rule (Gauss-Legendre, one stage)"),
    ImplicitTableau("trapezoid", 2, (0.0, 1.0), ((0.0, 0.0), (0.5, 0.5)), (0.5, 0.5),
                    "the trapezoidal rule (Crank-Nicolson)"),
    ImplicitTableau("radauIIA3", 3, (1 / 3, 1.0), ((5 / 12, -1 / 12), (3 / 4, 1 / 4)),
                    (3 / 4, 1 / 4),
                    "E. Hairer, G. Wanner, Solving ODEs II, IV.5: Radau IIA, s = 2"),
    ImplicitTableau(
        "radauIIA5", 5, ((4 - _R6) / 10, (4 + _R6) / 10, 1.0),
        (((88 - 7 * _R6) / 360, (296 - 169 * _R6) / 1800, (-2 + 3 * _R6) / 225),
         ((296 + 169 * _R6) / 1800, (88 + 7 * _R6) / 360, (-2 - 3 * _R6) / 225),
         ((16 - _R6) / 36, (16 + _R6) / 36, 1 / 9)),
        ((16 - _R6) / 36, (16 + _R6) / 36, 1 / 9),
        "E. Hairer, G. Wanner, Solving ODEs II, IV.5, Table 5.6: Radau IIA, s = 3"),
    ImplicitTableau("gl4", 4, (0.5 - _R3 / 6, 0.5 + _R3 / 6),
                    ((0.25, 0.25 - _R3 / 6), (0.25 + _R3 / 6, 0.25)), (0.5, 0.5),
                    "J. C. Butcher (1964): Gauss-Legendre, two stages"),
    ImplicitTableau(
        "gl6", 6, (0.5 - _R15 / 10, 0.5, 0.5 + _R15 / 10),
        ((5 / 36, 2 / 9 - _R15 / 15, 5 / 36 - _R15 / 30),
         (5 / 36 + _R15 / 24, 2 / 9, 5 / 36 - _R15 / 24),
         (5 / 36 + _R15 / 30, 2 / 9 + _R15 / 15, 5 / 36)),
        (5 / 18, 4 / 9, 5 / 18), "J. C. Butcher (1964): Gauss-Legendre, three stages"),
    ImplicitTableau("sdirk2", 2, (_GAMMA, 1.0), ((_GAMMA, 0.0), (1 - _GAMMA, _GAMMA)),
                    (1 - _GAMMA, _GAMMA),
                    "R. Alexander, SIAM J. Numer. Anal. 14 (1977): L-stable SDIRK, "
                    "gamma = 1 - sqrt(2)/2"),
    ImplicitTableau("trbdf2", 2, (0.0, _TRBDF, 1.0),
                    ((0.0, 0.0, 0.0), (_TRBDF / 2, _TRBDF / 2, 0.0),
                     (_R2 / 4, _R2 / 4, _TRBDF / 2)),
                    (_R2 / 4, _R2 / 4, _TRBDF / 2),
                    "M. E. Hosea, L. F. Shampine, Appl. Numer. Math. 20 (1996): TR-BDF2 "
                    "as an ESDIRK, gamma = 2 - sqrt(2)"),
)
IMPLICIT_METHODS = {t.name: t for t in IMPLICIT_TABLEAUS}


class ImplicitStep:
    """The steps of one implicit method: `step(owner, func, t0, dt, t1, y0) -> (dy, f0)`."""

    def __init__(self, tableau: ImplicitTableau, rtol: float | torch.Tensor,
                 atol: float | torch.Tensor, max_iters: int, like: torch.Tensor) -> None:
        """`rtol`, `atol`: numbers, or tensors of the flattened state's shape."""
        self.tableau, self.rtol, self.atol = tableau, rtol, atol
        self.max_iters = max(max_iters, MAX_NEWTON)
        self.a = torch.tensor(tableau.a, dtype=like.dtype, device=like.device)
        self.b = torch.tensor(tableau.b, dtype=like.dtype, device=like.device)

    def step(self, owner: Any, func: Callable[..., torch.Tensor], t0: torch.Tensor,
             dt: torch.Tensor, t1: torch.Tensor, y0: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
        shape, n = y0.shape, y0.numel()
        s = len(self.tableau.c)
        f0 = owner.call(func, t0, y0, t1.item())
        times = [t1 if c == 1.0 else t0 if c == 0.0 else t0 + c * dt for c in self.tableau.c]
        towards = [t0.item() if c == 1.0 else t1.item() if c == 0.0 else None
                   for c in self.tableau.c]

        def stages(k: torch.Tensor) -> torch.Tensor:  # (s, n) -> f at the stage inputs
            inputs = y0.reshape(1, n) + dt.to(y0.dtype) * (self.a @ k)
            return torch.stack([owner.call(func, times[i], inputs[i].view(shape),
                                           towards[i]).reshape(-1) for i in range(s)])

        with torch.no_grad():
            jac = torch.autograd.functional.jacobian(
                lambda y: func(t0.detach().to(y0.dtype), y.view(shape)).reshape(-1),
                y0.detach().reshape(-1))
            h = float(dt.detach())
            system = torch.eye(s * n, dtype=y0.dtype, device=y0.device) - h * torch.kron(
                self.a.detach(), jac.reshape(n, n))
            lu = torch.linalg.lu_factor(system)
        k = f0.reshape(1, n).expand(s, n)
        for _ in range(self.max_iters):
            residual = k - stages(k)
            delta = torch.linalg.lu_solve(*lu, residual.reshape(-1, 1)).view(s, n)
            k = k - delta
            with torch.no_grad():
                scale = self.atol + self.rtol * k.abs()
                if bool((delta.abs() / scale).max() < 1):
                    break
        else:
            warnings.warn(f"odeint: {self.tableau.name}'s Newton iterations did not converge; "
                          f"the solution may be inaccurate (try a smaller step_size)",
                          stacklevel=6)
        return (dt.to(y0.dtype) * (self.b @ k)).view(shape), f0
