"""Event location: sign changes of g(t, y) found after each step, roots on the dense output.

After each accepted step the integrator evaluates every event function at the new states
(one batched call) and compares signs with the previous values. For the trajectories whose
sign changed in the event's direction, `locate` finds the crossing inside the step by the
Illinois method (regula falsi with the Illinois modification, superlinear and always
bracketed) on the step's dense output, vectorised over those trajectories, until the bracket
is narrower than `time_tolerance` in t. Two crossings inside one step cancel out and are
missed, as in every integrator that detects events by sign changes.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MAX_ITERATIONS = 100
_EPS64 = float(np.finfo(np.float64).eps)


def time_tolerance(t: np.ndarray) -> np.ndarray:
    """Width in t below which a crossing counts as located: 1e-13, or 4 ulps of t."""
    return np.maximum(1e-13, 4 * _EPS64 * np.abs(t))


def crossings(g_old: np.ndarray, g_new: np.ndarray, direction: int) -> np.ndarray:
    """Which trajectories crossed zero going from `g_old` to `g_new` in `direction`."""
    up = (g_old < 0) & (g_new >= 0)
    if direction > 0:
        return up
    down = (g_old > 0) & (g_new <= 0)
    return down if direction < 0 else up | down


def locate(g_at: Callable[[np.ndarray, np.ndarray], np.ndarray], g_a: np.ndarray,
           g_b: np.ndarray, step: np.ndarray, tolerance: np.ndarray) -> np.ndarray:
    """The fraction theta in [0, 1] of each step where g crosses zero (host (m,) arrays).

    `g_at(theta, rows)` evaluates g for the trajectories `rows` (indices into the m) at the
    fractions `theta`; `g_a`, `g_b` are g at theta = 0 and 1 (opposite signs or g_b = 0);
    `step` is |h|. Returns the end of the final bracket on g_b's side (within `tolerance`
    of the crossing in t).
    """
    a, b = np.zeros_like(g_a), np.ones_like(g_b)
    ga, gb = g_a.astype(np.float64), g_b.astype(np.float64)
    last = np.zeros(len(a), dtype=np.int8)  # +1: b moved last, -1: a moved last
    for _ in range(MAX_ITERATIONS):
        live = np.flatnonzero(((b - a) * step > tolerance) & (gb != 0))
        if live.size == 0:
            break
        al, bl, gal, gbl = a[live], b[live], ga[live], gb[live]
        with np.errstate(divide="ignore", invalid="ignore"):
            x = bl - gbl * (bl - al) / (gbl - gal)
        bad = ~((x > al) & (x < bl))
        x[bad] = 0.5 * (al[bad] + bl[bad])
        gx = np.asarray(g_at(x, live), dtype=np.float64)
        gx = np.where(np.isfinite(gx), gx, 0.0)
        same_b = np.sign(gx) == np.sign(gbl)
        zero = gx == 0
        move_b = same_b | zero
        move_a = ~move_b
        b[live[move_b]] = x[move_b]
        gb[live[move_b]] = gx[move_b]
        a[live[move_a]] = x[move_a]
        ga[live[move_a]] = gx[move_a]
        a[live[zero]] = x[zero]
        # Illinois: halve the value kept at the end that did not move twice in a row
        twice_b = move_b & ~zero & (last[live] == 1)
        twice_a = move_a & (last[live] == -1)
        ga[live[twice_b]] *= 0.5
        gb[live[twice_a]] *= 0.5
        last[live] = np.where(move_b, 1, -1)
    return b
