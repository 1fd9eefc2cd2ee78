"""Basins of attraction: exact boundaries, scipy point by point, cycles, escapes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import dynsim
from dynsim.analysis import ESCAPED, UNRESOLVED, BasinMap, basins_of_attraction, make_plane
from dynsim.core.errors import DynsimError

BISTABLE = dynsim.System(
    name="bistable", states=["x", "y"], params={},
    rhs=lambda t, y, p: np.stack([y[..., 0] - y[..., 0] ** 3, -y[..., 1]], axis=-1),
    bounds={"x": (-2.0, 2.0), "y": (-2.0, 2.0)})


def test_bistable_boundary_is_x_equals_zero():
    # x' = x - x^3, y' = -y: x < 0 goes to (-1, 0), x > 0 to (1, 0); x = 0 stays on the
    # saddle's stable manifold and ends at the saddle
    basins = basins_of_attraction(BISTABLE, resolution=(21, 11))
    assert isinstance(basins, BasinMap)
    assert basins.labels.shape == (11, 21) and basins.final.shape == (11, 21, 2)
    kinds = [(a.kind, tuple(a.state), a.classification) for a in basins.attractors]
    assert kinds == [("equilibrium", (-1.0, 0.0), "stable node"),
                     ("equilibrium", (0.0, 0.0), "saddle"),
                     ("equilibrium", (1.0, 0.0), "stable node")]
    expected = np.sign(basins.x) + 1  # 0 left, 1 on x = 0, 2 right
    np.testing.assert_array_equal(basins.labels, np.broadcast_to(expected, (11, 21)))
    assert [a.points for a in basins.attractors] == [110, 11, 110]


def scipy_duffing_labels(xs, vs, t_end):
    """The well (-1 or +1 as 0 / 1) each start of the damped Duffing oscillator ends in."""
    duffing = dynsim.system("duffing")
    p = duffing.parameter_values({"gamma": 0.0})
    labels = np.empty((len(vs), len(xs)), dtype=int)
    for i, v in enumerate(vs):
        for j, x in enumerate(xs):
            end = solve_ivp(lambda t, y: duffing.rhs(t, y, p), (0, t_end), [x, v],
                            method="DOP853", rtol=1e-9, atol=1e-9).y[:, -1]
            labels[i, j] = 0 if end[0] < 0 else 1
    return labels


def test_damped_duffing_matches_a_scipy_loop_point_by_point():
    # x'' + 0.3 x' - x + x^3 = 0: wells at x = -1 and +1 with interleaved spiral basins
    plane = make_plane("duffing", xlim=(-2.5, 2.5), ylim=(-2.5, 2.5))
    basins = basins_of_attraction("duffing", plane, resolution=(12, 10),
                                  params={"gamma": 0.0})
    wells = {k: int(a.state[0] > 0) for k, a in enumerate(basins.attractors)
             if a.classification == "stable focus"}
    assert sorted(tuple(basins.attractors[k].state) for k in wells) == [(-1.0, 0.0),
                                                                         (1.0, 0.0)]
    ours = np.vectorize(lambda k: wells.get(k, -9))(basins.labels)
    reference = scipy_duffing_labels(basins.x, basins.y, 60.0)  # e^{-0.15 t}: in a well
    np.testing.assert_array_equal(ours, reference)
    assert 0 < (ours == 0).sum() < ours.size


def test_van_der_pol_has_one_cycle_and_the_unstable_focus():
    basins = basins_of_attraction("van_der_pol", resolution=9, t_end=40, window=20)
    cycle = [a for a in basins.attractors if a.kind == "cycle"]
    assert len(cycle) == 1
    np.testing.assert_allclose(cycle[0].maximum, [2.00862, 2.67848], atol=1e-4)
    np.testing.assert_allclose(cycle[0].minimum, -cycle[0].maximum, atol=1e-4)
    focus = [a for a in basins.attractors if a.kind == "equilibrium"]
    assert [a.classification for a in focus] == ["unstable focus"]
    # only the grid point at the origin stays at the focus (9 x 9 grid, centre (4, 4))
    labels = basins.labels
    index = {a.kind: k for k, a in enumerate(basins.attractors)}
    assert labels[4, 4] == index["equilibrium"]
    assert (labels == index["cycle"]).sum() == 80


def test_escaping_trajectories_are_labelled_escaped():
    # saddle x' = x, y' = -y: everything off the y axis leaves the escape box
    basins = basins_of_attraction("saddle", resolution=5, t_end=20)
    labels = basins.labels
    assert (labels[:, 2] >= 0).all()  # x = 0: falls into the saddle point
    assert (np.delete(labels, 2, axis=1) == ESCAPED).all()
    assert [a.classification for a in basins.attractors] == ["saddle"]


def test_failures_other_than_escape_are_unresolved():
    # the right-hand side raises left of x = -1.5: those trajectories end with rhs_error
    def rhs(t, y, p):
        if np.any(y[..., 0] < -1.5):
            raise ValueError("outside the model's domain")
        return np.stack([-np.ones_like(y[..., 0]), -y[..., 1]], axis=-1)

    system = dynsim.System(name="domain", states=["x", "y"], params={}, rhs=rhs,
                           bounds={"x": (-1.0, 1.0), "y": (-1.0, 1.0)})
    basins = basins_of_attraction(system, resolution=3, t_end=10)
    assert (basins.labels == UNRESOLVED).all()
    assert basins.attractors == ()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"resolution": 1}, "resolution must be whole numbers >= 2"),
    ({"t_end": 0}, "t_end must be positive"),
    ({"capture": -1}, "capture must be positive"),
    ({"params": {"gamma": -1}}, "lies outside its range"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(DynsimError, match=message):
        basins_of_attraction("duffing", **kwargs)
