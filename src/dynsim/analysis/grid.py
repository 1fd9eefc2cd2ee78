"""Boxes and 2-D slices of state space: which two states are the axes, their ranges, the
values held by the other states, and the time at which a (non-autonomous) field is frozen."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dynsim.core.budget import batch_bytes, check_memory
from dynsim.core.errors import InputError
from dynsim.core.simulate import get_system
from dynsim.core.system import System

Interval = tuple[float, float]


def finite_number(value: object, label: str) -> float:
    """`value` as a finite float (booleans and non-numbers are rejected)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
        raise InputError(f"{label} must be a finite number, got {value!r}")
    return float(value)


def interval(value: object, label: str) -> Interval:
    """`value` as a finite (low, high) pair with low < high."""
    try:
        lo, hi = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise InputError(f"{label} must be two numbers (low, high), got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise InputError(f"{label} must be finite with low < high, got ({lo:g}, {hi:g})")
    return lo, hi


def state_limits(system: System, names: Sequence[str],
                 overrides: Mapping[str, Sequence[float]] | None = None) -> dict[str, Interval]:
    """The (low, high) range of each state in `names`: from `overrides`, else `system.bounds`.

    Raises `InputError` naming the states that have neither.
    """
    overrides = dict(overrides or {})
    for name in overrides:
        system.state_index(name)  # unknown names raise with a suggestion
    bounds = system.bounds or {}
    missing = [n for n in names if n not in overrides and n not in bounds]
    if missing:
        raise InputError(
            f"system '{system.name}' has no default bounds for {', '.join(missing)}; "
            "give the range explicitly"
        )
    return {n: interval(overrides[n], f"range of '{n}'") if n in overrides else bounds[n]
            for n in names}


def resolution_pair(resolution: int | Sequence[int]) -> tuple[int, int]:
    """`resolution` (one count, or (nx, ny)) as two whole numbers >= 2."""
    pair = (resolution, resolution) if isinstance(resolution, numbers.Integral) else resolution
    try:
        nx, ny = pair  # type: ignore[misc]
    except (TypeError, ValueError):
        raise InputError(f"resolution must be a number or (nx, ny), got {resolution!r}") from None
    for n in (nx, ny):
        if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 2:
            raise InputError(f"resolution must be whole numbers >= 2, got {resolution!r}")
    return int(nx), int(ny)


@dataclass(frozen=True)
class Plane:
    """A 2-D slice of a D-dimensional state space.

    `axes` are the indices of the horizontal and vertical states among `states`; `xlim` and
    `ylim` their ranges. `base` is a full state (D,) whose non-axis entries hold the slice
    values of the other states (its axis entries are 0 and unused). `t` is the time at which
    the field of a non-autonomous system is evaluated.
    """

    states: tuple[str, ...]
    axes: tuple[int, int]
    xlim: Interval
    ylim: Interval
    base: tuple[float, ...]
    t: float = 0.0

    @property
    def names(self) -> tuple[str, str]:
        """The names of the horizontal and vertical states."""
        return self.states[self.axes[0]], self.states[self.axes[1]]

    @property
    def slice_values(self) -> dict[str, float]:
        """The values held by the states that are not axes."""
        return {n: v for i, (n, v) in enumerate(zip(self.states, self.base, strict=True))
                if i not in self.axes}

    def lift(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Full states (..., D) for plane coordinates `x`, `y` of a common shape."""
        x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        points = np.broadcast_to(np.asarray(self.base), (*x.shape, len(self.states))).copy()
        points[..., self.axes[0]] = x
        points[..., self.axes[1]] = y
        return points

    def coordinates(self, resolution: int | Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Evenly spaced x (nx,) and y (ny,) spanning `xlim` and `ylim`, ends included.

        A grid whose points (one batch row each in the analyses) cannot fit in memory is
        refused here, before any of it is allocated.
        """
        nx, ny = resolution_pair(resolution)
        check_memory(batch_bytes(nx * ny, 2, len(self.states)),
                     f"a grid of {nx} x {ny} points", "give fewer grid points")
        return np.linspace(*self.xlim, nx), np.linspace(*self.ylim, ny)

    def check_system(self, system: System) -> None:
        """Raise `InputError` if this plane was made for a system with other states."""
        if tuple(system.states) != self.states:
            raise InputError(
                f"the plane is over states {', '.join(self.states)} but system "
                f"'{system.name}' has {', '.join(system.states)}"
            )


def make_plane(system: str | System, axes: Sequence[str] | None = None, *,
               xlim: Sequence[float] | None = None, ylim: Sequence[float] | None = None,
               at: Mapping[str, float] | None = None, t: float = 0.0) -> Plane:
    """The slice of `system`'s state space spanned by the two states `axes`.

    Defaults: the first two states as axes; their ranges from `system.bounds`; every other
    state held at the value given in `at`, else at the midpoint of its bounds (an error names
    the states that have neither).
    """
    system = get_system(system)
    if system.dimension < 2:
        raise InputError(f"system '{system.name}' has one state; a plane needs two")
    names = tuple(axes) if axes is not None else tuple(system.states[:2])
    if len(names) != 2 or names[0] == names[1]:
        raise InputError(f"axes must be two different state names, got {names!r}")
    index = (system.state_index(names[0]), system.state_index(names[1]))
    ranges = state_limits(system, names, {
        name: lim for name, lim in zip(names, (xlim, ylim), strict=True) if lim is not None})
    at = dict(at or {})
    for name in at:
        if system.state_index(name) in index:
            raise InputError(f"'{name}' is an axis of the plane; 'at' holds the other states")
    others = [n for i, n in enumerate(system.states) if i not in index]
    defaults = state_limits(system, [n for n in others if n not in at])
    base = [0.0] * system.dimension
    for name in others:
        base[system.state_index(name)] = (
            finite_number(at[name], f"slice value of '{name}'") if name in at
            else sum(defaults[name]) / 2.0)
    return Plane(states=tuple(system.states), axes=index, xlim=ranges[names[0]],
                 ylim=ranges[names[1]], base=tuple(base), t=finite_number(t, "t"))
