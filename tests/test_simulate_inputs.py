"""`dynsim.simulate`: input checking, shapes, and the fixed-step methods."""

from __future__ import annotations

import numpy as np
import pytest

import dynsim
from dynsim.core.errors import InputError, SystemDefinitionError, UnknownNameError


def test_single_state_gives_one_trajectory():
    traj = dynsim.simulate("lorenz", y0=[1, 1, 1], t_span=(0, 1), solver="rk4", points=11)
    assert traj.t.shape == (11,) and traj.y.shape == (1, 11, 3)
    assert traj.states == ("x", "y", "z") and traj.status == ("success",)
    assert traj.system == "lorenz" and traj.params["rho"] == 28.0


def test_issue_example_shapes():
    traj = dynsim.simulate("lorenz", y0=[[1, 1, 1], [2, 2, 2]], t_span=(0, 10),
                           params={"rho": 28}, solver="rk4", dt=1e-3, points=1001)
    assert traj.t.shape == (1001,) and traj.y.shape == (2, 1001, 3)
    np.testing.assert_allclose(traj.t, np.linspace(0, 10, 1001))
    assert len(traj.status) == 2


@pytest.mark.parametrize("solver", ["euler", "rk4"])
def test_fixed_step_harmonic_oscillator_against_closed_form(solver):
    traj = dynsim.simulate("harmonic_oscillator", [[1.0, 0.0], [0.0, 2.0]], (0, 2 * np.pi),
                           solver=solver, dt=1e-3 if solver == "rk4" else 1e-4, points=9)
    t = traj.t
    exact = np.stack([np.stack([np.cos(t), -np.sin(t)], -1),
                      np.stack([2 * np.sin(t), 2 * np.cos(t)], -1)])
    tolerance = {"rk4": 1e-11, "euler": 1e-3}[solver]
    np.testing.assert_allclose(traj.y, exact, atol=tolerance)


def test_fixed_step_hits_output_times_exactly_and_backwards():
    times = [0.0, 0.3, 0.35, 1.0]
    fwd = dynsim.simulate("attractor", [1.0, 1.0], (0, 1), solver="rk4", t_eval=times, dt=0.01)
    np.testing.assert_allclose(fwd.y[0, :, 0], np.exp(-np.array(times)), rtol=1e-10)
    back = dynsim.simulate("attractor", fwd.y[0, -1], (1, 0), solver="rk4", points=3, dt=0.01)
    np.testing.assert_allclose(back.y[0, -1], [1.0, 1.0], rtol=1e-9)
    np.testing.assert_array_equal(back.t, [1.0, 0.5, 0.0])


def test_t_eval_may_start_after_t0():
    traj = dynsim.simulate("attractor", [1.0, 1.0], (0, 2), solver="rk4", t_eval=[1.0, 2.0])
    np.testing.assert_allclose(traj.y[0, :, 0], np.exp(-np.array([1.0, 2.0])), rtol=1e-10)


def test_rk4_error_shrinks_with_fourth_order():
    errors = []
    for dt in (0.1, 0.05):
        traj = dynsim.simulate("harmonic_oscillator", [1.0, 0.0], (0, 5), solver="rk4", dt=dt,
                               points=2)
        errors.append(abs(traj.y[0, -1, 0] - np.cos(5.0)))
    assert 3.7 < np.log2(errors[0] / errors[1]) < 4.3


def test_a_system_object_works_without_registration():
    system = dynsim.System(name="decay", states=["x"], params={"k": 2.0},
                           rhs=lambda t, y, p: -p["k"] * y)
    traj = dynsim.simulate(system, [1.0], (0, 1), solver="rk4", points=2)
    np.testing.assert_allclose(traj.y[0, -1, 0], np.exp(-2.0), rtol=1e-9)


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"y0": [1, 1]}, InputError, "each initial condition needs 3 values (x, y, z)"),
    ({"y0": [[1, 1, 1], [1, 1]]}, InputError, "initial conditions must be numbers"),
    ({"y0": []}, InputError, "each initial condition needs 3 values"),
    ({"y0": [1, np.nan, 1]}, InputError, "initial condition 0 is not finite"),
    ({"y0": "abc"}, InputError, "initial conditions must be numbers"),
    ({"t_span": (0, 0)}, InputError, "two different finite numbers"),
    ({"t_span": (0,)}, InputError, "t_span must be two numbers"),
    ({"t_span": (0, np.inf)}, InputError, "two different finite numbers"),
    ({"points": 1}, InputError, "points must be a whole number >= 2"),
    ({"points": 2.5}, InputError, "points must be a whole number >= 2"),
    ({"t_eval": [0.0, 2.0]}, InputError, "t_eval must lie within t_span [0, 1]"),
    ({"t_eval": [0.5, 0.2]}, InputError, "t_eval must be strictly increasing"),
    ({"t_eval": []}, InputError, "t_eval must be a non-empty list of finite times"),
    ({"dt": 0.0}, InputError, "dt must be a positive number"),
    ({"dt": np.nan}, InputError, "dt must be a positive number"),
    ({"solver": "nope"}, UnknownNameError, "unknown solver 'nope'"),
    ({"params": {"rho": "x"}}, dynsim.DynsimError, "must be a finite number"),
])
def test_bad_input_is_a_clear_error(kwargs, error, message):
    args = {"system": "lorenz", "y0": [1, 1, 1], "t_span": (0, 1), "solver": "rk4", **kwargs}
    with pytest.raises(error) as info:
        dynsim.simulate(**args)
    assert message in str(info.value)


def test_unknown_system_lists_the_available_ones():
    with pytest.raises(UnknownNameError, match=r"unknown system 'lorentz' \(did you mean "
                                               r"'lorenz'\?\); available: attractor, center"):
        dynsim.simulate("lorentz", [1, 1, 1], (0, 1))


def test_rhs_of_the_wrong_shape_is_reported_before_integrating():
    system = dynsim.System(name="bad", states=["x", "y"], params={},
                           rhs=lambda t, y, p: y[..., 0])
    with pytest.raises(SystemDefinitionError, match=r"rhs returned shape \(1,\) for y of "
                                                    r"shape \(1, 2\)"):
        dynsim.simulate(system, [1.0, 2.0], (0, 1), solver="rk4")


def test_fixed_step_failures_keep_earlier_data():
    calls = {"n": 0}

    def rhs(t, y, p):
        calls["n"] += 1
        if t > 0.5:
            raise ZeroDivisionError("bad")
        return -y

    system = dynsim.System(name="fails", states=["x"], params={}, rhs=rhs)
    traj = dynsim.simulate(system, [[1.0], [2.0]], (0, 1), solver="rk4", points=11, dt=0.01)
    assert traj.status == ("rhs_error", "rhs_error")
    assert "ZeroDivisionError: bad" in traj.messages[0]
    np.testing.assert_allclose(traj.y[:, 5, 0], [np.exp(-0.5), 2 * np.exp(-0.5)], rtol=1e-8)
    assert np.isnan(traj.y[:, 6:]).all()


def test_cancel_token_stops_fixed_step_runs():
    token = dynsim.CancelToken()
    token.cancel()
    traj = dynsim.simulate("lorenz", [1, 1, 1], (0, 1), solver="rk4", cancel=token)
    assert traj.status == ("cancelled",)
    np.testing.assert_array_equal(traj.y[0, 0], [1, 1, 1])
    assert np.isnan(traj.y[0, 1:]).all()
