"""`System` and `Param`: what a plugin registers to describe a dynamical system."""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from dynsim.core.errors import ParameterError, SystemDefinitionError, unknown_name

RHS = Callable[[Any, Any, Mapping[str, Any]], Any]
"""`rhs(t, y, p)`: `y` of shape (..., D), `t` broadcastable to `y[..., 0]`, `p` name -> value."""

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")

RESERVED_STATE_NAMES = ("trajectory", "t", "status")
"""Names no state may have: the CSV's own columns (`dynsim.core.csvio.RESERVED_COLUMNS`)."""


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class Param:
    """A named parameter: its default, optional hard limits and a description.

    `min`/`max` are the parameter's valid range (values outside are rejected with a message
    naming the range) and the range of its slider in the app.
    """

    default: float
    min: float | None = None
    max: float | None = None
    description: str = ""

    def __post_init__(self) -> None:
        for label, value in (("default", self.default), ("min", self.min), ("max", self.max)):
            if value is None and label != "default":
                continue
            if not _is_real(value) or not math.isfinite(value):
                raise SystemDefinitionError(f"Param {label} must be a finite number, got {value!r}")
        object.__setattr__(self, "default", float(self.default))
        if self.min is not None and self.max is not None and self.min > self.max:
            raise SystemDefinitionError(f"Param min {self.min} is greater than max {self.max}")
        if not self.contains(self.default):
            raise SystemDefinitionError(
                f"Param default {self.default} lies outside [{self.min}, {self.max}]"
            )

    def contains(self, value: float) -> bool:
        """Whether `value` lies in [min, max] (open ends are unbounded)."""
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    def range_text(self) -> str:
        """The valid range as text, e.g. '[0, 5]' or '[0, inf)'."""
        lo = "(-inf" if self.min is None else f"[{self.min:g}"
        hi = "inf)" if self.max is None else f"{self.max:g}]"
        return f"{lo}, {hi}"


def _as_params(params: Mapping[str, Param | float]) -> Mapping[str, Param]:
    out: dict[str, Param] = {}
    for name, spec in params.items():
        if not isinstance(name, str) or not _NAME.match(name):
            raise SystemDefinitionError(f"parameter name {name!r} is not an identifier")
        if isinstance(spec, Param):
            out[name] = spec
        elif _is_real(spec):
            out[name] = Param(float(spec))
        else:
            raise SystemDefinitionError(
                f"parameter '{name}' must be a dynsim.Param or a number, got {type(spec).__name__}"
            )
    return MappingProxyType(out)


def _as_bounds(
    bounds: Mapping[str, Sequence[float]] | Sequence[Sequence[float]] | None,
    states: tuple[str, ...],
) -> Mapping[str, tuple[float, float]] | None:
    if bounds is None:
        return None
    if isinstance(bounds, Mapping):
        unknown = set(bounds) - set(states)
        if unknown:
            raise SystemDefinitionError(f"bounds name unknown states: {sorted(unknown)}")
        pairs = dict(bounds)
    else:
        pairs = dict(zip(states, bounds, strict=False))
        if len(bounds) != len(states):
            raise SystemDefinitionError(
                f"bounds needs one (low, high) pair per state ({len(states)}), got {len(bounds)}"
            )
    out = {}
    for state, pair in pairs.items():
        lo, hi = (float(v) for v in pair)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise SystemDefinitionError(f"bounds for '{state}' must be finite with low < high")
        out[state] = (lo, hi)
    return MappingProxyType(out)


@dataclass(frozen=True)
class System:
    """A continuous dynamical system dy/dt = rhs(t, y, p).

    Required: `name` (identifier used on the command line and in scenes), `states` (names of
    the D state variables), `params` (name -> `Param`, or a plain number as the default),
    `rhs(t, y, p)` vectorised over `y[..., D]`. Optional: `description`, `title` (display
    name), `jacobian(t, y, p) -> (..., D, D)` with `J[..., i, j] = d rhs_i / d y_j`,
    `bounds` (default view box, per state), `invariant(y, p)` (a conserved quantity),
    `tags`, and `y0` (an example initial state used when none is given).
    """

    name: str
    states: Sequence[str]
    params: Mapping[str, Param | float]
    rhs: RHS
    description: str = ""
    title: str = ""
    jacobian: Callable[..., Any] | None = None
    bounds: Mapping[str, Sequence[float]] | Sequence[Sequence[float]] | None = None
    invariant: Callable[..., Any] | None = None
    tags: Iterable[str] = field(default_factory=tuple)
    y0: Sequence[float] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise SystemDefinitionError(
                f"system name {self.name!r} must start with a letter and hold only letters, "
                "digits and underscores"
            )
        states = tuple(self.states)
        if not states or not all(isinstance(s, str) and _NAME.match(s) for s in states):
            raise SystemDefinitionError(
                f"system '{self.name}': states must be a non-empty list of identifiers"
            )
        if len(set(states)) != len(states):
            raise SystemDefinitionError(f"system '{self.name}': state names repeat: {states}")
        reserved = [s for s in states if s in RESERVED_STATE_NAMES]
        if reserved:
            raise SystemDefinitionError(
                f"system '{self.name}': state name '{reserved[0]}' is reserved (the CSV "
                f"columns {', '.join(RESERVED_STATE_NAMES)}; 't' is also the time); rename it")
        for label, fn in (("rhs", self.rhs), ("jacobian", self.jacobian),
                          ("invariant", self.invariant)):
            if fn is not None and not callable(fn):
                raise SystemDefinitionError(f"system '{self.name}': {label} must be callable")
        if self.rhs is None:
            raise SystemDefinitionError(f"system '{self.name}': rhs is required")
        params = _as_params(self.params)
        clash = set(params) & set(states)
        if clash:
            raise SystemDefinitionError(
                f"system '{self.name}': names used both as state and parameter: {sorted(clash)}"
            )
        object.__setattr__(self, "states", states)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "title", self.title or self.name)
        object.__setattr__(self, "tags", tuple(self.tags))
        object.__setattr__(self, "bounds", _as_bounds(self.bounds, states))
        if self.y0 is not None:
            y0 = tuple(float(v) for v in self.y0)
            if len(y0) != len(states) or not all(math.isfinite(v) for v in y0):
                raise SystemDefinitionError(
                    f"system '{self.name}': y0 needs {len(states)} finite values"
                )
            object.__setattr__(self, "y0", y0)

    @property
    def dimension(self) -> int:
        """Number of state variables D."""
        return len(self.states)

    def parameter_values(self, overrides: Mapping[str, float] | None = None) -> dict[str, float]:
        """Defaults with `overrides` applied, each checked against its name and range."""
        values = {name: spec.default for name, spec in self.params.items()}
        for name, value in (overrides or {}).items():
            if name not in self.params:
                raise unknown_name("parameter", name, self.params, f"system '{self.name}'")
            if not _is_real(value) or not math.isfinite(value):
                raise ParameterError(
                    f"parameter '{name}' of system '{self.name}' must be a finite number, "
                    f"got {value!r}"
                )
            spec = self.params[name]
            if not spec.contains(value):
                raise ParameterError(
                    f"parameter '{name}' of system '{self.name}' = {value:g} lies outside its "
                    f"range {spec.range_text()}"
                )
            values[name] = float(value)
        return values

    def state_index(self, name: str) -> int:
        """Position of state `name` in `states`."""
        if name not in self.states:
            raise unknown_name("state", name, self.states, f"system '{self.name}'")
        return self.states.index(name)
