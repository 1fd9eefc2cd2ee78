"""The stiff scipy solvers (radau, bdf, lsoda): accuracy, Jacobians, events, every failure."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import solve_ivp
from test_solver_failures import run_with_timeout

import dynsim

# the failing right-hand sides overflow or take logs of negatives on purpose
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

METHODS = ["radau", "bdf", "lsoda"]
SCIPY_NAMES = {"radau": "Radau", "bdf": "BDF", "lsoda": "LSODA"}
T_EVAL = np.linspace(0.0, 2.0, 21)
# Robertson at t = 40 (Hairer & Wanner, Solving ODEs II, IV.10; also a tight scipy run below)
ROBERTSON_40 = np.array([0.7158270687, 9.185534764e-6, 0.2841637457])
ROBERTSON = dynsim.system("robertson")  # the built-in plugin, plugins/systems/robertson.py
ROBERTSON_P = ROBERTSON.parameter_values()


def robertson_rhs(t, y, p=None):
    return ROBERTSON.rhs(t, y, ROBERTSON_P)


def robertson_jacobian(t, y, p=None):
    return ROBERTSON.jacobian(t, y, ROBERTSON_P)


def solve(method, rhs, y0, t_eval=T_EVAL, **options):
    """Run solver `method` on a hand-made `dynsim.Problem` (t_span from t_eval's ends)."""
    problem = dynsim.Problem(rhs=rhs, y0=np.asarray(y0, dtype=float),
                             t_span=(float(t_eval[0]), float(t_eval[-1])),
                             t_eval=np.asarray(t_eval, dtype=float), **options)
    return run_with_timeout(lambda: dynsim.solvers()[method].solve(problem))


def decay(t, y):
    return -y


def oscillator(t, y):
    return np.stack([y[:, 1], -y[:, 0]], axis=-1)


def nan_after_half(t, y):
    return np.where(t[:, None] > 0.5, np.nan, -y)


def assert_kept_then_nan(y, t_eval, t_fail, exact):
    """Samples before `t_fail` match `exact(t)`; every sample after it is NaN."""
    before, after = t_eval < t_fail - 0.1, t_eval > t_fail
    np.testing.assert_allclose(y[before, 0], exact(t_eval[before]), rtol=1e-4)
    assert np.isnan(y[after]).all()


# -- registration and accuracy -----------------------------------------------------------


def test_the_three_solvers_are_registered_by_the_builtin_plugin():
    plugins = dynsim.load_plugins(entry_points=False, environment=False)
    solvers = dynsim.solvers()
    for name in METHODS:
        assert isinstance(solvers[name], dynsim.Solver) and solvers[name].description
    record = next(r for r in plugins.records if r.name == "dynsim.solvers.scipy_stiff")
    assert record.state == "loaded" and record.registered == {"solvers": METHODS}


@pytest.mark.parametrize("method", METHODS)
def test_same_steps_as_solve_ivp_and_close_to_a_tight_reference(method):
    y0, t_eval = [1.0, 1.0, 1.0], np.linspace(0.0, 1.0, 11)
    traj = dynsim.simulate("lorenz", y0, (0, 1), t_eval=t_eval, solver=method, rtol=1e-8,
                           atol=1e-10)
    system = dynsim.system("lorenz")
    p = system.parameter_values()
    reference = solve_ivp(lambda t, y: system.rhs(t, y, p), (0, 1), y0,
                          method=SCIPY_NAMES[method], t_eval=t_eval, rtol=1e-8, atol=1e-10,
                          jac=lambda t, y: system.jacobian(t, y, p))
    steps = solve_ivp(lambda t, y: system.rhs(t, y, p), (0, 1), y0, method=SCIPY_NAMES[method],
                      rtol=1e-8, atol=1e-10, jac=lambda t, y: system.jacobian(t, y, p)).t.size - 1
    assert traj.ok and traj.stats["accepted"][0] == steps
    np.testing.assert_allclose(traj.y[0], reference.y.T, rtol=1e-9, atol=1e-9)
    tight = solve_ivp(lambda t, y: system.rhs(t, y, p), (0, 1), y0, method="DOP853",
                      t_eval=t_eval, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(traj.y[0], tight.y.T, rtol=0, atol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_robertson_at_t_40_matches_the_published_values(method):
    traj = dynsim.simulate(ROBERTSON, [1.0, 0.0, 0.0], (0, 40), solver=method, rtol=1e-8,
                           atol=[1e-10, 1e-14, 1e-10], points=5)
    assert traj.ok
    np.testing.assert_allclose(traj.y[0, -1], ROBERTSON_40, rtol=1e-6)
    np.testing.assert_allclose(traj.y[0].sum(axis=1), 1.0, atol=1e-8)  # y1 + y2 + y3


def test_the_published_robertson_values_agree_with_a_tight_scipy_run():
    tight = solve_ivp(lambda t, y: robertson_rhs(t, y, None), (0, 40), [1.0, 0.0, 0.0],
                      method="Radau", rtol=1e-12, atol=1e-18,
                      jac=lambda t, y: robertson_jacobian(t, y, None))
    np.testing.assert_allclose(tight.y[:, -1], ROBERTSON_40, rtol=1e-9)


def test_stiff_van_der_pol_takes_few_steps_where_dopri5_gives_up():
    span, y0, mu = (0, 1000), [[2.0, 0.0]], {"mu": 1000.0}
    explicit = dynsim.simulate("van_der_pol", y0, span, params=mu, max_steps=3000, points=11)
    assert explicit.status[0] == "max_steps"
    assert "stiff" in explicit.messages[0] and "'radau'" in explicit.messages[0]
    ends = []
    for method in ("radau", "bdf"):
        traj = dynsim.simulate("van_der_pol", y0, span, params=mu, solver=method, points=11)
        assert traj.ok and traj.stats["accepted"][0] < 1000, traj.stats
        ends.append(traj.y[0, -1])
    np.testing.assert_allclose(ends[0], ends[1], rtol=1e-3)


@pytest.mark.parametrize("method", METHODS)
def test_the_systems_jacobian_is_used_when_given(method):
    calls = 0

    def counted(t, y, p):
        nonlocal calls
        calls += 1
        return robertson_jacobian(t, y, p)

    with_jac = dynsim.System(name="rob", states=ROBERTSON.states, params={},
                             rhs=robertson_rhs, jacobian=counted)
    without = dynsim.System(name="rob", states=ROBERTSON.states, params={}, rhs=robertson_rhs)
    options = dict(solver=method, rtol=1e-6, atol=[1e-8, 1e-12, 1e-8], points=3)
    given = dynsim.simulate(with_jac, [1.0, 0.0, 0.0], (0, 40), **options)
    estimated = dynsim.simulate(without, [1.0, 0.0, 0.0], (0, 40), **options)
    assert given.ok and estimated.ok
    assert calls > 0 and given.stats["jacobian_evaluations"][0] == calls
    assert given.stats["lu_decompositions"][0] > 0
    if method != "lsoda":  # LSODA estimates the Jacobian inside Fortran, uncounted
        assert estimated.stats["rhs_evaluations"][0] > given.stats["rhs_evaluations"][0]
    np.testing.assert_allclose(given.y[0, -1], estimated.y[0, -1], rtol=1e-4)


@pytest.mark.parametrize("method", METHODS)
def test_backwards_integration_and_per_state_tolerances(method):
    t_eval = np.linspace(2.0, 0.0, 11)
    y0 = np.array([[1.0, 2.0], [3.0, -1.0]])
    sol = solve(method, decay, y0, t_eval, rtol=np.array([1e-9, 1e-7]),
                atol=np.array([1e-12, 1e-10]))
    assert sol.status == ["success", "success"]
    exact = y0[:, None, :] * np.exp(-(t_eval[None, :, None] - 2.0))
    np.testing.assert_allclose(sol.y, exact, rtol=1e-5)
    assert (sol.stats["accepted"] > 0).all()


# -- events ---------------------------------------------------------------------------------

X_ZERO = dynsim.Event("x_zero", lambda t, y: y[..., 0])
EVENT_TOL = {"radau": 1e-10, "bdf": 1e-12, "lsoda": 1e-12}


@pytest.mark.parametrize("method", METHODS)
def test_crossings_are_located_to_1e_10_in_t(method):
    phases = np.array([0.0, 0.4])
    y0 = np.column_stack([np.cos(phases), -np.sin(phases)])
    down = dynsim.Event("down", lambda t, y: y[..., 0], direction=-1)
    tol = EVENT_TOL[method]
    sol = solve(method, oscillator, y0, np.array([0.0, 5.0]), rtol=tol, atol=tol,
                events=(X_ZERO, down))
    for i, phase in enumerate(phases):
        expected = (np.arange(2) + 0.5) * np.pi - phase  # x = cos(t + phase) = 0
        times, states = sol.events["x_zero"][i]
        np.testing.assert_allclose(times, expected, rtol=0, atol=1e-10)
        np.testing.assert_allclose(states[:, 0], 0.0, atol=1e-9)
        np.testing.assert_allclose(sol.events["down"][i][0], expected[:1], atol=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_terminal_event_stops_with_nan_after(method):
    stop = dynsim.Event("stop", lambda t, y: y[..., 0] - 0.5, direction=-1, terminal=True)
    sol = solve(method, decay, [[1.0], [0.2]], T_EVAL, rtol=1e-10, atol=1e-12,
                events=(stop,))
    assert [str(s) for s in sol.status] == ["event", "success"]
    assert sol.messages[0] == f"stopped by event 'stop' at t = {np.log(2):.6g}"
    times, states = sol.events["stop"][0]
    np.testing.assert_allclose(times, [np.log(2)], atol=1e-9)
    np.testing.assert_allclose(states, [[0.5]], atol=1e-9)
    assert_kept_then_nan(sol.y[0], T_EVAL, np.log(2), lambda t: np.exp(-t))
    assert len(sol.events["stop"][1][0]) == 0 and sol.events["stop"][1][1].shape == (0, 1)


def test_leave_box_through_simulate_explains_the_stop():
    box = dynsim.leave_box(-10.0, 10.0, states=["x", "y"])
    traj = dynsim.simulate("repulsor", [[1.0, 0.5], [0.0, 0.0]], (0, 5), solver="radau",
                           events=[box], rtol=1e-10, atol=1e-12)
    assert [str(s) for s in traj.status] == ["event", "success"]
    np.testing.assert_allclose(traj.events["left_box"].t[0], [np.log(10 / 0.5) / 2],
                               atol=1e-8)
    assert "'y'" in traj.messages[0] and "upper bound 10" in traj.messages[0]


# -- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_non_finite_rhs_at_t0_is_reported_at_once(method):
    sol = solve(method, lambda t, y: np.where(y > 5.0, np.nan, -y), [[1.0], [10.0]])
    assert [str(s) for s in sol.status] == ["success", "non_finite"]
    assert "the right-hand side is not finite at t0 = 0 (state [10])" in sol.messages[1]
    assert sol.y[1, 0, 0] == 10.0 and np.isnan(sol.y[1, 1:]).all()
    assert sol.stats["accepted"][1] == 0


@pytest.mark.parametrize("method", METHODS)
def test_nan_from_the_rhs_mid_run_is_non_finite_never_success(method):
    sol = solve(method, nan_after_half, [[1.0]])
    assert sol.status == ["non_finite"]
    assert "NaN or inf" in sol.messages[0] and "last finite state" in sol.messages[0]
    assert_kept_then_nan(sol.y[0], T_EVAL, 0.55, lambda t: np.exp(-t))


def test_lsoda_returning_nan_as_a_success_is_a_failure():
    # scipy's LSODA steps through NaN from the rhs and reports 'finished' with y = NaN
    from scipy.integrate import LSODA

    bare = LSODA(lambda t, y: nan_after_half(np.full(1, t), y[None])[0], 0.0, [1.0], 2.0)
    while bare.status == "running":
        bare.step()
    assert bare.status == "finished" and np.isnan(bare.y).all()
    sol = solve("lsoda", nan_after_half, [[1.0]])
    assert sol.status == ["non_finite"] and not np.isnan(sol.y[0, :5]).any()


@pytest.mark.parametrize("method", METHODS)
def test_blow_up_is_non_finite_with_when(method):
    # y' = y^2 from y(0) = 1 is 1 / (1 - t): it blows up at t = 1
    sol = solve(method, lambda t, y: y * y, [[1.0], [0.2]])
    assert [str(s) for s in sol.status] == ["non_finite", "success"]
    assert re.search(r"blows up near t = (1|0\.9999\d*):", sol.messages[0]), sol.messages[0]
    assert_kept_then_nan(sol.y[0], T_EVAL, 1.0, lambda t: 1 / (1 - t))
    np.testing.assert_allclose(sol.y[1, :, 0], 0.2 / (1 - 0.2 * T_EVAL), rtol=1e-5)


@pytest.mark.parametrize("method", ["radau", "bdf"])
def test_singularity_gives_step_too_small(method):
    # y' = -1 / (2 y) from y = 1 is sqrt(1 - t): the slope is infinite at t = 1
    sol = solve(method, lambda t, y: -0.5 / y, [[1.0]])
    assert sol.status == ["step_too_small"]
    message = sol.messages[0]
    assert "below the minimum" in message and re.search(r"at t = (1|0\.9999\d*) ", message)
    assert "Required step size is less than spacing between numbers" in message
    assert_kept_then_nan(sol.y[0], T_EVAL, 1.0, lambda t: np.sqrt(1 - t))


@pytest.mark.parametrize("method", METHODS)
def test_min_step_raises_the_floor(method):
    def fast(t, y):
        return -50.0 * (y - np.cos(t)[:, None])

    sol = solve(method, fast, [[3.0]], min_step=0.5, first_step=0.5)
    assert sol.status == ["step_too_small"]
    assert "below the minimum 0.5" in sol.messages[0]
    assert sol.y[0, 0, 0] == 3.0 and np.isnan(sol.y[0, 1:]).all()


@pytest.mark.parametrize("method", METHODS)
def test_max_steps_keeps_what_was_computed(method):
    sol = solve(method, decay, [[1.0]], max_steps=12)
    assert sol.status == ["max_steps"]
    assert sol.messages[0].startswith("reached max_steps = 12 at t = ")
    assert "of 2; raise max_steps" in sol.messages[0]
    assert sol.stats["accepted"][0] == 12
    done = ~np.isnan(sol.y[0, :, 0])
    assert done[0] and not done[-1]
    np.testing.assert_allclose(sol.y[0, done, 0], np.exp(-T_EVAL[done]), rtol=1e-5)


@pytest.mark.parametrize("method", METHODS)
def test_rhs_error_ends_only_the_trajectory_that_raised(method):
    def rhs(t, y):  # x' = -k x, k' = 0; raises past t = 0.5 for the trajectory with k = 2
        if np.any(t[y[:, 1] == 2.0] > 0.5):
            raise ZeroDivisionError("division by zero in the model")
        return np.stack([-y[:, 0] * y[:, 1], np.zeros(len(y))], axis=-1)

    y0 = np.array([[1.0, 1.0], [1.0, 2.0], [2.0, 0.5]])
    sol = solve(method, rhs, y0)
    assert [str(s) for s in sol.status] == ["success", "rhs_error", "success"]
    assert "the right-hand side raised ZeroDivisionError: division by zero in the model at " \
        "t = 0.5" in sol.messages[1]
    assert_kept_then_nan(sol.y[1], T_EVAL, 0.6, lambda t: np.exp(-2 * t))
    np.testing.assert_allclose(sol.y[[0, 2], :, 0], y0[[0, 2], :1] *
                               np.exp(-y0[[0, 2], 1:] * T_EVAL), rtol=1e-5)


def test_a_raising_jacobian_or_event_function_is_an_rhs_error():
    def bad_jacobian(t, y):
        raise ValueError("no Jacobian today")

    sol = solve("radau", decay, [[1.0]], jacobian=bad_jacobian)
    assert sol.status == ["rhs_error"]
    assert sol.messages[0] == "the Jacobian raised ValueError: no Jacobian today at t = 0"

    def g(t, y):
        if np.any(t > 1.0):
            raise RuntimeError("event broke")
        return y[..., 0] + 1.0

    sol = solve("bdf", decay, [[1.0]], events=(dynsim.Event("broken", g),))
    assert sol.status == ["rhs_error"]
    assert sol.messages[0].startswith("the event function 'broken' raised RuntimeError")
    assert not np.isnan(sol.y[0, :10]).any() and np.isnan(sol.y[0, -1]).all()


@pytest.mark.parametrize("method", METHODS)
def test_cancel_keeps_what_was_computed_and_cancels_the_rest(method):
    token = dynsim.CancelToken()
    calls = at_cancel = 0

    def rhs(t, y):  # cancels once the integration passes t = 1
        nonlocal calls, at_cancel
        calls += 1
        if np.any(t > 1.0) and not token.cancelled:
            token.cancel()
            at_cancel = calls
        return -y

    sol = solve(method, rhs, np.ones((3, 1)), rtol=1e-12, atol=1e-12, cancel=token)
    assert all(s == "cancelled" for s in sol.status)
    assert sol.messages[0].startswith("cancelled at t = ") and "of 2" in sol.messages[0]
    assert sol.messages[2] == "cancelled at t = 0 of 2"
    done = ~np.isnan(sol.y[0, :, 0])
    assert 5 < done.sum() < len(T_EVAL)
    np.testing.assert_allclose(sol.y[0, done, 0], np.exp(-T_EVAL[done]), rtol=1e-9)
    assert sol.y[2, 0, 0] == 1.0 and np.isnan(sol.y[2, 1:]).all()
    assert at_cancel > 0 and calls - at_cancel < 40  # it stopped within a step or so


def test_each_trajectory_of_a_batch_has_its_own_status():
    # x' = -k x, k' = 0: k picks the fate of each trajectory
    def rhs(t, y):
        k = y[:, 1]
        if np.any((k == 0.5) & (t > 0.5)):
            raise KeyError("k")
        return np.stack([np.where(k == 4.0, np.inf, -k * y[:, 0]), np.zeros(len(y))], axis=-1)

    low = dynsim.Event("low", lambda t, y: y[..., 0] - 0.5, direction=-1, terminal=True)
    y0 = np.array([[1.0, 1.0], [1.0, 2.0], [1.0, 0.5], [1.0, 4.0], [1.0, 0.1]])
    sol = solve("bdf", rhs, y0, events=(low,), max_steps=40)
    assert [str(s) for s in sol.status] == ["event", "event", "rhs_error", "non_finite",
                                            "success"]
    np.testing.assert_allclose([sol.events["low"][i][0][0] for i in (0, 1)],
                               [np.log(2), np.log(2) / 2], atol=1e-6)
    assert "KeyError" in sol.messages[2] and "t0" in sol.messages[3]
    assert set(sol.stats) == {"accepted", "rejected", "rhs_evaluations",
                              "jacobian_evaluations", "lu_decompositions"}
    assert sol.stats["accepted"][4] > 0 and sol.stats["accepted"][3] == 0
    assert (sol.stats["rhs_evaluations"] > 0).all()


@pytest.mark.parametrize("method", METHODS)
def test_progress_reaches_one_and_iter_solve_ends_with_the_final_solution(method):
    fractions = []
    problem = dynsim.Problem(rhs=decay, y0=np.ones((2, 1)), t_span=(0.0, 2.0), t_eval=T_EVAL,
                             progress=fractions.append)
    solutions = list(dynsim.solvers()[method].iter_solve(problem))
    assert solutions[-1].progress == 1.0 and solutions[-1].status == ["success"] * 2
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    np.testing.assert_allclose(solutions[-1].y[:, :, 0], np.exp(-T_EVAL)[None].repeat(2, 0),
                               rtol=1e-5)


def test_cli_simulate_with_radau(cli):
    result = cli("simulate", "lorenz", "--y0", "1,1,1", "--t-end", "0.5", "--points", "6",
                 "--solver", "radau")
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(io.StringIO(result.stdout))
    expected = dynsim.simulate("lorenz", [1, 1, 1], (0, 0.5), solver="radau", points=6)
    np.testing.assert_allclose(frame[["x", "y", "z"]].to_numpy(), expected.y[0], rtol=1e-12)
