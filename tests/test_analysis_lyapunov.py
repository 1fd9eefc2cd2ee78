"""Lyapunov spectra (QR/Benettin): Lorenz's known values, closed forms, scipy references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import dynsim
from dynsim.analysis import LyapunovSpectrum, lyapunov_spectrum
from dynsim.core.errors import DynsimError, InputError


@pytest.mark.slow
def test_lorenz_standard_spectrum():
    # 64 trajectories over 40 time units each: the spread of the finite-time estimates
    # gives a standard error of ~0.006 on lambda_1 and ~0.002 on lambda_2, so the issue's
    # +-0.03 / +-0.01 / +-0.1 hold with a margin of ~5 standard errors.
    starts = np.random.default_rng(0).uniform([-15, -20, 5], [15, 20, 40], size=(64, 3))
    spectrum = lyapunov_spectrum("lorenz", starts, duration=40, interval=1.0, transient=20,
                                 rtol=1e-6, atol=1e-8)
    assert isinstance(spectrum, LyapunovSpectrum)
    assert spectrum.exponents[0] == pytest.approx(0.906, abs=0.03)
    assert spectrum.exponents[1] == pytest.approx(0.0, abs=0.01)
    assert spectrum.exponents[2] == pytest.approx(-14.57, abs=0.1)
    assert (spectrum.standard_error < [0.015, 0.005, 0.015]).all()
    # the volume contracts at the constant trace of the Jacobian: -(sigma + 1 + beta)
    assert spectrum.exponents.sum() == pytest.approx(-(10 + 1 + 8 / 3), abs=1e-4)
    assert spectrum.per_trajectory.shape == (64, 3)
    assert set(spectrum.status) == {"success"}
    assert spectrum.kaplan_yorke == pytest.approx(2.06, abs=0.01)


@pytest.mark.parametrize(("name", "params", "expected"), [
    ("attractor", {"lambda1": 1.0, "lambda2": 2.0}, [-1.0, -2.0]),
    ("saddle", {"lambda1": 0.5, "lambda2": 1.5}, [0.5, -1.5]),
    # e^{At} = e^{-sigma t} R(omega t): both singular values decay at sigma
    ("stable_spiral", {"sigma": 0.3, "omega": 2.0}, [-0.3, -0.3]),
])
def test_linear_systems_give_the_real_parts_of_their_eigenvalues(name, params, expected):
    spectrum = lyapunov_spectrum(name, [1.0, 0.5], params=params, duration=10, transient=0)
    np.testing.assert_allclose(spectrum.exponents, expected, atol=1e-6)


def test_hopf_cycle_exponents_and_finite_differences_agree():
    # on the cycle r = sqrt(mu): the phase direction is neutral, the radial one decays at
    # d/dr (mu r - r^3) = mu - 3 mu = -2 mu
    options = dict(params={"mu": 1.0}, duration=10, transient=2, rtol=1e-7, atol=1e-9)
    own = lyapunov_spectrum("hopf", [1.0, 0.0], **options)
    differences = lyapunov_spectrum("hopf", [1.0, 0.0], method="richardson", **options)
    np.testing.assert_allclose(own.exponents, [0.0, -2.0], atol=1e-6)
    np.testing.assert_allclose(differences.exponents, own.exponents, atol=1e-8)


def test_non_autonomous_forced_linear_oscillator_with_central_differences():
    # x'' + 0.3 x' + x = 0.5 cos(1.2 t): forcing does not change the variational equations,
    # whose eigenvalues -0.15 +- i sqrt(1 - 0.0225) give both exponents -0.15
    params = {"alpha": 1.0, "beta": 0.0, "delta": 0.3, "gamma": 0.5, "omega": 1.2}
    spectrum = lyapunov_spectrum("duffing", [1.0, 0.0], params=params, duration=40,
                                 transient=0, method="central", interval=1.0, rtol=1e-7)
    np.testing.assert_allclose(spectrum.exponents, [-0.15, -0.15], atol=2e-3)
    assert spectrum.exponents.sum() == pytest.approx(-0.3, abs=1e-6)


def test_van_der_pol_matches_the_mean_trace_over_the_cycle_from_scipy():
    # lambda_1 = 0 (along the cycle) and lambda_1 + lambda_2 = mean of the trace
    # mu (1 - x^2) over one period; the mean comes from scipy with a quadrature state
    def rhs(t, s):
        x, v, _ = s
        return [v, (1 - x * x) * v - x, 1 - x * x]

    settled = solve_ivp(rhs, (0, 30), [2, 0, 0], method="DOP853", rtol=1e-10, atol=1e-10)
    start = settled.y[:, -1].copy()
    start[2] = 0.0
    long_run = solve_ivp(rhs, (0, 200), start, method="DOP853", rtol=1e-10, atol=1e-10)
    mean_trace = long_run.y[2, -1] / 200  # over ~30 periods: error ~ 1/200 of a period's
    spectrum = lyapunov_spectrum("van_der_pol", [2.0, 0.0], duration=50, transient=30,
                                 rtol=1e-6, atol=1e-8)
    assert spectrum.exponents[0] == pytest.approx(0.0, abs=0.02)
    assert spectrum.exponents.sum() == pytest.approx(mean_trace, abs=0.02)


def test_failed_trajectory_is_reported_and_left_out():
    blow = dynsim.System(name="blow", states=["x"], params={},
                         rhs=lambda t, y, p: y * y)
    spectrum = lyapunov_spectrum(blow, [[1.0], [-1.0]], duration=5, transient=0,
                                 qr_transient=0)
    assert spectrum.status == ("failed", "success")
    assert np.isnan(spectrum.per_trajectory[0]).all()
    # x = -1 / (1 + t): the growth rate of dx is -2 / (1 + t), averaged over [0, 5]
    assert spectrum.exponents[0] == pytest.approx(-2 * np.log(6) / 5, abs=1e-4)
    assert np.isnan(spectrum.standard_error).all()


def test_to_dict_is_json_ready():
    spectrum = lyapunov_spectrum("attractor", [1.0, 1.0], duration=2, transient=0)
    data = spectrum.to_dict()
    assert data["exponents"] == pytest.approx([-1.0, -2.0], abs=1e-6)
    assert data["trajectories"] == 1 and data["failed"] == 0
    assert data["standard_error"] == [None, None]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"interval": 0}, "interval must be positive"),
    ({"duration": -1}, "duration must be positive"),
    ({"transient": float("nan")}, "transient must be a finite number"),
    ({"method": "magic"}, "unknown Jacobian method 'magic'"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(DynsimError, match=message):
        lyapunov_spectrum("attractor", [1.0, 1.0], **kwargs)


def test_system_without_example_state_needs_y0():
    plain = dynsim.System(name="plain", states=["x"], params={}, rhs=lambda t, y, p: -y)
    with pytest.raises(InputError, match="no example initial state"):
        lyapunov_spectrum(plain)
