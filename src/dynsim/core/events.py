"""Events: zero crossings of g(t, y, p) located during integration."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dynsim.core.errors import SystemDefinitionError

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Event:
    """A zero crossing of `function(t, y, p)` (vectorised like `rhs`: y (..., D) -> (...)).

    `direction` +1 records only crossings from negative to positive, -1 only from positive
    to negative, 0 both. A `terminal` event stops its trajectory (status `event`) at the
    crossing; a non-terminal one only records `(t, y)` there. Inside a `Problem` the
    parameters are already bound: `function(t, y)`.
    """

    name: str
    function: Callable[..., Any]
    direction: int = 0
    terminal: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise SystemDefinitionError(f"event name {self.name!r} must be an identifier")
        if self.direction not in (-1, 0, 1):
            raise SystemDefinitionError(
                f"event '{self.name}': direction must be -1, 0 or 1, got {self.direction!r}")
        if not callable(self.function):
            raise SystemDefinitionError(f"event '{self.name}': function must be callable")


@dataclass(frozen=True)
class EventLog:
    """Where one event fired: per trajectory, times (K,) and states (K, D)."""

    t: tuple[np.ndarray, ...]
    y: tuple[np.ndarray, ...]
