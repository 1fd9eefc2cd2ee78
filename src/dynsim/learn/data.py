"""`TrajectoryData`: the trajectories a model is fitted to, each with its own sample times.

From `dynsim.Trajectories`, from a CSV file in dynsim's format (`read_csv_series`: each
trajectory may have its own, irregular, times), or sampled from any system. Rows holding
NaN (a failed trajectory) are dropped with a `DataWarning` that says how many.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dynsim.core.csvio import read_csv_series
from dynsim.core.errors import InputError
from dynsim.core.model_family import ModelDims
from dynsim.core.simulate import as_time_span, get_system, simulate
from dynsim.core.system import System
from dynsim.core.trajectories import Trajectories


class DataWarning(UserWarning):
    """Something in the training data was dropped or is unusual."""


@dataclass(frozen=True)
class Series:
    """One trajectory: times `t` (T,), strictly increasing, and states `y` (T, D)."""

    t: np.ndarray
    y: np.ndarray


class TrajectoryData:
    """Trajectories of D named states, each with its own sample times.

    `series` is a tuple of `Series`; `system` and `params` name where the data came from
    (empty for measured data).
    """

    def __init__(self, series: Sequence[Series | tuple[np.ndarray, np.ndarray]],
                 states: Sequence[str], *, system: str = "",
                 params: Mapping[str, float] | None = None) -> None:
        self.states = tuple(states)
        self.system = system
        self.params = dict(params or {})
        self.series = _clean(series, len(self.states))

    @classmethod
    def from_trajectories(cls, traj: Trajectories | Sequence[Trajectories]) -> TrajectoryData:
        """The data of one `Trajectories` (or several, e.g. from `read_csv_series`)."""
        parts = (traj,) if isinstance(traj, Trajectories) else tuple(traj)
        if not parts:
            raise InputError("no trajectories given")
        series = [(part.t, part.y[i]) for part in parts for i in range(part.n_trajectories)]
        return cls(series, parts[0].states, system=parts[0].system, params=parts[0].params)

    @classmethod
    def from_csv(cls, path: str | Path) -> TrajectoryData:
        """The data of a `trajectory,t,<states>` CSV file (per-trajectory times allowed)."""
        return cls.from_trajectories(read_csv_series(path))

    @classmethod
    def sample(cls, system: str | System, *, n: int = 16,
               box: Mapping[str, Sequence[float]] | None = None,
               y0: Sequence[Sequence[float]] | None = None,
               t_span: Sequence[float] = (0.0, 10.0), points: int = 101,
               params: Mapping[str, float] | None = None, noise: float | Sequence[float] = 0.0,
               irregular: bool = False, seed: int = 0, rtol: float = 1e-9,
               atol: float = 1e-11) -> TrajectoryData:
        """Simulate `system` and sample it: `n` initial states uniform in `box` (default the
        system's bounds) or the given `y0`, `points` times over `t_span` (evenly spaced, or
        with `irregular` t0 then sorted uniform random times per trajectory), plus Gaussian
        `noise` (standard deviation, one number or one per state). `seed` fixes all draws."""
        sys_obj = get_system(system)
        span = as_time_span(t_span)
        if points < 2:
            raise InputError(f"points must be >= 2, got {points}")
        rng = np.random.default_rng(seed)
        starts = np.asarray(y0, dtype=float) if y0 is not None else _box_starts(
            sys_obj, box, n, rng)
        sigma = np.broadcast_to(np.asarray(noise, dtype=float), (sys_obj.dimension,))
        if np.any(sigma < 0) or not np.isfinite(sigma).all():
            raise InputError(f"noise must be >= 0, got {noise!r}")
        if irregular:
            lo, hi = sorted(span)
            grids = [np.r_[span[0], np.sort(rng.uniform(lo, hi, points - 1))]
                     for _ in range(len(starts))]
            runs = [simulate(sys_obj, s, span, params=params, t_eval=g, rtol=rtol, atol=atol)
                    for s, g in zip(starts, grids, strict=True)]
        else:
            runs = [simulate(sys_obj, starts, span, params=params, points=points, rtol=rtol,
                             atol=atol)]
        series = [(run.t, run.y[i] + sigma * rng.standard_normal(run.y[i].shape))
                  for run in runs for i in range(run.n_trajectories)]
        return cls(series, sys_obj.states, system=sys_obj.name,
                   params=sys_obj.parameter_values(params))

    @property
    def dimension(self) -> int:
        """D, the number of states."""
        return len(self.states)

    @property
    def n_trajectories(self) -> int:
        """How many trajectories."""
        return len(self.series)

    @property
    def n_points(self) -> int:
        """Samples over all trajectories."""
        return sum(len(s.t) for s in self.series)

    def box(self) -> dict[str, tuple[float, float]]:
        """The range of each state over all samples."""
        y = np.concatenate([s.y for s in self.series])
        return {n: (float(lo), float(hi)) for n, lo, hi in
                zip(self.states, y.min(axis=0), y.max(axis=0), strict=True)}

    def dims(self) -> ModelDims:
        """The states and scales a model family builds with (see `dynsim.ModelDims`)."""
        y = np.concatenate([s.y for s in self.series])
        rates = np.concatenate([np.diff(s.y, axis=0) / np.diff(s.t)[:, None]
                                for s in self.series])
        t = np.concatenate([s.t for s in self.series])
        return ModelDims(self.states, y.mean(axis=0), _positive(y.std(axis=0)),
                         _positive(np.sqrt(np.mean(rates ** 2, axis=0))),
                         t_scale=_positive(np.array([np.abs(t).max()]))[0])

    def split(self, *, val_trajectories: float = 0.0, val_from: float | None = None,
              seed: int = 0) -> tuple[TrajectoryData, TrajectoryData | None]:
        """(training, validation) data. `val_trajectories`: a fraction (< 1) or a number of
        whole trajectories held out (chosen with `seed`); `val_from`: samples at t >=
        val_from are held out (an extrapolation window). Validation is None if empty."""
        count = (round(val_trajectories * self.n_trajectories) if 0 < val_trajectories < 1
                 else int(val_trajectories))
        if count < 0 or (count >= self.n_trajectories and count > 0):
            raise InputError(f"val_trajectories={val_trajectories} leaves no training "
                             f"trajectory of {self.n_trajectories}")
        held = set(np.random.default_rng(seed).permutation(self.n_trajectories)[:count].tolist())
        train, val = [], []
        for i, s in enumerate(self.series):
            if i in held:
                val.append(s)
                continue
            cut = len(s.t) if val_from is None else int(np.searchsorted(s.t, val_from))
            if cut >= 2:
                train.append(Series(s.t[:cut], s.y[:cut]))
            if len(s.t) - cut >= 2:
                val.append(Series(s.t[cut:], s.y[cut:]))
        if not train:
            raise InputError(f"val_from={val_from} leaves no training samples (each trajectory "
                             "needs 2 samples before it)")
        return (self._with(train), self._with(val) if val else None)

    def _with(self, series: list[Series]) -> TrajectoryData:
        return TrajectoryData(series, self.states, system=self.system, params=self.params)


def _box_starts(system: System, box: Mapping[str, Sequence[float]] | None, n: int,
                rng: np.random.Generator) -> np.ndarray:
    limits = dict(system.bounds or {})
    limits.update({k: tuple(v) for k, v in (box or {}).items()})
    missing = [s for s in system.states if s not in limits]
    if missing:
        raise InputError(f"system '{system.name}' has no bounds for {', '.join(missing)}; "
                         f"give box={{state: (low, high)}}")
    lo, hi = (np.array([limits[s][k] for s in system.states], dtype=float) for k in (0, 1))
    return lo + (hi - lo) * rng.uniform(size=(n, system.dimension))


def _positive(values: np.ndarray) -> np.ndarray:
    """Scales with zeros (a constant state) replaced by 1."""
    return np.where(np.isfinite(values) & (values > 0), values, 1.0)


def _clean(series: Sequence[Series | tuple[np.ndarray, np.ndarray]], dim: int) -> tuple[
        Series, ...]:
    """Checked series with non-finite rows dropped (a `DataWarning` counts them)."""
    out, dropped, empty = [], 0, 0
    for item in series:
        t, y = (item.t, item.y) if isinstance(item, Series) else item
        t, y = np.asarray(t, dtype=float), np.asarray(y, dtype=float)
        if t.ndim != 1 or y.shape != (len(t), dim):
            raise InputError(f"a series needs t (T,) and y (T, {dim}); got {t.shape} and "
                             f"{y.shape}")
        keep = np.isfinite(t) & np.isfinite(y).all(axis=1)
        dropped += int((~keep).sum())
        t, y = t[keep], y[keep]
        if np.any(np.diff(t) <= 0):
            raise InputError("the times of each trajectory must be strictly increasing")
        if len(t) < 2:
            empty += 1
            continue
        out.append(Series(t, y))
    if dropped:
        more = f"; {empty} trajectories had fewer than 2 left and were dropped" if empty else ""
        warnings.warn(f"dropped {dropped} rows holding NaN or inf (failed trajectories){more}",
                      DataWarning, stacklevel=3)
    if not out:
        raise InputError("no trajectory with at least 2 finite samples")
    return tuple(out)
