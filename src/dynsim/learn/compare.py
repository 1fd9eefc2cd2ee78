"""`compare`: a learned vector field against the true one, with dynsim's own analyses.

It reports the field error on a grid over a box (relative and cosine), the equilibria of
both fields matched by distance with their classifications and eigenvalues, the error of
trajectories from the same initial states over a horizon, and, where the true system has
an invariant, how much it drifts along the learned trajectories (and along the true ones,
the solver's share).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dynsim.analysis import Equilibrium, find_equilibria, invariant_drift
from dynsim.core.errors import InputError
from dynsim.core.models import load_model
from dynsim.core.simulate import get_system, simulate
from dynsim.core.system import System
from dynsim.core.trajectories import Trajectories

GRID_POINTS = 10_000
"""At most this many grid points for the field error (fewer per axis in higher dimensions)."""


@dataclass(frozen=True, eq=False)
class EquilibriumMatch:
    """A true equilibrium and the learned one nearest to it (either may be None)."""

    true: Equilibrium | None
    learned: Equilibrium | None
    distance: float | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"true": self.true.to_dict() if self.true else None,
                "learned": self.learned.to_dict() if self.learned else None,
                "distance": self.distance}


@dataclass(frozen=True, eq=False)
class Comparison:
    """What `compare` measured (see the module docstring); errors are in the states' units."""

    model: str
    system: str
    params: Mapping[str, float]
    box: Mapping[str, tuple[float, float]]
    field_points: int
    field_relative: float
    field_cosine: float
    """Mean cosine of the angle between the fields, over the points where neither is 0."""
    equilibria: tuple[EquilibriumMatch, ...]
    horizon: float
    starts: np.ndarray
    trajectory_rmse: float
    trajectory_max: float
    failed: int
    invariant_drift: float | None
    invariant_drift_true: float | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of everything."""
        return {
            "model": self.model, "system": self.system, "params": dict(self.params),
            "box": {k: list(v) for k, v in self.box.items()},
            "field": {"points": self.field_points, "relative_error": self.field_relative,
                      "cosine": self.field_cosine},
            "equilibria": [m.to_dict() for m in self.equilibria],
            "trajectories": {"horizon": self.horizon, "starts": self.starts.tolist(),
                             "rmse": self.trajectory_rmse, "max_error": self.trajectory_max,
                             "failed": self.failed},
            "invariant": None if self.invariant_drift is None else {
                "max_relative_drift": self.invariant_drift,
                "max_relative_drift_true": self.invariant_drift_true},
        }

    def lines(self) -> list[str]:
        """The comparison as text lines (what `dynsim compare` prints)."""
        out = [f"{self.model} against {self.system} in "
               + ", ".join(f"{k} [{lo:g}, {hi:g}]" for k, (lo, hi) in self.box.items()),
               f"field on {self.field_points} grid points: relative error "
               f"{self.field_relative:.3g}, mean cosine {self.field_cosine:.4f}",
               f"trajectories from {len(self.starts)} states over t in [0, {self.horizon:g}]: "
               f"rmse {self.trajectory_rmse:.3g}, max error {self.trajectory_max:.3g}"
               + (f", {self.failed} failed" if self.failed else "")]
        if self.invariant_drift is not None:
            out.append(f"invariant of {self.system} along the learned trajectories: max "
                       f"relative drift {self.invariant_drift:.3g} (true: "
                       f"{self.invariant_drift_true:.3g})")
        out.append("equilibria (true -> learned):")
        for m in self.equilibria:
            out.append(f"  {_describe(m.true)}  ->  {_describe(m.learned)}"
                       + ("" if m.distance is None else f"  (distance {m.distance:.3g})"))
        if not self.equilibria:
            out.append("  none in the box")
        return out


def _describe(eq: Equilibrium | None) -> str:
    if eq is None:
        return "none"
    state = ", ".join(f"{v:.4g}" for v in eq.state)
    eig = ", ".join(f"{v.real:.3g}{v.imag:+.3g}i" if v.imag else f"{v.real:.3g}"
                    for v in eq.eigenvalues)
    return f"({state}) {eq.classification} [{eig}]"


def compare(model: str | Path | System | Any, system: str | System, *,
            params: Mapping[str, float] | None = None,
            box: Mapping[str, Sequence[float]] | None = None, grid: int = 41,
            horizon: float = 10.0, starts: int = 8, seed: int = 0) -> Comparison:
    """Compare the learned field `model` (a model file, a `System` or a `FitResult`) with
    `system` (with `params`) in `box` (default: the model's data box, else the system's
    bounds): the field on a grid of `grid` points per axis (at most `GRID_POINTS` in all),
    the equilibria, `starts` trajectories from seeded uniform states over [0, `horizon`],
    and the drift of the system's invariant if it has one."""
    learned = _as_system(model)
    true = get_system(system)
    values = true.parameter_values(params)
    if tuple(learned.states[:true.dimension]) != tuple(true.states):
        raise InputError(f"the model's states ({', '.join(learned.states)}) are not those of "
                         f"'{true.name}' ({', '.join(true.states)})")
    extra = learned.dimension - true.dimension
    limits = _box(learned, true, box)
    lo, hi = (np.array([limits[s][k] for s in true.states]) for k in (0, 1))
    per_axis = max(2, min(grid, int(GRID_POINTS ** (1 / true.dimension))))
    points = np.array(list(itertools.product(*(np.linspace(a, b, per_axis)
                                               for a, b in zip(lo, hi, strict=True)))))
    padded = np.concatenate([points, np.zeros((len(points), extra))], axis=1)
    with np.errstate(all="ignore"):
        f_true = np.asarray(true.rhs(0.0, points, values), dtype=float)
        f_learned = np.asarray(learned.rhs(0.0, padded, {}), dtype=float)[:, :true.dimension]
    diff = np.linalg.norm(f_learned - f_true, axis=1)
    norm_t, norm_l = np.linalg.norm(f_true, axis=1), np.linalg.norm(f_learned, axis=1)
    moving = norm_t * norm_l > 0  # the cosine of a zero vector is undefined
    cosine = np.sum(f_learned * f_true, axis=1)[moving] / (norm_t * norm_l)[moving]
    y0 = lo + (hi - lo) * np.random.default_rng(seed).uniform(size=(starts, true.dimension))
    span = (0.0, float(horizon))
    ref = simulate(true, y0, span, params=values, points=201)
    pred = simulate(learned, np.concatenate([y0, np.zeros((starts, extra))], axis=1), span,
                    points=201)
    err = np.linalg.norm(pred.y[..., :true.dimension] - ref.y, axis=-1)
    drift = drift_true = None
    if true.invariant is not None:
        as_true = Trajectories(t=pred.t, y=pred.y[..., :true.dimension], states=true.states,
                               system=true.name, params=values)
        drift = float(np.nanmax(invariant_drift(true, as_true).max_relative))
        drift_true = float(np.nanmax(invariant_drift(true, ref).max_relative))
    eq_box = {**limits, **{s: (-1.0, 1.0) for s in learned.states[true.dimension:]}}
    return Comparison(
        model=learned.name, system=true.name, params=values, box=limits,
        field_points=len(points), field_relative=float(np.nanmean(diff) / np.nanmean(norm_t)),
        field_cosine=float(np.nanmean(cosine)),
        equilibria=_matched(find_equilibria(true, params=values, box=limits).equilibria,
                            find_equilibria(learned, box=eq_box).equilibria, true.dimension),
        horizon=float(horizon), starts=y0, trajectory_rmse=float(np.sqrt(np.nanmean(err ** 2))),
        trajectory_max=float(np.nanmax(err)), failed=len(pred.failures()),
        invariant_drift=drift, invariant_drift_true=drift_true)


def _as_system(model: Any) -> System:
    if isinstance(model, System):
        return model
    if isinstance(model, (str, Path)):
        return load_model(model)
    if callable(getattr(model, "system", None)):
        return model.system()
    raise InputError(f"model must be a model file, a System or a FitResult, got "
                     f"{type(model).__name__}")


def _box(learned: System, true: System,
         box: Mapping[str, Sequence[float]] | None) -> dict[str, tuple[float, float]]:
    limits: dict[str, tuple[float, float]] = {}
    for source in (true.bounds or {}, learned.bounds or {}, box or {}):
        limits.update({k: (float(v[0]), float(v[1])) for k, v in source.items()
                       if k in true.states})
    missing = [s for s in true.states if s not in limits]
    if missing:
        raise InputError(f"no range for {', '.join(missing)}: give box={{state: (low, high)}} "
                         f"(--box STATE=LOW:HIGH)")
    return limits


def _matched(true: Sequence[Equilibrium], learned: Sequence[Equilibrium],
             dim: int) -> tuple[EquilibriumMatch, ...]:
    """Pairs by increasing distance; the unmatched ones alone."""
    pairs = sorted((float(np.linalg.norm(a.state - b.state[:dim])), i, j)
                   for i, a in enumerate(true) for j, b in enumerate(learned))
    used_t: set[int] = set()
    used_l: set[int] = set()
    out = []
    for distance, i, j in pairs:
        if i not in used_t and j not in used_l:
            used_t.add(i)
            used_l.add(j)
            out.append((i, EquilibriumMatch(true[i], learned[j], distance)))
    out += [(i, EquilibriumMatch(e, None, None)) for i, e in enumerate(true) if i not in used_t]
    out.sort(key=lambda item: item[0])
    return tuple(m for _, m in out) + tuple(EquilibriumMatch(None, e, None)
                                           for j, e in enumerate(learned) if j not in used_l)
