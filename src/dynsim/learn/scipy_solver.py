"""`scipy_solver`: torchdiffeq's wrapper of `scipy.integrate.solve_ivp`.

`options={"solver": "LSODA"}` (the default; also RK45, RK23, DOP853, Radau, BDF) picks
scipy's method; `min_step`, `max_step`, `first_step` pass through. The state is solved in
float64 on the host and returned in y0's dtype and device. scipy does not differentiate, so
`odeint` differentiates this method by the adjoint method (`dynsim.learn.adjoint`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from dynsim.core.errors import IntegrationError
from dynsim.learn import tolerance
from dynsim.learn.options import Settings


def solve(func: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], y0: torch.Tensor,
          t: torch.Tensor, settings: Settings) -> torch.Tensor:
    """The states (T, *y0.shape) at `t` from solve_ivp, without an autograd graph."""
    from scipy.integrate import solve_ivp

    shape, dtype, device = y0.shape, y0.dtype, y0.device
    times = t.detach().cpu().to(torch.float64).numpy()
    time_dtype = y0.real.dtype if y0.is_complex() else dtype

    def f(s: float, y: np.ndarray) -> np.ndarray:
        state = torch.as_tensor(y).to(device=device, dtype=dtype).reshape(shape)
        with torch.no_grad():
            out = func(torch.tensor(s, dtype=time_dtype, device=device), state)
        return out.detach().cpu().numpy().reshape(-1).astype(y.dtype, copy=False)

    start = y0.detach().cpu().numpy().reshape(-1)
    start = start.astype(np.complex128 if y0.is_complex() else np.float64)
    sol = solve_ivp(f, (float(times[0]), float(times[-1])), start, t_eval=times,
                    rtol=tolerance.host(settings.rtol), atol=tolerance.host(settings.atol),
                    **{"min_step": 0.0, "max_step": np.inf, **settings.scipy})
    if sol.status != 0 or sol.y.shape[1] != len(times):
        raise IntegrationError(f"odeint: scipy_solver ({settings.scipy['method']}) failed: "
                               f"{sol.message}")
    out = torch.as_tensor(sol.y.T.copy()).to(device=device, dtype=dtype)
    return out.reshape(len(times), *shape)
