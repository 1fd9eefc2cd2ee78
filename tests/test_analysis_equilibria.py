"""Equilibria in a box and their stability, against closed forms (find_equilibria)."""

from __future__ import annotations

import dataclasses
import json
import math
import time

import numpy as np
import pytest
import scipy.linalg

import dynsim
from dynsim.analysis import find_equilibria
from dynsim.core.errors import InputError, ParameterError


def states(search) -> np.ndarray:
    return np.array([e.state for e in search.equilibria])


def kinds(search) -> list[str]:
    return [e.classification for e in search.equilibria]


def assert_same_eigenvalues(actual, expected, atol=1e-9):
    actual = np.sort_complex(np.asarray(actual, dtype=complex))
    expected = np.sort_complex(np.asarray(expected, dtype=complex))
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=1e-9)


LINEAR = [
    ("attractor", {"lambda1": 1.0, "lambda2": 2.0}, [-1, -2], "stable node"),
    ("attractor", {"lambda1": 1.5, "lambda2": 1.5}, [-1.5, -1.5], "stable node"),  # star
    ("repulsor", {"lambda1": 0.5, "lambda2": 3.0}, [0.5, 3.0], "unstable node"),
    ("saddle", {"lambda1": 2.0, "lambda2": 0.5}, [2.0, -0.5], "saddle"),
    ("center", {"omega": 2.5}, [2.5j, -2.5j], "center"),
    ("stable_spiral", {"sigma": 0.3, "omega": 2.0}, [-0.3 + 2j, -0.3 - 2j], "stable focus"),
    ("unstable_spiral", {"sigma": 0.2, "omega": 1.0}, [0.2 + 1j, 0.2 - 1j], "unstable focus"),
    ("linear", {"a": -1.0, "b": 1.0, "c": 0.0, "d": -1.0}, [-1, -1], "stable node"),  # Jordan
    ("linear", {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0},
     [(5 + math.sqrt(33)) / 2, (5 - math.sqrt(33)) / 2], "saddle"),
    ("linear", {"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0}, [2.0, 0.0], "non-hyperbolic"),
]


@pytest.mark.parametrize(("name", "params", "eigenvalues", "kind"), LINEAR)
def test_linear_presets_have_the_origin_with_closed_form_eigenvalues(name, params,
                                                                   eigenvalues, kind):
    search = find_equilibria(name, params=params)
    if kind == "non-hyperbolic":  # singular matrix: a line of equilibria y = -x
        assert all(k == "non-hyperbolic" for k in kinds(search))
        np.testing.assert_allclose(states(search).sum(axis=1), 0.0, atol=1e-12)
        return
    assert len(search.equilibria) == 1
    (eq,) = search.equilibria
    np.testing.assert_allclose(eq.state, [0.0, 0.0], atol=1e-12)
    assert eq.classification == kind
    assert_same_eigenvalues(eq.eigenvalues, eigenvalues)


@pytest.mark.parametrize("rho", [28.0, 1.5, 100.0])
def test_lorenz_equilibria_match_closed_form(rho):
    beta, sigma = 8.0 / 3.0, 10.0
    box = {"x": (-40, 40), "y": (-40, 40), "z": (-1, 120)}
    search = find_equilibria("lorenz", params={"rho": rho}, box=box)
    c = math.sqrt(beta * (rho - 1))
    expected = np.array([[-c, -c, rho - 1], [0, 0, 0], [c, c, rho - 1]])
    np.testing.assert_allclose(states(search), expected, atol=1e-9, rtol=0)
    for eq in search.equilibria:
        x, y, z = eq.state
        jac = np.array([[-sigma, sigma, 0], [rho - z, -1, -x], [y, x, -beta]])
        assert_same_eigenvalues(eq.eigenvalues, scipy.linalg.eig(jac)[0])
    assert kinds(search)[1] == "saddle"
    if rho == 28.0:
        assert kinds(search) == ["saddle-focus", "saddle", "saddle-focus"]


def test_lorenz_rho_half_has_one_stable_node():
    search = find_equilibria("lorenz", params={"rho": 0.5})
    assert kinds(search) == ["stable node"]
    np.testing.assert_allclose(search.equilibria[0].state, 0.0, atol=1e-12)


def test_lotka_volterra_saddle_at_origin_on_the_box_edge_and_center():
    params = {"alpha": 1.2, "beta": 0.6, "gamma": 0.8, "delta": 0.4}
    search = find_equilibria("lotka_volterra", params=params)  # bounds start at 0
    assert kinds(search) == ["saddle", "center"]
    np.testing.assert_allclose(states(search), [[0, 0], [0.8 / 0.4, 1.2 / 0.6]],
                               atol=1e-12)
    omega = math.sqrt(1.2 * 0.8)
    assert_same_eigenvalues(search.equilibria[1].eigenvalues, [omega * 1j, -omega * 1j])


def test_equilibrium_on_edge_found_and_just_outside_excluded():
    on_edge = find_equilibria("attractor", box={"x": (0, 3), "y": (-3, 3)}, starts=6)
    assert len(on_edge.equilibria) == 1
    outside = find_equilibria("attractor", box={"x": (0.01, 3), "y": (-3, 3)}, starts=6)
    assert outside.equilibria == ()
    assert outside.outside == outside.converged > 0


def test_van_der_pol_origin():
    assert kinds(find_equilibria("van_der_pol")) == ["unstable focus"]
    assert kinds(find_equilibria("van_der_pol", params={"mu": 3.0})) == ["unstable node"]
    stiff = find_equilibria("van_der_pol", params={"mu": 1000.0})
    assert kinds(stiff) == ["unstable node"]  # eigenvalues ~1000 and ~0.001


def test_hopf_origin_changes_stability_with_mu():
    assert kinds(find_equilibria("hopf", params={"mu": -1.0})) == ["stable focus"]
    assert kinds(find_equilibria("hopf", params={"mu": 1.0})) == ["unstable focus"]


def test_degenerate_origin_of_cubic_spiral_is_one_non_hyperbolic_equilibrium():
    search = find_equilibria("cubic_spiral")
    assert kinds(search) == ["non-hyperbolic"]
    assert search.equilibria[0].hits == search.starts
    np.testing.assert_allclose(search.equilibria[0].state, 0.0, atol=1e-9)


def test_pendulum_equilibria_depend_on_time():
    # at t = 0 the drive (1.5) exceeds omega0^2 = 1: no equilibrium of the frozen field
    assert find_equilibria("pendulum").equilibria == ()
    # at t = 3 pi / 4 the drive cos(2 t / 3) vanishes: rest at 0, saddles at +-pi
    search = find_equilibria("pendulum", t=3 * math.pi / 4)
    np.testing.assert_allclose(states(search), [[-math.pi, 0], [0, 0], [math.pi, 0]],
                               atol=1e-10)
    assert kinds(search) == ["saddle", "stable focus", "saddle"]


def test_sir_continuum_of_equilibria_is_non_hyperbolic():
    search = find_equilibria("sir", starts=4)
    assert len(search.equilibria) > 1
    np.testing.assert_allclose(states(search)[:, 1], 0.0, atol=1e-12)
    assert set(kinds(search)) == {"non-hyperbolic"}


def test_four_dimensional_system():
    def rhs(t, y, p):
        a, b, c, d = (y[..., k] for k in range(4))
        return np.stack([b, -a - p["damping"] * b, d, -4 * c - p["damping"] * d], axis=-1)

    system = dynsim.System(name="pair", states=["a", "b", "c", "d"], params={"damping": 0.1},
                           rhs=rhs, bounds=[(-1, 1)] * 4)
    assert kinds(find_equilibria(system)) == ["stable focus"]
    assert kinds(find_equilibria(system, params={"damping": 0.0})) == ["center"]


@pytest.mark.parametrize("method", ["auto", "central", "richardson"])
def test_finite_difference_jacobian_gives_the_same_equilibria(method):
    system = dataclasses.replace(dynsim.system("lorenz"), jacobian=None)
    search = find_equilibria(system, method=method)
    reference = find_equilibria("lorenz")
    np.testing.assert_allclose(states(search), states(reference), atol=1e-9)
    assert kinds(search) == kinds(reference)
    for ours, exact in zip(search.equilibria, reference.equilibria, strict=True):
        assert_same_eigenvalues(ours.eigenvalues, exact.eigenvalues, atol=1e-6)


def test_box_is_required_without_bounds_and_checked():
    system = dataclasses.replace(dynsim.system("saddle"), bounds=None)
    with pytest.raises(InputError, match="no default bounds for x, y"):
        find_equilibria(system)
    with pytest.raises(InputError, match="no default bounds for y"):
        find_equilibria(system, box={"x": (-1, 1)})
    assert kinds(find_equilibria(system, box={"x": (-1, 1), "y": (-2, 2)})) == ["saddle"]
    with pytest.raises(InputError, match="low < high"):
        find_equilibria("saddle", box={"x": (1, -1)})
    with pytest.raises(dynsim.DynsimError, match="unknown state"):
        find_equilibria("saddle", box={"q": (0, 1)})
    with pytest.raises(ParameterError):
        find_equilibria("saddle", params={"lambda1": 100.0})
    for bad in (0, 1, 2.5, True):
        with pytest.raises(InputError, match="starts"):
            find_equilibria("saddle", starts=bad)


def test_tolerance_report_and_json_shape():
    search = find_equilibria("lorenz")
    assert search.starts == 8 ** 3
    assert search.converged == search.starts and search.outside == 0
    assert 0 < search.residual_tol < 1e-6
    assert sum(e.hits for e in search.equilibria) == search.converged
    doc = json.loads(json.dumps(search.to_dict()))
    assert doc["box"] == {"x": [-25.0, 25.0], "y": [-30.0, 30.0], "z": [0.0, 55.0]}
    origin = doc["equilibria"][1]
    assert origin["state"] == {"x": 0.0, "y": 0.0, "z": 0.0}
    assert origin["classification"] == "saddle"
    assert [set(v) for v in origin["eigenvalues"]] == [{"re", "im"}] * 3
    assert {"state", "classification", "eigenvalues", "residual"} <= set(origin)
    assert origin["residual"] <= search.residual_tol


def test_lorenz_equilibria_are_fast():
    find_equilibria("lorenz")  # warm-up
    start = time.perf_counter()
    find_equilibria("lorenz")
    assert time.perf_counter() - start < 0.5
