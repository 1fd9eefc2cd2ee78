"""Poincaré sections: crossings against closed forms and scipy's located events."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import dynsim
from dynsim.analysis import PoincareSection, poincare_section
from dynsim.core.errors import DynsimError, InputError


def test_harmonic_oscillator_crossings_closed_form():
    # x = r cos(t + phase), v = -r sin(t + phase): x falls through 0 at t + phase = pi/2 + 2 pi k
    phases, radii = np.array([0.0, 0.7]), np.array([1.0, 2.0])
    y0 = np.column_stack([radii * np.cos(phases), -radii * np.sin(phases)])
    section = poincare_section("harmonic_oscillator", y0, {"x": 1.0}, duration=20,
                               direction=-1, rtol=1e-12, atol=1e-12)
    assert isinstance(section, PoincareSection)
    for i in range(2):
        k = np.arange(4)
        expected = np.pi / 2 + 2 * np.pi * k - phases[i]
        np.testing.assert_allclose(section.t[i], expected[expected <= 20], atol=1e-9)
        np.testing.assert_allclose(section.y[i][:, 0], 0.0, atol=1e-9)
        np.testing.assert_allclose(section.y[i][:, 1], -radii[i], atol=1e-9)
    assert section.points.shape == (sum(len(t) for t in section.t), 2)
    np.testing.assert_array_equal(section.index, np.repeat([0, 1], [len(t) for t in section.t]))
    assert section.status == ("success", "success")


def scipy_crossings(y0, t_end, level):
    lorenz = dynsim.system("lorenz")
    p = lorenz.parameter_values()

    def event(t, y):
        return y[2] - level

    event.direction = 1
    run = solve_ivp(lambda t, y: lorenz.rhs(t, y, p), (0, t_end), y0, method="DOP853",
                    rtol=1e-13, atol=1e-13, events=event)
    return run.t_events[0], run.y_events[0]


def test_lorenz_section_matches_scipy_events():
    # z = 27 upwards; t <= 8 keeps the chaotic divergence of the two solvers below 1e-6
    y0 = np.array([[1.0, 1.0, 1.0], [-3.0, 2.0, 20.0]])
    section = poincare_section("lorenz", y0, {"z": 1.0}, 27.0, duration=8, rtol=1e-12,
                               atol=1e-12)
    for i, start in enumerate(y0):
        times, states = scipy_crossings(start, 8, 27.0)
        assert len(section.t[i]) == len(times) > 3
        np.testing.assert_allclose(section.t[i], times, atol=1e-7)
        np.testing.assert_allclose(section.y[i], states, atol=1e-6)
        # every recorded state lies on the plane and crosses it upwards
        np.testing.assert_allclose(section.y[i][:, 2], 27.0, atol=1e-9)


def test_transient_drops_early_crossings_and_direction_zero_keeps_both():
    both = poincare_section("harmonic_oscillator", [1.0, 0.0], [1.0, 0.0], duration=10,
                            direction=0)
    late = poincare_section("harmonic_oscillator", [1.0, 0.0], [1.0, 0.0], duration=7,
                            transient=3, direction=0)
    # zeros of cos t: pi/2, 3 pi/2, 5 pi/2 (both directions)
    np.testing.assert_allclose(both.t[0], [np.pi / 2, 3 * np.pi / 2, 5 * np.pi / 2],
                               atol=1e-7)
    np.testing.assert_allclose(late.t[0], [3 * np.pi / 2, 5 * np.pi / 2], atol=1e-7)


def test_oblique_plane_and_offset():
    # the plane x + v = 1 (normal given per state) on circles of radius 2
    section = poincare_section("harmonic_oscillator", [2.0, 0.0], [1.0, 1.0], 1.0,
                               duration=7, direction=0)
    np.testing.assert_allclose(section.points.sum(axis=1), 1.0, atol=1e-8)
    np.testing.assert_allclose(np.hypot(*section.points.T), 2.0, rtol=1e-7)


def test_failed_trajectory_keeps_its_crossings():
    system = dynsim.System(name="blow", states=["x", "y"], params={},
                           rhs=lambda t, y, p: np.stack([np.ones_like(y[..., 0]),
                                                         y[..., 1] ** 2], axis=-1))
    # x = t crosses x = 0.5 at t = 0.5, then y = 1 / (1 - t) blows up at t = 1
    section = poincare_section(system, [[0.0, 1.0], [0.0, -1.0]], {"x": 1.0}, 0.5,
                               duration=2)
    assert section.status[0] == "non_finite" and section.messages[0]
    assert section.status[1] == "success"
    np.testing.assert_allclose(section.t[0], [0.5])
    np.testing.assert_allclose(section.y[0], [[0.5, 2.0]], rtol=1e-6)


@pytest.mark.parametrize(("normal", "kwargs", "message"), [
    ({"x": 0.0}, {}, "must not be zero"),
    ({"w": 1.0}, {}, "unknown state 'w'"),
    ([1.0], {}, "normal must be 2 finite numbers"),
    ({"x": 1.0}, {"direction": 2}, "direction must be -1, 0 or 1"),
    ({"x": 1.0}, {"duration": 0}, "duration must be positive"),
])
def test_bad_sections(normal, kwargs, message):
    options = {"duration": 1.0, **kwargs}
    with pytest.raises(DynsimError, match=message):
        poincare_section("harmonic_oscillator", [1.0, 0.0], normal, **options)


def test_bad_initial_state():
    with pytest.raises(InputError, match="needs 2 values"):
        poincare_section("harmonic_oscillator", [1.0, 0.0, 3.0], {"x": 1}, duration=1)
