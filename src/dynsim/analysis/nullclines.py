"""Nullclines: the zero set of each component of the field on a plane, as polylines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import contourpy
import numpy as np

from dynsim.analysis.bound import bind_plane
from dynsim.analysis.grid import Interval, Plane
from dynsim.core.system import System

DEFAULT_NULLCLINE_RESOLUTION = 200
"""Grid points per axis: curves are linear interpolations between grid points, so vertices
are within about one cell (0.5% of the box) of the true curve, usually far closer."""


@dataclass(frozen=True, eq=False)
class Nullclines:
    """Per state name, the polylines (K, 2) in plane coordinates where d(state)/dt = 0.

    `lines` holds every component (for slices of D > 2 systems too, the out-of-plane ones);
    a closed curve repeats its first vertex at the end. `resolution` is the (nx, ny) grid the
    contours were traced on.
    """

    plane: Plane
    lines: Mapping[str, tuple[np.ndarray, ...]]
    resolution: tuple[int, int]


def find_nullclines(system: str | System, plane: Plane | None = None, *,
                    resolution: int | Sequence[int] = DEFAULT_NULLCLINE_RESOLUTION,
                    params: Mapping[str, float] | None = None) -> Nullclines:
    """Nullclines of `system` on `plane` (default `make_plane(system)`), traced by contourpy.

    The field is sampled (one rhs call) on the `resolution` grid plus one extra row and
    column of cells outside each edge, so a nullcline lying on the edge of the box (e.g.
    x = 0 of Lotka–Volterra over x in [0, 5]) is traced like an interior one; the curves are
    then clipped to the box. Non-finite field values are masked out.
    """
    bound, plane = bind_plane(system, plane, params)
    x, y = plane.coordinates(resolution)
    xs, ys = _padded(x), _padded(y)
    values = bound.rhs(plane.lift(*np.meshgrid(xs, ys)))
    lines = {}
    for i, name in enumerate(plane.states):
        z = np.ma.masked_invalid(values[..., i])
        traced = contourpy.contour_generator(xs, ys, z, line_type=contourpy.LineType.Separate)
        lines[name] = tuple(piece for line in traced.lines(0.0)
                            for piece in _clip(np.asarray(line, dtype=float),
                                               plane.xlim, plane.ylim))
    return Nullclines(plane=plane, lines=lines, resolution=(x.size, y.size))


def _padded(coords: np.ndarray) -> np.ndarray:
    """`coords` with one more point of the same spacing before the first and after the last."""
    step = coords[1] - coords[0]
    return np.concatenate([[coords[0] - step], coords, [coords[-1] + step]])


def _clip(line: np.ndarray, xlim: Interval, ylim: Interval) -> list[np.ndarray]:
    """The parts of polyline `line` (K, 2) inside the box, cut exactly at its edges.

    Liang–Barsky: each segment p + s (q - p), s in [0, 1], is inside for s in [enter, leave].
    """
    p, d = line[:-1], np.diff(line, axis=0)
    enter, leave = np.zeros(len(d)), np.ones(len(d))
    for axis, (lo, hi) in enumerate((xlim, ylim)):
        with np.errstate(divide="ignore", invalid="ignore"):
            s_lo = (lo - p[:, axis]) / d[:, axis]
            s_hi = (hi - p[:, axis]) / d[:, axis]
        parallel = d[:, axis] == 0
        outside = parallel & ((p[:, axis] < lo) | (p[:, axis] > hi))
        enter = np.where(parallel, enter, np.maximum(enter, np.minimum(s_lo, s_hi)))
        leave = np.where(parallel, leave, np.minimum(leave, np.maximum(s_lo, s_hi)))
        leave = np.where(outside, -1.0, leave)
    keep = np.flatnonzero(enter < leave)
    starts = np.where((enter[keep] > 0)[:, None], p[keep] + enter[keep, None] * d[keep],
                      line[keep])
    ends = np.where((leave[keep] < 1)[:, None], p[keep] + leave[keep, None] * d[keep],
                    line[keep + 1])
    # a segment continues the previous piece when it follows it and both touch without a cut
    joined = (np.diff(keep) == 1) & (leave[keep[:-1]] == 1) & (enter[keep[1:]] == 0)
    firsts = np.flatnonzero(np.concatenate([[True], ~joined]))
    return [np.vstack([starts[a], ends[a:b]])
            for a, b in zip(firsts, [*firsts[1:], len(keep)], strict=True)]
