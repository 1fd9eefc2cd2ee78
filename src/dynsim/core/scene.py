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
rtol = 1e-6                       # optional, also atol: a number or one per state
max_steps = 100000                # optional
t_backward = 20.0                 # optional: the app also integrates this long backwards
[view]                            # optional
axes = ["x", "y"]                 # 2 or 3 state names
xlim = [0.0, 5.0]                 # optional, also ylim and zlim
at = { z = 25.0 }                 # optional: values of the states that are not axes
window = 3.0                      # optional: trajectories stop this many views out
layers = { nullclines = false }   # optional: the app's layer toggles (LAYERS)
field = { density = 25, scaling = "normalized" }   # optional: direction-field arrows
```

A [system] table with `equations` (and optional `states`, `title`, `description`) defines an
equation system instead (docs/equations.md); its `params` are plain numbers and name every
parameter. Its equations win over a registered system of the same name inside the scene, so
a shared scene means the same on every machine, whatever plugins are installed.

A [system] table with `model = "lv.dsm"` (a path relative to the scene file) uses a learned
model file (`dynsim.load_model`) as the system; it takes no `params`.
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
from dynsim.core.errors import DynsimError, InputError, SceneError
from dynsim.core.expressions import ExpressionError, equation_system
from dynsim.core.models import load_model
from dynsim.core.plugins import active_plugins
from dynsim.core.schema import Checker, type_name
from dynsim.core.simulate import DEFAULT_ATOL, DEFAULT_RTOL, DEFAULT_SOLVER, get_system, simulate
from dynsim.core.solver import check_tolerances
from dynsim.core.system import System
from dynsim.core.textfile import read_user_text
from dynsim.core.trajectories import Trajectories

LIMIT_KEYS = ("xlim", "ylim", "zlim")
LAYERS = ("field", "streamlines", "nullclines", "equilibria", "separatrices", "trajectories")
"""The layers of a phase portrait the app draws and a scene's [view.layers] switches."""
FIELD_SCALINGS = ("normalized", "speed")
"""Arrow lengths of a direction field: all the same, or proportional to the speed."""
EQUATION_KEYS = ("states", "equations", "title", "description")
"""Keys of [system] that only an equation system takes."""

Tolerance = float | tuple[float, ...]
"""`rtol` or `atol`: one number for every state, or one per state."""


@dataclass(frozen=True)
class SimulationSpec:
    """The [simulation] table (None: the `simulate` default)."""

    t_span: tuple[float, float]
    initial_conditions: tuple[tuple[float, ...], ...]
    solver: str = DEFAULT_SOLVER
    dt: float | None = None
    points: int | None = None
    t_eval: tuple[float, ...] | None = None
    rtol: Tolerance | None = None
    atol: Tolerance | None = None
    max_steps: int | None = None
    t_backward: float | None = None

    def options(self) -> dict[str, Any]:
        """The keyword arguments of `simulate` this table sets."""
        out: dict[str, Any] = {"solver": self.solver, "dt": self.dt}
        for key in ("points", "t_eval", "rtol", "atol", "max_steps"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True)
class ViewSpec:
    """The [view] table: which states to plot and how (None or empty: the app's default).

    `limits` maps 'xlim'/'ylim'/'zlim' to ranges (missing: the system's bounds); `at` holds
    the values of the states that are not axes; `window` is how many view sizes around the
    view trajectories may run before they stop; `layers` maps names in `LAYERS` to on/off;
    `field_density` is arrows per axis and `field_scaling` one of `FIELD_SCALINGS`.
    """

    axes: tuple[str, ...] = ()
    limits: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    at: Mapping[str, float] = field(default_factory=dict)
    window: float | None = None
    layers: Mapping[str, bool] = field(default_factory=dict)
    field_density: int | None = None
    field_scaling: str | None = None

    def __post_init__(self) -> None:
        for name in ("limits", "at", "layers"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def to_dict(self) -> dict[str, Any]:
        """The [view] table as written (empty when everything is default)."""
        view: dict[str, Any] = {"axes": list(self.axes)} if self.axes else {}
        view.update({k: list(v) for k, v in self.limits.items()})
        if self.at:
            view["at"] = dict(self.at)
        if self.window is not None:
            view["window"] = self.window
        if self.layers:
            view["layers"] = dict(self.layers)
        field_table = {k: v for k, v in (("density", self.field_density),
                                         ("scaling", self.field_scaling)) if v is not None}
        if field_table:
            view["field"] = field_table
        return view


@dataclass(frozen=True)
class EquationSource:
    """The text of an equation system as written, kept so that a scene saves it exactly.

    `equations` maps each state to the right-hand side of d(state)/dt; `states` gives their
    order (empty: the order of `equations`). `title` and `description` are the system's.
    """

    states: tuple[str, ...]
    equations: Mapping[str, str]
    title: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "states", tuple(self.states))
        object.__setattr__(self, "equations", MappingProxyType(dict(self.equations)))

    def build(self, name: str, params: Mapping[str, float], *,
              prefix: str = "system") -> System:
        """The `System` called `name` with `params` (name -> value) as its parameters.

        Raises `ExpressionError` whose key starts with `prefix` (`system.equations.x`).
        """
        return equation_system(name, self.states or None, dict(self.equations), params,
                               title=self.title,
                               description=self.description, key=f"{prefix}.equations",
                               states_key=f"{prefix}.states", params_key=f"{prefix}.params")


@dataclass(frozen=True, eq=False)
class Scene:
    """A loaded scene: a system with parameter values, a simulation and a view.

    `system` is a registered system's name, or a `System`. With `equations`, the scene holds
    an equation system: given a name, the `System` is built from `equations` and `params`
    (which then name every parameter). Scenes compare equal when they would save the same
    file.
    """

    system: str | System
    params: Mapping[str, float]
    simulation: SimulationSpec
    view: ViewSpec = field(default_factory=ViewSpec)
    title: str = ""
    description: str = ""
    equations: EquationSource | None = None
    model: str = ""
    """The model file of a learned system, as written in the scene (`[system] model`)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        if self.equations is not None and isinstance(self.system, str):
            object.__setattr__(self, "system", self.equations.build(self.system, self.params))

    @property
    def system_name(self) -> str:
        """The name of the scene's system."""
        return self.system.name if isinstance(self.system, System) else self.system

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Scene):
            return NotImplemented
        return self._identity() == other._identity()

    def _identity(self) -> tuple[Any, ...]:
        return (self.system_name, dict(self.params), self.simulation, self.view, self.title,
                self.description, self.equations, self.model)

    def get_system(self) -> System:
        """The `System` this scene uses (registered, or built from its equations)."""
        return get_system(self.system)

    def simulate(self, *, cancel: CancelToken | None = None) -> Trajectories:
        """Run the scene's simulation."""
        sim = self.simulation
        return simulate(self.system, sim.initial_conditions, sim.t_span, params=self.params,
                        cancel=cancel, **sim.options())

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
        doc["system"] = self._system_dict()
        sim = self.simulation
        doc["simulation"] = {"t_span": list(sim.t_span),
                             "initial_conditions": [list(ic) for ic in sim.initial_conditions],
                             "solver": sim.solver}
        for key in ("dt", "points", "t_eval", "rtol", "atol", "max_steps", "t_backward"):
            value = getattr(sim, key)
            if value is not None:
                doc["simulation"][key] = list(value) if isinstance(value, tuple) else value
        view = self.view.to_dict()
        if view:
            doc["view"] = view
        return doc

    def _system_dict(self) -> dict[str, Any]:
        if self.model:
            return {"model": self.model}
        source = self.equations
        if source is None:
            return {"name": self.system_name, "params": dict(self.params)}
        table: dict[str, Any] = {"name": self.system_name}
        table.update({k: getattr(source, k) for k in ("title", "description")
                      if getattr(source, k)})
        table["states"] = list(source.states)
        table["equations"] = dict(source.equations)
        table["params"] = self.get_system().parameter_values(self.params)
        return table

    def save(self, path: str | Path) -> None:
        """Write the scene as TOML, atomically; `load_scene` reads it back equal.

        The text is checked as `load_scene` checks it before anything is written: a scene
        `load_scene` would refuse is refused here (`SceneError`), and no file is written.
        """
        import tomli_w

        try:
            text = tomli_w.dumps(self.to_dict())
        except (TypeError, ValueError) as exc:
            raise SceneError(f"{path}: not saved: {exc}") from None
        scene_from_dict(tomllib.loads(text), f"{path} (not saved)")
        with atomic_write(path, "wb") as handle:
            handle.write(text.encode("utf-8"))


MAX_SCENE_BYTES = 16 * 10**6
"""Scene files larger than this are refused (the largest shipped one is a few kB)."""


def load_scene(path: str | Path) -> Scene:
    """Read and validate a scene file; errors say `FILE:LINE:COL` or `FILE: key.path`.

    An equation that does not compile raises a `SceneError` that is also an
    `ExpressionError`: its message shows the expression with a caret under the problem.
    """
    path = Path(path)
    text = read_user_text(path, SceneError, limit=MAX_SCENE_BYTES)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SceneError(_toml_error(path, text, exc)) from None
    except RecursionError:
        raise SceneError(f"{path}: arrays or tables nested too deeply to be a scene") from None
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
    if isinstance(doc["system"], Mapping) and "model" in doc["system"]:
        model = _checked_model(check, doc["system"], source)
        simulation = _checked_simulation(check, model[1], doc["simulation"])
        return Scene(system=model[1], params={}, simulation=simulation,
                     view=_checked_view(check, model[1], doc.get("view", {})), title=title,
                     description=description, model=model[0])
    system, params, equations = _checked_system_table(check, doc["system"])
    simulation = _checked_simulation(check, system, doc["simulation"])
    view = _checked_view(check, system, doc.get("view", {}))
    return Scene(system=system if equations else system.name, params=params,
                 simulation=simulation, view=view, title=title, description=description,
                 equations=equations)


def _checked_system_table(check: Checker, value: object) -> tuple[System, dict[str, float],
                                                                   EquationSource | None]:
    table = check.table(value, "system", ("name", "params", *EQUATION_KEYS), required=("name",))
    name = check.string(table["name"], "system.name")
    if "equations" in table or "states" in table:
        return _checked_equations(check, name, table)
    for key in EQUATION_KEYS:
        if key in table:
            raise check.error(f"system.{key}", "only an equation system (a [system] table "
                                               "with equations) takes this key")
    system = _checked_system(check, name)
    return system, _checked_params(check, system, table.get("params", {})), None


def _checked_model(check: Checker, value: Mapping[str, Any], source: str) -> tuple[str, System]:
    """(path as written, System) of a [system] table with `model`."""
    table = check.table(value, "system", ("model",), required=("model",))
    written = check.string(table["model"], "system.model")
    path = Path(written)
    if not path.is_absolute() and source != "<scene>":
        path = Path(source).parent / path
    try:
        return written, load_model(path)
    except DynsimError as exc:
        raise check.error("system.model", str(exc)) from None


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


def _checked_equations(check: Checker, name: str, table: Mapping[str, Any]) -> tuple[
        System, dict[str, float], EquationSource]:
    if "equations" not in table:
        raise check.error("system.equations", "missing (required with system.states)")
    equations = check.mapping(table["equations"], "system.equations")
    for state, text in equations.items():
        if not isinstance(text, str):
            raise check.error(f"system.equations.{state}", "expected the right-hand side as "
                              f"a string (in quotes), got {type_name(text)}")
    states = check.strings(table["states"], "system.states") if "states" in table else ()
    params = {k: check.number(v, f"system.params.{k}")
              for k, v in check.mapping(table.get("params", {}), "system.params").items()}
    extra = {k: check.string(table[k], f"system.{k}") for k in ("title", "description")
             if k in table}
    source = EquationSource(states, equations, **extra)
    try:
        system = source.build(name, params)
    except ExpressionError as exc:
        # key "system": the System itself refused, and only its name is left unchecked
        raise check.expression_error(exc, "system.name" if exc.key == "system" else exc.key) \
            from None
    return system, params, replace(source, states=system.states)


def _checked_simulation(check: Checker, system: System, value: object) -> SimulationSpec:
    keys = ("t_span", "initial_conditions", "solver", "dt", "points", "t_eval", "rtol", "atol",
            "max_steps", "t_backward")
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
    return SimulationSpec(t_span=t_span, initial_conditions=ics, solver=solver,
                          **_checked_steps(check, table), **_checked_output(check, table),
                          **_checked_tolerances(check, system, table))


def _checked_steps(check: Checker, table: Mapping[str, Any]) -> dict[str, Any]:
    """`dt`, `max_steps` and `t_backward`."""
    out: dict[str, Any] = {}
    if "dt" in table:
        out["dt"] = check.number(table["dt"], "simulation.dt")
        if out["dt"] <= 0:
            raise check.error("simulation.dt", f"must be positive, got {out['dt']:g}")
    if "max_steps" in table:
        out["max_steps"] = check.integer(table["max_steps"], "simulation.max_steps", 1)
    if "t_backward" in table:
        out["t_backward"] = check.number(table["t_backward"], "simulation.t_backward")
        if out["t_backward"] < 0:
            raise check.error("simulation.t_backward", f"must be >= 0, got {out['t_backward']:g}")
    return out


def _checked_output(check: Checker, table: Mapping[str, Any]) -> dict[str, Any]:
    """`points` or `t_eval`."""
    if "points" in table and "t_eval" in table:
        raise check.error("simulation.t_eval", "give either points or t_eval, not both")
    if "points" in table:
        return {"points": check.integer(table["points"], "simulation.points", 2)}
    if "t_eval" in table:
        return {"t_eval": check.numbers(table["t_eval"], "simulation.t_eval")}
    return {}


def _checked_tolerances(check: Checker, system: System,
                        table: Mapping[str, Any]) -> dict[str, Tolerance]:
    """`rtol` and `atol`: each a number or one number per state, >= 0, not both zero."""
    out = {key: _checked_tolerance(check, system, table[key], f"simulation.{key}")
           for key in ("rtol", "atol") if key in table}
    try:
        check_tolerances(out.get("rtol", DEFAULT_RTOL), out.get("atol", DEFAULT_ATOL),
                         system.dimension)
    except InputError as exc:
        raise check.error(f"simulation.{next(iter(out))}", str(exc)) from None
    return out


def _checked_tolerance(check: Checker, system: System, value: object, path: str) -> Tolerance:
    if not isinstance(value, list):
        number = check.number(value, path)
        if number < 0:
            raise check.error(path, f"must be >= 0, got {number:g}")
        return number
    if len(value) != system.dimension:
        raise check.error(path, f"expected a number, or {system.dimension} numbers (one per "
                                f"state: {', '.join(system.states)}), got {len(value)}")
    numbers = check.numbers(value, path)
    for i, number in enumerate(numbers):
        if number < 0:
            raise check.error(f"{path}[{i}]", f"must be >= 0, got {number:g}")
    return numbers


def _checked_initial_conditions(check: Checker, system: System,
                                value: object) -> tuple[tuple[float, ...], ...]:
    path = "simulation.initial_conditions"
    if value == []:
        return ()  # no trajectories (the app shows the field alone)
    if not isinstance(value, list):
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
    table = check.table(value, "view", ("axes", *LIMIT_KEYS, "at", "window", "layers", "field"))
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
    at = check.table(table.get("at", {}), "view.at", system.states)
    at_values = {k: check.number(v, f"view.at.{k}") for k, v in at.items()}
    window = None
    if "window" in table:
        window = check.number(table["window"], "view.window")
        if window < 1:
            raise check.error("view.window", f"must be >= 1 (views), got {window:g}")
    layers = check.table(table.get("layers", {}), "view.layers", LAYERS)
    for name, on in layers.items():
        if not isinstance(on, bool):
            raise check.error(f"view.layers.{name}", f"expected true or false, got "
                                                     f"{type_name(on)}")
    field_table = check.table(table.get("field", {}), "view.field", ("density", "scaling"))
    density = (check.integer(field_table["density"], "view.field.density", 2)
               if "density" in field_table else None)
    scaling = None
    if "scaling" in field_table:
        scaling = check.string(field_table["scaling"], "view.field.scaling")
        if scaling not in FIELD_SCALINGS:
            raise check.error("view.field.scaling", f"expected one of "
                              f"{', '.join(FIELD_SCALINGS)}, got '{scaling}'")
    return ViewSpec(axes=axes, limits=limits, at=at_values, window=window, layers=dict(layers),
                    field_density=density, field_scaling=scaling)
