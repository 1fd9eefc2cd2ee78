"""The hooks a dynsim plugin can implement.

Every hook receives a `register` callback and calls it once per thing it contributes, so hook
signatures stay stable as the project grows. All hooks are called once per plugin, in
isolation: a plugin whose hook raises is reported and what it registered in that call is
dropped; the other plugins are unaffected. Return values are ignored (not firstresult).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from dynsim.core.exporter import Exporter
    from dynsim.core.model_family import ModelFamily
    from dynsim.core.solver import Solver
    from dynsim.core.system import System

PROJECT = "dynsim"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def dynsim_register_systems(register: Callable[[System], None]) -> None:
    """Register dynamical systems: call `register(dynsim.System(...))` once per system."""


@hookspec
def dynsim_register_solvers(register: Callable[[Solver], None]) -> None:
    """Register ODE solvers: call `register(solver)` with objects following `dynsim.Solver`."""


@hookspec
def dynsim_register_exporters(register: Callable[[Exporter], None]) -> None:
    """Register trajectory exporters: call `register(dynsim.Exporter(...))` once per format."""


@hookspec
def dynsim_register_models(register: Callable[[ModelFamily], None]) -> None:
    """Register learned-model families: call `register(dynsim.ModelFamily(...))` once each."""
