"""What the explorer computes for a state, as plain functions of an `ExplorerState`.

No Qt here: the window runs these in worker threads, `dynsim render` calls them directly,
and both hand the results to the same drawing code. Every number comes from `dynsim.simulate`
and `dynsim.analysis`; nothing is integrated or solved here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from dynsim.analysis import (
    DirectionField,
    EquilibriumSearch,
    Nullclines,
    Plane,
    Streamlines,
    direction_field,
    evenly_spaced_streamlines,
    find_equilibria,
    find_nullclines,
    make_plane,
)
from dynsim.analysis.separatrices import Separatrix, separatrices
from dynsim.core.cancel import CancelToken
from dynsim.core.events import Event, leave_box
from dynsim.core.plugins import active_plugins
from dynsim.core.simulate import simulate, simulate_iter
from dynsim.core.trajectories import Trajectories
from dynsim.gui.model import ExplorerState

NULLCLINE_RESOLUTION = 160
"""Grid points per axis for nullclines in the app: 0.6% of the view per cell, traced in
~10 ms for a planar system, so they follow a dragged slider."""
SEPARATRIX_POINTS = 4001
"""Samples along each separatrix: enough for the many loops of a chaotic unstable manifold
(Lorenz's origin) to look smooth over the forward time."""
SEPARATRIX_SOLVER = "dopri5"
SLICE_HALF_WIDTH = 10.0
"""For D > 2, equilibria are searched with the out-of-plane states in their bounds, or
within +-10 of their slice values when the system gives none."""


def plane_of(state: ExplorerState) -> Plane:
    """The 2-D slice the view shows, at the trajectories' start time."""
    view = state.view
    return make_plane(state.system, view.axes, xlim=view.xlim, ylim=view.ylim, at=view.at,
                      t=state.solver.t0)


def field_of(state: ExplorerState) -> DirectionField:
    """The direction field on the view, `layers.density` arrows per axis."""
    return direction_field(state.system, plane_of(state), resolution=state.layers.density,
                           params=state.params)


def streamlines_of(state: ExplorerState) -> Streamlines:
    """Evenly spaced streamlines over the view."""
    return evenly_spaced_streamlines(state.system, plane_of(state), params=state.params)


def nullclines_of(state: ExplorerState) -> Nullclines:
    """The nullclines on the view."""
    return find_nullclines(state.system, plane_of(state), resolution=NULLCLINE_RESOLUTION,
                           params=state.params)


def equilibria_of(state: ExplorerState) -> EquilibriumSearch:
    """The equilibria in the view (for D > 2: see `SLICE_HALF_WIDTH`)."""
    system, view = state.system, state.view
    bounds = system.bounds or {}
    box = {name: bounds.get(name, (value - SLICE_HALF_WIDTH, value + SLICE_HALF_WIDTH))
           for name, value in view.at.items()}
    box.update({view.axes[0]: view.xlim, view.axes[1]: view.ylim})
    return find_equilibria(system, params=state.params, box=box, t=state.solver.t0)


def separatrices_of(state: ExplorerState,
                    search: EquilibriumSearch) -> tuple[Separatrix, ...]:
    """The separatrices of the saddles in `search`, within the integration window.

    They use the trajectories' method when it is adaptive, else `SEPARATRIX_SOLVER` with
    the same tolerances: a manifold leaving a saddle needs the step control, and a fixed
    step small enough for it costs seconds over the forward time.
    """
    sim = state.solver
    return separatrices(state.system, search.equilibria, params=state.params,
                        duration=sim.t_forward, box=state.view.box(),
                        solver=sim.method if is_adaptive(sim.method) else SEPARATRIX_SOLVER,
                        rtol=sim.rtol, atol=sim.atol,  # type: ignore[arg-type]
                        points=SEPARATRIX_POINTS)


def is_adaptive(method: str) -> bool:
    """Whether the registered solver `method` chooses its own steps (tolerances, not dt)."""
    return bool(getattr(active_plugins().get("solvers", method), "adaptive", True))


def window_event(state: ExplorerState) -> Event:
    """The terminal event that stops a trajectory leaving the integration window."""
    system = state.system
    lower = np.full(system.dimension, -np.inf)
    upper = np.full(system.dimension, np.inf)
    for name, (lo, hi) in state.view.box().items():
        i = system.state_index(name)
        lower[i], upper[i] = lo, hi
    return leave_box(lower, upper, name="left_window", states=system.states)


@dataclass(frozen=True, eq=False)
class TrajectoryRun:
    """The trajectories of every seed: `forward` from t0, `backward` towards t0 - t_backward
    (None when not computed yet or `t_backward` is 0). `done` is False while they grow."""

    forward: Trajectories | None
    backward: Trajectories | None
    done: bool


def trajectory_request(state: ExplorerState, backward: bool = False) -> dict[str, object]:
    """The arguments of `dynsim.simulate` for the forward (or backward) trajectories."""
    sim = state.solver
    end = sim.t0 - sim.t_backward if backward else sim.t0 + sim.t_forward
    return {"system": state.system, "y0": np.array(state.seeds, dtype=float),
            "t_span": (sim.t0, end), "params": dict(state.params),
            "events": [window_event(state)], **sim.simulate_options()}


def trajectories_of(state: ExplorerState, cancel: CancelToken | None = None,
                    progress: Callable[[float], None] | None = None
                    ) -> Iterator[TrajectoryRun]:
    """Forward, then backward trajectories of every seed, yielded as they grow.

    `progress(fraction)` counts the forward run as the first half when there is a backward
    one.
    """
    if not state.seeds:
        yield TrajectoryRun(None, None, True)
        return
    both = state.solver.t_backward > 0
    report = progress or (lambda fraction: None)
    forward = None
    for forward in simulate_iter(**trajectory_request(state), cancel=cancel,  # type: ignore[arg-type]
                                 progress=lambda f: report(f / 2 if both else f)):
        yield TrajectoryRun(forward, None, False)
    backward = None
    if both:
        for backward in simulate_iter(**trajectory_request(state, backward=True),  # type: ignore[arg-type]
                                      cancel=cancel, progress=lambda f: report(0.5 + f / 2)):
            yield TrajectoryRun(forward, backward, False)
    yield TrajectoryRun(forward, backward, True)


@dataclass(frozen=True)
class Growing:
    """The results of a job that grows: partial ones, the final one last."""

    parts: Iterator[TrajectoryRun]


LayerResult = (DirectionField | Streamlines | Nullclines | Growing
               | tuple[EquilibriumSearch, tuple[Separatrix, ...]])


def run_task(kind: str, state: ExplorerState, cancel: CancelToken | None = None,
             progress: Callable[[float], None] | None = None,
             separatrices: bool = False) -> LayerResult:
    """Compute one layer job of the window: "field", "streamlines", "nullclines",
    "equilibria" (with the separatrices if asked) or "trajectories" (`Growing`).

    The window's worker threads and its compute processes both run jobs through here.
    """
    if kind == "trajectories":
        return Growing(trajectories_of(state, cancel, progress))
    if kind == "equilibria":
        search = equilibria_of(state)
        return search, separatrices_of(state, search) if separatrices else ()
    compute = {"field": field_of, "streamlines": streamlines_of, "nullclines": nullclines_of}
    return compute[kind](state)  # type: ignore[no-any-return]


def trajectories_now(state: ExplorerState) -> TrajectoryRun:
    """The finished trajectories of every seed, in one call (for rendering)."""
    if not state.seeds:
        return TrajectoryRun(None, None, True)
    forward = simulate(**trajectory_request(state))  # type: ignore[arg-type]
    backward = (simulate(**trajectory_request(state, backward=True))  # type: ignore[arg-type]
                if state.solver.t_backward > 0 else None)
    return TrajectoryRun(forward, backward, True)
