"""`BoundSystem`: a system with its parameter values and time fixed, as the analyses see it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dynsim.analysis.grid import Plane, finite_number, make_plane
from dynsim.core.guard import check_derivative
from dynsim.core.simulate import get_system
from dynsim.core.system import System


@dataclass(frozen=True, eq=False)
class BoundSystem:
    """`system` with checked parameter `values`, frozen at time `t` (the field y -> rhs(t, y))."""

    system: System
    values: Mapping[str, float]
    t: float

    def rhs(self, y: np.ndarray) -> np.ndarray:
        """dy/dt at states `y` (..., D) as a float array of the same shape.

        Floating-point warnings are silenced: overflow or invalid values show up as inf/NaN in
        the result, which every analysis treats as "no value here".
        """
        with np.errstate(all="ignore"):
            out = self.system.rhs(self.t, y, self.values)
        check_derivative(self.system.name, out, y)
        return np.asarray(out, dtype=float)


def bind(system: str | System, params: Mapping[str, float] | None = None,
         t: float = 0.0) -> BoundSystem:
    """Resolve `system` (a name or a `System`), check `params` overrides, and fix the time."""
    sys_obj = get_system(system)
    values = sys_obj.parameter_values(params)
    return BoundSystem(system=sys_obj, values=values, t=finite_number(t, "t"))


def bind_plane(system: str | System, plane: Plane | None,
               params: Mapping[str, float] | None) -> tuple[BoundSystem, Plane]:
    """`system` bound at the plane's time, and the plane (default `make_plane(system)`)."""
    sys_obj = get_system(system)
    plane = plane or make_plane(sys_obj)
    plane.check_system(sys_obj)
    return bind(sys_obj, params, plane.t), plane
