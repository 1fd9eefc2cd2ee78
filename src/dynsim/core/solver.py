"""The solver contract: what `simulate` hands a solver plugin and what it gets back.

A solver is any object with

1. `name` (str, an identifier) and `description` (str);
2. `solve(problem: Problem) -> Solution`, which integrates all N initial states of
   `problem` and samples them at `problem.t_eval`;
3. never raises for trouble inside the integration: a trajectory that blows up, or whose
   right-hand side raises, ends with that `Status` and a message, keeps its samples up to
   then and has NaN after; the other trajectories go on;
4. checks `problem.cancel` between steps and ends unfinished trajectories as `cancelled`;
   calls `problem.progress(fraction)` now and then if it is given (fraction of the time
   span done by the slowest unfinished trajectory, or, for a solver that integrates the
   trajectories one after another, the fraction of the whole batch done; 1.0 at the end);
5. may also offer `iter_solve(problem) -> Iterator[Solution]`, yielding partial solutions
   (NaN where not yet computed, `progress` < 1) as the integration advances and the final
   solution last; `dynsim.simulate_iter` uses it to draw trajectories while they grow.

The built-in explicit Runge–Kutta solvers are `dynsim.numerics.RungeKuttaSolver` objects
over the batched engine `dynsim.numerics.integrate`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from dynsim.core.cancel import CancelToken
from dynsim.core.errors import InputError
from dynsim.core.events import Event
from dynsim.core.trajectories import Status


@dataclass(frozen=True)
class Problem:
    """N initial states of one system, to be integrated over `t_span` and sampled at `t_eval`.

    `rhs(t, y)` takes `y` of shape (M, D) (any subset of the batch) and `t` a float or an
    (M,) array, with the parameters already bound; `jacobian(t, y)` likewise gives
    (M, D, D) or is None. `t_eval` runs from `t_span[0]` towards `t_span[1]` (either
    direction). `dt` is the step of fixed-step methods (None: the solver's default).
    `rtol` and `atol` are scalars or (D,) arrays; `max_steps` caps the steps (accepted and
    rejected) of each trajectory; `first_step` (|h|, None: the solver chooses) and
    `min_step` (smallest |h|, None: the solver's floor) tune adaptive methods. `events` have
    their parameters bound (`function(t, y)`). `progress(fraction)` is called now and then.
    `system` is the system's name, for messages.
    """

    rhs: Callable[[Any, np.ndarray], np.ndarray]
    y0: np.ndarray
    t_span: tuple[float, float]
    t_eval: np.ndarray
    dt: float | None = None
    rtol: float | np.ndarray = 1e-6
    atol: float | np.ndarray = 1e-9
    max_steps: int = 100_000
    first_step: float | None = None
    min_step: float | None = None
    jacobian: Callable[[Any, np.ndarray], np.ndarray] | None = None
    events: tuple[Event, ...] = ()
    cancel: CancelToken | None = None
    progress: Callable[[float], None] | None = None
    system: str = ""


@dataclass
class Solution:
    """What `Solver.solve` returns: samples (N, T, D), one status and message per trajectory.

    `stats` maps counter names ('accepted', 'rejected', 'rhs_evaluations', ...) to (N,)
    integer arrays. `events[name][i]` is (times (K,), states (K, D)) of trajectory i.
    `progress` is the fraction of the time span done by the slowest unfinished trajectory
    (1.0 in a final solution; less in the partial ones `iter_solve` yields). Solvers return
    numpy arrays; `dynsim.numerics.integrate` run on torch tensors returns tensors in `y`
    and in the event states.
    """

    y: np.ndarray
    status: list[Status]
    messages: list[str]
    stats: Mapping[str, np.ndarray] = field(default_factory=dict)
    events: Mapping[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    progress: float = 1.0


@runtime_checkable
class Solver(Protocol):
    """An ODE solver plugin (see the module docstring for the contract)."""

    name: str
    description: str

    def solve(self, problem: Problem) -> Solution:
        """Integrate every initial state of `problem` (see the contract above)."""
        ...


def check_tolerances(rtol: Any, atol: Any, dimension: int) -> tuple[np.ndarray, np.ndarray]:
    """`rtol` and `atol` (numbers, or one per state) as float (D,) arrays; `InputError` if bad."""
    out = []
    for label, value in (("rtol", rtol), ("atol", atol)):
        if hasattr(value, "detach"):  # a torch tensor
            value = value.detach().cpu().numpy()
        try:
            arr = np.asarray(value, dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"{label} must be a number or one number per state") from None
        if arr.ndim > 1 or arr.size not in (1, dimension):
            raise InputError(f"{label} must be a number or one number per state ({dimension}), "
                             f"got shape {arr.shape}")
        arr = np.broadcast_to(arr.ravel(), (dimension,)).copy()
        if not (np.isfinite(arr).all() and (arr >= 0).all()):
            raise InputError(f"{label} must be finite and >= 0, got {arr.tolist()}")
        out.append(arr)
    if np.any(out[0] + out[1] == 0):
        raise InputError("rtol and atol cannot both be zero")
    return out[0], out[1]


def check_step_options(dt: object, max_steps: object, first_step: object,
                       min_step: object) -> None:
    """Raise `InputError` unless dt, first_step > 0, min_step >= 0 and max_steps >= 1."""
    for label, value in (("dt", dt), ("first_step", first_step)):
        if value is not None and not (_is_real(value) and math.isfinite(value) and value > 0):
            raise InputError(f"{label} must be a positive number, got {value!r}")
    if min_step is not None and not (_is_real(min_step) and math.isfinite(min_step)
                                     and min_step >= 0):
        raise InputError(f"min_step must be a number >= 0, got {min_step!r}")
    if not isinstance(max_steps, numbers.Integral) or isinstance(max_steps, bool) \
            or max_steps < 1:
        raise InputError(f"max_steps must be a whole number >= 1, got {max_steps!r}")


def check_events(events: Sequence[object]) -> tuple[Event, ...]:
    """`events` as a tuple of `Event`s with distinct names; `InputError` if not."""
    if isinstance(events, Event):
        events = (events,)
    out = tuple(events)
    if any(not isinstance(e, Event) for e in out):
        raise InputError("events must be dynsim.Event objects (see dynsim.leave_box)")
    names = [e.name for e in out]
    if len(set(names)) != len(names):
        raise InputError(f"event names must be distinct, got {names}")
    return out


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
