"""TARGET arguments: a scene file, the name of a registered system, or equations (--eq).

`--eq "x=a*x - b*x*y" --eq "y=-c*y + d*x*y"` defines the states x and y, in that order;
every other name in the equations (except the time `t` and the constants `pi` and `e`) is a
parameter and needs a value with `--param`. Errors name `--eq` and show the whole argument
with a caret under the problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dynsim.core.errors import InputError
from dynsim.core.expressions import ExpressionError, unknown_names
from dynsim.core.expressions.parse import IDENTIFIER
from dynsim.core.models import load_model
from dynsim.core.scene import EquationSource, Scene, SimulationSpec, load_scene
from dynsim.core.simulate import get_system
from dynsim.core.targets import target_kind

DEFAULT_T_END = 10.0
"""A system named on the command line is simulated over [0, 10] unless --t-end says."""

EQUATIONS_NAME = "equations"
"""The name of the system --eq defines (it names the system in outputs)."""

OPTION = "--eq"
TIME = "t"
MAX_LISTED = 10
"""At most this many missing parameters are named in one message."""



def scene_for_target(target: str | None, equations: Sequence[str] = (),
                     params: Mapping[str, float] | None = None) -> Scene:
    """The scene for a command's TARGET or, when `equations` (--eq items) are given, for them.

    TARGET is a model file (`.dsm`), a scene file (`.toml` or an existing file), else the
    name of a registered system, simulated with its defaults and example initial state (if
    it has one) over [0, DEFAULT_T_END]. With `equations`, `params` (--param) must give
    every parameter.
    """
    if equations:
        if target is not None:
            raise InputError(f"give either TARGET ('{target}') or --eq equations, not both")
        return equation_scene(equations, params or {})
    if target is None:
        raise InputError("the following arguments are required: TARGET (a scene file or a "
                         "system name), or equations with --eq")
    kind, path = target_kind(target), Path(target)
    if kind == "model":
        system = load_model(path)
        ics = (tuple(system.y0),) if system.y0 is not None else ()
        return Scene(system=system, params={}, simulation=_default_simulation(ics),
                     model=str(path))
    if kind == "scene":
        return load_scene(path)
    system = get_system(target)
    ics = (tuple(system.y0),) if system.y0 is not None else ()
    return Scene(system=system.name, params={}, simulation=_default_simulation(ics))


def equation_scene(items: Sequence[str], params: Mapping[str, float]) -> Scene:
    """A scene for the system that --eq `items` define, with `params` as its parameters."""
    equations = _split(items)
    states = {eq.state for eq in equations}
    free: dict[str, ExpressionError] = {}
    for eq in equations:
        for name, located in _free_names(eq, {*states, TIME}).items():
            free.setdefault(name, located)
    _check_params(free, params)
    source = EquationSource(tuple(eq.state for eq in equations),
                            {eq.state: eq.text for eq in equations})
    try:
        system = source.build(EQUATIONS_NAME, params, prefix=OPTION)
    except ExpressionError as exc:  # checked above; kept for errors of the system as a whole
        by_state = {eq.state: eq for eq in equations}
        eq = by_state.get(exc.key.rpartition(".")[2])
        raise (eq.located(exc) if eq else ExpressionError(exc.message, key=OPTION)) from None
    return Scene(system=system, params=params, simulation=_default_simulation(()),
                 equations=source)


def _default_simulation(ics: tuple[tuple[float, ...], ...]) -> SimulationSpec:
    return SimulationSpec(t_span=(0.0, DEFAULT_T_END), initial_conditions=ics)


@dataclass(frozen=True)
class _Equation:
    """One --eq argument: `item` as given, split into `state` and right-hand side `text`."""

    item: str
    state: str
    text: str
    offset: int
    """Characters of `item` before `text`."""

    def located(self, error: ExpressionError) -> ExpressionError:
        """`error` (about `text`) keyed `--eq`, with the caret placed in the whole argument."""
        column = None if error.column is None else error.column + self.offset
        return ExpressionError(error.message, key=OPTION, expression=self.item, column=column)


def _split(items: Sequence[str]) -> list[_Equation]:
    equations: list[_Equation] = []
    for item in items:
        lhs, sep, text = item.partition("=")
        if not sep:
            raise ExpressionError("expected STATE=EXPRESSION, as in --eq \"x=a*x - b*x*y\"",
                                  key=OPTION, expression=item)
        state = lhs.strip()
        column = len(lhs) - len(lhs.lstrip()) + 1
        if not IDENTIFIER.fullmatch(state):
            raise ExpressionError("before '=' comes the state's name: a letter, then letters, "
                                  "digits or underscores", key=OPTION, expression=item,
                                  column=column)
        if any(eq.state == state for eq in equations):
            raise ExpressionError(f"a second equation for state '{state}' (one --eq per "
                                  "state)", key=OPTION, expression=item, column=column)
        equations.append(_Equation(item, state, text, len(lhs) + 1))
    return equations


def _free_names(eq: _Equation, known: set[str]) -> dict[str, ExpressionError]:
    """The names in `eq` that are not in `known`, each with an error pointing at its first use.

    Any other problem in the expression is raised at once.
    """
    try:
        found = unknown_names(eq.text, known, key=OPTION)
    except ExpressionError as exc:
        raise eq.located(exc) from None
    return {name: eq.located(ExpressionError(f"unknown name '{name}'", key=OPTION,
                                             expression=eq.text, column=column))
            for name, column in found.items()}


def _check_params(free: Mapping[str, ExpressionError], params: Mapping[str, float]) -> None:
    """Every free name needs a value in `params`, and `params` names nothing else."""
    missing = [name for name in free if name not in params]
    if missing:
        first = free[missing[0]]
        raise ExpressionError(_missing_message(missing), key=OPTION,
                              expression=first.expression, column=first.column)
    for name in params:
        if name not in free:
            listing = ", ".join(free) if free else "none"
            raise InputError(f"--param {name}: '{name}' is not a parameter of the equations "
                             f"(their parameters: {listing})")


def _missing_message(missing: Sequence[str]) -> str:
    listed = ", ".join(missing[:MAX_LISTED])
    if len(missing) > MAX_LISTED:
        listed += f" and {len(missing) - MAX_LISTED} more"
    plural = "s" if len(missing) > 1 else ""
    options = " ".join(f"--param {name}=VALUE" for name in missing[:3])
    more = " ..." if len(missing) > 3 else ""
    return f"no value for parameter{plural} {listed}: give {options}{more}"
