"""Events: crossings located on the dense output, direction, terminal stops, per trajectory."""

from __future__ import annotations

import numpy as np
import pytest
from dynsim.builtin_plugins.solvers import explicit_rk

import dynsim
from dynsim import Event
from dynsim.core.errors import InputError, SystemDefinitionError
from dynsim.numerics import integrate

TABLEAUS = {t.name: t for t, _ in explicit_rk.SOLVERS}
PHASES = np.array([0.0, 0.4, 1.1])
# x = cos(t + phase), v = -sin(t + phase): x crosses zero at t = (k + 1/2) pi - phase
Y0 = np.column_stack([np.cos(PHASES), -np.sin(PHASES)])
X_ZERO = Event("x_zero", lambda t, y: y[..., 0])


def oscillator(t, y):
    return np.stack([y[:, 1], -y[:, 0]], axis=-1)


def zeros(phase: float, t_end: float, parity: int | None = None) -> np.ndarray:
    k = np.arange(0, 20)
    times = (k + 0.5) * np.pi - phase
    keep = (times > 0) & (times <= t_end)
    if parity is not None:
        keep &= k % 2 == parity
    return times[keep]


@pytest.mark.parametrize("name", ["bosh3", "dopri5", "tsit5", "dop853"])
def test_crossings_are_located_to_1e_10_in_t(name):
    rtol = 1e-9 if name == "bosh3" else 1e-12
    sol = integrate(oscillator, Y0, [0.0, 10.0], TABLEAUS[name], rtol=rtol, atol=rtol,
                    events=[X_ZERO])
    for i, phase in enumerate(PHASES):
        times, states = sol.events["x_zero"][i]
        np.testing.assert_allclose(times, zeros(phase, 10.0), rtol=0, atol=1e-10)
        np.testing.assert_allclose(states[:, 0], 0.0, atol=1e-10)
        np.testing.assert_allclose(np.abs(states[:, 1]), 1.0, atol=1e-9)


def test_direction_filters_crossings():
    up = Event("up", lambda t, y: y[..., 0], direction=1)
    down = Event("down", lambda t, y: y[..., 0], direction=-1)
    sol = integrate(oscillator, Y0, [0.0, 12.0], TABLEAUS["dopri5"], rtol=1e-12, atol=1e-12,
                    events=[up, down, X_ZERO])
    for i, phase in enumerate(PHASES):
        # x = cos(.) decreases through its zeros at even k and increases at odd k
        np.testing.assert_allclose(sol.events["down"][i][0], zeros(phase, 12.0, 0), atol=1e-10)
        np.testing.assert_allclose(sol.events["up"][i][0], zeros(phase, 12.0, 1), atol=1e-10)
        assert (sol.events["up"][i][1][:, 1] > 0).all()
        assert len(sol.events["x_zero"][i][0]) == len(zeros(phase, 12.0))


def test_terminal_event_stops_each_trajectory_at_its_own_crossing():
    stop = Event("stop", lambda t, y: y[..., 0], direction=-1, terminal=True)
    t_eval = np.linspace(0.0, 5.0, 51)
    sol = integrate(oscillator, Y0, t_eval, TABLEAUS["dopri5"], rtol=1e-12, atol=1e-12,
                    events=[stop])
    for i, phase in enumerate(PHASES):
        t_stop = np.pi / 2 - phase
        assert sol.status[i] == "event"
        assert "'stop'" in sol.messages[i] and f"{t_stop:.6g}" in sol.messages[i]
        times, states = sol.events["stop"][i]
        np.testing.assert_allclose(times, [t_stop], atol=1e-10)
        np.testing.assert_allclose(states, [[0.0, -1.0]], atol=1e-10)
        before, after = t_eval < t_stop, t_eval > t_stop
        np.testing.assert_allclose(sol.y[i, before, 0], np.cos(t_eval[before] + phase),
                                   atol=1e-10)
        assert np.isnan(sol.y[i, after]).all()


def test_records_after_a_terminal_event_in_the_same_step_are_dropped():
    # both crossings fall inside the first (large) step: x = 0.5 first, then x = 0.2
    early = Event("early", lambda t, y: y[..., 0] - 0.5, direction=-1, terminal=True)
    late = Event("late", lambda t, y: y[..., 0] - 0.2, direction=-1)
    sol = integrate(lambda t, y: -y, np.array([[1.0]]), [0.0, 5.0], TABLEAUS["dop853"],
                    events=[late, early], first_step=5.0, rtol=1e-3, atol=1e-3)
    assert sol.status == ["event"] and sol.stats["accepted"][0] == 1  # one step held both
    np.testing.assert_allclose(sol.events["early"][0][0], [np.log(2)], atol=1e-3)
    assert len(sol.events["late"][0][0]) == 0


def test_backwards_integration_finds_crossings():
    sol = integrate(oscillator, Y0[:1], [6.0, 0.0], TABLEAUS["dopri5"], rtol=1e-12,
                    atol=1e-12, events=[X_ZERO])
    # from t = 6 backwards, x = cos(t - 6) crosses zero at t = 6 - (k + 1/2) pi
    expected = 6.0 - (np.arange(2) + 0.5) * np.pi
    np.testing.assert_allclose(sol.events["x_zero"][0][0], expected, atol=1e-10)


def test_a_crossing_exactly_at_a_step_end_is_recorded_once():
    at_one = Event("at_one", lambda t, y: t - 1.0)
    sol = integrate(oscillator, Y0[:1], np.linspace(0.0, 2.0, 21), TABLEAUS["rk4"], dt=0.1,
                    events=[at_one])
    times, _ = sol.events["at_one"][0]
    assert times.tolist() == [1.0]


def test_fixed_step_methods_locate_events_on_their_hermite_interpolant():
    sol = integrate(oscillator, Y0, [0.0, 5.0], TABLEAUS["rk4"], dt=0.01, events=[X_ZERO])
    for i, phase in enumerate(PHASES):
        np.testing.assert_allclose(sol.events["x_zero"][i][0], zeros(phase, 5.0), atol=1e-8)


def test_poincare_section_through_simulate_with_bound_parameters():
    # Lorenz crossings of the plane z = rho - 1 going up; the event reads rho from p
    section = Event("section", lambda t, y, p: y[..., 2] - (p["rho"] - 1.0), direction=1)
    traj = dynsim.simulate("lorenz", [[1, 1, 1], [-3, 2, 20]], (0, 20),
                           params={"rho": 30.0}, events=[section], rtol=1e-10, atol=1e-10)
    log = traj.events["section"]
    assert isinstance(log, dynsim.EventLog) and len(log) == 2
    for times, states in zip(log.t, log.y, strict=True):
        assert len(times) > 5 and (np.diff(times) > 0).all()
        np.testing.assert_allclose(states[:, 2], 29.0, atol=1e-7)
        assert (times > 0).all() and (times <= 20).all()


def test_leave_box_stops_escaping_trajectories_with_a_clear_message():
    box = dynsim.leave_box(-10.0, 10.0, states=["x", "y"])
    traj = dynsim.simulate("repulsor", [[1.0, 0.5], [0.0, 0.0], [-2.0, 0.1]], (0, 5),
                           events=[box], rtol=1e-10, atol=1e-12)
    assert [str(s) for s in traj.status] == ["event", "success", "event"]
    # x = x0 e^t (lambda1 = 1), y = y0 e^2t (lambda2 = 2): the first to reach |10| leaves
    np.testing.assert_allclose(traj.events["left_box"].t[0], [np.log(10 / 0.5) / 2],
                               atol=1e-9)
    assert "'y'" in traj.messages[0] and "upper bound 10" in traj.messages[0]
    np.testing.assert_allclose(traj.events["left_box"].t[2], [np.log(10 / 2)], atol=1e-9)
    assert "'x'" in traj.messages[2] and "lower bound -10" in traj.messages[2]
    assert traj.ok


def test_leave_box_accepts_one_bound_per_state_and_checks_them():
    box = dynsim.leave_box([-1.0, -np.inf], [1.0, np.inf])
    traj = dynsim.simulate("repulsor", [[0.5, 0.5]], (0, 5), events=[box])
    assert traj.status[0] == "event" and "y[0]" in traj.messages[0]
    with pytest.raises(InputError, match="lower < upper"):
        dynsim.leave_box(1.0, -1.0)


def test_invalid_events_are_rejected():
    with pytest.raises(SystemDefinitionError):
        Event("bad name", lambda t, y: y[..., 0])
    with pytest.raises(SystemDefinitionError):
        Event("x", lambda t, y: y[..., 0], direction=2)
    with pytest.raises(InputError, match="distinct"):
        integrate(oscillator, Y0, [0.0, 1.0], TABLEAUS["dopri5"], events=[X_ZERO, X_ZERO])
    with pytest.raises(InputError, match="Event"):
        dynsim.simulate("lorenz", [1, 1, 1], (0, 1), events=[lambda t, y, p: y[..., 0]])
