"""Batched integration with per-trajectory step control."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from dynsim.builtin_plugins.solvers import explicit_rk

from dynsim import Event
from dynsim.numerics import integrate

DOPRI5 = explicit_rk.DOPRI5
ADAPTIVE = [t for t, _ in explicit_rk.SOLVERS if t.adaptive]


def stiffening(t, y):
    """x' = -k x + sin(k t), k' = 0: the constant k (state 1) sets how hard a trajectory is."""
    x, k = y[:, 0], y[:, 1]
    return np.stack([-k * x + np.sin(k * t), np.zeros_like(k)], axis=-1)


EASY = np.array([[1.0, 1.0], [0.5, 2.0], [-1.0, 1.5], [2.0, 0.5]])
HARD = np.array([[1.0, 150.0]])


@pytest.mark.parametrize("tableau", ADAPTIVE, ids=lambda t: t.name)
def test_a_hard_trajectory_does_not_change_the_steps_of_the_easy_ones(tableau):
    t_eval = np.linspace(0.0, 5.0, 26)
    alone = integrate(stiffening, EASY, t_eval, tableau)
    batch = integrate(stiffening, np.vstack([EASY[:2], HARD, EASY[2:]]), t_eval, tableau)
    easy_rows = [0, 1, 3, 4]
    for name in ("accepted", "rejected", "rhs_evaluations"):
        np.testing.assert_array_equal(batch.stats[name][easy_rows], alone.stats[name])
    # the same steps; the values only differ by rounding (BLAS kernels depend on the size)
    np.testing.assert_allclose(batch.y[easy_rows], alone.y, rtol=0, atol=1e-11)
    hard_steps = batch.stats["accepted"][2] + batch.stats["rejected"][2]
    assert hard_steps > 20 * (alone.stats["accepted"] + alone.stats["rejected"]).max()
    assert all(s == "success" for s in batch.status)


def test_each_trajectory_of_a_batch_matches_its_solo_solution():
    """Equal up to rounding, which may flip a rare accept/reject decision: far below rtol."""
    rng = np.random.default_rng(7)
    y0 = np.column_stack([rng.normal(size=30), rng.uniform(0.2, 50.0, size=30)])
    t_eval = np.linspace(0.0, 3.0, 31)
    batch = integrate(stiffening, y0, t_eval, DOPRI5, rtol=1e-7, atol=1e-10)
    for i in range(0, 30, 7):
        solo = integrate(stiffening, y0[i:i + 1], t_eval, DOPRI5, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(batch.y[i], solo.y[0], rtol=0, atol=1e-9)
        steps = batch.stats["accepted"][i] + batch.stats["rejected"][i]
        assert abs(steps - solo.stats["accepted"][0] - solo.stats["rejected"][0]) <= 0.01 * steps


def test_rhs_sees_per_trajectory_times_and_only_active_rows():
    seen: list[tuple[np.ndarray, np.ndarray]] = []

    def recording(t, y):
        seen.append((np.array(t, copy=True), y[:, 1].copy()))
        return stiffening(t, y)

    integrate(recording, np.array([[1.0, 1.0], [1.0, 300.0]]), [0.0, 2.0], DOPRI5)
    shapes = {t.shape == k.shape for t, k in seen}
    assert shapes == {True}
    assert any(len(np.unique(t)) > 1 for t, _ in seen)  # trajectories at their own times
    # once the easy trajectory is done, only the hard one is evaluated
    assert any(len(k) == 1 and k[0] == 300.0 for _, k in seen)


def test_stats_count_every_rhs_evaluation_of_each_trajectory():
    calls: Counter[float] = Counter()

    def counting(t, y):
        calls.update(y[:, 1].tolist())
        return stiffening(t, y)

    y0 = np.array([[1.0, 1.0], [1.0, 30.0], [0.3, 5.0]])
    for tableau in (DOPRI5, explicit_rk.DOP853, explicit_rk.RK4):
        calls.clear()
        sol = integrate(counting, y0, np.linspace(0, 2, 41), tableau)
        assert [calls[k] for k in y0[:, 1]] == sol.stats["rhs_evaluations"].tolist()
        assert (sol.stats["accepted"] > 0).all()
        if not tableau.adaptive:
            assert (sol.stats["rejected"] == 0).all()


def test_trajectories_ending_at_different_times_leave_the_others_untouched():
    # x' = 1 for every row, each row stops when x reaches its own threshold (state 1)
    def ramp(t, y):
        return np.stack([np.ones(len(y)), np.zeros(len(y))], axis=-1)

    thresholds = np.linspace(0.05, 0.95, 40)
    y0 = np.column_stack([np.zeros(40), thresholds])
    stop = Event("reach", lambda t, y: y[..., 0] - y[..., 1], direction=1, terminal=True)
    t_eval = np.linspace(0.0, 1.0, 101)
    sol = integrate(ramp, y0, t_eval, DOPRI5, events=[stop])
    assert all(s == "event" for s in sol.status)
    for i, limit in enumerate(thresholds):
        times, states = sol.events["reach"][i]
        np.testing.assert_allclose(times, [limit], atol=1e-10)
        before, after = t_eval < limit - 1e-9, t_eval > limit + 1e-9
        np.testing.assert_allclose(sol.y[i, before, 0], t_eval[before], atol=1e-12)
        assert np.isnan(sol.y[i, after]).all()
        np.testing.assert_allclose(states, [[limit, limit]], atol=1e-10)


def test_large_batch_with_many_trajectories_finishing_early():
    rng = np.random.default_rng(2)
    y0 = np.column_stack([rng.normal(size=500), rng.uniform(0.5, 80.0, size=500)])
    # some trajectories run out of steps, the others must not notice
    sol = integrate(stiffening, y0, np.linspace(0.0, 4.0, 9), DOPRI5, max_steps=150)
    failed = np.array([s == "max_steps" for s in sol.status])
    assert 0 < failed.sum() < 500
    ok = np.flatnonzero(~failed)[:5]
    solo = integrate(stiffening, y0[ok], np.linspace(0.0, 4.0, 9), DOPRI5, max_steps=150)
    np.testing.assert_allclose(sol.y[ok], solo.y, rtol=0, atol=1e-9)
    # a failed trajectory keeps what it computed before running out of steps
    first = np.flatnonzero(failed)[0]
    assert not np.isnan(sol.y[first, 0]).any() and np.isnan(sol.y[first, -1]).all()
