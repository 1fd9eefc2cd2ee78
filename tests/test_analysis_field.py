"""Planes, direction fields and evenly spaced streamlines (dynsim.analysis)."""

from __future__ import annotations

import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from scipy.spatial import cKDTree

import dynsim
from dynsim.analysis import direction_field, evenly_spaced_streamlines, make_plane
from dynsim.core.errors import InputError, ParameterError, UnknownNameError


def free_plane_system() -> dynsim.System:
    """A 3-D linear system with no bounds (ranges must be given)."""
    return dynsim.System(name="free", states=["a", "b", "c"], params={"k": 1.0},
                         rhs=lambda t, y, p: -p["k"] * y)


def rhs_at(name: str, t: float, points: np.ndarray, **params: float) -> np.ndarray:
    system = dynsim.system(name)
    return system.rhs(t, points, system.parameter_values(params))


def test_analysis_imports_neither_qt_nor_torch():
    code = ("import sys, dynsim.analysis; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('torch', 'PySide6', 'pyqtgraph')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"


# --- planes -------------------------------------------------------------------------------

def test_default_plane_uses_first_two_states_bounds_and_midpoints():
    plane = make_plane("lorenz")
    assert plane.names == ("x", "y")
    assert plane.xlim == (-25.0, 25.0) and plane.ylim == (-30.0, 30.0)
    assert plane.slice_values == {"z": 27.5}
    assert plane.t == 0.0


def test_plane_axes_ranges_slice_values_and_time():
    plane = make_plane("lorenz", ("z", "x"), xlim=(0, 10), at={"y": 2.0}, t=3.0)
    assert plane.names == ("z", "x") and plane.axes == (2, 0)
    assert plane.xlim == (0.0, 10.0) and plane.ylim == (-25.0, 25.0)
    assert plane.slice_values == {"y": 2.0}
    np.testing.assert_array_equal(plane.lift(np.array([1.0]), np.array([4.0])), [[4, 2, 1]])


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"axes": ("x", "q")}, UnknownNameError, "unknown state"),
    ({"axes": ("x", "x")}, InputError, "two different"),
    ({"axes": ("x",)}, InputError, "two different"),
    ({"at": {"x": 1.0}}, InputError, "is an axis"),
    ({"at": {"z": float("nan")}}, InputError, "finite"),
    ({"xlim": (3, 1)}, InputError, "low < high"),
    ({"ylim": "ab"}, InputError, "two numbers"),
    ({"t": float("inf")}, InputError, "t must be"),
])
def test_plane_rejects_bad_input(kwargs, error, words):
    with pytest.raises(error, match=words):
        make_plane("lorenz", **kwargs)


def test_plane_without_bounds_needs_ranges_and_slice_values():
    system = free_plane_system()
    with pytest.raises(InputError, match="no default bounds for a, b"):
        make_plane(system)
    with pytest.raises(InputError, match="no default bounds for c"):
        make_plane(system, xlim=(-1, 1), ylim=(-1, 1))
    plane = make_plane(system, xlim=(-1, 1), ylim=(-2, 2), at={"c": 0.5})
    assert plane.slice_values == {"c": 0.5}


def test_plane_of_another_system_is_rejected():
    with pytest.raises(InputError, match="plane is over states x, y, z"):
        direction_field("lotka_volterra", make_plane("lorenz"))


# --- direction field ----------------------------------------------------------------------

def test_field_vectors_equal_rhs_at_grid_points():
    field = direction_field("lotka_volterra", resolution=(7, 5), params={"alpha": 2.0})
    assert field.x.shape == (7,) and field.y.shape == (5,)
    assert field.u.shape == field.v.shape == field.magnitude.shape == (5, 7)
    np.testing.assert_array_equal(field.x, np.linspace(0, 5, 7))
    np.testing.assert_array_equal(field.y, np.linspace(0, 5, 5))
    gx, gy = np.meshgrid(field.x, field.y)
    expected = rhs_at("lotka_volterra", 0.0, np.stack([gx, gy], axis=-1), alpha=2.0)
    np.testing.assert_array_equal(field.derivatives, expected)
    np.testing.assert_array_equal(field.u, expected[..., 0])
    np.testing.assert_array_equal(field.v, expected[..., 1])
    np.testing.assert_allclose(field.magnitude, np.hypot(expected[..., 0], expected[..., 1]))


def test_field_on_a_slice_of_a_3d_system():
    plane = make_plane("lorenz", ("x", "z"), at={"y": 2.0})
    field = direction_field("lorenz", plane, resolution=6)
    gx, gz = np.meshgrid(field.x, field.y)
    points = np.stack([gx, np.full_like(gx, 2.0), gz], axis=-1)
    expected = rhs_at("lorenz", 0.0, points)
    np.testing.assert_array_equal(field.derivatives, expected)
    np.testing.assert_array_equal(field.u, expected[..., 0])
    np.testing.assert_array_equal(field.v, expected[..., 2])


def test_unit_arrows_and_zero_magnitude_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        field = direction_field("center", resolution=7)  # the grid holds the origin
    length = np.hypot(field.u_unit, field.v_unit)
    zero = field.magnitude == 0
    assert zero.sum() == 1 and zero[3, 3]
    np.testing.assert_allclose(length[~zero], 1.0, rtol=1e-14)
    assert field.u_unit[3, 3] == 0 and field.v_unit[3, 3] == 0
    np.testing.assert_allclose(field.u_unit * field.magnitude, field.u, atol=1e-14)


def test_non_finite_field_values_give_zero_arrows():
    system = dynsim.System(name="pole", states=["x", "y"], params={},
                           rhs=lambda t, y, p: np.stack([1 / y[..., 0], y[..., 1]], axis=-1),
                           bounds={"x": (-1, 1), "y": (-1, 1)})
    field = direction_field(system, resolution=3)
    assert np.isinf(field.magnitude[:, 1]).all()
    assert (field.u_unit[:, 1] == 0).all() and (field.v_unit[:, 1] == 0).all()


@pytest.mark.parametrize("name", ["pendulum", "duffing"])
def test_field_of_non_autonomous_system_uses_plane_time(name):
    at_zero = direction_field(name, make_plane(name, t=0.0), resolution=5)
    at_two = direction_field(name, make_plane(name, t=2.0), resolution=5)
    gx, gy = np.meshgrid(at_two.x, at_two.y)
    expected = rhs_at(name, 2.0, np.stack([gx, gy], axis=-1))
    np.testing.assert_array_equal(at_two.derivatives, expected)
    assert not np.allclose(at_zero.v, at_two.v)


def test_field_checks_params_and_resolution():
    with pytest.raises(ParameterError, match="outside its range"):
        direction_field("lorenz", params={"rho": -1.0})
    with pytest.raises(UnknownNameError, match="did you mean 'rho'"):
        direction_field("lorenz", params={"rh": 1.0})
    for bad in (1, (3,), (3, 1), 2.5, "a"):
        with pytest.raises(InputError, match="resolution"):
            direction_field("lorenz", resolution=bad)


def test_wrong_rhs_shape_is_reported():
    system = dynsim.System(name="bad", states=["x", "y"], params={},
                           rhs=lambda t, y, p: y[..., 0], bounds={"x": (0, 1), "y": (0, 1)})
    with pytest.raises(dynsim.DynsimError, match="rhs returned shape"):
        direction_field(system)


def test_field_40x40_is_fast():
    direction_field("lorenz", resolution=40)  # warm-up
    start = time.perf_counter()
    direction_field("lorenz", resolution=40)
    assert time.perf_counter() - start < 0.1


# --- streamlines --------------------------------------------------------------------------

def box_units(lines, plane):
    origin = np.array([plane.xlim[0], plane.ylim[0]])
    width = np.array([plane.xlim[1] - plane.xlim[0], plane.ylim[1] - plane.ylim[0]])
    return [(line - origin) / width for line in lines], width


STREAMLINE_CASES = [("lotka_volterra", {}), ("van_der_pol", {}), ("stable_spiral", {}),
                    ("saddle", {}), ("center", {}), ("pendulum", {"t": 1.0}),
                    ("lorenz", {"axes": ("x", "z"), "at": {"y": 1.0}})]


@pytest.mark.parametrize(("name", "plane_args"), STREAMLINE_CASES)
def test_streamlines_are_evenly_spaced_inside_and_follow_the_field(name, plane_args):
    plane = make_plane(name, **plane_args)
    result = evenly_spaced_streamlines(name, plane, separation=0.04)
    assert result.separation == 0.04 and result.test_ratio == 0.5
    assert len(result.lines) > 10
    units, width = box_units(result.lines, plane)
    points = np.vstack(units)
    owner = np.concatenate([np.full(len(u), k) for k, u in enumerate(units)])
    assert points.min() >= 0.0 and points.max() <= 1.0
    # no two points of different lines closer than d_test = 0.5 * d_sep
    pairs = cKDTree(points).query_pairs(0.5 * 0.04 * (1 - 1e-9), output_type="ndarray")
    assert not np.any(owner[pairs[:, 0]] != owner[pairs[:, 1]])
    # the plane is covered: every probe is within d_sep of a line
    probes = np.stack(np.meshgrid(*[(np.arange(20) + 0.5) / 20] * 2), axis=-1).reshape(-1, 2)
    assert cKDTree(points).query(probes)[0].max() < 0.04
    # each segment points along the field (forward in time) at its midpoint
    system = dynsim.system(name)
    cosines = []
    for line, unit in zip(result.lines, units, strict=True):
        mid = (line[1:] + line[:-1]) / 2
        chord = np.diff(unit, axis=0)
        f = system.rhs(plane.t, plane.lift(mid[:, 0], mid[:, 1]),
                       system.parameter_values())[..., list(plane.axes)] / width
        cosines.append(np.sum(chord * f, axis=1)
                       / np.linalg.norm(chord, axis=1) / np.linalg.norm(f, axis=1))
    cosines = np.concatenate(cosines)
    assert cosines.min() > 0.5
    assert np.quantile(cosines, 0.02) > 0.99


def test_streamlines_with_three_percent_separation_are_fast():
    start = time.perf_counter()
    result = evenly_spaced_streamlines("van_der_pol", separation=0.03)
    assert time.perf_counter() - start < 2.0
    assert len(result.lines) > 20


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"separation": 0.0}, "separation"), ({"separation": 0.9}, "separation"),
    ({"separation": "a"}, "separation"), ({"test_ratio": 0.0}, "test_ratio"),
    ({"test_ratio": 1.5}, "test_ratio")])
def test_streamlines_reject_bad_spacing(kwargs, words):
    with pytest.raises(InputError, match=words):
        evenly_spaced_streamlines("saddle", **kwargs)
