"""Events: zero crossings of g(t, y, p) located during integration."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from dynsim.core.errors import InputError, SystemDefinitionError

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Event:
    """A zero crossing of `function(t, y, p)` (vectorised like `rhs`: y (..., D) -> (...)).

    `direction` +1 records only crossings from negative to positive, -1 only from positive
    to negative, 0 both. A `terminal` event stops its trajectory (status `event`) at the
    crossing; a non-terminal one only records `(t, y)` there (which gives Poincaré sections).
    Crossings are located to 1e-10 in t on the solver's dense output. `explain(t, y)`, if
    given, words the message of a trajectory this event stopped (`y` is its state (D,)).
    Inside a `Problem` the parameters are already bound: `function(t, y)`.
    """

    name: str
    function: Callable[..., Any]
    direction: int = 0
    terminal: bool = False
    explain: Callable[[float, np.ndarray], str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise SystemDefinitionError(f"event name {self.name!r} must be an identifier")
        if self.direction not in (-1, 0, 1):
            raise SystemDefinitionError(
                f"event '{self.name}': direction must be -1, 0 or 1, got {self.direction!r}")
        if not callable(self.function):
            raise SystemDefinitionError(f"event '{self.name}': function must be callable")
        if self.explain is not None and not callable(self.explain):
            raise SystemDefinitionError(f"event '{self.name}': explain must be callable")

    def bind(self, params: Mapping[str, float]) -> Event:
        """This event with the parameters bound: `function(t, y)` calls `function(t, y, p)`."""
        function = self.function

        def bound(t: Any, y: Any) -> Any:
            return function(t, y, params)

        return replace(self, function=bound)


@dataclass(frozen=True)
class EventLog:
    """Where one event fired: per trajectory i, times `t[i]` (K_i,) and states `y[i]` (K_i, D).

    A terminal event that stopped trajectory i is its last entry. `t[i]`/`y[i]` of all the
    trajectories of a section give e.g. a Poincaré section.
    """

    t: tuple[np.ndarray, ...]
    y: tuple[np.ndarray, ...]

    def __len__(self) -> int:
        return len(self.t)


def leave_box(lower: float | Sequence[float], upper: float | Sequence[float], *,
              name: str = "left_box", states: Sequence[str] | None = None) -> Event:
    """A terminal event that stops a trajectory when it leaves the box [lower, upper].

    `lower` and `upper` are numbers (the same for every state) or one bound per state (use
    +-inf to leave a state unbounded). The event function is
    g = min over states of min(y - lower, upper - y), positive inside; the trajectory ends
    with status `event` at the crossing, and its message names the state that left (by
    `states` names if given, else by index). With a big box, e.g. `leave_box(-1e6, 1e6)`,
    it stops trajectories that escape to infinity before they overflow.
    """
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    if lo.ndim > 1 or hi.ndim > 1 or np.any(np.isnan(lo)) or np.any(np.isnan(hi)) or \
            np.any(lo >= hi):
        raise InputError(f"leave_box needs lower < upper (numbers or one per state), got "
                         f"{np.asarray(lower).tolist()} and {np.asarray(upper).tolist()}")

    def inside(t: Any, y: Any, p: object = None) -> Any:
        if type(y).__module__.startswith("torch"):  # a tensor: stay in torch (autograd, GPU)
            import torch

            low = torch.as_tensor(lo, dtype=y.dtype, device=y.device)
            high = torch.as_tensor(hi, dtype=y.dtype, device=y.device)
            return torch.minimum(y - low, high - y).amin(-1)
        return np.minimum(y - lo, hi - y).min(axis=-1)

    def explain(t: float, y: np.ndarray) -> str:
        margin = np.minimum(y - lo, hi - y)
        i = int(np.argmin(margin))
        label = f"'{states[i]}'" if states is not None and i < len(states) else f"y[{i}]"
        below = (y - lo)[i] <= (hi - y)[i]
        bound = np.broadcast_to(lo if below else hi, y.shape)[i]
        return (f"left the box at t = {t:.6g}: state {label} = {y[i]:.6g} reached its "
                f"{'lower' if below else 'upper'} bound {bound:g}")

    return Event(name=name, function=inside, direction=-1, terminal=True, explain=explain)
