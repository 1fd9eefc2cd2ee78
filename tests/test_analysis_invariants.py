"""Relative drift of conserved quantities along trajectories (invariant_drift).

The trajectories are made here (explicit Euler by hand, scipy's solve_ivp) so the tests
depend on no dynsim solver.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import dynsim
from dynsim.analysis import invariant_drift
from dynsim.core.errors import InputError, SystemDefinitionError


def solved(name: str, y0: list[list[float]], t: np.ndarray, params=None,
           rtol: float = 1e-12) -> dynsim.Trajectories:
    """Trajectories of a registered system from scipy's DOP853 at times `t`."""
    system = dynsim.system(name)
    values = system.parameter_values(params)
    ys = [solve_ivp(lambda s, y: system.rhs(s, y, values), (t[0], t[-1]), start,
                    method="DOP853", t_eval=t, rtol=rtol, atol=1e-14).y.T for start in y0]
    return dynsim.Trajectories(t=t, y=np.array(ys), states=system.states, system=name,
                               params=values)


def test_explicit_euler_energy_growth_matches_closed_form():
    # Euler on x' = v, v' = -x multiplies x^2 + v^2 by (1 + h^2) every step
    h = 0.05
    step = np.array([[1.0, h], [-h, 1.0]])
    y = [np.array([[1.0, 0.0], [0.3, -2.0]])]
    for _ in range(100):
        y.append(y[-1] @ step.T)
    traj = dynsim.Trajectories(t=h * np.arange(101), y=np.stack(y, axis=1),
                               states=("x", "v"), system="harmonic_oscillator")
    drift = invariant_drift("harmonic_oscillator", traj)
    expected = (1 + h * h) ** np.arange(101) - 1
    assert drift.relative.shape == drift.absolute.shape == drift.value.shape == (2, 101)
    np.testing.assert_allclose(drift.relative, np.stack([expected, expected]), rtol=1e-9,
                               atol=1e-15)
    np.testing.assert_allclose(drift.max_relative, expected[-1], rtol=1e-9)
    np.testing.assert_allclose(drift.value[:, 0], [0.5, 0.5 * (0.09 + 4.0)])
    np.testing.assert_array_equal(drift.t, traj.t)


def test_lotka_volterra_invariant_is_conserved_with_the_simulated_params():
    params = {"alpha": 2.0, "gamma": 0.5}
    traj = solved("lotka_volterra", [[2.0, 1.0], [1.0, 3.0]], np.linspace(0, 10, 201), params)
    drift = invariant_drift("lotka_volterra", traj)
    assert drift.max_relative.max() < 1e-9
    np.testing.assert_array_equal(drift.relative[:, 0], 0.0)
    # overriding a parameter evaluates another (not conserved) function
    assert invariant_drift("lotka_volterra", traj, params={"alpha": 1.0}).max_relative.min() > 1e-3
    system = dynsim.system("lotka_volterra")
    expected = system.invariant(traj.y, system.parameter_values(params))
    np.testing.assert_allclose(drift.value, expected)


def test_zero_initial_invariant_and_failed_samples():
    traj = solved("center", [[0.0, 0.0]], np.linspace(0, 1, 5))
    drift = invariant_drift("center", traj)
    np.testing.assert_array_equal(drift.absolute, 0.0)
    np.testing.assert_array_equal(drift.relative, 0.0)
    y = np.array([[[1.0, 0.0], [1.0, 0.1], [np.nan, np.nan]],
                  [[np.nan, np.nan], [np.nan, np.nan], [np.nan, np.nan]]])
    broken = dynsim.Trajectories(t=[0.0, 1.0, 2.0], y=y, states=("x", "y"), system="center",
                                 status=("non_finite", "non_finite"), messages=("a", "b"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        drift = invariant_drift("center", broken)
    np.testing.assert_allclose(drift.max_relative[0], 0.01)
    assert np.isnan(drift.relative[0, 2]) and np.isnan(drift.max_relative[1])


def test_undefined_invariant_values_are_nan_without_warnings():
    y = np.array([[[1.0, 1.0], [-1.0, 1.0]]])
    traj = dynsim.Trajectories(t=[0.0, 1.0], y=y, states=("x", "y"), system="lotka_volterra",
                               params=dynsim.system("lotka_volterra").parameter_values())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        drift = invariant_drift("lotka_volterra", traj)
    assert np.isnan(drift.value[0, 1]) and drift.relative[0, 0] == 0.0


def test_system_without_invariant_is_a_clear_error():
    traj = solved("lorenz", [[1.0, 1.0, 1.0]], np.linspace(0, 0.1, 3))
    with pytest.raises(InputError, match="'lorenz' has no invariant") as info:
        invariant_drift("lorenz", traj)
    assert "lotka_volterra" in str(info.value) and isinstance(info.value, dynsim.DynsimError)


def test_trajectories_of_another_system_are_rejected():
    traj = solved("lotka_volterra", [[1.0, 1.0]], np.linspace(0, 0.1, 3))
    with pytest.raises(InputError, match="not of 'center'"):
        invariant_drift("center", traj)
    sir = solved("sir", [[0.9, 0.1, 0.0]], np.linspace(0, 0.1, 3))
    with pytest.raises(InputError, match="states S, I, R"):
        invariant_drift("lotka_volterra", sir)
    empty = dynsim.Trajectories(t=np.empty(0), y=np.empty((1, 0, 2)), states=("x", "y"))
    with pytest.raises(InputError, match="no samples"):
        invariant_drift("center", empty)


def test_invariant_with_wrong_shape_is_reported():
    system = dynsim.System(name="bad", states=["x", "y"], params={},
                           rhs=lambda t, y, p: -y, invariant=lambda y, p: y)
    traj = dynsim.Trajectories(t=[0.0, 1.0], y=np.ones((1, 2, 2)), states=("x", "y"))
    with pytest.raises(SystemDefinitionError, match="invariant returned shape"):
        invariant_drift(system, traj)
