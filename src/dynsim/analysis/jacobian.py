"""Jacobians d rhs_i / d y_j: the system's own, or finite differences of its rhs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal, get_args

import numpy as np

from dynsim.analysis.bound import BoundSystem, bind
from dynsim.core.errors import InputError, SystemDefinitionError, unknown_name
from dynsim.core.system import System

Method = Literal["auto", "system", "central", "richardson"]
METHODS: tuple[str, ...] = get_args(Method)
"""`system`: the system's `jacobian`; `central`: central differences; `richardson`: central
differences extrapolated (Richardson); `auto`: `system` when the system has one, else
`richardson` (twice the rhs evaluations buy about two more correct digits, which the
zero tests of the stability classification rely on)."""

_EPS = np.finfo(float).eps
CENTRAL_STEP = _EPS ** (1 / 3)
"""Relative step of central differences (~6e-6): balances the O(h^2) truncation error
against the O(eps / h) rounding error, so entries are good to ~1e-10 relative."""
RICHARDSON_STEP = _EPS ** (1 / 5)
"""Relative step of the Richardson scheme (~7e-4): its error is O(h^4) + O(eps / h)."""


def finite_difference_jacobian(f: Callable[[np.ndarray], np.ndarray], y: np.ndarray, *,
                               richardson: bool = False) -> np.ndarray:
    """The Jacobian (..., D, D) of a vectorised `f` ((..., D) -> (..., D)) at `y` (..., D).

    Central differences with the step of component j set to h * max(1, |y_j|) (rounded so
    that y_j +- step is exact), h = `CENTRAL_STEP`. With `richardson`, the central
    differences D(h) and D(h/2) with h = `RICHARDSON_STEP` combine into
    (4 D(h/2) - D(h)) / 3, accurate to ~1e-12 relative for smooth f. All shifted points go
    to `f` in one call.
    """
    y = np.asarray(y, dtype=float)
    dim = y.shape[-1]
    h = (RICHARDSON_STEP if richardson else CENTRAL_STEP) * np.maximum(1.0, np.abs(y))
    h = (y + h) - y
    fractions = (1.0, 0.5) if richardson else (1.0,)
    # shifts[..., k, j, :] = y shifted along j by sign * fraction * h_j, k over (fraction, sign)
    eye = np.eye(dim)
    shifts = np.stack([y[..., None, :] + sign * frac * h[..., None, :] * eye
                       for frac in fractions for sign in (1.0, -1.0)], axis=-3)
    values = f(shifts)  # (..., K, D[j], D[i])
    steps = h[..., None, :]  # broadcasts over i (rows of the Jacobian), varies with j
    derivatives = [(values[..., 2 * k, :, :] - values[..., 2 * k + 1, :, :]).swapaxes(-1, -2)
                   / (2.0 * frac * steps) for k, frac in enumerate(fractions)]
    if richardson:
        return (4.0 * derivatives[1] - derivatives[0]) / 3.0
    return derivatives[0]


def jacobian_function(bound: BoundSystem,
                      method: Method = "auto") -> Callable[[np.ndarray], np.ndarray]:
    """y (..., D) -> Jacobian (..., D, D) of `bound`'s field, computed by `method`."""
    if method not in METHODS:
        raise unknown_name("Jacobian method", str(method), METHODS)
    system = bound.system
    if method == "system" and system.jacobian is None:
        raise InputError(f"system '{system.name}' has no Jacobian; use method 'central', "
                         "'richardson' or 'auto'")
    if method in ("auto", "system") and system.jacobian is not None:
        return lambda y: _system_jacobian(bound, y)
    richardson = method != "central"
    return lambda y: finite_difference_jacobian(bound.rhs, y, richardson=richardson)


def _system_jacobian(bound: BoundSystem, y: np.ndarray) -> np.ndarray:
    system = bound.system
    with np.errstate(all="ignore"):
        out = np.asarray(system.jacobian(bound.t, y, bound.values), dtype=float)
    expected = (*np.shape(y), np.shape(y)[-1])
    if out.shape != expected:
        raise SystemDefinitionError(
            f"system '{system.name}': jacobian returned shape {out.shape} for y of shape "
            f"{np.shape(y)}; it must return shape {expected}"
        )
    return out


def jacobian_matrix(system: str | System, state: np.ndarray, *,
                    params: Mapping[str, float] | None = None, t: float = 0.0,
                    method: Method = "auto") -> np.ndarray:
    """The Jacobian J[..., i, j] = d rhs_i / d y_j of `system` at `state` (..., D), time `t`.

    `method` is one of `METHODS` (default `auto`: the system's own Jacobian if it has one,
    else Richardson-extrapolated central differences).
    """
    bound = bind(system, params, t)
    state = np.asarray(state, dtype=float)
    if state.ndim == 0 or state.shape[-1] != bound.system.dimension:
        raise InputError(f"state must have {bound.system.dimension} values per point "
                         f"({', '.join(bound.system.states)}), got shape {state.shape}")
    return jacobian_function(bound, method)(state)
