"""Limit cycles from a start point: Van der Pol's period, the Hopf closed form, scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import dynsim
from dynsim.analysis import LimitCycle, find_limit_cycle
from dynsim.core.errors import InputError

VAN_DER_POL_PERIOD = 6.663286859323  # mu = 1 (e.g. Strogatz; to 12 digits)


def test_van_der_pol_period_and_amplitude():
    cycle = find_limit_cycle("van_der_pol", [0.5, 0.0])
    assert isinstance(cycle, LimitCycle)
    assert cycle.period == pytest.approx(VAN_DER_POL_PERIOD, abs=1e-4)
    assert cycle.period == pytest.approx(VAN_DER_POL_PERIOD, abs=1e-7)
    assert cycle.amplitude[0] == pytest.approx(2.00862, abs=1e-5)
    np.testing.assert_allclose(cycle.maximum, -cycle.minimum, atol=1e-7)  # odd symmetry
    np.testing.assert_allclose(cycle.mean, 0.0, atol=1e-7)
    assert cycle.return_distance < 1e-7
    # one period of samples, closing on itself
    assert cycle.t[0] == 0.0 and cycle.t[-1] == pytest.approx(cycle.period, rel=1e-15)
    np.testing.assert_allclose(cycle.orbit[-1], cycle.orbit[0], atol=1e-6)
    np.testing.assert_allclose(cycle.orbit[0], cycle.state)


@pytest.mark.parametrize(("mu", "omega"), [(1.0, 1.0), (0.5, 2.0), (2.0, -3.0)])
def test_hopf_normal_form_closed_form(mu, omega):
    # r' = mu r - r^3, theta' = omega: the circle r = sqrt(mu), period 2 pi / |omega|
    cycle = find_limit_cycle("hopf", [0.05, 0.0], params={"mu": mu, "omega": omega})
    assert cycle.period == pytest.approx(2 * np.pi / abs(omega), rel=1e-8)
    np.testing.assert_allclose(cycle.amplitude, np.sqrt(mu), rtol=1e-8)
    np.testing.assert_allclose(np.hypot(*cycle.orbit.T), np.sqrt(mu), rtol=1e-7)


def test_van_der_pol_mu_2_against_scipy_crossings():
    # the period as the time between upward crossings of x = 0 found by solve_ivp's events
    def rhs(t, s):
        return [s[1], 2.0 * (1 - s[0] ** 2) * s[1] - s[0]]

    def event(t, s):
        return s[0]

    event.direction = 1
    run = solve_ivp(rhs, (0, 120), [0.5, 0.0], method="DOP853", rtol=1e-12, atol=1e-12,
                    events=event)
    reference = np.diff(run.t_events[0])[-1]
    cycle = find_limit_cycle("van_der_pol", [0.5, 0.0], params={"mu": 2.0})
    assert cycle.period == pytest.approx(reference, abs=1e-7)
    assert cycle.to_dict()["period"] == cycle.period
    assert set(cycle.to_dict()["amplitude"]) == {"x", "y"}


def test_slow_cycle_needs_a_longer_search_and_finds_it():
    # mu = 0.05: the cycle attracts at rate 2 mu = 0.1, too slowly for one short window
    cycle = find_limit_cycle("hopf", [0.5, 0.0], params={"mu": 0.05, "omega": 1.0},
                             transient=5, window=20, rtol=1e-9, atol=1e-11)
    assert cycle.period == pytest.approx(2 * np.pi, rel=1e-7)
    assert cycle.amplitude[0] == pytest.approx(np.sqrt(0.05), rel=1e-6)
    assert cycle.time > 100


def test_equilibrium_is_not_a_cycle():
    with pytest.raises(InputError, match="settles at an equilibrium"):
        find_limit_cycle("stable_spiral", [1.0, 0.0])


def test_blow_up_is_reported():
    blow = dynsim.System(name="blow", states=["x", "y"], params={},
                         rhs=lambda t, y, p: np.stack([y[..., 0] ** 2, -y[..., 1]], axis=-1))
    with pytest.raises(InputError, match="failed after t = 0"):
        find_limit_cycle(blow, [1.0, 1.0])


def test_gives_up_after_max_time():
    with pytest.raises(InputError, match="no periodic orbit found"):
        find_limit_cycle("lorenz", [1.0, 1.0, 1.0], transient=0, window=4, max_time=10)


def test_one_start_point_only():
    with pytest.raises(InputError, match="one start point"):
        find_limit_cycle("hopf", [[1.0, 0.0], [0.5, 0.0]])


def test_a_plugin_system_without_jacobian():
    # a relaxation oscillator given only by its rhs (the method needs no Jacobian)
    system = dynsim.System(
        name="rayleigh", states=["x", "v"], params={"mu": 1.0},
        rhs=lambda t, y, p: np.stack([y[..., 1], p["mu"] * (y[..., 1] - y[..., 1] ** 3 / 3)
                                      - y[..., 0]], axis=-1))
    cycle = find_limit_cycle(system, [0.1, 0.0])
    # Rayleigh's equation is Van der Pol's for v' : the same period
    assert cycle.period == pytest.approx(VAN_DER_POL_PERIOD, abs=1e-6)
