"""The built-in systems: shapes, Jacobians, invariants and published forms."""

from __future__ import annotations

import numpy as np
import pytest

import dynsim

NAMES = sorted(dynsim.load_plugins(entry_points=False, environment=False).names("systems"))


def sample_points(system, shape=(7, 3), seed=0):
    rng = np.random.default_rng(seed)
    lo = np.array([system.bounds[s][0] for s in system.states])
    hi = np.array([system.bounds[s][1] for s in system.states])
    y = lo + (hi - lo) * rng.random((*shape, system.dimension))
    return np.where(np.abs(y) < 0.05, 0.05, y)  # keep clear of log singularities


def test_required_systems_are_registered():
    assert {"lotka_volterra", "lorenz", "linear", "attractor", "repulsor", "saddle", "center",
            "stable_spiral", "unstable_spiral", "van_der_pol", "pendulum", "duffing", "rossler",
            "hopf", "sir", "harmonic_oscillator", "cubic_spiral"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_builtin_has_ranges_bounds_and_vectorised_rhs(name):
    system = dynsim.system(name)
    assert system.bounds is not None and set(system.bounds) == set(system.states)
    assert system.y0 is not None and system.description
    for param in system.params.values():
        assert param.min is not None and param.max is not None
    p = system.parameter_values()
    y = sample_points(system)
    out = system.rhs(0.3, y, p)
    assert out.shape == y.shape
    # vectorised: the batch equals point-by-point evaluation; t may be an array too
    single = np.array([[system.rhs(0.3, row, p) for row in block] for block in y])
    np.testing.assert_allclose(out, single, rtol=1e-14)
    t = np.full(y.shape[:-1], 0.3)
    np.testing.assert_array_equal(system.rhs(t, y, p), out)


@pytest.mark.parametrize("name", [n for n in NAMES if dynsim.system(n).jacobian is not None])
def test_jacobian_matches_finite_differences(name):
    system = dynsim.system(name)
    p = system.parameter_values()
    y = sample_points(system, seed=1)
    jac = system.jacobian(0.7, y, p)
    assert jac.shape == (*y.shape, y.shape[-1])
    scale = max(1.0, float(np.abs(system.rhs(0.7, y, p)).max()))  # rounding grows with |f|
    for j in range(system.dimension):
        h = 1e-6 * np.maximum(1.0, np.abs(y[..., j]))
        step = np.zeros_like(y)
        step[..., j] = h
        column = (system.rhs(0.7, y + step, p) - system.rhs(0.7, y - step, p)) / (2 * h[..., None])
        np.testing.assert_allclose(jac[..., :, j], column, rtol=1e-6, atol=1e-6 * scale)


@pytest.mark.parametrize("name", [n for n in NAMES if dynsim.system(n).invariant is not None])
def test_invariant_is_conserved_by_the_vector_field(name):
    # dI/dt = grad I . f must vanish everywhere (checked with central differences)
    system = dynsim.system(name)
    p = system.parameter_values()
    y = np.abs(sample_points(system, seed=2))
    f = system.rhs(0.0, y, p)
    h = 1e-6
    rate = sum(
        (system.invariant(y + h * e, p) - system.invariant(y - h * e, p)) / (2 * h) * f[..., j]
        for j, e in enumerate(np.eye(system.dimension)))
    np.testing.assert_allclose(rate, 0.0, atol=1e-6 * max(1.0, float(np.abs(f).max())))


def test_published_defaults():
    lv = dynsim.system("lotka_volterra").parameter_values()
    assert lv == {"alpha": 1.5, "beta": 1.0, "delta": 0.75, "gamma": 1.0}
    lorenz = dynsim.system("lorenz").parameter_values()
    assert lorenz == {"sigma": 10.0, "rho": 28.0, "beta": 8.0 / 3.0}


def test_lotka_volterra_equations():
    s = dynsim.system("lotka_volterra")
    x, y = 2.0, 3.0
    np.testing.assert_allclose(s.rhs(0, np.array([x, y]), s.parameter_values()),
                               [1.5 * x - x * y, 0.75 * x * y - y])


def test_cubic_spiral_matches_the_torchdiffeq_demo():
    # examples/ode_demo.py: true_A = [[-0.1, 2.0], [-2.0, -0.1]]; dy/dt = mm(y**3, true_A)
    s = dynsim.system("cubic_spiral")
    y = np.random.default_rng(3).standard_normal((10, 2))
    true_a = np.array([[-0.1, 2.0], [-2.0, -0.1]])
    np.testing.assert_allclose(s.rhs(0, y, s.parameter_values()), (y ** 3) @ true_a, rtol=1e-15)


@pytest.mark.parametrize(("name", "kind"), [
    ("attractor", "stable node"), ("repulsor", "unstable node"), ("saddle", "saddle"),
    ("center", "center"), ("stable_spiral", "stable focus"),
    ("unstable_spiral", "unstable focus"),
])
def test_linear_presets_have_the_named_phase_portrait(name, kind):
    s = dynsim.system(name)
    eig = np.linalg.eigvals(s.jacobian(0, np.zeros(2), s.parameter_values()))
    re, im = eig.real, eig.imag
    found = {
        "stable node": np.all(re < 0) and np.all(im == 0),
        "unstable node": np.all(re > 0) and np.all(im == 0),
        "saddle": re.min() < 0 < re.max(),
        "center": np.all(re == 0) and np.all(im != 0),
        "stable focus": np.all(re < 0) and np.all(im != 0),
        "unstable focus": np.all(re > 0) and np.all(im != 0),
    }
    assert [k for k, v in found.items() if v] == [kind]


def test_non_autonomous_systems_depend_on_t():
    for name in ("pendulum", "duffing"):
        s = dynsim.system(name)
        y = np.array([0.3, 0.1])
        p = s.parameter_values()
        assert not np.allclose(s.rhs(0.0, y, p), s.rhs(1.0, y, p))
