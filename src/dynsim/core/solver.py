"""The solver contract: what `simulate` hands a solver plugin and what it gets back.

A solver is any object with

1. `name` (str, an identifier) and `description` (str);
2. `solve(problem: Problem) -> Solution`, which integrates all N initial states of
   `problem` and samples them at `problem.t_eval`;
3. never raises for trouble inside the integration: a trajectory that blows up, or whose
   right-hand side raises, ends with that `Status` and a message, keeps its samples up to
   then and has NaN after; the other trajectories go on;
4. checks `problem.cancel` between steps and ends unfinished trajectories as `cancelled`;
5. may also offer `iter_solve(problem) -> Iterator[Solution]`, yielding partial solutions
   (NaN where not yet computed, `progress` < 1) as the integration advances and the final
   solution last; `dynsim.simulate_iter` uses it to draw trajectories while they grow.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from dynsim.core.cancel import CancelToken
from dynsim.core.events import Event
from dynsim.core.trajectories import Status


@dataclass(frozen=True)
class Problem:
    """N initial states of one system, to be integrated over `t_span` and sampled at `t_eval`.

    `rhs(t, y)` takes `y` of shape (M, D) (any subset of the batch) and `t` a float or an
    (M,) array, with the parameters already bound; `jacobian(t, y)` likewise gives
    (M, D, D) or is None. `t_eval` runs from `t_span[0]` towards `t_span[1]` (either
    direction). `dt` is the step of fixed-step methods (None: the solver's default).
    `rtol` and `atol` are scalars or (D,) arrays; `max_steps` caps the steps of each
    trajectory. `events` have their parameters bound (`function(t, y)`).
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


@dataclass
class Solution:
    """What `Solver.solve` returns: samples (N, T, D), one status and message per trajectory.

    `stats` maps counter names ('accepted', 'rejected', 'rhs_evaluations', ...) to (N,)
    integer arrays. `events[name][i]` is (times (K,), states (K, D)) of trajectory i.
    `progress` is the fraction of the time span done by the slowest unfinished trajectory
    (1.0 in a final solution; less in the partial ones `iter_solve` yields).
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
