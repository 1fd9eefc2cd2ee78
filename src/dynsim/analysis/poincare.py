"""Poincaré sections: where trajectories cross a hyperplane, located by the solver's events.

All initial states run as one batch; a non-terminal event g(y) = normal . y - offset
records each crossing in the chosen direction, located to ~1e-10 in t on the solver's
dense output. Crossings before the `transient` are dropped.
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
)
from dynsim.analysis.grid import finite_number
from dynsim.core.simulate import as_initial_states
from dynsim.core.system import System


@dataclass(frozen=True, eq=False)
class PoincareSection:
    """Crossings of the hyperplane `normal` . y = `offset` in `direction`, per trajectory.

    `t[i]` (K_i,) and `y[i]` (K_i, D) are trajectory i's crossing times and states, in time
    order; `status[i]` says how it ended (a failed trajectory keeps its crossings up to the
    failure, `messages[i]` says why). `points` and `index` put all crossings together.
    """

    normal: np.ndarray
    offset: float
    direction: int
    states: tuple[str, ...]
    t: tuple[np.ndarray, ...]
    y: tuple[np.ndarray, ...]
    status: tuple[str, ...]
    messages: tuple[str, ...]

    @property
    def points(self) -> np.ndarray:
        """All crossing states (K, D), trajectory by trajectory."""
        return np.concatenate([*self.y, np.zeros((0, len(self.states)))])

    @property
    def index(self) -> np.ndarray:
        """The trajectory of each row of `points` (K,)."""
        return np.repeat(np.arange(len(self.t)), [len(t) for t in self.t])


def poincare_section(system: str | System, y0: Any,
                     normal: Mapping[str, float] | Sequence[float], offset: float = 0.0, *,
                     duration: float, direction: int = 1, transient: float = 0.0,
                     t0: float = 0.0, params: Mapping[str, float] | None = None,
                     solver: str = DEFAULT_SOLVER, rtol: float = RTOL,
                     atol: float = ATOL) -> PoincareSection:
    """The crossings of `normal` . y = `offset` by the trajectories from `y0` (D,) or (N, D).

    `normal` maps state names to coefficients (e.g. {"z": 1} with offset 27 is the plane
    z = 27) or gives one per state. Trajectories run from `t0` for `transient + duration`;
    crossings in the first `transient` are dropped. `direction` +1 keeps crossings along
    the normal (g rising through 0), -1 against it, 0 both.
    """
    bound = bind(system, params, t0)
    sys_obj = bound.system
    plane = hyperplane(sys_obj, normal, offset)
    direction = check_direction(direction)
    start = finite_number(t0, "t0")
    skip = positive_time(transient, "transient", zero=True)
    end = start + skip + positive_time(duration, "duration")
    flow = Flow(sys_obj, bound.values, solver=solver, rtol=rtol, atol=atol)
    solution = flow.integrate(as_initial_states(y0, sys_obj), [start, end],
                              events=[flow.section_event(plane, direction)])
    crossings = solution.events["section"]
    kept = [times >= start + skip for times, _ in crossings]
    return PoincareSection(
        normal=plane[0], offset=plane[1], direction=direction, states=sys_obj.states,
        t=tuple(times[k] for (times, _), k in zip(crossings, kept, strict=True)),
        y=tuple(np.asarray(states)[k] for (_, states), k in zip(crossings, kept, strict=True)),
        status=tuple(str(s) for s in solution.status), messages=tuple(solution.messages))
