"""Periodic orbits from a start point: period, amplitude and one period of samples.

The method: run the trajectory for a `transient`; take its state p there and the section
through p normal to the flow, f(p) . (y - p) = 0; run on over a `window` recording the
crossings of that section in the flow's direction (the solver's events). A crossing within
`NEAR` (relative to the orbit's extent) of p is a return, and the time between two returns
is a period estimate. When two successive returns lie within `tol` (relative to the extent)
of each other the orbit has closed: the period is the time between them. Otherwise the
search goes on from the end state (the transient grows) until `max_time`. The amplitude
per state is half the peak-to-peak range over one period, with the extrema located as
events (dy_i/dt = 0), not read off samples.

Made for stable limit cycles of planar systems (Van der Pol, the Hopf normal form); it
also finds stable periodic orbits in more dimensions. Unstable cycles need backward time
(run it on the time-reversed system).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from dynsim.analysis.bound import bind
from dynsim.analysis.flow import (
    ATOL,
    DEFAULT_SOLVER,
    RTOL,
    Flow,
    positive_time,
    succeeded,
    time_grid,
    whole,
)
from dynsim.analysis.grid import finite_number
from dynsim.core.errors import InputError
from dynsim.core.simulate import as_initial_states
from dynsim.core.system import System

TRANSIENT = 20.0
"""Time run before the first section is laid (the search goes on if it was too short)."""
WINDOW = 20.0
"""Time over which returns are recorded per attempt; doubled (up to `max_time`) while it
holds fewer than two returns, so long periods are found too."""
NEAR = 0.1
"""A section crossing within this fraction of the orbit's extent of p is a return (the
same plane also cuts the far side of the orbit, in the flow's direction for non-convex
orbits)."""
TOL = 1e-7
"""Two successive returns within this fraction of the extent mean the orbit has closed."""
MAX_TIME = 5000.0
"""Give up after this much time in all."""
SAMPLES = 1001
"""Samples of the reported period (`LimitCycle.orbit`)."""


@dataclass(frozen=True, eq=False)
class LimitCycle:
    """A periodic orbit: `period`, and per state (D,) `minimum`, `maximum`, `amplitude`
    (half the peak-to-peak range) and `mean` (the time average over one period).

    `state` (D,) is a point on the orbit (the last return); `t` (K,) from 0 to `period` and
    `orbit` (K, D) sample one period from `state`. `return_distance` is the distance of the
    last two returns relative to the orbit's extent (below `tol`); `time` the time from the
    start to `state` (how long the orbit took to close).
    """

    period: float
    amplitude: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    mean: np.ndarray
    state: np.ndarray
    t: np.ndarray
    orbit: np.ndarray
    states: tuple[str, ...]
    return_distance: float
    time: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: period, and amplitude, minimum, maximum by state name."""
        def named(values: np.ndarray) -> dict[str, float]:
            return {n: float(v) for n, v in zip(self.states, values, strict=True)}

        return {"period": self.period, "amplitude": named(self.amplitude),
                "minimum": named(self.minimum), "maximum": named(self.maximum),
                "state": named(self.state), "return_distance": self.return_distance}


def find_limit_cycle(system: str | System, y0: Any = None, *,
                     params: Mapping[str, float] | None = None, t0: float = 0.0,
                     transient: float = TRANSIENT, window: float = WINDOW,
                     max_time: float = MAX_TIME, tol: float = TOL, samples: int = SAMPLES,
                     solver: str = DEFAULT_SOLVER, rtol: float = RTOL,
                     atol: float = ATOL) -> LimitCycle:
    """The periodic orbit that the trajectory from `y0` (D,) settles on (module docstring).

    `y0` defaults to the system's example state. Raises `InputError` when the trajectory
    settles at an equilibrium, fails, or has not closed within `max_time`.
    """
    bound = bind(system, params, t0)
    sys_obj = bound.system
    start = as_initial_states(sys_obj.y0 if y0 is None else y0, sys_obj)
    if len(start) != 1:
        raise InputError("find_limit_cycle takes one start point")
    flow = Flow(sys_obj, bound.values, solver=solver, rtol=rtol, atol=atol)
    times = (positive_time(transient, "transient", zero=True), positive_time(window, "window"),
             positive_time(max_time, "max_time"))
    tol = positive_time(tol, "tol")
    start_time = finite_number(t0, "t0")
    y, ok = flow.advance(start, start_time, times[0])
    _check(ok, sys_obj, start_time)
    t, span = start_time + times[0], times[1]
    while True:
        found = _returns(flow, y[0], t, span)
        if found is not None and found[2] <= tol:
            break
        if t + span - start_time > times[2]:
            distance = "no return" if found is None else f"returns {found[2]:.2g} apart"
            raise InputError(f"no periodic orbit found from {start[0].tolist()} within time "
                             f"{times[2]:g} ({distance}); raise max_time or transient")
        if found is None:
            y, ok = flow.advance(y, t, span)
            _check(ok, sys_obj, t)
            t += span
            span *= 2
        else:
            t, y = found[0], found[1][None]
    return _describe(flow, found[1], found[0], found[3], found[2], samples,
                     found[0] - start_time)


def _check(ok: np.ndarray, system: System, t: float) -> None:
    if not ok.all():
        raise InputError(f"the trajectory of system '{system.name}' failed after t = {t:g} "
                         "(blow-up or step limit); no periodic orbit")


def _returns(flow: Flow, p: np.ndarray, t: float,
             span: float) -> tuple[float, np.ndarray, float, float] | None:
    """Run `span` from p at time t; return (time, state, distance, period) of the last
    return to the section through p, or None without two returns."""
    velocity = flow.rhs(np.array([t]), p[None])[0]
    speed = float(np.linalg.norm(velocity))
    samples = flow.integrate(p[None], time_grid(t, span, 401),
                             events=[flow.section_event((velocity, float(velocity @ p)), 1)])
    if not succeeded(samples)[0]:
        raise InputError(f"the trajectory of system '{flow.system.name}' failed after "
                         f"t = {t:g}; no periodic orbit")
    path = samples.y[0]
    extent = float(np.linalg.norm(path.max(axis=0) - path.min(axis=0)))
    if speed == 0 or extent <= 1e-9 * max(1.0, float(np.abs(p).max())):
        raise InputError(f"the trajectory of system '{flow.system.name}' settles at an "
                         f"equilibrium near {np.round(p, 9).tolist()}; no periodic orbit")
    times, states = samples.events["section"][0]
    near = np.linalg.norm(states - p, axis=1) <= NEAR * extent
    times, states = np.concatenate([[t], times[near]]), np.vstack([p, states[near]])
    if len(times) < 3:
        return None
    distance = float(np.linalg.norm(states[-1] - states[-2])) / extent
    return float(times[-1]), states[-1], distance, float(times[-1] - times[-2])


def _describe(flow: Flow, state: np.ndarray, t: float, period: float, distance: float,
              samples: int, elapsed: float) -> LimitCycle:
    """Sample one period from `state` and locate the extrema of every state on it."""
    dim = flow.dimension
    events = [flow.extremum_event(i, kind) for i in range(dim) for kind in ("max", "min")]
    times = time_grid(t, period, whole(samples, "samples", 2))
    solution = flow.integrate(state[None], times, events=events)
    orbit = solution.y[0]
    low, high = orbit.min(axis=0), orbit.max(axis=0)
    for i in range(dim):
        maxima = solution.events[f"max_{i}"][0][1][:, i]
        minima = solution.events[f"min_{i}"][0][1][:, i]
        high[i] = max(high[i], *maxima) if maxima.size else high[i]
        low[i] = min(low[i], *minima) if minima.size else low[i]
    weights = np.full(len(times), 1.0)
    weights[[0, -1]] = 0.5  # trapezoidal rule over the closed period
    mean = (weights @ orbit) / weights.sum()
    return LimitCycle(period=period, amplitude=(high - low) / 2, minimum=low, maximum=high,
                      mean=mean, state=state, t=times - t, orbit=orbit,
                      states=flow.system.states, return_distance=distance, time=elapsed)
