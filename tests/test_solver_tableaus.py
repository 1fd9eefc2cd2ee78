"""Butcher tableaus: consistency checks, order conditions on rooted trees, scipy agreement."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest
from dynsim.builtin_plugins.solvers import explicit_rk
from scipy.integrate._ivp import rk as scipy_rk

import dynsim
from dynsim.core.errors import DynsimError
from dynsim.numerics import ButcherTableau, RungeKuttaSolver, get_tableau
from dynsim.numerics.backend import NumpyBackend
from dynsim.numerics.dense import DenseStep

TABLEAUS = {t.name: t for t, _ in explicit_rk.SOLVERS}
ADAPTIVE = [t for t in TABLEAUS.values() if t.adaptive]

# -- rooted trees and elementary weights (Butcher's order conditions) ------------------


@cache
def trees(order: int) -> tuple[tuple, ...]:
    """All rooted trees with `order` nodes, each a sorted tuple of its subtrees."""
    if order == 1:
        return ((),)
    found: set[tuple] = set()

    def build(remaining: int, largest: int, children: tuple) -> None:
        if remaining == 0:
            found.add(tuple(sorted(children)))
            return
        for size in range(min(remaining, largest), 0, -1):
            for child in trees(size):
                build(remaining - size, size, (*children, child))

    build(order - 1, order - 1, ())
    return tuple(sorted(found))


def size(tree: tuple) -> int:
    return 1 + sum(size(c) for c in tree)


def density(tree: tuple) -> int:
    return size(tree) * math.prod(density(c) for c in tree)


def weights(tree: tuple, a: np.ndarray) -> np.ndarray:
    """g(t) per stage: the product over the children u of A g(u) (ones for a leaf)."""
    out = np.ones(a.shape[0])
    for child in tree:
        out = out * (a @ weights(child, a))
    return out


def residuals(a: np.ndarray, b: np.ndarray, order: int) -> list[float]:
    """|b . g(t) - 1/gamma(t)| for every tree of exactly `order` nodes."""
    return [abs(b @ weights(t, a) - 1.0 / density(t)) for t in trees(order)]


def test_tree_counts_match_the_known_sequence():
    assert [len(trees(n)) for n in range(1, 9)] == [1, 1, 2, 4, 9, 20, 48, 115]


@pytest.mark.parametrize("name", sorted(TABLEAUS))
def test_method_has_its_order_and_not_more(name):
    tableau = TABLEAUS[name]
    a, b = tableau.matrix(), np.array(tableau.b)
    for order in range(1, tableau.order + 1):
        assert max(residuals(a, b, order)) < 1e-10, f"order condition {order} fails"
    assert max(residuals(a, b, tableau.order + 1)) > 1e-6


def attained_order(a: np.ndarray, b: np.ndarray) -> int:
    """The largest p such that every order condition up to p holds."""
    order = 0
    while order < 9 and max(residuals(a, b, order + 1)) < 1e-10:
        order += 1
    return order


@pytest.mark.parametrize("tableau", ADAPTIVE, ids=lambda t: t.name)
def test_embedded_solutions_have_their_orders(tableau):
    a, b = tableau.matrix(), np.array(tableau.b)
    main = attained_order(a, b - np.array(tableau.b_error))
    if tableau.b_error_low is None:
        assert main == tableau.error_order
    else:  # DOP853: |e|^2 / sqrt(|e|^2 + 0.01 |e_low|^2) ~ h^(2 q - q_low + 1)
        low = attained_order(a, b - np.array(tableau.b_error_low))
        assert (main, low) == (5, 3)
        assert 2 * main - low == tableau.error_order


def extended(tableau: ButcherTableau) -> tuple[np.ndarray, np.ndarray]:
    """A over the FSAL-form and dense-output stages, and the dense coefficients."""
    mats = tableau.matrices
    s, x = mats.stages, len(mats.dense_c)
    a = np.zeros((s + x, s + x))
    a[:s, :s] = mats.A
    a[s:, :] = mats.dense_A
    return a, mats.dense


@pytest.mark.parametrize("name", sorted(TABLEAUS))
def test_dense_output_has_its_order_at_every_theta(name):
    tableau = TABLEAUS[name]
    a, dense = extended(tableau)
    order = min(tableau.interpolant_order, tableau.order)
    for theta in (0.1, 0.37, 0.5, 0.82, 1.0):
        b_theta = dense @ theta ** np.arange(1, dense.shape[1] + 1)
        for tree_order in range(1, order + 1):
            for tree in trees(tree_order):
                target = theta ** tree_order / density(tree)
                assert abs(b_theta @ weights(tree, a) - target) < 1e-10
    assert extended(TABLEAUS["dopri5"])[1].shape[1] == 4
    assert TABLEAUS["dop853"].interpolant_order == 7


def test_default_interpolant_is_cubic_hermite():
    assert TABLEAUS["bosh3"].dense is None
    assert TABLEAUS["bosh3"].interpolant_order == 3
    np.testing.assert_allclose(TABLEAUS["bosh3"].matrices.dense, scipy_rk.RK23.P, atol=1e-15)


@pytest.mark.parametrize("name", sorted(TABLEAUS))
def test_consistency_identities(name):
    tableau = TABLEAUS[name]
    mats = tableau.matrices
    np.testing.assert_allclose(mats.A.sum(axis=1), mats.c, atol=1e-14)
    assert math.isclose(mats.b.sum(), 1.0, abs_tol=1e-14)
    assert np.allclose(mats.A[-1, :-1], mats.b[:-1]) and mats.b[-1] == 0 and mats.c[-1] == 1
    if tableau.adaptive:
        assert abs(mats.e.sum()) < 1e-14
    np.testing.assert_allclose(mats.dense.sum(axis=1), np.append(mats.b, [0] * len(mats.dense_c)),
                               atol=1e-12)


def test_scipy_rk45_and_rk23_coefficients_agree():
    dopri5, bosh3 = TABLEAUS["dopri5"].matrices, TABLEAUS["bosh3"].matrices
    np.testing.assert_allclose(dopri5.A[:6, :5], scipy_rk.RK45.A, atol=1e-15)
    np.testing.assert_allclose(dopri5.b[:6], scipy_rk.RK45.B, atol=1e-15)
    np.testing.assert_allclose(dopri5.e, scipy_rk.RK45.E, atol=1e-15)
    np.testing.assert_allclose(dopri5.dense, scipy_rk.RK45.P, atol=1e-14)
    np.testing.assert_allclose(bosh3.A[:3, :3], scipy_rk.RK23.A, atol=1e-15)
    np.testing.assert_allclose(bosh3.e, scipy_rk.RK23.E, atol=1e-15)


def test_scipy_dop853_coefficients_and_dense_output_agree():
    mats = TABLEAUS["dop853"].matrices
    d853 = scipy_rk.DOP853
    np.testing.assert_allclose(mats.A[:12, :12], d853.A, atol=1e-15)
    np.testing.assert_allclose(mats.b[:12], d853.B, atol=1e-15)
    np.testing.assert_allclose(mats.e, d853.E5, atol=1e-15)
    np.testing.assert_allclose(mats.e_low, d853.E3, atol=1e-15)
    np.testing.assert_allclose(mats.dense_c, d853.C_EXTRA, atol=1e-15)
    np.testing.assert_allclose(mats.dense_A[:, :13], d853.A_EXTRA[:, :13], atol=1e-15)
    # the dense output in powers of theta equals scipy's nested form on random stages
    rng = np.random.default_rng(3)
    h, y0 = 0.3, rng.normal(size=4)
    k = rng.normal(size=(16, 4))
    y1 = y0 + h * mats.b @ k[:13]
    f_new = k[12]
    big_f = np.empty((7, 4))
    big_f[0] = y1 - y0
    big_f[1] = h * k[0] - big_f[0]
    big_f[2] = 2 * big_f[0] - h * (f_new + k[0])
    big_f[3:] = h * d853.D @ k
    reference = scipy_rk.Dop853DenseOutput(0.0, h, y0, big_f)
    step = DenseStep(NumpyBackend(y0), mats.dense, h * k, y0[None, :])
    for theta in (0.0, 0.25, 0.6, 1.0):
        np.testing.assert_allclose(step(np.array([theta]))[0], reference(theta * h),
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("change", "message"), [
    ({"a": [[], [0.4]]}, "row 1 of a sums"),
    ({"b": [0.5, 0.6]}, "weights b sum"),
    ({"b_error": [0.1, 0.0], "error_order": 1}, "b_error must be"),
    ({"b_error": [0.1, -0.1]}, "both b_error and error_order"),
    ({"fsal": True}, "FSAL"),
    ({"dense": [[1, 0], [0, 0], [0, 0]], "dense_order": 1}, "dense row"),
    ({"dense": [[1.0]], "dense_order": 1}, "dense must have"),
    ({"c": [0.1, 0.5], "a": [[], [0.5]]}, r"c\[0\] must be 0"),
    ({"order": 0}, "order must be"),
])
def test_inconsistent_tableaus_are_rejected(change, message):
    fields = dict(name="bad", order=2, c=[0, 0.5], a=[[], [0.5]], b=[0, 1])
    fields.update(change)
    with pytest.raises(ValueError, match=message):
        ButcherTableau(**fields)


def test_all_eight_methods_are_registered_by_the_plugin():
    solvers = dynsim.solvers()
    for name in ("euler", "midpoint", "heun", "rk4", "bosh3", "dopri5", "tsit5", "dop853"):
        assert isinstance(solvers[name], RungeKuttaSolver)
        assert solvers[name].tableau.reference
    assert {n for n, s in solvers.items() if getattr(s, "adaptive", False)} >= {
        "bosh3", "dopri5", "tsit5", "dop853"}
    plugin = dynsim.active_plugins().entries("solvers")["dopri5"].plugin
    assert plugin == "dynsim.solvers.explicit_rk"


def test_get_tableau_finds_registered_methods_by_name():
    assert get_tableau("tsit5") is TABLEAUS["tsit5"]
    with pytest.raises(DynsimError, match="unknown solver"):
        get_tableau("rk45")
