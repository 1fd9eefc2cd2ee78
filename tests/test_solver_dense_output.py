"""Dense output: the interpolants' orders, and values at output times between steps."""

from __future__ import annotations

import numpy as np
import pytest
from dynsim.builtin_plugins.solvers import explicit_rk
from scipy.linalg import expm

from dynsim.numerics import integrate
from dynsim.numerics.backend import NumpyBackend
from dynsim.numerics.dense import DenseStep

TABLEAUS = {t.name: t for t, _ in explicit_rk.SOLVERS}
MATRIX = np.array([[-0.2, 1.5], [-1.5, -0.2]])
Y0 = np.array([[1.0, 0.5], [-0.3, 2.0]])


def linear(t, y):
    return y @ MATRIX.T


def exact(t):
    return Y0 @ expm(MATRIX * t).T


def oscillator(t, y):
    return np.stack([y[:, 1], -y[:, 0]], axis=-1)


def dense_step(tableau, h: float) -> tuple[DenseStep, np.ndarray]:
    """The dense output of one step of size h from (0, Y0), and y at its end.

    The stages are computed here, independently of the engine.
    """
    mats = tableau.matrices
    s, x = mats.stages, len(mats.dense_c)
    a = np.zeros((s + x, s + x))
    a[:s, :s] = mats.A
    a[s:] = mats.dense_A
    k = np.zeros((s + x, *Y0.shape))
    for i in range(s + x):
        k[i] = linear(None, Y0 + h * np.tensordot(a[i, :i], k[:i], axes=1))
    y1 = Y0 + h * np.tensordot(mats.b, k[:s], axes=1)
    return DenseStep(NumpyBackend(Y0), mats.dense, (h * k).reshape(s + x, -1), Y0), y1


@pytest.mark.parametrize("name", sorted(TABLEAUS))
def test_one_step_interpolation_error_has_the_documented_order(name):
    tableau = TABLEAUS[name]
    order = min(tableau.interpolant_order, tableau.order)
    sizes = np.array([0.4, 0.3, 0.2, 0.15, 0.1]) if order >= 5 else \
        np.array([0.2, 0.1, 0.05, 0.025, 0.0125])
    errors = []
    for h in sizes:
        step, _ = dense_step(tableau, h)
        errors.append(max(np.abs(step(np.full(2, th)) - exact(th * h)).max()
                          for th in (0.3, 0.5, 0.8)))
    measured = np.polyfit(np.log(sizes), np.log(errors), 1)[0]
    assert abs(measured - (order + 1)) <= 0.3, f"{name}: measured {measured:.2f}"


@pytest.mark.parametrize("name", sorted(TABLEAUS))
def test_dense_output_matches_the_step_at_both_ends(name):
    step, y1 = dense_step(TABLEAUS[name], 0.1)
    np.testing.assert_allclose(step(np.zeros(2)), Y0, rtol=0, atol=1e-15)
    # (the 7th-order interpolant of dop853, in powers of theta, loses a digit to rounding)
    np.testing.assert_allclose(step(np.ones(2)), y1, rtol=0, atol=1e-13)
    np.testing.assert_allclose(step(np.array([1.0]), np.array([1])), y1[1:], atol=1e-13)


@pytest.mark.parametrize(("name", "rtol"), [("bosh3", 1e-6), ("dopri5", 1e-9),
                                           ("tsit5", 1e-9), ("dop853", 1e-9)])
def test_outputs_between_steps_are_as_accurate_as_the_steps(name, rtol):
    t_eval = np.linspace(0.0, 10.0, 2001)
    sol = integrate(linear, Y0, t_eval, TABLEAUS[name], rtol=rtol, atol=rtol * 1e-3)
    assert sol.stats["accepted"].max() < 1000  # so most outputs lie inside steps
    reference = np.stack([exact(t) for t in t_eval], axis=1)
    assert np.abs(sol.y - reference).max() < 30 * rtol


def test_output_times_need_not_start_at_t0_nor_end_at_t1():
    t_eval = np.array([0.7, 1.3, 2.9])
    sol = integrate(oscillator, Y0, t_eval, TABLEAUS["dopri5"], t_span=(0.0, 4.0),
                    rtol=1e-10, atol=1e-12)
    x0, v0 = Y0[:, 0:1], Y0[:, 1:2]
    expected = x0 * np.cos(t_eval) + v0 * np.sin(t_eval)
    np.testing.assert_allclose(sol.y[..., 0], expected, atol=1e-9)
    assert all(s == "success" for s in sol.status)


def test_backwards_outputs():
    t_eval = np.linspace(3.0, -1.0, 9)
    sol = integrate(oscillator, Y0, t_eval, TABLEAUS["tsit5"], rtol=1e-10, atol=1e-12)
    start = t_eval[0]
    x0, v0 = Y0[:, 0:1], Y0[:, 1:2]
    shift = t_eval - start
    np.testing.assert_allclose(sol.y[..., 0], x0 * np.cos(shift) + v0 * np.sin(shift),
                               atol=1e-9)
    np.testing.assert_array_equal(sol.y[:, 0], Y0)


def test_fixed_steps_land_exactly_on_output_times():
    t_eval = np.array([0.0, 0.25, 0.5, 1.0])
    sol = integrate(oscillator, Y0, t_eval, TABLEAUS["rk4"], dt=0.1)
    # ceil(0.25 / 0.1) + ceil(0.25 / 0.1) + ceil(0.5 / 0.1) equal steps
    assert sol.stats["accepted"].tolist() == [3 + 3 + 5] * 2
    one = integrate(oscillator, Y0, [0.0, 0.25], TABLEAUS["rk4"], dt=0.1)
    np.testing.assert_array_equal(sol.y[:, 1], one.y[:, 1])


def test_default_fixed_step_is_a_thousandth_of_the_span():
    sol = integrate(oscillator, Y0, np.linspace(0.0, 2.0, 5), TABLEAUS["euler"])
    assert sol.stats["accepted"].tolist() == [1000, 1000]
