"""Plugin code called by dynsim, turned into user errors when it misbehaves.

Everything a third-party plugin registers is wrapped once, when it is registered
(`guarded`): a system's `rhs`, `jacobian` and `invariant`, an exporter's `write`, a solver's
`solve` and `iter_solve`. An exception raised inside becomes a `PluginError` (an
`ExportError` for exporters) whose one line names the plugin, the object, the function and
the plugin's file and line. A right-hand side (or Jacobian) that returns complex values or
an array of the wrong shape is refused with a `SystemDefinitionError` (never cast or
truncated). Built-in plugins are not wrapped: an exception there is a bug of dynsim's.
Inside `simulate`, the solver still turns an rhs error into the trajectory's `rhs_error`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dynsim.core.errors import (
    DynsimError,
    ExportError,
    PluginError,
    SystemDefinitionError,
    exception_line,
)
from dynsim.core.exporter import Exporter
from dynsim.core.system import System


def guarded(obj: object, plugin: str, source: str) -> object:
    """`obj` (a System, Exporter or solver) with its functions wrapped as described above."""
    if isinstance(obj, System):
        return _guarded_system(obj, plugin, source)
    if isinstance(obj, Exporter):
        return dataclasses.replace(obj, write=_guarded_write(obj, plugin, source))
    return GuardedSolver(obj, plugin, source)


def check_derivative(system: str, out: Any, y: Any, what: str = "rhs",
                     extra: tuple[int, ...] = ()) -> None:
    """Refuse an `out` for states `y` that is complex or not of shape `y.shape + extra`."""
    dtype = getattr(out, "dtype", None)
    if dtype is None:
        out = np.asarray(out)
        dtype = out.dtype
    if getattr(dtype, "is_complex", False) or getattr(dtype, "kind", "") == "c":
        raise SystemDefinitionError(f"system '{system}': {what} returned complex values; it "
                                    "must return real numbers (take .real, or abs(), if meant)")
    expected = (*tuple(np.shape(y) if not hasattr(y, "shape") else y.shape), *extra)
    if tuple(out.shape) != expected:
        raise SystemDefinitionError(
            f"system '{system}': {what} returned shape {tuple(out.shape)} for y of shape "
            f"{expected[:len(expected) - len(extra)]}; it must return an array of shape "
            f"{expected}")


def _guarded_system(system: System, plugin: str, source: str) -> System:
    where = f"plugin '{plugin}': system '{system.name}'"
    d = system.dimension
    changes: dict[str, Callable[..., Any]] = {
        "rhs": _call_checked(system.rhs, where, source, "rhs", system.name, ())}
    if system.jacobian is not None:
        changes["jacobian"] = _call_checked(system.jacobian, where, source, "jacobian",
                                            system.name, (d,))
    if system.invariant is not None:
        changes["invariant"] = _call_checked(system.invariant, where, source, "invariant",
                                             "", ())
    return dataclasses.replace(system, **changes)


def _call_checked(function: Callable[..., Any], where: str, source: str, what: str,
                  system: str, extra: tuple[int, ...]) -> Callable[..., Any]:
    """`function(*args)`; its exceptions as `PluginError`; its output checked against y."""

    @functools.wraps(function)
    def call(*args: Any) -> Any:
        try:
            out = function(*args)
        except Exception as exc:
            raise PluginError(f"{where}: {what} raised {exception_line(exc, source)}") from exc
        if system:  # rhs(t, y, p) and jacobian(t, y, p): y is the second argument
            check_derivative(system, out, args[1], what, extra)
        return out

    return call


def _guarded_write(exporter: Exporter, plugin: str, source: str) -> Callable[..., None]:
    write = exporter.write

    @functools.wraps(write)
    def call(traj: Any, path: Path) -> None:
        try:
            write(traj, path)
        except DynsimError:
            raise
        except Exception as exc:
            raise ExportError(f"{path}: plugin '{plugin}': exporter '{exporter.name}' raised "
                              f"{exception_line(exc, source)}") from exc

    return call


class GuardedSolver:
    """A third-party solver whose exceptions become `PluginError`s naming it and its plugin.

    Every other attribute is the solver's own.
    """

    def __init__(self, solver: Any, plugin: str, source: str) -> None:
        self._solver = solver
        self.name: str = solver.name
        self.description: str = solver.description
        self._where = f"plugin '{plugin}': solver '{solver.name}'"
        self._source = source
        iter_solve = getattr(solver, "iter_solve", None)
        if callable(iter_solve):
            self.iter_solve = self._wrap_iter(iter_solve)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._solver, name)

    def solve(self, problem: Any) -> Any:
        """The solver's `solve`, with its exceptions as `PluginError`."""
        try:
            return self._solver.solve(problem)
        except DynsimError:
            raise
        except Exception as exc:
            raise self._error(exc, problem) from exc

    def _wrap_iter(self, iter_solve: Callable[..., Any]) -> Callable[..., Any]:
        def call(problem: Any) -> Any:
            try:
                yield from iter_solve(problem)
            except DynsimError:
                raise
            except Exception as exc:
                raise self._error(exc, problem) from exc

        return call

    def _error(self, exc: Exception, problem: Any) -> PluginError:
        system = getattr(problem, "system", "")
        on = f" on system '{system}'" if system else ""
        return PluginError(f"{self._where}: solve raised {exception_line(exc, self._source)}"
                           f"{on}")
