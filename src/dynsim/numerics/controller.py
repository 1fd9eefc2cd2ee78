"""Step-size control: the error norm, the PI controller, Hairer's initial step, fixed steps.

All of it works per trajectory on host float64 arrays of length M (the active trajectories),
except `error_norm`, which reduces the backend's (M, D) stage data to one number per
trajectory.

Error norm (Hairer, Nørsett & Wanner, Solving ODEs I, II.4): per trajectory, the RMS over
states of err_i / (atol_i + rtol_i max(|y_i|, |y_new_i|)), where err = h sum_j e_j k_j. With a
second, lower-order estimate (DOP853) the two are combined as in Hairer's code:
|e|^2 / sqrt(|e|^2 + 0.01 |e_low|^2), with |.| the RMS norms.

PI controller (Gustafsson; Hairer & Wanner, Solving ODEs II, IV.2), with k = error_order + 1:
after an accepted step h_new = h * SAFETY * err^(-0.7 / k) * err_prev^(0.4 / k), where
err_prev is the norm of the previous accepted step (floored at 1e-4, and 1e-4 before the
first), the factor limited to [MIN_FACTOR, MAX_FACTOR] and to at most 1 right after a
rejection. After a rejected step h_new = h * SAFETY * err^(-1 / k), limited to
[MIN_FACTOR, 1]; a non-finite error (NaN or inf in the stages) gives MIN_FACTOR.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dynsim.numerics.backend import Array, Backend

SAFETY = 0.9
MIN_FACTOR = 0.2
MAX_FACTOR = 10.0
ERR_FLOOR = 1e-4
BETA1 = 0.7
BETA2 = 0.4

MIN_STEP_ULPS = 10.0
"""The smallest step at time t is max(min_step, MIN_STEP_ULPS * eps * |t|) (float64 eps)."""

_EPS64 = float(np.finfo(np.float64).eps)
_LOG_FLOOR = math.log(ERR_FLOOR)
_ERR_TINY = 1e-300


class Tolerances:
    """rtol and atol (scalars, or per state) and two work buffers for the error norm."""

    def __init__(self, backend: Backend, rtol: np.ndarray, atol: np.ndarray, n: int) -> None:
        """`rtol`, `atol` are host (D,) arrays; `n` is the largest batch (trajectories)."""
        self.backend = backend
        self.rtol: Any = self._form(rtol, n)
        self.atol: Any = self._form(atol, n)
        size = n * len(rtol)
        self.work = (backend.full((size,), 0.0), backend.full((size,), 0.0))

    def _form(self, values: np.ndarray, n: int) -> Any:
        if np.all(values == values[0]):
            return float(values[0])
        return self.backend.from_host(np.tile(values, n))

    def scale(self, y: Array, y_new: Array) -> Array:
        """atol + rtol * max(|y|, |y_new|), flattened (M * D,), in work buffer 0."""
        xp = self.backend.xp
        n = y.shape[0] * y.shape[1]
        sc, tmp = self.work[0][:n], self.work[1][:n]
        xp.abs(y.reshape(-1), out=sc)
        xp.abs(y_new.reshape(-1), out=tmp)
        xp.maximum(sc, tmp, out=sc)
        sc *= self.rtol if isinstance(self.rtol, float) else self.rtol[:n]
        sc += self.atol if isinstance(self.atol, float) else self.atol[:n]
        return sc


def error_norm(e: Array, e_low: Array | None, stages: Array, y: Array, y_new: Array,
               tol: Tolerances, ones: Array) -> tuple[np.ndarray, np.ndarray]:
    """Per-trajectory error norms (host (M,)) from the step-scaled stages (S, M * D).

    Also returns whether each norm is finite (a NaN or inf in the weighted stages makes it
    not). `y`, `y_new`, `stages` must be detached from any autograd graph; `ones` is (D,).
    """
    backend = tol.backend
    m, d = y.shape
    sc = tol.scale(y, y_new)
    xp, err = backend.xp, tol.work[1][:m * d]

    def squares(weights: Array) -> np.ndarray:
        backend.vecmat(weights, stages, err)
        xp.divide(err, sc, out=err)
        xp.multiply(err, err, out=err)
        return backend.host(row_sums(err, d, ones)).astype(np.float64, copy=False)

    main = squares(e)
    return combine_error(main, None if e_low is None else squares(e_low), d)


def combine_error(main: np.ndarray, low: np.ndarray | None,
                  count: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Error norms and their finiteness from sums of squared scaled errors over `count` values.

    `main` holds sum((err / scale)^2) of the main estimate, `low` that of the lower-order one
    (DOP853) or None: the RMS norm, or Hairer's combination |e|^2 / sqrt(|e|^2 + 0.01 |e_low|^2).
    """
    if low is None:
        main = main / count
        return np.sqrt(main, out=main), np.isfinite(main)
    with np.errstate(invalid="ignore", divide="ignore"):
        combined = main / np.sqrt((main + 0.01 * low) * count)
    return np.where(main == 0.0, 0.0, combined), np.isfinite(main) & np.isfinite(low)


def row_sums(flat: Array, d: int, ones: Array) -> Array:
    """Sums over the D values of each row of a flattened (M * D,) array."""
    if d > 4:
        return flat.reshape(-1, d) @ ones
    total = flat[0::d]  # a few strided adds beat a tall, thin matrix product
    for j in range(1, d):
        total = total + flat[j::d]
    return total


class PIController:
    """The PI step-size controller for a method whose error estimate has `error_order`."""

    def __init__(self, error_order: int, beta1: float = BETA1, beta2: float = BETA2) -> None:
        """Gains `beta1`, `beta2` (divided by k); `beta1=1, beta2=0` is the I controller of
        scipy's RK45 and torchdiffeq (h_new = h * SAFETY * err^(-1/k))."""
        k = error_order + 1
        self.beta1, self.beta2, self.reject_exponent = beta1 / k, beta2 / k, 1.0 / k

    @staticmethod
    def initial_memory(m: int) -> np.ndarray:
        """log(err_prev) before the first step."""
        return np.full(m, _LOG_FLOOR)

    def factors(self, err: np.ndarray, log_prev: np.ndarray, rejected: np.ndarray,
                capped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Step factors (M,) and the updated log(err_prev) (M,).

        `rejected` are the indices of the rejected steps, `capped` those (accepted or not)
        whose factor may not exceed 1 (the step after a rejection).
        """
        # (err >= 0 or NaN; lifted off 0 so log warns of nothing and exp cannot overflow:
        # within `errstate` this cost as much as the rest of the function)
        log_err = np.log(np.maximum(err, _ERR_TINY))
        z = np.multiply(log_prev, self.beta2)
        z -= self.beta1 * log_err
        if rejected.size:
            z[rejected] = -self.reject_exponent * log_err[rejected]
        factor = np.exp(z, out=z)
        factor *= SAFETY
        np.fmax(factor, MIN_FACTOR, out=factor)  # also NaN -> MIN_FACTOR
        np.fmin(factor, MAX_FACTOR, out=factor)
        if capped.size:
            factor[capped] = np.minimum(factor[capped], 1.0)
        memory = np.fmax(log_err, _LOG_FLOOR, out=log_err)
        if rejected.size:
            memory[rejected] = log_prev[rejected]
        return factor, memory


def min_step(t: np.ndarray, floor: float) -> np.ndarray:
    """The smallest allowed |h| at times `t`."""
    out = np.abs(t)
    out *= MIN_STEP_ULPS * _EPS64
    return np.maximum(out, floor, out=out) if floor else out


def initial_step(backend: Backend, f: Any, t0: float, y0: Array, f0: Array, span: float,
                 error_order: int, tol: Tolerances) -> np.ndarray:
    """Hairer's initial step size (Solving ODEs I, II.4, `hinit`), batched; host (M,) |h|.

    Uses one right-hand-side call `f(t, y)` (t host (M,)) beyond `f0 = f(t0, y0)`.
    `span` is t1 - t0 (its sign is the direction).
    """
    m, d = y0.shape
    with backend.no_grad():
        y0, f0 = backend.detach(y0), backend.detach(f0)
        sc = tol.scale(y0, y0).reshape(m, d)

        def rms(x: Array) -> np.ndarray:  # over the last axis (one host copy)
            return scaled_rms(backend.host(x / sc).astype(np.float64))

        d0, d1 = rms(backend.xp.stack([y0, f0]))
        h0 = initial_guess(d0, d1, span)
        direction = math.copysign(1.0, span)
        h0_col = backend.from_host(direction * h0)[:, None]
        f1 = f(np.full(m, t0) + direction * h0, y0 + h0_col * f0)
        change = rms(backend.detach(f1) - f0)
    return initial_choice(h0, d1, change, error_order, span)


def scaled_rms(v: np.ndarray) -> np.ndarray:
    """The RMS over the last axis, without overflow for huge entries (|v| up to 1e308)."""
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        big = np.max(np.abs(v), axis=-1, keepdims=True)
        safe = np.where((big > 0) & np.isfinite(big), big, 1.0)
        out = safe[..., 0] * np.sqrt(np.mean((v / safe) ** 2, axis=-1))
    return np.where(np.isfinite(big[..., 0]), out, big[..., 0])


def initial_guess(d0: np.ndarray, d1: np.ndarray, span: float) -> np.ndarray:
    """Hairer's first guess h0 = 0.01 |y0| / |f0| (scaled RMS norms `d0`, `d1`), host |h|."""
    with np.errstate(divide="ignore", invalid="ignore"):
        h0 = np.where((d0 < 1e-5) | (d1 < 1e-5), 1e-6, 0.01 * d0 / d1)
    return np.fmin(h0, abs(span))


def initial_choice(h0: np.ndarray, d1: np.ndarray, change: np.ndarray, error_order: int,
                   span: float) -> np.ndarray:
    """Hairer's initial |h| from the guess `h0`, |f0| (`d1`) and |f1 - f0| (`change`).

    Hairer's d2 = |f1 - f0| / h0 is taken in logarithms: with a huge right-hand side
    (|f| ~ 1e200) it overflows, and the step would underflow to zero.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_big = np.fmax(np.log(d1), np.log(change) - np.log(h0))
        h1 = np.where(log_big <= math.log(1e-15), np.maximum(1e-6, h0 * 1e-3),
                      np.exp((math.log(0.01) - log_big) / (error_order + 1)))
    return np.fmin(np.fmin(100 * h0, h1), abs(span))


class FixedSteps:
    """Fixed steps of at most `dt` that land exactly on every output time and on t1.

    Between consecutive stops (output times, then t1) each trajectory takes the smallest
    number of equal steps no longer than `dt`.
    """

    def __init__(self, dt: float, stops: np.ndarray, t1: float) -> None:
        self.dt = dt
        self.stops = np.append(stops, t1)

    def steps(self, t: np.ndarray, next_output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(h, target) per trajectory: the step, and the stop it reaches exactly (NaN: none)."""
        target = self.stops[next_output]
        remaining = target - t
        count = np.maximum(1.0, np.ceil(np.abs(remaining) / self.dt - 1e-9))
        return remaining / count, np.where(count == 1.0, target, np.nan)
