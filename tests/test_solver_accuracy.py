"""Adaptive solutions against a scipy DOP853 reference at rtol 1e-13, and invariant drift."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import dynsim

RTOL = 1e-8

# (system, initial states, t_span): chaotic ones over short spans, one run backwards
CASES = {
    "lorenz": ("lorenz", [[1, 1, 1], [-5, 3, 20], [10, -10, 30]], (0.0, 2.0)),
    "van_der_pol": ("van_der_pol", [[2, 0], [0.1, 0], [-1, 3]], (0.0, 10.0)),
    "lotka_volterra": ("lotka_volterra", [[2, 1], [0.5, 2], [4, 0.3]], (0.0, 20.0)),
    "rossler": ("rossler", [[1, 1, 0], [-3, 2, 0.5]], (0.0, 5.0)),
    "backwards": ("lotka_volterra", [[2, 1], [0.5, 2]], (10.0, 0.0)),
    "van_der_pol_backwards": ("van_der_pol", [[2, 0], [0.5, 1]], (3.0, 0.0)),
}

# global error allowed, in units of rtol |y| + atol: the controllers bound the local error,
# the global error of a 3rd-order method over ~10^4 steps grows further
ALLOWED = {"bosh3": 300.0, "dopri5": 30.0, "tsit5": 30.0, "dop853": 30.0}


def reference(system: str, y0: list, span: tuple[float, float], t_eval: np.ndarray):
    sys_obj = dynsim.system(system)
    p = sys_obj.parameter_values()
    return np.stack([
        solve_ivp(lambda t, y: sys_obj.rhs(t, y, p), span, y, method="DOP853", rtol=1e-13,
                  atol=1e-13, t_eval=t_eval).y.T
        for y in np.asarray(y0, dtype=float)])


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("solver", sorted(ALLOWED))
def test_adaptive_solution_is_within_tolerance_of_the_reference(solver, case):
    system, y0, span = CASES[case]
    t_eval = np.linspace(*span, 41)
    traj = dynsim.simulate(system, y0, span, solver=solver, t_eval=t_eval, rtol=RTOL,
                           atol=RTOL)
    assert traj.ok, traj.failures()
    ref = reference(system, y0, span, t_eval)
    scaled = np.abs(traj.y - ref) / (RTOL * np.abs(ref) + RTOL)
    assert scaled.max() < ALLOWED[solver]
    assert np.array_equal(traj.y[:, 0], np.asarray(y0, dtype=float))


def test_dopri5_is_at_least_as_accurate_as_scipy_rk45_at_equal_tolerances():
    system, y0, span = CASES["van_der_pol"]
    t_eval = np.linspace(*span, 41)
    ref = reference(system, y0, span, t_eval)
    sys_obj = dynsim.system(system)
    p = sys_obj.parameter_values()
    for rtol in (1e-5, 1e-7):
        ours = dynsim.simulate(system, y0, span, t_eval=t_eval, rtol=rtol, atol=rtol * 1e-3)
        scipy_y = np.stack([
            solve_ivp(lambda t, y: sys_obj.rhs(t, y, p), span, y, method="RK45", rtol=rtol,
                      atol=rtol * 1e-3, t_eval=t_eval).y.T
            for y in np.asarray(y0, dtype=float)])
        assert np.abs(ours.y - ref).max() <= 2 * np.abs(scipy_y - ref).max()


def lv_invariant_drift(rtol: float) -> float:
    system = dynsim.system("lotka_volterra")
    p = system.parameter_values()
    y0 = [[2.0, 1.0], [0.5, 2.5], [3.0, 0.4]]
    traj = dynsim.simulate(system, y0, (0.0, 100.0), points=2001, rtol=rtol, atol=rtol * 1e-3)
    values = system.invariant(traj.y, p)
    return float(np.abs(values - values[:, :1]).max() / np.abs(values[:, 0]).max())


def test_lotka_volterra_invariant_drift_is_small_and_shrinks_with_the_tolerance():
    drifts = [lv_invariant_drift(rtol) for rtol in (1e-5, 1e-7, 1e-9, 1e-11)]
    assert all(b < a / 10 for a, b in pairwise(drifts)), drifts
    assert drifts[-1] < 1e-9
