"""Orbit diagrams: one batch for all values; Hopf closed form, Rössler period doubling, scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import dynsim
from dynsim.analysis import OrbitDiagram, orbit_diagram
from dynsim.core.errors import DynsimError

MU = np.array([0.25, 1.0, 2.25])


def test_hopf_maxima_are_sqrt_mu():
    diagram = orbit_diagram("hopf", "mu", MU, [0.1, 0.0], transient=60, duration=20)
    assert isinstance(diagram, OrbitDiagram)
    assert diagram.record == "maxima of x"
    assert (diagram.counts >= 3).all()  # ~20 / (2 pi) periods each
    values, x = diagram.coordinate("x")
    np.testing.assert_allclose(x, np.sqrt(values), rtol=1e-7)
    assert (diagram.t >= 60).all() and (diagram.t <= 80).all()
    assert np.all(np.diff(diagram.index) >= 0)


def test_hopf_section_crossings_closed_form():
    # counter-clockwise rotation: y rises through 0 at x = +sqrt(mu)
    diagram = orbit_diagram("hopf", "mu", MU, [0.1, 0.0], section={"y": 1.0},
                            transient=60, duration=20)
    assert diagram.record == "section y = 0"
    values, x = diagram.coordinate("x")
    np.testing.assert_allclose(x, np.sqrt(values), rtol=1e-7)
    np.testing.assert_allclose(diagram.coordinate("y")[1], 0.0, atol=1e-9)


def test_all_values_run_as_one_batch():
    calls = []
    hopf = dynsim.system("hopf")

    def recorded(t, y, p):
        calls.append((len(y), np.shape(p["mu"])))
        return hopf.rhs(t, y, p)

    system = dynsim.System(name="hopf_recorded", states=hopf.states, params=dict(hopf.params),
                           rhs=recorded, y0=(0.1, 0.0))
    orbit_diagram(system, "mu", np.linspace(0.1, 1.0, 25), transient=5, duration=5)
    assert calls[0] == (25, (25,))
    assert max(n for n, _ in calls) == 25


def scipy_maxima(c, transient, duration):
    rossler = dynsim.system("rossler")
    p = rossler.parameter_values({"c": c})

    def rhs(t, y):
        return rossler.rhs(t, y, p)

    def peak(t, y):
        return rhs(t, y)[0]

    peak.direction = -1
    settled = solve_ivp(rhs, (0, transient), [1.0, 1.0, 1.0], method="DOP853", rtol=1e-10,
                        atol=1e-10).y[:, -1]
    run = solve_ivp(rhs, (0, duration), settled, method="DOP853", rtol=1e-10, atol=1e-10,
                    events=peak)
    return run.y_events[0][:, 0]


@pytest.mark.slow
def test_rossler_period_doubling_matches_scipy():
    # a = b = 0.2: period 1 at c = 2.5, period 2 at c = 3.5, period 4 at c = 4, chaos at 5
    c = [2.5, 3.5, 4.0, 5.0]
    diagram = orbit_diagram("rossler", "c", c, transient=200, duration=120, rtol=1e-9,
                            atol=1e-9)
    distinct = []
    for j, value in enumerate(c):
        maxima = diagram.y[diagram.index == j, 0]
        levels = np.unique(np.round(maxima, 3))
        distinct.append(len(levels))
        if value < 5:
            reference = np.unique(np.round(scipy_maxima(value, 200, 120), 3))
            np.testing.assert_allclose(levels, reference, atol=2e-3)
    assert distinct[:3] == [1, 2, 4]
    assert distinct[3] > 8


def test_settled_values_record_nothing_and_other_params_apply():
    # a stable node (no oscillation) records no maxima; omega from params applies to all
    diagram = orbit_diagram("linear", "a", [-2.0, 0.0], [1.0, 1.0],
                            params={"b": 0.0, "c": 0.0, "d": -1.0}, transient=1, duration=5)
    assert diagram.counts.tolist() == [0, 0]
    assert diagram.y.shape == (0, 2)


def test_failed_value_is_reported():
    # x' = a x^2 from x = 1 blows up at t = 1 / a for a > 0
    system = dynsim.System(name="blow", states=["x"], params={"a": 1.0},
                           rhs=lambda t, y, p: p["a"][..., None] * y ** 2
                           if np.ndim(p["a"]) else p["a"] * y ** 2)
    diagram = orbit_diagram(system, "a", [-1.0, 1.0], [1.0], transient=2, duration=1)
    assert diagram.status == ("success", "failed in the transient")
    assert diagram.counts.tolist() == [0, 0]


@pytest.mark.parametrize(("parameter", "values", "kwargs", "message"), [
    ("nu", [1.0], {}, "unknown parameter 'nu'"),
    ("mu", [1.0, 9.0], {}, "lies outside its range"),
    ("mu", [], {}, "non-empty list of finite numbers"),
    ("mu", [1.0], {"state": "w"}, "unknown state 'w'"),
    ("mu", [1.0], {"transient": -1}, "transient must be >= 0"),
    ("mu", [1.0], {"y0": [[1, 0], [0, 1]]}, "one initial state"),
])
def test_bad_arguments(parameter, values, kwargs, message):
    with pytest.raises(DynsimError, match=message):
        orbit_diagram("hopf", parameter, values, **kwargs)


def test_equation_systems_take_a_parameter_per_row():
    from dynsim.core.expressions.equation_system import equation_system

    system = equation_system("hopf_text", ["x", "y"],
                             {"x": "mu*x - y - x*(x^2 + y^2)", "y": "x + mu*y - y*(x^2 + y^2)"},
                             {"mu": 1.0}, y0=[0.1, 0.0])
    diagram = orbit_diagram(system, "mu", MU, transient=60, duration=7)
    values, x = diagram.coordinate("x")
    np.testing.assert_allclose(x, np.sqrt(values), rtol=1e-7)
