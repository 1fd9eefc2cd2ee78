"""`ModelFamily` and `ModelDims`: what a plugin registers to offer a learned vector field.

A family is data plus one function: a config dataclass whose field defaults are the
family's defaults, and `build(config, dims) -> torch.nn.Module`. The module is called as
`module(t, y)` with `y` of shape (..., D + augment) and returns dy/dt of that shape. This
module imports no torch: `build` imports it when it runs.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dynsim.core.errors import InputError, PluginError, did_you_mean

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ModelDims:
    """What a family needs to know about the data: state names and scales.

    `y_mean`/`y_scale` normalise the network's inputs, `dy_scale` (a typical |dy/dt| per
    state, from finite differences of the data) scales its outputs, so the network works on
    numbers of order one whatever the units. `t_scale` divides the time of time-dependent
    fields. All are taken from the training data and stored in the model file.
    """

    states: tuple[str, ...]
    y_mean: tuple[float, ...]
    y_scale: tuple[float, ...]
    dy_scale: tuple[float, ...]
    t_scale: float = 1.0

    def __post_init__(self) -> None:
        d = len(self.states)
        for name in ("y_mean", "y_scale", "dy_scale"):
            values = tuple(float(v) for v in getattr(self, name))
            if len(values) != d or not all(math.isfinite(v) for v in values):
                raise InputError(f"ModelDims.{name} needs {d} finite numbers, got {values}")
            object.__setattr__(self, name, values)
        object.__setattr__(self, "states", tuple(self.states))
        if any(v <= 0 for v in (*self.y_scale, *self.dy_scale)) or not self.t_scale > 0:
            raise InputError("ModelDims scales must be positive")

    @property
    def dimension(self) -> int:
        """D, the number of data states."""
        return len(self.states)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (`from_dict` reads it back)."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelDims:
        """The dims `to_dict` wrote."""
        return cls(states=tuple(data["states"]), y_mean=tuple(data["y_mean"]),
                   y_scale=tuple(data["y_scale"]), dy_scale=tuple(data["dy_scale"]),
                   t_scale=float(data.get("t_scale", 1.0)))


@dataclass(frozen=True)
class ModelFamily:
    """A learned-model family: `name`, a `config` dataclass (its defaults are the family's
    defaults), `build(config, dims) -> torch.nn.Module` and a one-line `description`."""

    name: str
    config: type
    build: Callable[[Any, ModelDims], Any]
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise PluginError(f"model family name {self.name!r} must be an identifier")
        if not (isinstance(self.config, type) and dataclasses.is_dataclass(self.config)):
            raise PluginError(f"model family '{self.name}': config must be a dataclass type")
        missing = [f.name for f in dataclasses.fields(self.config)
                   if f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        if missing:
            raise PluginError(f"model family '{self.name}': config fields need defaults: "
                              f"{', '.join(missing)}")
        if not callable(self.build):
            raise PluginError(f"model family '{self.name}': build must be callable")

    def defaults(self) -> dict[str, Any]:
        """The config's fields and their default values."""
        return dataclasses.asdict(self.config())

    def make_config(self, options: Mapping[str, Any] | None = None) -> Any:
        """The config with `options` over the defaults; unknown keys or wrong types are an
        `InputError` naming the family's options."""
        options = dict(options or {})
        defaults = self.defaults()
        for key, value in options.items():
            if key not in defaults:
                raise InputError(f"unknown option '{key}' of model family '{self.name}'"
                                 f"{did_you_mean(key, defaults)}; its options: "
                                 f"{', '.join(defaults)}")
            options[key] = _coerced(self.name, key, value, defaults[key])
        return self.config(**options)


def _coerced(family: str, key: str, value: Any, default: Any) -> Any:
    """`value` converted to the type of `default` where that is lossless."""
    if default is None or value is None:
        return value
    kind = type(default)
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kind in (tuple, list):
        if isinstance(value, Sequence) and not isinstance(value, str):
            return kind(value)
    elif isinstance(value, kind):
        return value
    raise InputError(f"option '{key}' of model family '{family}' must be "
                     f"{kind.__name__}, got {value!r}")
