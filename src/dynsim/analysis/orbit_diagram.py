"""Orbit (bifurcation) diagrams: sweep one parameter, all values integrated as one batch.

Every parameter value gets one trajectory from the same initial state; the value travels
inside the state as an extra component with zero derivative (`dynsim.analysis.flow.Flow`),
so the whole sweep is one call of the batched engine. After a `transient` (run without
events) each trajectory runs for `duration` more and records either the local maxima of one
state (dy_i/dt falling through zero, the XPPAUT/DynamicalSystems.jl "orbit diagram") or its
crossings of a hyperplane section, all located by the solver's events. A value whose orbit
settles at an equilibrium records no maxima (and no crossings).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dynsim.analysis.bound import bind
from dynsim.analysis.flow import (
    ATOL,
    DEFAULT_SOLVER,
    RTOL,
    Flow,
    check_direction,
    hyperplane,
    positive_time,
    section_text,
)
from dynsim.analysis.grid import finite_number
from dynsim.core.errors import InputError, unknown_name
from dynsim.core.simulate import as_initial_states
from dynsim.core.system import System

TRANSIENT = 200.0
"""Time run before recording: long enough for most attractors of the built-in systems."""
DURATION = 100.0
"""Time over which points are recorded after the transient."""


@dataclass(frozen=True, eq=False)
class OrbitDiagram:
    """Recorded points of an orbit diagram over the values of `parameter`.

    `values` (P,) are the parameter values; point k has `index[k]` (which value), time
    `t[k]` and state `y[k]` (D,) (sorted by value, then time). `record` says what was
    recorded ("maxima of x" or "section z = 27"). `status[j]`/`messages[j]` say how value
    j's trajectory ended; a failed one keeps the points before its failure.
    """

    parameter: str
    values: np.ndarray
    index: np.ndarray
    t: np.ndarray
    y: np.ndarray
    states: tuple[str, ...]
    record: str
    status: tuple[str, ...]
    messages: tuple[str, ...]

    @property
    def counts(self) -> np.ndarray:
        """Points recorded per value (P,)."""
        return np.bincount(self.index, minlength=len(self.values))

    def coordinate(self, state: str) -> tuple[np.ndarray, np.ndarray]:
        """(parameter value (K,), value of `state` (K,)) of every point: the diagram."""
        if state not in self.states:
            raise unknown_name("state", state, self.states)
        return self.values[self.index], self.y[:, self.states.index(state)]


def orbit_diagram(system: str | System, parameter: str, values: Sequence[float] | np.ndarray,
                  y0: Any = None, *, state: str | None = None,
                  section: Mapping[str, float] | Sequence[float] | None = None,
                  offset: float = 0.0, direction: int = 1, transient: float = TRANSIENT,
                  duration: float = DURATION, t0: float = 0.0,
                  params: Mapping[str, float] | None = None, solver: str = DEFAULT_SOLVER,
                  rtol: float = RTOL, atol: float = ATOL) -> OrbitDiagram:
    """The orbit diagram of `system` as `parameter` runs through `values`.

    Each value starts from `y0` (default: the system's example state). Without `section`,
    the local maxima of `state` (default: the first state) are recorded; with `section`
    (a normal by state name or one per state, and `offset`), the crossings of that
    hyperplane in `direction` (see `poincare_section`). `params` set the other parameters.
    """
    bound = bind(system, params, t0)
    sys_obj = bound.system
    sweep = _values(sys_obj, parameter, values)
    start = as_initial_states(sys_obj.y0 if y0 is None else y0, sys_obj)
    if len(start) != 1:
        raise InputError("orbit_diagram takes one initial state for all values")
    flow = Flow(sys_obj, bound.values, sweep=parameter, solver=solver, rtol=rtol, atol=atol)
    if section is None:
        watched = sys_obj.states[0] if state is None else state
        event = flow.extremum_event(sys_obj.state_index(watched), "max")
        record = f"maxima of {watched}"
    else:
        plane = hyperplane(sys_obj, section, offset)
        event = flow.section_event(plane, check_direction(direction))
        record = f"section {section_text(sys_obj, plane)}"
    t = finite_number(t0, "t0")
    skip = positive_time(transient, "transient", zero=True)
    initial = flow.rows(np.repeat(start, len(sweep), axis=0), sweep)
    rows, ok = flow.advance(initial, t, skip)
    rows[~ok] = initial[~ok]  # (their points are dropped; this keeps the batch finite)
    solution = flow.integrate(rows, [t + skip, t + skip + positive_time(duration, "duration")],
                              events=[event])
    found = solution.events[event.name]
    counts = [len(times) if good else 0 for (times, _), good in zip(found, ok, strict=True)]
    status = [str(s) if good else "failed in the transient"
              for s, good in zip(solution.status, ok, strict=True)]
    return OrbitDiagram(
        parameter=parameter, values=sweep, index=np.repeat(np.arange(len(sweep)), counts),
        t=np.concatenate([times[:c] for (times, _), c in zip(found, counts, strict=True)]),
        y=np.concatenate([np.asarray(y)[:c, :sys_obj.dimension]
                          for (_, y), c in zip(found, counts, strict=True)]),
        states=sys_obj.states, record=record, status=tuple(status),
        messages=tuple(solution.messages))


def _values(system: System, parameter: str, values: Sequence[float] | np.ndarray) -> np.ndarray:
    """The swept values as a float array, each checked against the parameter's range."""
    if parameter not in system.params:
        raise unknown_name("parameter", parameter, system.params, f"system '{system.name}'")
    sweep = np.asarray(values, dtype=float).ravel()
    if sweep.size == 0 or not np.isfinite(sweep).all():
        raise InputError(f"the values of '{parameter}' must be a non-empty list of finite "
                         "numbers")
    for value in (sweep.min(), sweep.max()):
        system.parameter_values({parameter: float(value)})
    return sweep
