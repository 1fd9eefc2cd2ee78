"""Convergence orders, measured: every method with fixed steps, and the error estimators."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from dynsim.builtin_plugins.solvers import explicit_rk
from scipy.linalg import expm

from dynsim.numerics import integrate
from dynsim.numerics.backend import NumpyBackend
from dynsim.numerics.controller import Tolerances, error_norm

TABLEAUS = {t.name: t for t, _ in explicit_rk.SOLVERS}

# steps per unit time for each method: errors stay well above roundoff, inside the
# asymptotic range
STEPS = {
    "euler": [50, 100, 200, 400, 800],
    "midpoint": [20, 40, 80, 160, 320],
    "heun": [20, 40, 80, 160, 320],
    "rk4": [10, 20, 40, 80, 160],
    "bosh3": [10, 20, 40, 80, 160],
    "dopri5": [5, 10, 20, 40, 80],
    "tsit5": [5, 10, 20, 40, 80],
    "dop853": [2, 3, 4, 5, 6],
}

LINEAR = np.array([[-0.3, 1.0, 0.0], [-1.0, -0.3, 0.5], [0.2, 0.0, -1.1]])


def forced_decay(t, y):
    """y' = -y + sin 2t (non-autonomous: each trajectory gets its own stage times)."""
    return -y + np.sin(2 * t)[:, None]


def forced_decay_exact(t, y0):
    return (y0 + 0.4) * np.exp(-t) + (np.sin(2 * t) - 2 * np.cos(2 * t)) / 5


def linear(t, y):
    return y @ LINEAR.T


def linear_exact(t, y0):
    return y0 @ expm(LINEAR * t).T


def oscillator(t, y):
    return np.stack([y[:, 1], -4.0 * y[:, 0]], axis=-1)


def oscillator_exact(t, y0):
    x, v = y0[:, 0], y0[:, 1]
    return np.stack([x * np.cos(2 * t) + v / 2 * np.sin(2 * t),
                     -2 * x * np.sin(2 * t) + v * np.cos(2 * t)], axis=-1)


PROBLEMS = {
    "forced_decay": (forced_decay, forced_decay_exact, np.array([[1.0], [-0.5], [2.0]])),
    "linear": (linear, linear_exact, np.array([[1.0, 0.0, -1.0], [0.3, 2.0, 0.5]])),
    "oscillator": (oscillator, oscillator_exact, np.array([[1.0, 0.0], [0.5, -1.0]])),
}


def slope(h: np.ndarray, err: np.ndarray) -> float:
    return float(np.polyfit(np.log(h), np.log(err), 1)[0])


@pytest.mark.parametrize("problem", sorted(PROBLEMS))
@pytest.mark.parametrize("name", sorted(TABLEAUS))
def test_fixed_step_convergence_order(name, problem):
    f, exact, y0 = PROBLEMS[problem]
    tableau, t_end = TABLEAUS[name], 2.0
    sizes = np.array([1.0 / n for n in STEPS[name]])
    errors = []
    for h in sizes:
        sol = integrate(f, y0, [0.0, t_end], tableau, dt=h)
        assert all(s == "success" for s in sol.status)
        assert sol.stats["accepted"][0] == round(t_end / h)
        errors.append(np.abs(sol.y[:, -1] - exact(t_end, y0)).max())
    measured = slope(sizes, np.array(errors))
    assert abs(measured - tableau.order) <= 0.3, f"{name}: measured order {measured:.2f}"


def one_step_stages(tableau, f, y0, h):
    """Stage derivatives k_j of one step of the FSAL form from (0, y0), as (S, n, D)."""
    mats = tableau.matrices
    k = np.zeros((mats.stages, *y0.shape))
    for i in range(mats.stages):
        y_i = y0 + h * np.tensordot(mats.A[i, :i], k[:i], axes=1)
        k[i] = f(np.full(len(y0), mats.c[i] * h), y_i)
    return k


@pytest.mark.parametrize("name", ["bosh3", "dopri5", "tsit5", "dop853"])
def test_error_estimate_behaves_like_its_order(name):
    """The controller's error norm of one step shrinks like h^(error_order + 1)."""
    tableau = TABLEAUS[name]
    mats = tableau.matrices
    f, _, y0 = PROBLEMS["linear"]
    backend = NumpyBackend(y0)
    tol = Tolerances(backend, np.zeros(3), np.ones(3), len(y0))  # the plain RMS norm
    sizes = np.array([0.4, 0.3, 0.2, 0.15, 0.1]) if name == "dop853" else \
        np.array([0.2, 0.1, 0.05, 0.025, 0.0125])
    norms = []
    for h in sizes:
        k = one_step_stages(tableau, f, y0, h)
        stages = (h * k).reshape(mats.stages, -1)
        y_new = y0 + np.tensordot(mats.b, h * k, axes=1)
        e_low = None if mats.e_low is None else mats.e_low
        err, finite = error_norm(mats.e, e_low, stages, y0, y_new, tol, np.ones(3))
        assert finite.all()
        norms.append(err.max())
    measured = slope(sizes, np.array(norms))
    assert abs(measured - (tableau.error_order + 1)) <= 0.3, f"measured {measured:.2f}"


def test_adaptive_error_shrinks_with_the_tolerance():
    f, exact, y0 = PROBLEMS["oscillator"]
    for name in ("bosh3", "dopri5", "tsit5", "dop853"):
        errors = []
        for rtol in (1e-4, 1e-6, 1e-8, 1e-10):
            sol = integrate(f, y0, [0.0, 5.0], TABLEAUS[name], rtol=rtol, atol=rtol)
            errors.append(np.abs(sol.y[:, -1] - exact(5.0, y0)).max())
        assert all(b < a for a, b in pairwise(errors)), name
        assert errors[-1] < 1e-7, name
