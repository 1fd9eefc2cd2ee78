"""Scenes: TOML files holding a whole setup (system, parameters, simulation, view).

```toml
title = "optional"                # and description = "optional"
[system]
name = "lotka_volterra"
params = { alpha = 1.5 }          # optional; missing parameters take their defaults
[simulation]
t_span = [0.0, 20.0]
initial_conditions = [[2.0, 1.0]] # optional if the system has an example y0
solver = "rk4"                    # optional
dt = 0.01                         # optional (fixed-step methods)
points = 1001                     # optional; or t_eval = [...]
[view]                            # optional
axes = ["x", "y"]                 # 2 or 3 state names
xlim = [0.0, 5.0]                 # optional, also ylim and zlim
```
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from dynsim.core.atomic import atomic_write
from dynsim.core.cancel import CancelToken
from dynsim.core.errors import DynsimError, SceneError
from dynsim.core.plugins import active_plugins
from dynsim.core.schema import Checker
from dynsim.core.simulate import DEFAULT_SOLVER, get_system, simulate
from dynsim.core.system import System
from dynsim.core.textfile import read_user_text
from dynsim.core.trajectories import Trajectories

LIMIT_KEYS = ("xlim", "ylim", "zlim")


@dataclass(frozen=True)
class SimulationSpec:
    """The [simulation] table."""

    t_span: tuple[float, float]
    initial_conditions: tuple[tuple[float, ...], ...]
    solver: str = DEFAULT_SOLVER
    dt: float | None = None
    points: int | None = None
    t_eval: tuple[float, ...] | None = None


@dataclass(frozen=True)
class ViewSpec:
    """The [view] table: which states to plot and the axis limits (None: the system's bounds)."""

    axes: tuple[str, ...] = ()
    limits: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "limits", MappingProxyType(dict(self.limits)))


@dataclass(frozen=True)
class Scene:
    """A loaded scene: a system with parameter values, a simulation and a view."""

    system: str
    params: Mapping[str, float]
    simulation: SimulationSpec
    view: ViewSpec = field(default_factory=ViewSpec)
    title: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def get_system(self) -> System:
        """The registered `System` this scene uses."""
        return get_system(self.system)

    def simulate(self, *, cancel: CancelToken | None = None) -> Trajectories:
        """Run the scene's simulation."""
        sim = self.simulation
        extra: dict[str, Any] = {"t_eval": sim.t_eval} if sim.t_eval is not None else {}
        if sim.points is not None:
            extra["points"] = sim.points
        return simulate(self.system, sim.initial_conditions, sim.t_span, params=self.params,
                        solver=sim.solver, dt=sim.dt, cancel=cancel, **extra)

    def replace_simulation(self, **changes: Any) -> Scene:
        """A copy with fields of the [simulation] table changed."""
        return replace(self, simulation=replace(self.simulation, **changes))

    def to_dict(self) -> dict[str, Any]:
        """The scene as the plain TOML document `save` writes."""
        doc: dict[str, Any] = {}
        if self.title:
            doc["title"] = self.title
        if self.description:
            doc["description"] = self.description
        doc["system"] = {"name": self.system, "params": dict(self.params)}
        sim = self.simulation
        doc["simulation"] = {"t_span": list(sim.t_span),
                             "initial_conditions": [list(ic) for ic in sim.initial_conditions],
                             "solver": sim.solver}
        for key in ("dt", "points", "t_eval"):
            value = getattr(sim, key)
            if value is not None:
                doc["simulation"][key] = list(value) if isinstance(value, tuple) else value
        view: dict[str, Any] = {"axes": list(self.view.axes)} if self.view.axes else {}
        view.update({k: list(v) for k, v in self.view.limits.items()})
        if view:
            doc["view"] = view
        return doc

    def save(self, path: str | Path) -> None:
        """Write the scene as TOML, atomically; `load_scene` reads it back equal."""
        import tomli_w

        with atomic_write(path, "wb") as handle:
            tomli_w.dump(self.to_dict(), handle)


def load_scene(path: str | Path) -> Scene:
    """Read and validate a scene file; errors say `FILE:LINE:COL` or `FILE: key.path`."""
    path = Path(path)
    text = read_user_text(path, SceneError)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SceneError(_toml_error(path, text, exc)) from None
    return scene_from_dict(document, str(path))


def _toml_error(path: Path, text: str, exc: tomllib.TOMLDecodeError) -> str:
    message = str(exc)
    match = re.search(r"\s*\(at line (\d+), column (\d+)\)$", message)
    if match:
        return f"{path}:{match[1]}:{match[2]}: {message[: match.start()]}"
    match = re.search(r"\s*\(at end of document\)$", message)
    lines = text.split("\n")
    end = f"{len(lines)}:{len(lines[-1]) + 1}"
    return f"{path}:{end}: {message[: match.start()] if match else message}"


def scene_from_dict(document: Mapping[str, Any], source: str = "<scene>") -> Scene:
    """Validate a parsed scene document (errors start with `source`)."""
    check = Checker(source)
    doc = check.table(document, "", ("title", "description", "system", "simulation", "view"),
                      required=("system", "simulation"))
    title = check.string(doc["title"], "title") if "title" in doc else ""
    description = check.string(doc["description"], "description") if "description" in doc \
        else ""
    system_table = check.table(doc["system"], "system", ("name", "params"), required=("name",))
    system = _checked_system(check, check.string(system_table["name"], "system.name"))
    params = _checked_params(check, system, system_table.get("params", {}))
    simulation = _checked_simulation(check, system, doc["simulation"])
    view = _checked_view(check, system, doc.get("view", {}))
    return Scene(system=system.name, params=params, simulation=simulation, view=view,
                 title=title, description=description)


def _checked_system(check: Checker, name: str) -> System:
    try:
        return get_system(name)
    except DynsimError as exc:
        raise check.error("system.name", str(exc)) from None


def _checked_params(check: Checker, system: System, value: object) -> dict[str, float]:
    table = check.table(value, "system.params", tuple(system.params))
    params = {k: check.number(v, f"system.params.{k}") for k, v in table.items()}
    for name, number in params.items():
        try:
            system.parameter_values({name: number})
        except DynsimError as exc:
            raise check.error(f"system.params.{name}", str(exc)) from None
    return params


def _checked_simulation(check: Checker, system: System, value: object) -> SimulationSpec:
    keys = ("t_span", "initial_conditions", "solver", "dt", "points", "t_eval")
    table = check.table(value, "simulation", keys, required=("t_span",))
    t_span = check.numbers(table["t_span"], "simulation.t_span", 2)
    if t_span[0] == t_span[1]:
        raise check.error("simulation.t_span", "start and end must differ")
    if "initial_conditions" in table:
        ics = _checked_initial_conditions(check, system, table["initial_conditions"])
    elif system.y0 is not None:
        ics = (tuple(system.y0),)
    else:
        raise check.error("simulation.initial_conditions",
                          f"missing (required: system '{system.name}' has no example y0)")
    solver = check.string(table.get("solver", DEFAULT_SOLVER), "simulation.solver")
    try:
        active_plugins().get("solvers", solver)
    except DynsimError as exc:
        raise check.error("simulation.solver", str(exc)) from None
    dt = None
    if "dt" in table:
        dt = check.number(table["dt"], "simulation.dt")
        if dt <= 0:
            raise check.error("simulation.dt", f"must be positive, got {dt:g}")
    points = check.integer(table["points"], "simulation.points", 2) if "points" in table \
        else None
    t_eval = check.numbers(table["t_eval"], "simulation.t_eval") if "t_eval" in table else None
    if points is not None and t_eval is not None:
        raise check.error("simulation.t_eval", "give either points or t_eval, not both")
    return SimulationSpec(t_span=t_span, initial_conditions=ics, solver=solver, dt=dt,
                          points=points, t_eval=t_eval)


def _checked_initial_conditions(check: Checker, system: System,
                                value: object) -> tuple[tuple[float, ...], ...]:
    path = "simulation.initial_conditions"
    if not isinstance(value, list) or not value:
        raise check.error(path, f"expected an array of states, one array of "
                                f"{system.dimension} numbers ({', '.join(system.states)}) each")
    rows = []
    for i, row in enumerate(value):
        if isinstance(row, list) and len(row) != system.dimension:
            raise check.error(f"{path}[{i}]", f"expected {system.dimension} numbers "
                                              f"({', '.join(system.states)}), got {len(row)}")
        rows.append(check.numbers(row, f"{path}[{i}]", system.dimension))
    return tuple(rows)


def _checked_view(check: Checker, system: System, value: object) -> ViewSpec:
    table = check.table(value, "view", ("axes", *LIMIT_KEYS))
    axes: tuple[str, ...] = ()
    if "axes" in table:
        axes = check.strings(table["axes"], "view.axes")
        if len(axes) not in (2, 3) or len(set(axes)) != len(axes):
            raise check.error("view.axes", f"expected 2 or 3 different state names, got {axes}")
        for i, name in enumerate(axes):
            if name not in system.states:
                raise check.error(f"view.axes[{i}]", f"'{name}' is not a state of "
                                  f"'{system.name}' ({', '.join(system.states)})")
    limits = {key: check.interval(table[key], f"view.{key}") for key in LIMIT_KEYS
              if key in table}
    return ViewSpec(axes=axes, limits=limits)
