"""The explorer's state, free of Qt: what the window shows and a scene file saves.

`ExplorerState` is one frozen value (system, parameters, solver settings, view, layers, the
trajectories' initial states); `ExplorerModel` holds the current one and tells observers
what changed. Widgets edit the model and redraw from it; they keep no state of their own,
so `to_scene()` is everything a Save needs and `from_scene()` restores the same picture.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from dynsim.core.errors import InputError
from dynsim.core.plugins import active_plugins
from dynsim.core.scene import (
    FIELD_SCALINGS,
    LAYERS,
    EquationSource,
    Scene,
    SimulationSpec,
    ViewSpec,
)
from dynsim.core.simulate import (
    DEFAULT_ATOL,
    DEFAULT_MAX_STEPS,
    DEFAULT_POINTS,
    DEFAULT_RTOL,
    DEFAULT_SOLVER,
    as_initial_states,
    get_system,
)
from dynsim.core.solver import check_tolerances
from dynsim.core.system import System

DEFAULT_DURATION = 20.0
"""Forward (and backward) integration time of a clicked trajectory, as pplane's default."""
DEFAULT_WINDOW = 3.0
"""Trajectories stop when they leave the view enlarged 3x around its centre."""
DEFAULT_LAYERS = MappingProxyType({"field": True, "streamlines": False, "nullclines": True,
                                   "equilibria": True, "separatrices": True,
                                   "trajectories": True})
DEFAULT_DENSITY = 25
FALLBACK_LIMITS = (-5.0, 5.0)
"""The axis range of a state the system gives no bounds for."""



@dataclass(frozen=True)
class SolverSettings:
    """How trajectories are integrated: method, tolerances or step, times, output points.

    Each initial state is integrated from `t0` forward for `t_forward` and backward for
    `t_backward` (0: forward only). Tolerances are numbers or one per state (checked
    against the system by `ExplorerState`).
    """

    method: str = DEFAULT_SOLVER
    rtol: float | tuple[float, ...] = DEFAULT_RTOL
    atol: float | tuple[float, ...] = DEFAULT_ATOL
    dt: float | None = None
    t0: float = 0.0
    t_forward: float = DEFAULT_DURATION
    t_backward: float = DEFAULT_DURATION
    points: int = DEFAULT_POINTS
    max_steps: int = DEFAULT_MAX_STEPS

    def __post_init__(self) -> None:
        active_plugins().get("solvers", self.method)  # unknown names raise with suggestions
        for label in ("t0", "t_forward", "t_backward"):
            if not math.isfinite(getattr(self, label)):
                raise InputError(f"{label} must be a finite number")
        if self.t_forward <= 0 or self.t_backward < 0:
            raise InputError("the forward time must be > 0 and the backward time >= 0")
        if self.dt is not None and not (math.isfinite(self.dt) and self.dt > 0):
            raise InputError(f"dt must be a positive number, got {self.dt!r}")
        if self.points < 2 or self.max_steps < 1:
            raise InputError("points must be >= 2 and max_steps >= 1")

    def simulate_options(self) -> dict[str, Any]:
        """Keyword arguments of `dynsim.simulate` (except the times)."""
        return {"solver": self.method, "rtol": self.rtol, "atol": self.atol, "dt": self.dt,
                "points": self.points, "max_steps": self.max_steps}


@dataclass(frozen=True)
class ViewSettings:
    """The plane shown: `axes` (two state names), their ranges, the values `at` which the
    other states are held, and the integration `window` (in view sizes)."""

    axes: tuple[str, str]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    at: Mapping[str, float] = field(default_factory=dict)
    window: float = DEFAULT_WINDOW

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", MappingProxyType(dict(self.at)))
        for label in ("xlim", "ylim"):
            lo, hi = getattr(self, label)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise InputError(f"{label} must be finite with low < high, got ({lo}, {hi})")
        if not (math.isfinite(self.window) and self.window >= 1):
            raise InputError(f"the window must be >= 1 view, got {self.window!r}")

    def box(self) -> dict[str, tuple[float, float]]:
        """The integration window: the view enlarged `window` times around its centre."""
        def grown(lo: float, hi: float) -> tuple[float, float]:
            mid, half = (lo + hi) / 2, (hi - lo) / 2 * self.window
            return mid - half, mid + half
        return {self.axes[0]: grown(*self.xlim), self.axes[1]: grown(*self.ylim)}


@dataclass(frozen=True)
class LayerSettings:
    """Which layers are drawn (`visible`: name in `LAYERS` -> bool) and how the field looks."""

    visible: Mapping[str, bool] = field(default_factory=lambda: dict(DEFAULT_LAYERS))
    density: int = DEFAULT_DENSITY
    scaling: str = "normalized"

    def __post_init__(self) -> None:
        unknown = set(self.visible) - set(LAYERS)
        if unknown:
            raise InputError(f"unknown layers {sorted(unknown)}; layers: {', '.join(LAYERS)}")
        object.__setattr__(self, "visible", MappingProxyType({**DEFAULT_LAYERS,
                                                              **self.visible}))
        if self.scaling not in FIELD_SCALINGS:
            raise InputError(f"field scaling must be one of {', '.join(FIELD_SCALINGS)}")
        if self.density < 2:
            raise InputError(f"field density must be >= 2 arrows per axis, got {self.density}")


@dataclass(frozen=True, eq=False)
class ExplorerState:
    """Everything the explorer shows; `seeds` are the trajectories' initial states."""

    system: System
    params: Mapping[str, float]
    solver: SolverSettings
    view: ViewSettings
    layers: LayerSettings = field(default_factory=LayerSettings)
    seeds: tuple[tuple[float, ...], ...] = ()
    equations: EquationSource | None = None
    title: str = ""
    description: str = ""
    model: str = ""
    """The model file of a learned system, as a scene names it (empty for other systems)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(
            self.system.parameter_values(self.params)))
        check_tolerances(self.solver.rtol, self.solver.atol, self.system.dimension)
        if self.view.axes[0] not in self.system.states or \
                self.view.axes[1] not in self.system.states:
            raise InputError(f"the axes {self.view.axes} are not states of "
                             f"'{self.system.name}' ({', '.join(self.system.states)})")

    def to_scene(self) -> Scene:
        """The scene file holding this state (loads back to an equal state)."""
        sim = self.solver
        simulation = SimulationSpec(
            t_span=(sim.t0, sim.t0 + sim.t_forward), initial_conditions=self.seeds,
            solver=sim.method, dt=sim.dt, points=sim.points, rtol=sim.rtol, atol=sim.atol,
            max_steps=sim.max_steps, t_backward=sim.t_backward)
        view = ViewSpec(axes=self.view.axes,
                        limits={"xlim": self.view.xlim, "ylim": self.view.ylim},
                        at=self.view.at, window=self.view.window,
                        layers=self.layers.visible, field_density=self.layers.density,
                        field_scaling=self.layers.scaling)
        system: str | System = self.system if self.equations is None else self.system.name
        return Scene(system=system, params=self.params, simulation=simulation, view=view,
                     title=self.title, description=self.description, equations=self.equations,
                     model=self.model)


def state_for_system(system: str | System, equations: EquationSource | None = None,
                     params: Mapping[str, float] | None = None,
                     model: str = "") -> ExplorerState:
    """A fresh state for `system`: defaults, its bounds as the view, its example y0 as seed
    (`equations` or `model` say where a system that is not registered came from)."""
    sys_obj = get_system(system)
    if sys_obj.dimension < 2:
        raise InputError(f"system '{sys_obj.name}' has one state; the phase plane needs two")
    axes = (sys_obj.states[0], sys_obj.states[1])
    seeds = (tuple(sys_obj.y0),) if sys_obj.y0 is not None else ()
    return ExplorerState(system=sys_obj, params=dict(params or {}), solver=SolverSettings(),
                         view=_default_view(sys_obj, axes, {}), seeds=seeds,
                         equations=equations, model=model)


def state_from_scene(scene: Scene) -> ExplorerState:
    """The explorer state a scene file describes (its missing parts take the app defaults).

    The initial states are at t_span[0]; they run forward for |t1 - t0| and backward for
    `t_backward` (default: the same time). `t_eval` is not used: the app samples `points`
    evenly spaced times.
    """
    system = scene.get_system()
    sim = scene.simulation
    t0, t1 = sim.t_span
    solver = SolverSettings(
        method=sim.solver, rtol=DEFAULT_RTOL if sim.rtol is None else sim.rtol,
        atol=DEFAULT_ATOL if sim.atol is None else sim.atol, dt=sim.dt, t0=t0,
        t_forward=abs(t1 - t0),
        t_backward=abs(t1 - t0) if sim.t_backward is None else sim.t_backward,
        points=sim.points or DEFAULT_POINTS, max_steps=sim.max_steps or DEFAULT_MAX_STEPS)
    spec = scene.view
    axes = tuple(spec.axes[:2]) if spec.axes else tuple(system.states[:2])
    view = _default_view(system, axes, spec.limits, spec.at, spec.window)  # type: ignore[arg-type]
    layers = LayerSettings(visible=spec.layers,
                           density=spec.field_density or DEFAULT_DENSITY,
                           scaling=spec.field_scaling or "normalized")
    return ExplorerState(system=system, params=scene.params, solver=solver, view=view,
                         layers=layers, seeds=tuple(sim.initial_conditions),
                         equations=scene.equations, title=scene.title,
                         description=scene.description, model=scene.model)


def _default_view(system: System, axes: tuple[str, str],
                  limits: Mapping[str, tuple[float, float]],
                  at: Mapping[str, float] | None = None,
                  window: float | None = None) -> ViewSettings:
    bounds = system.bounds or {}
    ranges = [limits.get(key) or bounds.get(name) or FALLBACK_LIMITS
              for key, name in zip(("xlim", "ylim"), axes, strict=True)]
    held = {n: (at or {}).get(n, sum(bounds[n]) / 2 if n in bounds else 0.0)
            for n in system.states if n not in axes}
    return ViewSettings(axes=axes, xlim=tuple(ranges[0]), ylim=tuple(ranges[1]),  # type: ignore[arg-type]
                        at=held, window=window or DEFAULT_WINDOW)


Observer = Callable[[ExplorerState, str], None]


class ExplorerModel:
    """The current `ExplorerState` and the observers told of each change.

    Every setter checks its input (raising `DynsimError` with a message and leaving the
    state as it was), replaces the state, and calls each observer with the new state and
    the kind of change: "system" (a new system or scene: everything changed), "params",
    "solver", "view", "layers" or "seeds".
    """

    def __init__(self, state: ExplorerState) -> None:
        self._state = state
        self._observers: list[Observer] = []

    @property
    def state(self) -> ExplorerState:
        """The current state."""
        return self._state

    def subscribe(self, observer: Observer) -> None:
        """Call `observer(state, change)` after every change."""
        self._observers.append(observer)

    def replace(self, state: ExplorerState, change: str = "system") -> None:
        """Make `state` current (e.g. a scene was opened)."""
        self._state = state
        for observer in list(self._observers):
            observer(state, change)

    def _update(self, change: str, **fields: Any) -> None:
        self.replace(replace(self._state, **fields), change)

    def set_params(self, **values: float) -> None:
        """Change parameter values (each checked against its range)."""
        self._state.system.parameter_values(values)
        self._update("params", params={**self._state.params, **values})

    def reset_params(self) -> None:
        """Every parameter back to its default."""
        self._update("params", params={})

    def set_solver(self, **changes: Any) -> None:
        """Change solver settings (fields of `SolverSettings`)."""
        self._update("solver", solver=replace(self._state.solver, **changes))

    def set_view(self, **changes: Any) -> None:
        """Change the view (fields of `ViewSettings`); new axes reset the ranges."""
        view = self._state.view
        if "axes" in changes and tuple(changes["axes"]) != view.axes:
            axes = tuple(changes.pop("axes"))
            for name in axes:
                self._state.system.state_index(name)
            if len(axes) != 2 or axes[0] == axes[1]:
                raise InputError(f"the axes must be two different states, got {axes}")
            view = _default_view(self._state.system, axes, {}, view.at, view.window)  # type: ignore[arg-type]
        self._update("view", view=replace(view, **changes))

    def set_layers(self, density: int | None = None, scaling: str | None = None,
                   **visible: bool) -> None:
        """Switch layers on or off by name, or change the field's density or scaling."""
        layers = self._state.layers
        self._update("layers", layers=LayerSettings(
            visible={**layers.visible, **visible},
            density=layers.density if density is None else int(density),
            scaling=scaling or layers.scaling))

    def add_seed(self, state: Sequence[float]) -> None:
        """Add a trajectory through the full state `state` (D,)."""
        row = tuple(as_initial_states(state, self._state.system)[0].tolist())
        self._update("seeds", seeds=(*self._state.seeds, row))

    def move_seed(self, index: int, state: Sequence[float]) -> None:
        """Move trajectory `index`'s initial state."""
        seeds = list(self._state.seeds)
        seeds[index] = tuple(as_initial_states(state, self._state.system)[0].tolist())
        self._update("seeds", seeds=tuple(seeds))

    def remove_seed(self, index: int) -> None:
        """Remove trajectory `index`."""
        seeds = list(self._state.seeds)
        del seeds[index]
        self._update("seeds", seeds=tuple(seeds))

    def clear_seeds(self) -> None:
        """Remove every trajectory."""
        self._update("seeds", seeds=())

    def lift(self, x: float, y: float) -> tuple[float, ...]:
        """The full state at plane point (x, y): the other states at their slice values."""
        state = self._state
        i, j = (state.system.state_index(n) for n in state.view.axes)
        full = [state.view.at.get(n, 0.0) for n in state.system.states]
        full[i], full[j] = float(x), float(y)
        return tuple(full)
