"""Basins of attraction on a grid of initial conditions, integrated as one batch.

Every grid point of a plane (other states at their slice values) is labelled by the
attractor its trajectory reaches:

1. Equilibria come from `find_equilibria` in the plane's box (the axes' ranges, the
   system's bounds for the other states).
2. All points run together for `t_end`. A terminal event stops a trajectory once it is
   within `capture` / 2 (relative to the box side, on every state) of a *stable*
   equilibrium, which labels it (so settled points stop costing steps); `leave_box` stops
   those that leave the box `escape` times the size of the plane's box (same centre):
   they, and blow-ups, are `ESCAPED`; other failures (step limit, step too small) are
   `UNRESOLVED`. An end state within `capture` of a stable equilibrium gets its label too.
3. The others run on for a `window`, recording the extrema of every state (events at
   dy_i/dt = 0, so a cycle's range is exact whatever its phase). Their feature is the range
   [min, max] of each state over the window. A range narrower than `capture` means the
   trajectory has stopped: at a found equilibrium (of any type: a point on a saddle's
   stable manifold) if within `capture` of one, else somewhere new.
4. The remaining features are clustered: a point joins the first cluster whose first
   member's features differ by at most `cluster` (relative to the box side) on every
   entry, else founds a new one. Each cluster is an attractor of kind `cycle` (any
   attractor that keeps moving: limit cycle, torus or chaos, told apart by the ranges of
   its states) or `equilibrium` (stopped). After `MAX_ATTRACTORS` clusters the rest are
   `UNRESOLVED`.

Attractors are numbered from 0: found equilibria first (in `find_equilibria` order), then
clusters in grid order; only attractors some point reaches are listed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dynsim.analysis.bound import bind_plane
from dynsim.analysis.equilibria import Equilibrium, find_equilibria
from dynsim.analysis.flow import DEFAULT_SOLVER, Flow, positive_time, relative_distance
from dynsim.analysis.grid import Plane
from dynsim.core.events import Event, leave_box
from dynsim.core.solver import Solution
from dynsim.core.system import System
from dynsim.core.trajectories import Status

ESCAPED = -1
"""Label of points whose trajectory left the escape box or blew up."""
UNRESOLVED = -2
"""Label of points whose trajectory failed otherwise, or belongs to no listed attractor."""
RESOLUTION = 101
"""Grid points per axis by default (odd, so the centre lines are on the grid)."""
T_END = 100.0
"""Integration time before the end states are judged."""
WINDOW = 50.0
"""Extra time over which the trajectories not yet at a stable equilibrium are watched."""
ESCAPE = 10.0
"""The escape box is the plane's box scaled by this factor about its centre."""
CAPTURE = 1e-3
"""Distance (relative to the box side) within which an end state is at an equilibrium."""
CLUSTER = 1e-2
"""Feature distance (relative to the box side) within which two points share an attractor."""
MAX_ATTRACTORS = 64
"""Most clusters formed; more means the features do not settle (raise t_end or window)."""
RTOL, ATOL = 1e-6, 1e-9
"""Tolerances of the basin runs (those of `simulate`): labels need the right attractor,
not digits; points this sensitive lie on a basin boundary anyway."""


@dataclass(frozen=True, eq=False)
class Attractor:
    """One attractor of a basin map: `kind` `equilibrium` or `cycle` (module docstring).

    `state` (D,) is the equilibrium, or the end state of the attractor's first point;
    `minimum`/`maximum` (D,) the range of its states over the window; `classification` the
    stability of a found equilibrium ('' otherwise); `points` how many grid points reach it.
    """

    kind: str
    state: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    classification: str
    points: int

    def to_dict(self, states: Sequence[str]) -> dict[str, Any]:
        """A JSON-ready dict with states by name."""
        def named(values: np.ndarray) -> dict[str, float]:
            return {n: float(v) for n, v in zip(states, values, strict=True)}

        return {"kind": self.kind, "state": named(self.state),
                "minimum": named(self.minimum), "maximum": named(self.maximum),
                "classification": self.classification, "points": self.points}


@dataclass(frozen=True, eq=False)
class BasinMap:
    """The attractor reached from each point of a grid over `plane`.

    `labels` (ny, nx) holds, for the point at (`x[j]`, `y[i]`), the index of its attractor
    in `attractors`, or `ESCAPED` / `UNRESOLVED`. `final` (ny, nx, D) is each trajectory's
    last state (NaN after a failure). The other fields are the settings used.
    """

    plane: Plane
    x: np.ndarray
    y: np.ndarray
    labels: np.ndarray
    attractors: tuple[Attractor, ...]
    final: np.ndarray
    t_end: float
    window: float
    capture: float
    cluster: float


def basins_of_attraction(system: str | System, plane: Plane | None = None, *,
                         resolution: int | Sequence[int] = RESOLUTION,
                         params: Mapping[str, float] | None = None, t_end: float = T_END,
                         window: float = WINDOW, escape: float = ESCAPE,
                         capture: float = CAPTURE, cluster: float = CLUSTER,
                         solver: str = DEFAULT_SOLVER, rtol: float = RTOL,
                         atol: float = ATOL) -> BasinMap:
    """The basin map of `system` on a `resolution` grid over `plane` (module docstring).

    `plane` defaults to `make_plane(system)`; trajectories start at `plane.t`.
    """
    bound, plane = bind_plane(system, plane, params)
    sys_obj = bound.system
    x, y = plane.coordinates(resolution)
    starts = plane.lift(*np.meshgrid(x, y)).reshape(-1, sys_obj.dimension)
    judge = _Judge(Flow(sys_obj, bound.values, solver=solver, rtol=rtol, atol=atol), plane,
                   positive_time(escape, "escape"), positive_time(capture, "capture"),
                   positive_time(cluster, "cluster"))
    judge.run(starts, positive_time(t_end, "t_end"), positive_time(window, "window"))
    labels, attractors = judge.result()
    shape = (len(y), len(x))
    return BasinMap(plane=plane, x=x, y=y, labels=labels.reshape(shape), attractors=attractors,
                    final=judge.final.reshape(*shape, -1), t_end=t_end, window=window,
                    capture=capture, cluster=cluster)


class _Judge:
    """The labelling of one basin map: the box, the equilibria and the running labels."""

    def __init__(self, flow: Flow, plane: Plane, escape: float, capture: float,
                 cluster: float) -> None:
        self.flow, self.capture, self.cluster = flow, capture, cluster
        system = flow.system
        limits = _search_box(system, plane)
        low, high = (np.array([limits[n][k] for n in system.states]) for k in (0, 1))
        self.side = high - low
        centre, half = (low + high) / 2, escape * self.side / 2
        self.escape = leave_box(centre - half, centre + half, name="escape",
                                states=system.states)
        search = find_equilibria(system, params=flow.values, box=limits, t=plane.t)
        self.equilibria: tuple[Equilibrium, ...] = search.equilibria
        self.t0 = plane.t

    def run(self, starts: np.ndarray, t_end: float, window: float) -> None:
        """Integrate, then label every start (see the module docstring)."""
        n, dim = starts.shape
        self.labels = np.full(n, UNRESOLVED)
        self.low = np.full((n, dim), np.nan)
        self.high = np.full((n, dim), np.nan)
        stable = [k for k, e in enumerate(self.equilibria)
                  if e.classification.startswith("stable")]
        events = [self.escape, *self._capture_event(stable)]
        solution = self.flow.integrate(starts, [self.t0, self.t0 + t_end], events=events)
        self.final = solution.y[:, -1].copy()
        if len(events) > 1:
            for i, (times, states) in enumerate(solution.events["captured"]):
                if times.size:
                    self.final[i] = states[-1]
        ok = self._failures(solution, np.arange(n), captured=len(events) > 1)
        near = self._nearest(self.final[ok], stable)
        self.labels[ok] = near
        rest = ok[near < 0]
        if rest.size:
            self._watch(rest, t_end, window)

    def _capture_event(self, stable: Sequence[int]) -> list[Event]:
        """A terminal event stopping a trajectory once it is within `capture` of one of the
        `stable` equilibria (so settled points stop costing steps)."""
        if not stable:
            return []
        centres = [self.equilibria[k].state for k in stable]
        inverse = 1.0 / (self.capture * self.side)

        def outside(t: Any, y: np.ndarray) -> np.ndarray:
            # max-norm distance (in capture units) to the nearest centre, minus 1/2; plain
            # loops over the few centres and states keep the temporaries (M,)-sized
            best = np.full(len(y), np.inf)
            for centre in centres:
                gap = np.abs(y[:, 0] - centre[0]) * inverse[0]
                for i in range(1, len(centre)):
                    np.maximum(gap, np.abs(y[:, i] - centre[i]) * inverse[i], out=gap)
                np.minimum(best, gap, out=best)
            return best - 0.5

        return [Event("captured", outside, direction=-1, terminal=True)]

    def _failures(self, solution: Solution, rows: np.ndarray,
                  captured: bool = False) -> np.ndarray:
        """Label escaped and failed `rows`; return the ones that succeeded (or were
        `captured` by the event of that name)."""
        status = np.array([str(s) for s in solution.status])
        stopped = status == Status.EVENT
        if captured:
            caught = np.array([t.size > 0 for t, _ in solution.events["captured"]])
            stopped &= ~caught
        else:
            caught = np.zeros(len(status), dtype=bool)
        self.labels[rows[stopped | (status == Status.NON_FINITE)]] = ESCAPED
        return rows[(status == Status.SUCCESS) | caught]

    def _nearest(self, ends: np.ndarray, candidates: Sequence[int]) -> np.ndarray:
        """Index of the equilibrium among `candidates` within `capture` of each end, or -1."""
        out = np.full(len(ends), -1)
        for k in candidates:
            at = relative_distance(ends, self.equilibria[k].state, self.side) <= self.capture
            out[at & (out < 0)] = k
        return out

    def _watch(self, rows: np.ndarray, t_end: float, window: float) -> None:
        """Run `rows` on for `window`, recording the range of every state."""
        flow, dim = self.flow, self.flow.dimension
        events = [self.escape] + [flow.extremum_event(i, kind) for i in range(dim)
                                  for kind in ("max", "min")]
        start = self.t0 + t_end
        solution = flow.integrate(self.final[rows], [start, start + window], events=events)
        ends = solution.y[:, -1]
        self.final[rows] = ends
        self.labels[rows] = UNRESOLVED
        ok = self._failures(solution, np.arange(len(rows)))
        low = np.minimum(solution.y[:, 0], ends)
        high = np.maximum(solution.y[:, 0], ends)
        for i in range(dim):
            high[:, i] = np.fmax(high[:, i], _event_extreme(solution.events[f"max_{i}"], i,
                                                            np.fmax))
            low[:, i] = np.fmin(low[:, i], _event_extreme(solution.events[f"min_{i}"], i,
                                                          np.fmin))
        self.low[rows], self.high[rows] = low, high
        still = relative_distance(high[ok], low[ok], self.side) <= self.capture
        at = self._nearest(ends[ok], range(len(self.equilibria)))
        settled = still & (at >= 0)
        self.labels[rows[ok[settled]]] = at[settled]
        self._clusters(rows[ok[~settled]])

    def _clusters(self, rows: np.ndarray) -> None:
        """Leader clustering of the state ranges of `rows` (module docstring, step 4)."""
        features = np.concatenate([self.low[rows], self.high[rows]], axis=1)
        scale = np.concatenate([self.side, self.side])
        todo = np.ones(len(rows), dtype=bool)
        label = len(self.equilibria)
        while todo.any() and label < len(self.equilibria) + MAX_ATTRACTORS:
            leader = int(np.flatnonzero(todo)[0])
            members = todo & (relative_distance(features, features[leader], scale)
                              <= self.cluster)
            self.labels[rows[members]] = label
            todo &= ~members
            label += 1

    def result(self) -> tuple[np.ndarray, tuple[Attractor, ...]]:
        """Labels renumbered over the attractors reached, and those attractors."""
        used = np.unique(self.labels[self.labels >= 0])
        renumber = np.full(int(used.max()) + 1 if used.size else 0, UNRESOLVED)
        renumber[used] = np.arange(used.size)
        labels = np.where(self.labels >= 0, renumber[np.maximum(self.labels, 0)]
                          if used.size else UNRESOLVED, self.labels)
        return labels, tuple(self._attractor(k, labels == new) for new, k in enumerate(used))

    def _attractor(self, label: int, members: np.ndarray) -> Attractor:
        count = int(members.sum())
        if label < len(self.equilibria):
            eq = self.equilibria[label]
            return Attractor(kind="equilibrium", state=eq.state, minimum=eq.state,
                             maximum=eq.state, classification=eq.classification, points=count)
        first = int(np.flatnonzero(members)[0])
        low, high = self.low[first], self.high[first]
        still = relative_distance(high, low, self.side) <= self.capture
        return Attractor(kind="equilibrium" if still else "cycle", state=self.final[first],
                         minimum=low, maximum=high, classification="", points=count)


def _event_extreme(found: Sequence[tuple[np.ndarray, np.ndarray]], state: int,
                   ufunc: np.ufunc) -> np.ndarray:
    """Per trajectory, the `ufunc` (np.fmax/np.fmin) of `state` over its recorded events
    (NaN without events)."""
    sizes = np.array([len(t) for t, _ in found])
    out = np.full(len(found), np.nan)
    if sizes.any():
        values = np.concatenate([np.asarray(y)[:, state] for _, y in found if len(y)])
        ufunc.at(out, np.repeat(np.arange(len(found)), sizes), values)
    return out


def _search_box(system: System, plane: Plane) -> dict[str, tuple[float, float]]:
    """The plane's box: its ranges on the axes, the system's bounds (or the slice value
    +- 1) on the other states."""
    bounds = system.bounds or {}
    box = {}
    for i, name in enumerate(system.states):
        if i in plane.axes:
            box[name] = plane.xlim if i == plane.axes[0] else plane.ylim
        elif name in bounds:
            box[name] = tuple(bounds[name])
        else:
            box[name] = (plane.base[i] - 1.0, plane.base[i] + 1.0)
    return box
