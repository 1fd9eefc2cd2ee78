"""Lyapunov spectra by the QR (Benettin) method on the variational equations, batched.

Each trajectory carries, besides its state y (D), an orthonormal frame Q (D, D) that the
variational equations dQ/dt = J(t, y) Q stretch along the flow. Every `interval` the frames
of all trajectories are re-orthonormalised at once (numpy's batched Householder QR,
Q R = frame, signs fixed so diag R > 0) and log R_kk is added to sum k. After a `transient`
of the state alone (to reach the attractor) and a `qr_transient` whose sums are dropped
(while the frame aligns with the Lyapunov directions), lambda_k = sum_k / duration.

The interval must keep exp(-(lambda_1 - lambda_D) * interval) well above the integration
tolerance, or the weakest direction drowns in the error of the strongest: the default 0.5
gives exp(-7.7) = 5e-4 against rtol 1e-8 for Lorenz (lambda_1 - lambda_3 = 15.5).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dynsim.analysis.bound import bind
from dynsim.analysis.flow import (
    ATOL,
    DEFAULT_SOLVER,
    RTOL,
    Flow,
    positive_time,
    succeeded,
    time_jacobian,
)
from dynsim.analysis.grid import finite_number
from dynsim.analysis.jacobian import Method
from dynsim.core.errors import InputError
from dynsim.core.simulate import as_initial_states
from dynsim.core.spelling import setting
from dynsim.core.system import System

QR_INTERVAL = 0.5
"""Time between re-orthonormalisations (see the module docstring)."""
TRANSIENT = 50.0
"""Time the states run alone first, to settle on the attractor."""
QR_TRANSIENT = 5.0
"""Time of QR steps whose growth is dropped while the frames align (removes the O(1/T)
bias of the first steps: ~0.05 on Lorenz's lambda_2 over T = 20 without it)."""
DURATION = 200.0
"""Time over which the growth is averaged. Finite-time estimates scatter like
1 / sqrt(duration) per trajectory; averaging N trajectories divides that by sqrt(N)."""


@dataclass(frozen=True, eq=False)
class LyapunovSpectrum:
    """The Lyapunov exponents of a system, largest first.

    `exponents` (D,) is the mean over the trajectories that succeeded of `per_trajectory`
    (N, D) (NaN rows for failed ones, with `status`); `standard_error` (D,) is their
    standard deviation / sqrt(n) (NaN for fewer than two). `duration`, `interval`,
    `transient` and `qr_transient` are the times used (module docstring).
    """

    exponents: np.ndarray
    per_trajectory: np.ndarray
    standard_error: np.ndarray
    states: tuple[str, ...]
    status: tuple[str, ...]
    duration: float
    interval: float
    transient: float
    qr_transient: float

    @property
    def kaplan_yorke(self) -> float:
        """The Kaplan–Yorke dimension j + sum_{k<=j} lambda_k / |lambda_{j+1}| (NaN when no
        trajectory succeeded)."""
        if np.isnan(self.exponents).any():
            return math.nan
        sums = np.cumsum(self.exponents)
        j = int(np.sum(sums >= 0))
        if j == 0:
            return 0.0
        if j == len(sums):
            return float(j)
        return j + float(sums[j - 1]) / abs(float(self.exponents[j]))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the spectrum and how it was computed."""
        return {"exponents": _json_numbers(self.exponents),
                "standard_error": _json_numbers(self.standard_error),
                "sum": _json_numbers([np.sum(self.exponents)])[0],
                "kaplan_yorke": _json_numbers([self.kaplan_yorke])[0],
                "trajectories": len(self.status),
                "failed": sum(s != "success" for s in self.status),
                "duration": self.duration, "interval": self.interval,
                "transient": self.transient, "qr_transient": self.qr_transient}


def _json_numbers(values: Any) -> list[float | None]:
    """Floats for JSON, NaN as None (JSON has no NaN)."""
    return [None if math.isnan(v) else float(v) for v in np.asarray(values, dtype=float)]


def lyapunov_spectrum(system: str | System, y0: Any = None, *,
                      params: Mapping[str, float] | None = None, t0: float = 0.0,
                      duration: float = DURATION, interval: float = QR_INTERVAL,
                      transient: float = TRANSIENT, qr_transient: float = QR_TRANSIENT,
                      method: Method = "auto", solver: str = DEFAULT_SOLVER,
                      rtol: float = RTOL, atol: float = ATOL,
                      progress: Callable[[float], None] | None = None) -> LyapunovSpectrum:
    """The full Lyapunov spectrum of `system` from the initial states `y0` (D,) or (N, D).

    All N trajectories (default: the system's example state `y0`) are integrated as one
    batch together with their variational equations, with the Jacobian from `method`
    (the system's own, else finite differences; see `dynsim.analysis.jacobian.METHODS`),
    evaluated at each trajectory's own time (non-autonomous systems work too). Times are
    described in the module docstring. A trajectory that fails (blow-up, step limit) is
    left out of the mean and reported in `status`. `progress(fraction)` is called after
    each QR interval. A duration of more than `MAX_QR_STEPS` intervals is refused.
    """
    bound = bind(system, params, t0)
    sys_obj = bound.system
    if y0 is None:
        if sys_obj.y0 is None:
            raise InputError(f"system '{sys_obj.name}' has no example initial state; give y0")
        y0 = sys_obj.y0
    states = as_initial_states(y0, sys_obj)
    interval = positive_time(interval, "interval")
    duration = positive_time(duration, "duration")
    transient = positive_time(transient, "transient", zero=True)
    qr_transient = positive_time(qr_transient, "qr_transient", zero=True)
    flow = Flow(sys_obj, bound.values, solver=solver, rtol=rtol, atol=atol)
    t = finite_number(t0, "t0")
    steps = (_steps(qr_transient, interval, "qr_transient"), _steps(duration, interval))
    states, ok = flow.advance(states, t, transient)
    growth, ok = _qr_loop(flow, time_jacobian(bound, method), states, ok, t + transient,
                          interval, steps, progress)
    per = np.where(ok[:, None], growth / (steps[1] * interval), np.nan)
    good = per[ok]
    mean = good.mean(axis=0) if len(good) else np.full(sys_obj.dimension, np.nan)
    error = good.std(axis=0, ddof=1) / math.sqrt(len(good)) if len(good) > 1 else \
        np.full(sys_obj.dimension, np.nan)
    return LyapunovSpectrum(
        exponents=mean, per_trajectory=per, standard_error=error, states=sys_obj.states,
        status=tuple("success" if k else "failed" for k in ok), duration=duration,
        interval=interval, transient=transient, qr_transient=qr_transient)


MAX_QR_STEPS = 10**8
"""Most QR intervals in one spectrum (1e8 intervals take days): more is refused up front."""


def _steps(time: float, interval: float, label: str = "duration") -> int:
    """QR steps covering `time` (at least one for a positive time)."""
    count = time / interval
    if count > MAX_QR_STEPS:
        raise InputError(f"{setting(label)} {time:g} needs more than {MAX_QR_STEPS:.0e} QR "
                         f"intervals of {interval:g}, more than can be run; give a shorter "
                         f"{setting(label)}")
    return math.ceil(count - 1e-9) if time > 0 else 0


def _qr_loop(flow: Flow, jac: Callable[[np.ndarray, np.ndarray], np.ndarray],
             states: np.ndarray, ok: np.ndarray, t: float, interval: float,
             steps: tuple[int, int],
             progress: Callable[[float], None] | None) -> tuple[np.ndarray, np.ndarray]:
    """Sum of log R_kk (N, D) over the last `steps[1]` of `sum(steps)` QR steps."""
    n, dim = states.shape
    frames = np.broadcast_to(np.eye(dim), (n, dim, dim)).copy()
    growth = np.zeros((n, dim))
    ok = ok.copy()

    def variational(time: np.ndarray, rows: np.ndarray) -> np.ndarray:
        y, frame = rows[:, :dim], rows[:, dim:].reshape(-1, dim, dim)
        stretched = jac(time, y) @ frame
        return np.concatenate([flow.rhs(time, y), stretched.reshape(len(rows), -1)], axis=1)

    for k in range(sum(steps)):
        live = np.flatnonzero(ok)
        if not live.size:
            break
        rows = np.concatenate([states[live], frames[live].reshape(live.size, -1)], axis=1)
        solution = flow.integrate(rows, [t, t + interval], f=variational)
        end = solution.y[:, -1]
        q, r = np.linalg.qr(end[:, dim:].reshape(-1, dim, dim))
        diagonal = np.diagonal(r, axis1=-2, axis2=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log(np.abs(diagonal))
        fine = succeeded(solution) & np.isfinite(logs).all(axis=1)
        ok[live[~fine]] = False
        keep = live[fine]
        states[keep] = end[fine, :dim]
        frames[keep] = q[fine] * np.sign(diagonal[fine])[:, None, :]
        if k >= steps[0]:
            growth[keep] += logs[fine]
        t += interval
        if progress is not None:
            progress((k + 1) / sum(steps))
    return growth, ok
