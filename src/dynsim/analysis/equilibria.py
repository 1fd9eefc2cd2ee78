"""Equilibria in a box: multi-start root finding, de-duplication and linear stability."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import root

from dynsim.analysis.bound import BoundSystem, bind
from dynsim.analysis.grid import Interval, state_limits
from dynsim.analysis.jacobian import Method, jacobian_function
from dynsim.analysis.stability import ZERO_TOL, Linearization, linearizations
from dynsim.core.errors import InputError
from dynsim.core.system import System

START_BUDGET = 512
"""Starts per axis default to round(512 ** (1/D)), at least 2: 23 x 23 in 2-D, 8^3 in 3-D,
5^4 in 4-D."""
SWEEP_ITERATIONS = 150
"""Most Levenberg–Marquardt iterations of the batched sweep over all starts (each costs one
rhs and one Jacobian call for the starts still moving): regular roots need ~10, a triple
root (cubic_spiral's origin, error x2/3 per step) ~70."""
DAMPING = (1e-3, 1.0 / 3.0, 3.0, 1e-12, 1e12)
"""Levenberg–Marquardt damping mu: initial value, factor after a step that lowers |rhs|,
factor after one that does not, and the clamp range."""
XTOL = 1e-12
"""Step tolerance of the sweep (relative to the box side) and of the hybr refinement
(relative to |y|): regular roots end within a few ulps, degenerate ones (linear
convergence) within ~1e-12 of the box side."""
RESIDUAL_TOL = 1e-10
"""A start converged when max_i |rhs_i| at its end point is at most RESIDUAL_TOL times the
field scale: the median over all starts of max_i |rhs_i| (the median, so a field that
explodes in a corner of the box does not inflate it)."""
MERGE_TOL = 1e-6
"""Two roots are the same equilibrium when they differ by at most MERGE_TOL times the box
side along every state: far above the ~1e-12 the sweep reaches even at degenerate roots,
far below the spacing of distinct equilibria in a box drawn to show them."""
MARGIN = 1e-6
"""Roots are kept if they lie in the box enlarged by MARGIN times its side on every face, so
equilibria on the boundary (the Lotka–Volterra origin for bounds starting at 0), which the
solver may land on from just outside, are kept."""


def _plain(value: float) -> float:
    """A Python float for JSON, with -0.0 written as 0.0."""
    return float(value) + 0.0


@dataclass(frozen=True, eq=False)
class Equilibrium:
    """One equilibrium: `state` (D,) over state names `states`, with its `linearization`.

    `residual` is max_i |rhs_i(state)|; `hits` how many starts converged to it.
    """

    state: np.ndarray
    states: tuple[str, ...]
    linearization: Linearization
    residual: float
    hits: int

    @property
    def classification(self) -> str:
        """The stability type (see `dynsim.analysis.stability`)."""
        return self.linearization.classification

    @property
    def eigenvalues(self) -> np.ndarray:
        """The Jacobian's eigenvalues (D,), complex, by descending real part."""
        return self.linearization.eigenvalues

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: state by name, classification, eigenvalues as re/im, residual."""
        return {
            "state": {n: _plain(v) for n, v in zip(self.states, self.state, strict=True)},
            "classification": self.classification,
            "eigenvalues": [{"re": _plain(v.real), "im": _plain(v.imag)}
                            for v in self.eigenvalues],
            "residual": self.residual,
            "hits": self.hits,
        }


@dataclass(frozen=True, eq=False)
class EquilibriumSearch:
    """The equilibria found in `box` (state -> (low, high)) and how they were found.

    `equilibria` are sorted by state (lexicographically). Tolerance report: `starts` solves
    were run, `converged` of them reached a root (`outside` of those outside the box),
    `residual_tol` is the absolute residual accepted, `merge_tol` and `margin` are relative
    to the box sides (see `MERGE_TOL`, `MARGIN`).
    """

    equilibria: tuple[Equilibrium, ...]
    box: Mapping[str, Interval]
    t: float
    starts: int
    converged: int
    outside: int
    residual_tol: float
    merge_tol: float
    margin: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: {"equilibria": [...]} plus the box and the tolerance report."""
        return {
            "equilibria": [e.to_dict() for e in self.equilibria],
            "box": {n: list(v) for n, v in self.box.items()},
            "t": self.t,
            "starts": self.starts, "converged": self.converged, "outside": self.outside,
            "residual_tol": self.residual_tol, "merge_tol": self.merge_tol,
            "margin": self.margin,
        }


def find_equilibria(system: str | System, *, params: Mapping[str, float] | None = None,
                    box: Mapping[str, Sequence[float]] | None = None, t: float = 0.0,
                    starts: int | None = None, method: Method = "auto",
                    tol: float = ZERO_TOL) -> EquilibriumSearch:
    """All equilibria of `system` found in `box`, with their linear stability.

    `box` gives (low, high) per state, overriding `system.bounds` (a state with neither is
    an error). From a grid of `starts` points per axis (ends included; default see
    `START_BUDGET`), a batched Levenberg–Marquardt sweep (one rhs and one Jacobian call per
    iteration for all starts, Jacobian from `method`) drives rhs(t, y) towards 0. Converged
    roots inside the box (enlarged by `MARGIN`) are merged within `MERGE_TOL`, keeping the
    smallest residual, and each distinct root is refined with scipy's
    `root(method="hybr")`. For non-autonomous systems these are equilibria of the field
    frozen at time `t`. A continuum of equilibria (e.g. SIR's I = 0) comes out as many
    points, each `non-hyperbolic`. `tol` is the classification tolerance (see
    `dynsim.analysis.stability`).
    """
    bound = bind(system, params, t)
    sys_obj = bound.system
    limits = state_limits(sys_obj, sys_obj.states, box)
    lo, hi = (np.array([limits[n][k] for n in sys_obj.states]) for k in (0, 1))
    side = hi - lo
    per_axis = _starts_per_axis(sys_obj.dimension, starts)
    grid = np.array(list(itertools.product(
        *(np.linspace(a, b, per_axis) for a, b in zip(lo, hi, strict=True)))))
    jac = jacobian_function(bound, method)
    start_size = _residual(bound.rhs(grid))
    finite = np.isfinite(start_size)
    field_scale = float(np.median(start_size[finite])) if finite.any() else 0.0
    residual_tol = RESIDUAL_TOL * field_scale
    roots = _sweep(bound, jac, grid, side)
    residuals = _residual(bound.rhs(roots))
    converged = residuals <= residual_tol
    inside = converged & np.all((roots >= lo - MARGIN * side) & (roots <= hi + MARGIN * side),
                                axis=-1)
    found, hits = _merge(roots[inside], residuals[inside], side)
    found = np.array([_refine(bound, jac, root_, side) for root_ in found]).reshape(found.shape)
    rate = field_scale / float(np.linalg.norm(side))
    lin = linearizations(jac(found), found, tol, rate) if len(found) else []
    equilibria = tuple(
        Equilibrium(state=found[k], states=sys_obj.states, linearization=lin[k],
                    residual=float(_residual(bound.rhs(found[k]))), hits=int(hits[k]))
        for k in np.lexsort(found.T[::-1]))
    return EquilibriumSearch(
        equilibria=equilibria, box=limits, t=bound.t, starts=len(grid),
        converged=int(converged.sum()), outside=int((converged & ~inside).sum()),
        residual_tol=residual_tol, merge_tol=MERGE_TOL, margin=MARGIN)


def _starts_per_axis(dim: int, starts: int | None) -> int:
    if starts is None:
        return max(2, round(START_BUDGET ** (1.0 / dim)))
    if not isinstance(starts, int) or isinstance(starts, bool) or starts < 2:
        raise InputError(f"starts must be a whole number >= 2 (per axis), got {starts!r}")
    return starts


def _residual(values: np.ndarray) -> np.ndarray:
    """max_i |values_i| over the last axis (NaN stays NaN)."""
    return np.abs(values).max(axis=-1)


def _sweep(bound: BoundSystem, jac: Callable[[np.ndarray], np.ndarray], y: np.ndarray,
           side: np.ndarray) -> np.ndarray:
    """Batched Levenberg–Marquardt from every row of `y` (N, D); returns the end points.

    Each start takes the step (J^T J + mu * diag(J^T J)) dy = -J^T f (Marquardt's scaling,
    so a direction along which f is nearly flat, as at a degenerate root, still gets a
    Newton-sized step; a zero column is damped with 1) and keeps it if it lowers |f|;
    `DAMPING` sets how mu adapts. A start stops when f = 0, when its last accepted step is
    below `XTOL` times the box side on every axis (regular roots converge quadratically,
    degenerate ones linearly; both end within ~XTOL of the root with an exact Jacobian),
    when no step helps any more (mu at its upper clamp), or when f or J is not finite.
    """
    mu0, shrink, grow, mu_min, mu_max = DAMPING
    eye = np.eye(y.shape[-1])
    y = y.copy()
    f = bound.rhs(y)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow: inf cost, start drops out
        cost = np.sum(f * f, axis=-1)
        mu = np.full(len(y), mu0)
        moving = np.ones(len(y), dtype=bool)
        for _ in range(SWEEP_ITERATIONS):
            active = np.flatnonzero(moving & (cost > 0) & (mu < mu_max))  # NaN cost: inactive
            if not active.size:
                break
            jt = jac(y[active]).swapaxes(-1, -2)
            normal, gradient = jt @ jt.swapaxes(-1, -2), jt @ f[active, :, None]
            usable = np.isfinite(normal).all(axis=(-2, -1)) & np.isfinite(gradient).all(
                axis=(-2, -1))
            mu[active[~usable]] = mu_max
            active, normal, gradient = active[usable], normal[usable], gradient[usable]
            diagonal = np.diagonal(normal, axis1=-2, axis2=-1)
            damping = mu[active, None] * np.where(diagonal > 0, diagonal, 1.0)
            step = -_solve(normal + damping[..., None] * eye, gradient)[..., 0]
            trial = y[active] + step
            f_trial = bound.rhs(trial)
            cost_trial = np.sum(f_trial * f_trial, axis=-1)
            better = cost_trial < cost[active]
            accepted = active[better]
            y[accepted], f[accepted] = trial[better], f_trial[better]
            cost[accepted] = cost_trial[better]
            moving[accepted] = np.any(np.abs(step[better]) > XTOL * side, axis=-1)
            mu[active] = np.clip(mu[active] * np.where(better, shrink, grow), mu_min, mu_max)
    return y


def _solve(matrices: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Batched solve; the pseudo-inverse if a damped matrix underflowed to singular."""
    try:
        return np.linalg.solve(matrices, rhs)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(matrices) @ rhs


def _refine(bound: BoundSystem, jac: Callable[[np.ndarray], np.ndarray], point: np.ndarray,
            side: np.ndarray) -> np.ndarray:
    """`point` polished by scipy's hybr, unless it is exact already, or the polish moves it
    beyond the merge tolerance or does not lower its residual."""
    if not np.any(bound.rhs(point)):
        return point
    result = root(bound.rhs, point, jac=jac, method="hybr", options={"xtol": XTOL})
    moved = np.abs(result.x - point) / side
    better = _residual(bound.rhs(result.x)) <= _residual(bound.rhs(point))
    return result.x if better and np.all(moved <= MERGE_TOL) else point


def _merge(roots: np.ndarray, residuals: np.ndarray,
           side: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct roots (best residual first within each group) and how many roots each got.

    Greedy, in order of residual: the best root not yet claimed is kept and claims every
    unclaimed root within `MERGE_TOL` of it (one vectorised pass per distinct root).
    """
    order = np.argsort(residuals, kind="stable")
    scaled = roots[order] / side
    unclaimed = np.ones(len(roots), dtype=bool)
    kept: list[int] = []
    hits: list[int] = []
    while unclaimed.any():
        k = int(np.argmax(unclaimed))  # the best unclaimed root
        rest = np.flatnonzero(unclaimed)
        near = rest[np.all(np.abs(scaled[rest] - scaled[k]) <= MERGE_TOL, axis=-1)]
        unclaimed[near] = False  # k among them: the roots merged are finite
        kept.append(int(order[k]))
        hits.append(int(near.size))
    return roots[np.array(kept, dtype=int)], np.array(hits, dtype=int)
