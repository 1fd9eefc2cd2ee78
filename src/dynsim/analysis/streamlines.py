"""Evenly spaced streamlines of a plane (Jobard & Lefer 1997), for the flow view.

B. Jobard and W. Lefer, "Creating evenly-spaced streamlines of arbitrary density",
Visualization in Scientific Computing 1997. All distances are measured in box units: the
plane's box is mapped to the unit square, so spacing looks even on a plot that fills its
area whatever the aspect ratio of the data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dynsim.analysis.bound import BoundSystem, bind_plane
from dynsim.analysis.grid import Plane
from dynsim.core.errors import InputError
from dynsim.core.system import System

DEFAULT_SEPARATION = 0.03
"""d_sep: distance between neighbouring streamlines, as a fraction of the box (~33 lines
across)."""
DEFAULT_TEST_RATIO = 0.5
"""d_test / d_sep: a line stops when it comes this close to another line (Jobard & Lefer
recommend 0.5)."""
STEP_RATIO = 0.25
"""Integration step (midpoint rule on the unit-speed field) as a fraction of d_sep."""
MAX_TURN_COS = math.cos(math.radians(30.0))
"""A line stops when the field direction turns by more than 30 degrees within half a step:
it is passing an equilibrium or a point where the field is not smooth."""
LOOP_ARC = 2.0
"""Points of the same line count as obstacles only when at least 2 d_sep of arc away, so a
line ends when it closes on itself (periodic orbits, spirals) but not on its last points."""
MAX_LENGTH = 10.0
"""Longest half line (forward or backward from its seed), in box units."""


@dataclass(frozen=True, eq=False)
class Streamlines:
    """Streamlines (K, 2) in plane coordinates, each ordered in the direction of the flow.

    Points of different lines are at least `test_ratio * separation` apart in box units,
    and every line started at least `separation` from all earlier ones.
    """

    plane: Plane
    lines: tuple[np.ndarray, ...]
    separation: float
    test_ratio: float


def evenly_spaced_streamlines(system: str | System, plane: Plane | None = None, *,
                              separation: float = DEFAULT_SEPARATION,
                              test_ratio: float = DEFAULT_TEST_RATIO,
                              params: Mapping[str, float] | None = None) -> Streamlines:
    """Evenly spaced streamlines of `system`'s field projected on `plane` (Jobard–Lefer).

    Lines are integrated through the unit-speed field with the midpoint rule (step
    `STEP_RATIO * separation`), forwards and backwards from each seed, and stop at the box
    edge, where the field vanishes or turns sharply (`MAX_TURN_COS`), within
    `test_ratio * separation` of another line or of their own earlier part (`LOOP_ARC`), or
    after `MAX_LENGTH`. New seeds are tried at `separation` on both sides of every point of
    every finished line, then (to fill regions no line reaches) at the centres of a
    `separation` grid, nearest the box centre first. A cell grid of size `separation` makes
    every distance query local.
    """
    bound, plane = bind_plane(system, plane, params)
    if not (isinstance(separation, int | float) and 0.0 < separation <= 0.5):
        raise InputError(f"separation must be a fraction of the box in (0, 0.5], "
                         f"got {separation!r}")
    if not (isinstance(test_ratio, int | float) and 0.0 < test_ratio <= 1.0):
        raise InputError(f"test_ratio must be in (0, 1], got {test_ratio!r}")
    tracer = _Tracer(bound, plane, float(separation), float(test_ratio))
    (x0, x1), (y0, y1) = plane.xlim, plane.ylim
    lines = tuple(np.column_stack([x0 + line[:, 0] * (x1 - x0), y0 + line[:, 1] * (y1 - y0)])
                  for line in tracer.run())
    return Streamlines(plane=plane, lines=lines, separation=float(separation),
                       test_ratio=float(test_ratio))


class _Tracer:
    """Jobard–Lefer in the unit square; points are stored per cell as (x, y, line, arc)."""

    def __init__(self, bound: BoundSystem, plane: Plane, d_sep: float, test_ratio: float):
        self.bound, self.plane = bound, plane
        self.d_sep, self.d_test = d_sep, test_ratio * d_sep
        self.step = STEP_RATIO * d_sep
        self.origin = np.array([plane.xlim[0], plane.ylim[0]])
        self.width = np.array([plane.xlim[1] - plane.xlim[0], plane.ylim[1] - plane.ylim[0]])
        self.base = np.asarray(plane.base, dtype=float)
        self.cells: dict[tuple[int, int], list[tuple[float, float, int, float]]] = {}

    def run(self) -> list[np.ndarray]:
        """All streamlines, in unit-square coordinates."""
        lines: list[np.ndarray] = []
        n = math.ceil(1.0 / self.d_sep)
        centres = (np.arange(n) + 0.5) / n
        fallback = np.array([(x, y) for x in centres for y in centres])
        fallback = fallback[np.argsort(np.hypot(*(fallback - 0.5).T), kind="stable")]
        queue = 0
        for seed in fallback:
            self._try_seed(seed, lines)
            while queue < len(lines):
                line = lines[queue]
                queue += 1
                tangent = np.gradient(line, axis=0)
                normal = np.column_stack([-tangent[:, 1], tangent[:, 0]])
                normal /= np.linalg.norm(normal, axis=1, keepdims=True)
                for point, offset in zip(line, normal, strict=True):
                    for side in (1.0, -1.0):
                        self._try_seed(point + side * self.d_sep * offset, lines)
        return lines

    def _try_seed(self, seed: np.ndarray, lines: list[np.ndarray]) -> None:
        """Start a line at `seed` if it is inside and `d_sep` clear of every line."""
        x, y = float(seed[0]), float(seed[1])
        # the 1e-6 absorbs the rounding of a seed placed exactly d_sep from its parent point
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0) or not self._clear(
                x, y, self.d_sep * (1.0 - 1e-6), -1, 0.0):
            return
        number = len(lines)
        self._add(x, y, number, 0.0)
        forward = self._half(x, y, 1.0, number)
        backward = self._half(x, y, -1.0, number)
        if forward or backward:
            lines.append(np.array([*backward[::-1], (x, y), *forward]))

    def _half(self, x: float, y: float, sign: float, number: int) -> list[tuple[float, float]]:
        """The points of one half line from (x, y), forwards (sign 1) or backwards (-1)."""
        points: list[tuple[float, float]] = []
        h = self.step
        for k in range(1, int(MAX_LENGTH / h) + 1):
            k1 = self._direction(x, y)
            if k1 is None:
                break
            k2 = self._direction(x + 0.5 * h * sign * k1[0], y + 0.5 * h * sign * k1[1])
            if k2 is None or k1[0] * k2[0] + k1[1] * k2[1] < MAX_TURN_COS:
                break
            x, y = x + h * sign * k2[0], y + h * sign * k2[1]
            arc = sign * k * h
            if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0) or not self._clear(
                    x, y, self.d_test, number, arc):
                break
            self._add(x, y, number, arc)
            points.append((x, y))
        return points

    def _direction(self, x: float, y: float) -> tuple[float, float] | None:
        """The unit field direction at (x, y) in box units, or None where it has none."""
        state = self.base.copy()
        state[self.plane.axes[0]] = self.origin[0] + x * self.width[0]
        state[self.plane.axes[1]] = self.origin[1] + y * self.width[1]
        f = self.bound.rhs(state[None])[0]
        u = float(f[self.plane.axes[0]] / self.width[0])
        v = float(f[self.plane.axes[1]] / self.width[1])
        norm = math.hypot(u, v)
        if not (math.isfinite(norm) and norm > 0.0):
            return None
        return u / norm, v / norm

    def _cell(self, x: float, y: float) -> tuple[int, int]:
        return int(x / self.d_sep), int(y / self.d_sep)

    def _add(self, x: float, y: float, number: int, arc: float) -> None:
        self.cells.setdefault(self._cell(x, y), []).append((x, y, number, arc))

    def _clear(self, x: float, y: float, radius: float, number: int, arc: float) -> bool:
        """No stored point within `radius` of (x, y), ignoring line `number`'s points less
        than `LOOP_ARC * d_sep` of arc from `arc`. Needs radius <= d_sep (one cell ring)."""
        ci, cj = self._cell(x, y)
        r2, own_arc = radius * radius, LOOP_ARC * self.d_sep
        for i in (ci - 1, ci, ci + 1):
            for j in (cj - 1, cj, cj + 1):
                for px, py, line, parc in self.cells.get((i, j), ()):
                    if ((px - x) ** 2 + (py - y) ** 2 < r2
                            and (line != number or abs(parc - arc) >= own_arc)):
                        return False
        return True
