"""Separatrices: the one-dimensional stable and unstable manifolds of saddles, as curves.

As pplane draws them: from a saddle x*, start at x* +- eps v for a real eigenvector v whose
eigenvalue is the only one of its sign (so that manifold is a curve), and integrate forward
along an unstable direction (lambda > 0) or backward along a stable one (lambda < 0). In
2-D every saddle has four branches; in higher dimensions only the 1-D manifolds are drawn
(Lorenz's origin: the two unstable branches; its stable manifold is a surface).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dynsim.analysis.equilibria import Equilibrium
from dynsim.core.events import leave_box
from dynsim.core.simulate import DEFAULT_ATOL, DEFAULT_RTOL, get_system, simulate
from dynsim.core.system import System
from dynsim.core.trajectories import Status

OFFSET = 1e-6
"""The start points lie OFFSET times the box diagonal from the saddle: far enough that the
flow leaves the saddle's neighbourhood within ~14 e-foldings (ln 1e6), close enough that the
linear approximation errs by O(OFFSET^2) relative to the box, below what a plot shows."""


@dataclass(frozen=True, eq=False)
class Separatrix:
    """One branch: `kind` 'stable' or 'unstable', from the saddle `origin` (D,) along
    `direction` (D,, unit, the sign taken), with eigenvalue `eigenvalue`.

    `y` (K, D) are the points along the branch starting next to the saddle (for stable
    branches in backward time, so the curve runs away from the saddle), ending where the
    branch left the box; `status` and `message` say why the integration stopped.
    """

    kind: str
    origin: np.ndarray
    direction: np.ndarray
    eigenvalue: float
    y: np.ndarray
    status: Status
    message: str


def separatrices(system: str | System, equilibria: Sequence[Equilibrium], *,
                 params: Mapping[str, float] | None = None, duration: float = 20.0,
                 box: Mapping[str, Sequence[float]] | None = None, points: int = 1001,
                 solver: str = "dopri5", dt: float | None = None, rtol: float = DEFAULT_RTOL,
                 atol: float = DEFAULT_ATOL) -> tuple[Separatrix, ...]:
    """The 1-D manifolds of the saddles among `equilibria`, each integrated for `duration`.

    `box` (state -> (low, high); states it omits are unbounded) stops a branch where it
    leaves; it also sets the start offset (`OFFSET` times its diagonal; without a box,
    OFFSET times max(1, |x*|)). All unstable branches run in one forward batch and all
    stable ones in one backward batch, with `solver` (`dt` for fixed-step ones).
    """
    sys_obj = get_system(system)
    lower, upper = _box_arrays(sys_obj, box)
    starts = [branch for eq in equilibria for branch in _branches(eq, lower, upper)]
    out: list[Separatrix] = []
    for kind, sign in (("unstable", 1.0), ("stable", -1.0)):
        chosen = [b for b in starts if b[0] == kind]
        if not chosen:
            continue
        y0 = np.array([origin + eps * direction for _, origin, direction, _, eps in chosen])
        events = [leave_box(lower, upper, states=sys_obj.states)] if box else []
        traj = simulate(sys_obj, y0, (0.0, sign * duration), params=params, points=points,
                        solver=solver, dt=dt, rtol=rtol, atol=atol, events=events)
        for i, (_, origin, direction, value, _) in enumerate(chosen):
            out.append(Separatrix(kind=kind, origin=origin, direction=direction,
                                  eigenvalue=value, y=traj.path(i)[1], status=traj.status[i],
                                  message=traj.messages[i]))
    return tuple(out)


def _box_arrays(system: System, box: Mapping[str, Sequence[float]] | None
                ) -> tuple[np.ndarray, np.ndarray]:
    lower = np.full(system.dimension, -np.inf)
    upper = np.full(system.dimension, np.inf)
    for name, (lo, hi) in (box or {}).items():
        i = system.state_index(name)
        lower[i], upper[i] = float(lo), float(hi)
    return lower, upper


def _branches(eq: Equilibrium, lower: np.ndarray, upper: np.ndarray
              ) -> list[tuple[str, np.ndarray, np.ndarray, float, float]]:
    """(kind, origin, unit direction, eigenvalue, offset) of each branch from `eq`."""
    if eq.classification not in ("saddle", "saddle-focus"):
        return []
    lam, vectors = eq.eigenvalues, eq.linearization.eigenvectors
    finite = np.isfinite(lower) & np.isfinite(upper)
    diagonal = float(np.linalg.norm((upper - lower)[finite])) if finite.any() else 0.0
    eps = OFFSET * (diagonal if diagonal > 0 else max(1.0, float(np.linalg.norm(eq.state))))
    out = []
    for kind, of_sign in (("unstable", lam.real > 0), ("stable", lam.real < 0)):
        indices = np.flatnonzero(of_sign)
        if len(indices) != 1 or lam[indices[0]].imag != 0:
            continue  # no branch, or a manifold of dimension > 1
        index = indices[0]
        v = np.real(vectors[:, index])
        v = v / np.linalg.norm(v)
        out += [(kind, eq.state, side * v, float(lam[index].real), eps) for side in (1.0, -1.0)]
    return out
