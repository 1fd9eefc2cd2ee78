"""TrajectoryData: from trajectories, CSV with per-trajectory times, sampled; splits; NaN."""

from __future__ import annotations

import numpy as np
import pytest

import dynsim
from dynsim.core.errors import DataFileError, InputError
from dynsim.learn import DataWarning, TrajectoryData


def ragged() -> list[dynsim.Trajectories]:
    rng = np.random.default_rng(3)
    parts = []
    for n in (5, 8, 3):
        t = np.sort(rng.uniform(0, 10, n))
        parts.append(dynsim.Trajectories(t=t, y=rng.standard_normal((1, n, 2)) / 3,
                                         states=("x", "y")))
    return parts


def test_irregular_times_round_trip_through_csv_bit_exactly(tmp_path):
    path = tmp_path / "measured.csv"
    dynsim.write_csv(ragged(), path)
    back = dynsim.read_csv_series(path)
    assert len(back) == 3
    for a, b in zip(ragged(), back, strict=True):
        assert np.array_equal(a.t, b.t) and np.array_equal(a.y, b.y)
    data = TrajectoryData.from_csv(path)
    assert [len(s.t) for s in data.series] == [5, 8, 3]
    with pytest.raises(DataFileError, match=r"measured.csv:7:1: trajectory 1 has 8 rows .*"
                                            r"read_csv_series"):
        dynsim.read_csv(path)


def test_todays_shared_grid_files_read_as_series_too(tmp_path):
    traj = dynsim.simulate("lorenz", [[1, 1, 1], [2, 2, 2]], (0, 1), points=11)
    traj.to_csv(tmp_path / "l.csv")
    back = dynsim.read_csv_series(tmp_path / "l.csv")
    assert np.array_equal(back[1].y[0], traj.y[1]) and np.array_equal(back[0].t, traj.t)


def test_times_must_increase_within_a_trajectory(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("trajectory,t,x\n0,0.0,1\n0,0.5,1\n0,0.5,2\n")
    with pytest.raises(DataFileError, match=r"bad.csv:4:3: times of trajectory 0 must increase"):
        dynsim.read_csv_series(path)


def test_nan_rows_are_dropped_with_a_warning_that_counts_them():
    y = np.ones((2, 6, 2))
    y[1, 3:] = np.nan
    traj = dynsim.Trajectories(t=np.arange(6.0), y=y, states=("x", "y"))
    with pytest.warns(DataWarning, match="dropped 3 rows"):
        data = TrajectoryData.from_trajectories(traj)
    assert [len(s.t) for s in data.series] == [6, 3]


def test_sampled_data_is_seeded_noisy_and_irregular_if_asked():
    a = TrajectoryData.sample("lotka_volterra", n=3, points=20, noise=0.1, seed=4,
                              irregular=True)
    b = TrajectoryData.sample("lotka_volterra", n=3, points=20, noise=0.1, seed=4,
                              irregular=True)
    assert all(np.array_equal(s.y, r.y) for s, r in zip(a.series, b.series, strict=True))
    assert not np.array_equal(a.series[0].t, a.series[1].t)
    assert a.series[0].t[0] == 0.0 and np.all(np.diff(a.series[0].t) > 0)
    noisy = TrajectoryData.sample("lotka_volterra", n=5, points=50, noise=0.1, seed=2)
    clean = TrajectoryData.sample("lotka_volterra", n=5, points=50, seed=2)
    diff = np.concatenate([s.y - c.y for s, c in zip(noisy.series, clean.series, strict=True)])
    assert 0.09 < diff.std() < 0.11 and abs(diff.mean()) < 0.02


def test_splits_by_trajectory_and_by_time():
    data = TrajectoryData.sample("linear", n=10, points=21, t_span=(0, 10))
    train, val = data.split(val_trajectories=0.2, val_from=8.0)
    assert train.n_trajectories == 8 and all(s.t.max() < 8.0 for s in train.series)
    assert val.n_trajectories == 2 + 8
    assert sum(s.t.min() >= 8.0 for s in val.series) == 8
    with pytest.raises(InputError, match="leaves no training"):
        data.split(val_trajectories=10)
