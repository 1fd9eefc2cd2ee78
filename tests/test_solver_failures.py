"""Every way a trajectory can end: status, message, data kept, and the others unaffected."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from dynsim.builtin_plugins.solvers import explicit_rk

import dynsim
from dynsim.numerics import integrate

# the failing right-hand sides overflow or take logs of negatives on purpose
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

DOPRI5, RK4 = explicit_rk.DOPRI5, explicit_rk.RK4
T_EVAL = np.linspace(0.0, 2.0, 21)


def run_with_timeout(function, seconds: float = 30.0):
    """Call `function()` in a thread; fail if it does not return within `seconds`."""
    result: dict[str, object] = {}
    worker = threading.Thread(target=lambda: result.setdefault("value", function()),
                              daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"did not finish within {seconds} s"
    return result["value"]


def decay(t, y):
    return -y


def test_non_finite_rhs_at_t0_is_reported_at_once():
    def rhs(t, y):
        return np.where(y > 5.0, np.nan, -y)

    start = time.perf_counter()
    sol = run_with_timeout(lambda: integrate(rhs, np.array([[1.0], [10.0]]), T_EVAL, DOPRI5))
    assert time.perf_counter() - start < 5.0
    assert [str(s) for s in sol.status] == ["success", "non_finite"]
    assert "not finite at t0 = 0" in sol.messages[1] and "[10]" in sol.messages[1]
    assert "check the initial condition" in sol.messages[1]
    assert sol.y[1, 0, 0] == 10.0 and np.isnan(sol.y[1, 1:]).all()
    np.testing.assert_allclose(sol.y[0, :, 0], np.exp(-T_EVAL), rtol=1e-5)


def test_simulate_with_a_non_finite_start_returns_quickly():
    system = dynsim.System(name="bad", states=["x"], params={"a": 1.0},
                           rhs=lambda t, y, p: np.log(y - p["a"]))
    traj = run_with_timeout(lambda: dynsim.simulate(system, [[0.5], [3.0]], (0, 1)))
    assert traj.status[0] == "non_finite" and not traj.ok
    assert traj.failures()[0].startswith("trajectory 0: non_finite: the right-hand side")


def test_blow_up_is_non_finite_with_when_and_why():
    # y' = y^2 from y(0) = 1 is 1 / (1 - t): it blows up at t = 1
    sol = run_with_timeout(lambda: integrate(lambda t, y: y * y, np.array([[1.0], [0.2]]),
                                             T_EVAL, DOPRI5))
    assert [str(s) for s in sol.status] == ["non_finite", "success"]
    assert "blows up near t = 1" in sol.messages[0]
    before = T_EVAL < 0.99
    np.testing.assert_allclose(sol.y[0, before, 0], 1 / (1 - T_EVAL[before]), rtol=1e-4)
    assert np.isnan(sol.y[0, T_EVAL > 1]).all()
    np.testing.assert_allclose(sol.y[1, :, 0], 0.2 / (1 - 0.2 * T_EVAL), rtol=1e-5)


def test_fixed_step_blow_up_is_non_finite():
    sol = integrate(lambda t, y: y * y, np.array([[1.0], [0.1]]), T_EVAL, RK4, dt=0.05)
    assert [str(s) for s in sol.status] == ["non_finite", "success"]
    assert "try a smaller dt or an adaptive solver" in sol.messages[0]
    assert not np.isnan(sol.y[0, :10]).any() and np.isnan(sol.y[0, -1]).all()


def test_stiff_problem_stops_at_max_steps_suggesting_a_stiff_solver():
    traj = run_with_timeout(lambda: dynsim.simulate(
        "van_der_pol", [[2.0, 0.0], [0.5, 0.5]], (0, 3000), params={"mu": 1000.0},
        max_steps=3000, points=11))
    assert all(s == "max_steps" for s in traj.status)
    assert "max_steps = 3000" in traj.messages[0] and "stiff" in traj.messages[0]
    assert "radau" in traj.messages[0]
    assert (traj.stats["accepted"] + traj.stats["rejected"] == 3000).all()
    assert not np.isnan(traj.y[:, 0]).any() and np.isnan(traj.y[:, -1]).all()


def test_fixed_step_max_steps_says_what_to_change():
    sol = integrate(decay, np.ones((1, 1)), T_EVAL, RK4, dt=1e-3, max_steps=100)
    assert sol.status == ["max_steps"]
    assert "larger dt" in sol.messages[0]


def test_singularity_gives_step_too_small():
    # y' = -1 / (2 y) from y = 1 is sqrt(1 - t): the slope is infinite at t = 1
    sol = run_with_timeout(lambda: integrate(lambda t, y: -0.5 / y, np.array([[1.0]]),
                                             T_EVAL, DOPRI5))
    assert sol.status == ["step_too_small"]
    assert "below the minimum" in sol.messages[0] and "at t = 1" in sol.messages[0]
    before = T_EVAL < 0.99
    np.testing.assert_allclose(sol.y[0, before, 0], np.sqrt(1 - T_EVAL[before]), rtol=1e-4)


def test_min_step_raises_the_floor():
    def fast(t, y):
        return -50.0 * (y - np.cos(t)[:, None])

    sol = integrate(fast, np.array([[3.0], [1.0]]), T_EVAL, DOPRI5, min_step=0.5,
                    first_step=0.5)
    assert all(s == "step_too_small" for s in sol.status)
    assert "below the minimum 0.5" in sol.messages[0]


def test_cancel_from_inside_the_rhs_keeps_what_was_computed():
    token = dynsim.CancelToken()
    calls = 0

    def rhs(t, y):
        nonlocal calls
        calls += 1
        if calls == 200:
            token.cancel()
        return -y

    sol = integrate(rhs, np.ones((3, 2)), T_EVAL, DOPRI5, rtol=1e-12, atol=1e-12,
                    cancel=token)
    assert all(s == "cancelled" for s in sol.status)
    assert sol.messages[0].startswith("cancelled at t = ") and "of 2" in sol.messages[0]
    done = ~np.isnan(sol.y[0, :, 0])
    assert 1 < done.sum() < len(T_EVAL)
    np.testing.assert_allclose(sol.y[0, done, 0], np.exp(-T_EVAL[done]), rtol=1e-9)
    assert calls < 220


def test_rhs_error_ends_only_the_trajectory_that_raised():
    def rhs(t, y):  # x' = -k x, k' = 0; raises past t = 0.5 for the trajectory with k = 2
        if np.any(t[y[:, 1] == 2.0] > 0.5):
            raise ZeroDivisionError("division by zero in the model")
        return np.stack([-y[:, 0] * y[:, 1], np.zeros(len(y))], axis=-1)

    y0 = np.array([[1.0, 1.0], [1.0, 2.0], [1.0, 3.0], [2.0, 0.5]])
    sol = integrate(rhs, y0, T_EVAL, DOPRI5)
    assert [str(s) for s in sol.status] == ["success", "rhs_error", "success", "success"]
    message = sol.messages[1]
    assert "raised ZeroDivisionError: division by zero in the model at t = 0.50" in message
    expected = y0[:, :1] * np.exp(-y0[:, 1:] * T_EVAL)
    ok = [0, 2, 3]
    np.testing.assert_allclose(sol.y[ok, :, 0], expected[ok], rtol=1e-5)
    kept = T_EVAL < 0.45  # the outputs before the step that raised
    np.testing.assert_allclose(sol.y[1, kept, 0], expected[1, kept], rtol=1e-5)
    assert np.isnan(sol.y[1, T_EVAL > 0.6]).all()


def test_an_rhs_that_always_raises_fails_every_trajectory_without_raising():
    def broken(t, y):
        raise TypeError("unsupported operand")

    sol = run_with_timeout(lambda: integrate(broken, np.ones((50, 2)), T_EVAL, DOPRI5))
    assert all(s == "rhs_error" for s in sol.status)
    assert "TypeError: unsupported operand at t = 0" in sol.messages[0]


def test_no_status_goes_unreported():
    names = {str(s) for s in dynsim.Status}
    assert names == {"success", "event", "non_finite", "max_steps", "step_too_small",
                     "cancelled", "rhs_error"}


@pytest.mark.parametrize("bad", [
    {"rtol": -1.0}, {"atol": [1e-6, 1e-6, 1e-6]}, {"rtol": 0.0, "atol": 0.0},
    {"max_steps": 0}, {"first_step": -0.1}, {"min_step": np.nan}, {"dt": 0.0},
])
def test_invalid_options_raise_input_error(bad):
    with pytest.raises(dynsim.DynsimError):
        integrate(decay, np.ones((2, 2)), T_EVAL, DOPRI5, **bad)


def test_invalid_shapes_and_times_raise_input_error():
    with pytest.raises(dynsim.DynsimError, match="shape"):
        integrate(decay, np.ones(3), T_EVAL, DOPRI5)
    with pytest.raises(dynsim.DynsimError, match="increasing"):
        integrate(decay, np.ones((1, 1)), [0.0, 2.0, 1.0], DOPRI5)
    with pytest.raises(dynsim.DynsimError, match="returned shape"):
        integrate(lambda t, y: y[:, :1], np.ones((2, 2)), T_EVAL, DOPRI5)
