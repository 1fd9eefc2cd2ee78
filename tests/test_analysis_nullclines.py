"""Nullclines against closed forms (dynsim.analysis.find_nullclines)."""

from __future__ import annotations

import time

import numpy as np
import pytest

import dynsim
from dynsim.analysis import find_nullclines, make_plane
from dynsim.core.errors import InputError


def vertices(lines) -> np.ndarray:
    return np.vstack(lines) if lines else np.empty((0, 2))


def cell(result) -> float:
    """The diagonal of one grid cell: the accuracy of linearly interpolated contours."""
    (x0, x1), (y0, y1) = result.plane.xlim, result.plane.ylim
    nx, ny = result.resolution
    return float(np.hypot((x1 - x0) / (nx - 1), (y1 - y0) / (ny - 1)))


def covers(values: np.ndarray, lo: float, hi: float, gap: float) -> bool:
    """Whether sorted `values` reach from lo to hi with no hole wider than `gap`."""
    v = np.sort(np.concatenate([[lo, hi], values]))
    return bool(np.diff(v).max() <= gap)


def test_lotka_volterra_nullclines_are_the_axes_and_the_lines():
    alpha, beta, gamma, delta = 1.5, 1.0, 1.0, 0.75
    result = find_nullclines("lotka_volterra", resolution=101)
    h = cell(result)
    x_pts, y_pts = vertices(result.lines["x"]), vertices(result.lines["y"])
    # every vertex of the x-nullclines lies on x = 0 or y = alpha/beta (exact along edges)
    on_axis, on_line = np.abs(x_pts[:, 0]) < 1e-12, np.abs(x_pts[:, 1] - alpha / beta) < 1e-12
    assert np.all(on_axis | on_line)
    # x = 0 lies on the box edge and is still found over the whole height, as is y = 1.5
    assert covers(x_pts[on_axis, 1], 0.0, 5.0, 2 * h)
    assert covers(x_pts[on_line, 0], 0.0, 5.0, 2 * h)
    on_axis, on_line = np.abs(y_pts[:, 1]) < 1e-12, np.abs(y_pts[:, 0] - gamma / delta) < 1e-12
    assert np.all(on_axis | on_line)
    assert covers(y_pts[on_axis, 0], 0.0, 5.0, 2 * h)
    assert covers(y_pts[on_line, 1], 0.0, 5.0, 2 * h)


def test_nullclines_follow_parameters():
    result = find_nullclines("lotka_volterra", params={"alpha": 2.0, "beta": 0.5})
    x_pts = vertices(result.lines["x"])
    assert np.all((np.abs(x_pts[:, 0]) < 1e-12) | (np.abs(x_pts[:, 1] - 4.0) < 1e-12))
    assert np.any(np.abs(x_pts[:, 1] - 4.0) < 1e-12)


@pytest.mark.parametrize("mu", [0.5, 1.0, 2.0])
def test_van_der_pol_nullclines(mu):
    result = find_nullclines("van_der_pol", params={"mu": mu})
    h = cell(result)
    x_pts = vertices(result.lines["x"])
    assert np.abs(x_pts[:, 1]).max() < 1e-12
    assert covers(x_pts[:, 0], -3.0, 3.0, 2 * h)
    # y-nullcline: mu (1 - x^2) y = x, i.e. y = x / (mu (1 - x^2))
    y_pts = vertices(result.lines["y"])
    g = mu * (1 - y_pts[:, 0] ** 2) * y_pts[:, 1] - y_pts[:, 0]
    grad = np.hypot(-2 * mu * y_pts[:, 0] * y_pts[:, 1] - 1, mu * (1 - y_pts[:, 0] ** 2))
    assert np.max(np.abs(g) / grad) < h  # distance to the curve, to first order
    for x in np.linspace(-3, 3, 61):
        if abs(abs(x) - 1) < 0.05:
            continue
        y = x / (mu * (1 - x * x))
        if abs(y) < 3.9:
            assert np.hypot(*(y_pts - (x, y)).T).min() < h


def test_slice_of_lorenz_has_a_nullcline_per_state():
    beta, rho = 8 / 3, 28.0
    plane = make_plane("lorenz", ("x", "y"), at={"z": 10.0})
    result = find_nullclines("lorenz", plane)
    assert set(result.lines) == {"x", "y", "z"}
    x_pts, y_pts, z_pts = (vertices(result.lines[n]) for n in "xyz")
    np.testing.assert_allclose(x_pts[:, 0], x_pts[:, 1], atol=1e-12)  # y = x
    np.testing.assert_allclose(y_pts[:, 1], y_pts[:, 0] * (rho - 10.0), atol=1e-9)
    h = cell(result)
    # z-nullcline x y = beta z: a hyperbola, checked as distance to first order
    g = z_pts[:, 0] * z_pts[:, 1] - beta * 10.0
    assert np.max(np.abs(g) / np.hypot(z_pts[:, 0], z_pts[:, 1])) < h
    assert len(z_pts) > 100


def test_nullclines_are_clipped_to_the_box():
    plane = make_plane("van_der_pol", xlim=(-0.5, 2.0), ylim=(-1.0, 3.0))
    result = find_nullclines("van_der_pol", plane, resolution=(50, 70))
    assert result.resolution == (50, 70)
    for lines in result.lines.values():
        for line in lines:
            assert line.shape[1] == 2 and len(line) >= 2
            assert line[:, 0].min() >= -0.5 and line[:, 0].max() <= 2.0
            assert line[:, 1].min() >= -1.0 and line[:, 1].max() <= 3.0
    # the x-nullcline y = 0 reaches both vertical edges exactly
    x_line = vertices(result.lines["x"])
    assert x_line[:, 0].min() == -0.5 and x_line[:, 0].max() == 2.0


def test_a_component_without_zeros_has_no_nullcline():
    result = find_nullclines("pendulum", params={"amplitude": 0.0}, resolution=50)
    assert result.lines["theta"]  # omega = 0
    system = dynsim.System(name="drift", states=["x", "y"], params={},
                           rhs=lambda t, y, p: np.stack([1 + 0 * y[..., 0], y[..., 0]], axis=-1),
                           bounds={"x": (-1, 1), "y": (-1, 1)})
    result = find_nullclines(system, resolution=20)
    assert result.lines["x"] == ()
    assert len(result.lines["y"]) == 1


def test_nullclines_skip_non_finite_values():
    system = dynsim.System(
        name="logs", states=["x", "y"], params={},
        rhs=lambda t, y, p: np.stack([np.log(y[..., 0]), y[..., 1]], axis=-1),
        bounds={"x": (-1, 2), "y": (-1, 1)})
    result = find_nullclines(system, resolution=61)
    x_pts = vertices(result.lines["x"])
    np.testing.assert_allclose(x_pts[:, 0], 1.0, atol=cell(result))


def test_nullclines_reject_bad_resolution():
    with pytest.raises(InputError, match="resolution"):
        find_nullclines("lotka_volterra", resolution=1)


def test_nullclines_200x200_are_fast():
    find_nullclines("van_der_pol", resolution=20)  # warm-up (imports)
    start = time.perf_counter()
    find_nullclines("lorenz", make_plane("lorenz", ("x", "z")), resolution=200)
    assert time.perf_counter() - start < 0.3
