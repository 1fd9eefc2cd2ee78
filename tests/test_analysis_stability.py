"""Jacobians, eigen-decomposition and the stability vocabulary (dynsim.analysis)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.linalg

import dynsim
from dynsim.analysis import (
    CLASSIFICATIONS,
    METHODS,
    classify,
    finite_difference_jacobian,
    jacobian_matrix,
    linearize,
)
from dynsim.core.errors import InputError, SystemDefinitionError, UnknownNameError

# --- Jacobians ----------------------------------------------------------------------------


def random_states(system: dynsim.System, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lo, hi = (np.array([system.bounds[s][k] for s in system.states]) for k in (0, 1))
    points = lo + (hi - lo) * rng.random((n, system.dimension))
    if system.name == "lotka_volterra":
        points = points + 0.01  # keep x, y > 0 as the model intends
    return points


@pytest.mark.parametrize("name", sorted(dynsim.systems()))
@pytest.mark.parametrize("method", ["central", "richardson"])
def test_finite_differences_match_every_analytic_jacobian(name, method):
    system = dynsim.system(name)
    points = random_states(system, 40)
    exact = jacobian_matrix(name, points, method="system", t=0.7)
    approx = jacobian_matrix(name, points, method=method, t=0.7)
    assert approx.shape == exact.shape == (40, system.dimension, system.dimension)
    scale = np.maximum(1.0, np.abs(exact).max(axis=(-2, -1), keepdims=True))
    assert np.max(np.abs(approx - exact) / scale) < (1e-7 if method == "central" else 1e-10)


def test_finite_differences_of_a_known_function_and_batch_shapes():
    def f(y):
        x, v = y[..., 0], y[..., 1]
        return np.stack([np.sin(x) * v, np.exp(0.5 * x) + v ** 3], axis=-1)

    y = np.random.default_rng(1).normal(size=(3, 4, 2)) * 3
    x, v = y[..., 0], y[..., 1]
    exact = np.stack([np.stack([np.cos(x) * v, np.sin(x)], axis=-1),
                      np.stack([0.5 * np.exp(0.5 * x), 3 * v ** 2], axis=-1)], axis=-2)
    for richardson, tol in ((False, 1e-8), (True, 1e-11)):
        approx = finite_difference_jacobian(f, y, richardson=richardson)
        assert approx.shape == (3, 4, 2, 2)
        np.testing.assert_allclose(approx, exact, rtol=tol, atol=tol * np.abs(exact).max())


def test_auto_method_uses_the_system_jacobian_or_richardson():
    state = np.array([1.0, 2.0, 3.0])
    exact = jacobian_matrix("lorenz", state)
    np.testing.assert_array_equal(exact, jacobian_matrix("lorenz", state, method="system"))
    no_jac = dataclasses.replace(dynsim.system("lorenz"), jacobian=None)
    np.testing.assert_array_equal(jacobian_matrix(no_jac, state),
                                  jacobian_matrix(no_jac, state, method="richardson"))
    np.testing.assert_allclose(jacobian_matrix(no_jac, state), exact, atol=1e-9)
    assert set(METHODS) == {"auto", "system", "central", "richardson"}


def test_jacobian_errors():
    no_jac = dataclasses.replace(dynsim.system("saddle"), jacobian=None)
    with pytest.raises(InputError, match="has no Jacobian"):
        jacobian_matrix(no_jac, [0.0, 0.0], method="system")
    with pytest.raises(UnknownNameError, match="did you mean 'central'"):
        jacobian_matrix("saddle", [0.0, 0.0], method="centra")
    with pytest.raises(InputError, match="2 values per point"):
        jacobian_matrix("saddle", [0.0, 0.0, 0.0])
    bad = dataclasses.replace(dynsim.system("saddle"), jacobian=lambda t, y, p: np.eye(3))
    with pytest.raises(SystemDefinitionError, match="jacobian returned shape"):
        jacobian_matrix(bad, [0.0, 0.0])


# --- classification -----------------------------------------------------------------------

CASES = [
    ([-1, -2], "stable node"),
    ([-1, -1], "stable node"),  # star or degenerate node
    ([1, 2], "unstable node"),
    ([1, -1], "saddle"),
    ([-1 + 2j, -1 - 2j], "stable focus"),
    ([1 + 2j, 1 - 2j], "unstable focus"),
    ([2j, -2j], "center"),
    ([0, -1], "non-hyperbolic"),
    ([0, 0], "non-hyperbolic"),
    ([1e-10, -1], "non-hyperbolic"),
    ([1e-6, -1], "saddle"),
    ([-1, -2 + 3j, -2 - 3j], "stable focus"),
    ([1, 2 + 3j, 2 - 3j], "unstable focus"),
    ([1, 2, 3], "unstable node"),
    ([1, -2 + 3j, -2 - 3j], "saddle-focus"),
    ([-1, 2 + 3j, 2 - 3j], "saddle-focus"),
    ([1, 2, -3], "saddle"),
    ([1j, -1j, -1], "non-hyperbolic"),
    ([1j, -1j, 2j, -2j], "center"),
    ([1j, -1j, 0, 0], "non-hyperbolic"),
]


@pytest.mark.parametrize(("eigenvalues", "expected"), CASES)
def test_classification_vocabulary(eigenvalues, expected):
    assert classify(np.array(eigenvalues, dtype=complex)) == expected
    assert expected in CLASSIFICATIONS


def test_classification_scale_and_tolerance():
    # zero means |Re| <= tol * scale: 1e-6 is zero against a scale of 1e3 (tol 1e-8) ...
    assert classify([1e-6, -1], scale=1.0) == "saddle"
    assert classify([1e-6, -1], scale=1e3) == "non-hyperbolic"
    assert classify([1e-6, -1], scale=1.0, tol=1e-5) == "non-hyperbolic"
    # ... and a tiny rotation does not make a focus (sqrt(tol) rule for imaginary parts)
    assert classify([-1 + 1e-5j, -1 - 1e-5j]) == "stable node"
    assert classify([-1 + 1e-3j, -1 - 1e-3j]) == "stable focus"
    for bad in ([], [np.nan, 1]):
        with pytest.raises(InputError, match="eigenvalues"):
            classify(bad)
    with pytest.raises(InputError, match="tol"):
        classify([1, 2], tol=0.0)


def test_degenerate_node_with_rounding_stays_a_node():
    p = np.array([[2.0, 1.0], [1.0, 1.0]])
    jordan = p @ np.array([[-1.0, 1.0], [0.0, -1.0]]) @ np.linalg.inv(p)
    eigenvalues = np.linalg.eigvals(jordan)
    assert np.abs(eigenvalues.imag).max() > 0 or eigenvalues[0] != eigenvalues[1]
    assert classify(eigenvalues, scale=np.linalg.norm(jordan)) == "stable node"


# --- linearize ----------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "state"), [
    ("lorenz", [8.0, 8.0, 27.0]), ("rossler", [1.0, -2.0, 3.0]), ("van_der_pol", [0.5, 1.0]),
    ("lotka_volterra", [1.0, 2.0]), ("sir", [0.5, 0.2, 0.3]),
])
def test_linearize_agrees_with_scipy(name, state):
    lin = linearize(name, state)
    system = dynsim.system(name)
    exact = system.jacobian(0.0, np.array(state, dtype=float), system.parameter_values())
    np.testing.assert_array_equal(lin.jacobian, exact)
    reference = scipy.linalg.eig(exact)[0]
    np.testing.assert_allclose(np.sort_complex(lin.eigenvalues), np.sort_complex(reference),
                               atol=1e-12)
    # sorted by real part, descending; unit eigenvectors with J v = lambda v
    assert np.all(np.diff(lin.eigenvalues.real) <= 1e-12)
    np.testing.assert_allclose(np.linalg.norm(lin.eigenvectors, axis=0), 1.0)
    np.testing.assert_allclose(exact @ lin.eigenvectors, lin.eigenvectors * lin.eigenvalues,
                               atol=1e-10)
    np.testing.assert_array_equal(lin.state, state)


@pytest.mark.parametrize("name", ["attractor", "repulsor", "saddle", "center", "stable_spiral",
                                  "unstable_spiral", "linear"])
def test_finite_difference_linearization_classifies_like_the_analytic_one(name):
    no_jac = dataclasses.replace(dynsim.system(name), jacobian=None)
    for method in ("central", "richardson"):
        lin = linearize(no_jac, [0.3, -0.2], method=method)
        assert lin.classification == linearize(name, [0.3, -0.2]).classification


def test_linearize_params_time_and_errors():
    lin = linearize("pendulum", [0.0, 0.0], params={"damping": 0.0}, t=1.0)
    assert lin.classification == "center"
    np.testing.assert_allclose(lin.eigenvalues, [1j, -1j])
    assert linearize("van_der_pol", [0.0, 0.0], params={"mu": 3.0}).classification == \
        "unstable node"
    with pytest.raises(InputError, match="2 finite values"):
        linearize("saddle", [0.0])
    with pytest.raises(InputError, match="2 finite values"):
        linearize("saddle", [0.0, np.inf])
    broken = dataclasses.replace(dynsim.system("saddle"),
                                 jacobian=lambda t, y, p: np.full((*y.shape, 2), np.nan))
    with pytest.raises(InputError, match="not finite"):
        linearize(broken, [0.0, 0.0])
