"""Separatrices of saddles against closed-form invariant manifolds."""

import numpy as np
import pytest

import dynsim
from dynsim.analysis import find_equilibria
from dynsim.analysis.separatrices import separatrices
from dynsim.core.expressions import equation_system

BOX = {"x": (-2.0, 2.0), "y": (-2.0, 2.0)}


@pytest.fixture
def curved_saddle():
    # x' = x, y' = -y + x^2: unstable manifold y = x^2 / 3 exactly, stable manifold x = 0
    return equation_system("curved", ("x", "y"), {"x": "x", "y": "-y + x^2"}, {},
                           bounds=BOX)


def test_unstable_branches_follow_the_closed_form_manifold(curved_saddle):
    (saddle,) = find_equilibria(curved_saddle).equilibria
    branches = separatrices(curved_saddle, [saddle], box=BOX)
    unstable = [b for b in branches if b.kind == "unstable"]
    assert len(unstable) == 2
    for branch in unstable:
        x, y = branch.y[:, 0], branch.y[:, 1]
        assert np.abs(x).max() == pytest.approx(2.0, abs=1e-6)  # ran to the box edge
        assert np.abs(y - x ** 2 / 3).max() < 1e-5
        assert branch.status == dynsim.Status.EVENT and "'x'" in branch.message
    assert {np.sign(b.direction[0]) for b in unstable} == {-1.0, 1.0}


def test_stable_branches_run_backwards_along_the_stable_manifold(curved_saddle):
    (saddle,) = find_equilibria(curved_saddle).equilibria
    stable = [b for b in separatrices(curved_saddle, [saddle], box=BOX) if b.kind == "stable"]
    assert len(stable) == 2
    for branch in stable:
        assert np.abs(branch.y[:, 0]).max() < 1e-12  # x = 0 is invariant
        assert np.abs(branch.y[:, 1]).max() == pytest.approx(2.0, abs=1e-6)
        assert branch.eigenvalue == pytest.approx(-1.0)


def test_only_saddles_get_branches_and_only_one_dimensional_manifolds():
    attractor = find_equilibria("attractor").equilibria
    assert separatrices("attractor", attractor) == ()
    # Lorenz's origin: one unstable eigenvalue (a curve), two stable ones (a surface)
    lorenz = find_equilibria("lorenz", box={"x": (-1, 1), "y": (-1, 1), "z": (-1, 1)})
    origin = [e for e in lorenz.equilibria if np.allclose(e.state, 0)]
    branches = separatrices("lorenz", origin, duration=1.0)
    assert [b.kind for b in branches] == ["unstable", "unstable"]
    assert branches[0].eigenvalue == pytest.approx((-11 + np.sqrt(81 + 4 * 280)) / 2)


def test_a_fixed_step_solver_takes_dt_and_stays_on_the_manifold(curved_saddle):
    (saddle,) = find_equilibria(curved_saddle).equilibria

    def worst(dt):
        branches = separatrices(curved_saddle, [saddle], box=BOX, solver="rk4", dt=dt)
        unstable = [b for b in branches if b.kind == "unstable"]
        assert len(unstable) == 2
        for branch in unstable:
            assert np.abs(branch.y[:, 0]).max() == pytest.approx(2.0, abs=1e-6)
        return max(np.abs(b.y[:, 1] - b.y[:, 0] ** 2 / 3).max() for b in unstable)

    fine, coarse = worst(1e-2), worst(2e-1)
    assert fine < 1e-6  # rk4 at dt 0.01 stays on y = x^2 / 3
    assert coarse > 5 * fine  # dt reached the solver (the default step would give one value)
