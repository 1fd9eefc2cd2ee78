"""`Trajectories`: the result of a simulation, N trajectories sampled at T shared times."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from dynsim.core.errors import InputError, unknown_name
from dynsim.core.events import EventLog


class Status(enum.StrEnum):
    """How one trajectory ended."""

    SUCCESS = "success"
    EVENT = "event"  # a terminal event stopped it
    NON_FINITE = "non_finite"  # blow-up or NaN
    MAX_STEPS = "max_steps"
    STEP_TOO_SMALL = "step_too_small"
    CANCELLED = "cancelled"
    RHS_ERROR = "rhs_error"  # the right-hand side raised


@dataclass(frozen=True)
class Trajectories:
    """N trajectories of a D-dimensional system at T shared output times.

    `t` has shape (T,), `y` shape (N, T, D). `status[i]` says how trajectory i ended and
    `messages[i]` why, in words; output times after a failure hold NaN. `stats` maps a counter
    name (e.g. 'accepted', 'rejected', 'rhs_evaluations') to an (N,) integer array.
    `events` maps an event name to its `EventLog` (where it fired, per trajectory).
    """

    t: np.ndarray
    y: np.ndarray
    states: tuple[str, ...]
    status: tuple[Status, ...] = ()
    messages: tuple[str, ...] = ()
    system: str = ""
    params: Mapping[str, float] = field(default_factory=dict)
    stats: Mapping[str, np.ndarray] = field(default_factory=dict)
    events: Mapping[str, EventLog] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = np.asarray(self.t, dtype=float)
        y = np.asarray(self.y, dtype=float)
        states = tuple(self.states)
        if t.ndim != 1 or y.ndim != 3 or y.shape[1] != t.shape[0] or y.shape[2] != len(states):
            raise InputError(
                f"Trajectories needs t (T,) and y (N, T, D) with D = {len(states)} states; "
                f"got t {t.shape} and y {y.shape}"
            )
        n = y.shape[0]
        status = tuple(Status(s) for s in self.status) or (Status.SUCCESS,) * n
        messages = tuple(self.messages) or ("",) * n
        if len(status) != n or len(messages) != n:
            raise InputError(f"Trajectories needs one status and message per trajectory ({n})")
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "states", states)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "messages", messages)
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))
        object.__setattr__(self, "stats", MappingProxyType(dict(self.stats)))
        object.__setattr__(self, "events", MappingProxyType(dict(self.events)))

    @property
    def n_trajectories(self) -> int:
        """N, the number of trajectories."""
        return self.y.shape[0]

    @property
    def ok(self) -> bool:
        """True when every trajectory ended in success or at a terminal event."""
        return all(s in (Status.SUCCESS, Status.EVENT) for s in self.status)

    def state(self, name: str) -> np.ndarray:
        """The (N, T) samples of one state variable."""
        if name not in self.states:
            raise unknown_name("state", name, self.states)
        return self.y[:, :, self.states.index(name)]

    def path(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Times (K,) and states (K, D) of trajectory `i` up to where it stopped.

        The output samples before the first NaN; a trajectory that a terminal event stopped
        ends exactly at the crossing (the latest event entry), so a drawn curve reaches the
        edge of a `leave_box` instead of stopping at the last output time before it.
        """
        y = self.y[i]
        bad = np.flatnonzero(~np.isfinite(y).all(axis=-1))
        end = int(bad[0]) if len(bad) else len(self.t)
        t, y = self.t[:end], y[:end]
        if self.status[i] == Status.EVENT:
            stops = [(log.t[i][-1], log.y[i][-1]) for log in self.events.values()
                     if len(log.t[i])]
            if stops:
                t_stop, y_stop = max(stops, key=lambda entry: abs(entry[0] - self.t[0]))
                t, y = np.append(t, t_stop), np.vstack([y, y_stop])
        return t, y

    def failures(self) -> Sequence[str]:
        """One line per trajectory that did not succeed: 'trajectory i: status: message'."""
        return [
            f"trajectory {i}: {s}: {m}" if m else f"trajectory {i}: {s}"
            for i, (s, m) in enumerate(zip(self.status, self.messages, strict=True))
            if s not in (Status.SUCCESS, Status.EVENT)
        ]

    def to_csv(self, path: str | Path) -> None:
        """Write `trajectory,t,<states>` CSV atomically (see `dynsim.write_csv`)."""
        from dynsim.core.csvio import write_csv

        write_csv(self, path)
