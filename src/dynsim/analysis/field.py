"""Direction fields: the vector field on a grid over a plane of state space."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dynsim.analysis.bound import bind_plane
from dynsim.analysis.grid import Plane
from dynsim.core.system import System

DEFAULT_FIELD_RESOLUTION = 25
"""Arrows per axis: 25 x 25 arrows are readable at ordinary plot sizes (pplane uses ~20)."""


@dataclass(frozen=True, eq=False)
class DirectionField:
    """The field sampled on a grid of `plane`; every 2-D array has shape (ny, nx).

    `x` (nx,) and `y` (ny,) are the grid coordinates (row i of a 2-D array is at `y[i]`,
    column j at `x[j]`). `derivatives` (ny, nx, D) holds the full rhs at the grid points
    (for slices of D > 2 systems it includes the out-of-plane components); `u`, `v` are the
    in-plane components and `magnitude` = hypot(u, v). `u_unit`, `v_unit` are the arrows
    normalised to unit length in data units; where the magnitude is zero or not finite they
    are 0 (and `magnitude` keeps the inf/NaN).
    """

    plane: Plane
    x: np.ndarray
    y: np.ndarray
    derivatives: np.ndarray
    u: np.ndarray
    v: np.ndarray
    magnitude: np.ndarray
    u_unit: np.ndarray
    v_unit: np.ndarray


def direction_field(system: str | System, plane: Plane | None = None, *,
                    resolution: int | Sequence[int] = DEFAULT_FIELD_RESOLUTION,
                    params: Mapping[str, float] | None = None) -> DirectionField:
    """The direction field of `system` on a `resolution` grid over `plane`.

    `plane` defaults to `make_plane(system)` (first two states over their bounds); the field
    is evaluated at `plane.t` with one rhs call for the whole grid. `resolution` is one count
    or (nx, ny), each >= 2.
    """
    bound, plane = bind_plane(system, plane, params)
    x, y = plane.coordinates(resolution)
    derivatives = bound.rhs(plane.lift(*np.meshgrid(x, y)))
    u, v = derivatives[..., plane.axes[0]], derivatives[..., plane.axes[1]]
    magnitude = np.hypot(u, v)
    usable = np.isfinite(magnitude) & (magnitude > 0)
    u_unit = np.divide(u, magnitude, out=np.zeros_like(u), where=usable)
    v_unit = np.divide(v, magnitude, out=np.zeros_like(v), where=usable)
    return DirectionField(plane=plane, x=x, y=y, derivatives=derivatives, u=u, v=v,
                          magnitude=magnitude, u_unit=u_unit, v_unit=v_unit)
