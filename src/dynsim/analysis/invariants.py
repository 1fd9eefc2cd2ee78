"""Drift of a system's conserved quantity along simulated trajectories."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dynsim.core.errors import InputError, SystemDefinitionError
from dynsim.core.plugins import active_plugins
from dynsim.core.simulate import get_system
from dynsim.core.system import System
from dynsim.core.trajectories import Trajectories

DRIFT_FLOOR = float(np.finfo(float).tiny)
"""Smallest denominator of the relative drift, so an invariant that starts at exactly 0
gives a huge (not infinite or NaN) relative drift; `absolute` is the measure to read then."""


@dataclass(frozen=True, eq=False)
class InvariantDrift:
    """The invariant I along N trajectories at their T output times `t`.

    `value` (N, T) is I(y(t)); `absolute` (N, T) is |I(y(t)) - I(y(t0))|; `relative` (N, T)
    is absolute / max(|I(y(t0))|, `DRIFT_FLOOR`); `max_relative` (N,) its largest value per
    trajectory. Samples after a failure (NaN states) or where I is undefined are NaN and are
    skipped by `max_relative` (NaN only if no sample has a value).
    """

    t: np.ndarray
    value: np.ndarray
    absolute: np.ndarray
    relative: np.ndarray
    max_relative: np.ndarray


def invariant_drift(system: str | System, trajectories: Trajectories, *,
                    params: Mapping[str, float] | None = None) -> InvariantDrift:
    """How far `system`'s invariant drifts along each of `trajectories`.

    The invariant is evaluated with the parameters the trajectories were simulated with
    (`trajectories.params`), updated by `params`. Raises `InputError` if the system has no
    invariant or the trajectories belong to another system.
    """
    sys_obj = get_system(system)
    if sys_obj.invariant is None:
        with_one = sorted(n for n, s in active_plugins().objects("systems").items()
                          if s.invariant is not None)
        raise InputError(f"system '{sys_obj.name}' has no invariant (conserved quantity); "
                         f"systems with one: {', '.join(with_one) or 'none'}")
    if (trajectories.system and trajectories.system != sys_obj.name) or (
            trajectories.states != tuple(sys_obj.states)):
        raise InputError(
            f"the trajectories are of system '{trajectories.system or '?'}' with states "
            f"{', '.join(trajectories.states)}, not of '{sys_obj.name}' "
            f"({', '.join(sys_obj.states)})")
    if trajectories.t.size == 0:
        raise InputError("the trajectories hold no samples")
    values = sys_obj.parameter_values({**trajectories.params, **(params or {})})
    with np.errstate(all="ignore"):
        value = np.asarray(sys_obj.invariant(trajectories.y, values), dtype=float)
    if value.shape != trajectories.y.shape[:-1]:
        raise SystemDefinitionError(
            f"system '{sys_obj.name}': invariant returned shape {value.shape} for y of shape "
            f"{trajectories.y.shape}; it must return one value per state")
    absolute = np.abs(value - value[:, :1])
    relative = absolute / np.maximum(np.abs(value[:, :1]), DRIFT_FLOOR)
    return InvariantDrift(t=trajectories.t, value=value, absolute=absolute, relative=relative,
                          max_relative=np.fmax.reduce(relative, axis=1))
