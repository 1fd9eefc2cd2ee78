"""The trajectory analyses of issue 4 against a per-point scipy loop, in one process.

Run: `.venv/bin/python benchmarks/bench_analysis.py [--quick]`.

1. Basin scan: the damped Duffing oscillator (gamma = 0, wells at x = +-1) on a 500 x 500
   grid over x, v in [-2.5, 2.5], t_end 100, dopri5 at rtol 1e-6, atol 1e-9
   (`basins_of_attraction`, all points one batch) against scipy `solve_ivp(RK45)` at the
   same tolerances per point, labelled by the nearest well; scipy is timed on a random
   sample of grid points and scaled to the grid. The sample's labels are compared too.
   dynsim stops a trajectory once it is captured by a well (a terminal event); the second
   row gives scipy the same stop, so the ratio there is the batching alone.
2. Orbit diagram: Rössler (a = b = 0.2), 1000 values of c in [2, 6], transient 100, then
   the maxima of x over 100 time units, located by events, rtol 1e-6, atol 1e-9
   (`orbit_diagram`, all values one batch) against `solve_ivp(RK45)` with the same event
   per value, on a sample of values, scaled.

`--quick` shrinks the workloads (100 x 100 grid, 200 values) for a smoke run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

import dynsim
from dynsim.analysis import basins_of_attraction, make_plane, orbit_diagram

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_of, table

RTOL, ATOL = 1e-6, 1e-9


def duffing_basins(n: int, sample: int) -> list[list[object]]:
    plane = make_plane("duffing", xlim=(-2.5, 2.5), ylim=(-2.5, 2.5))
    params = {"gamma": 0.0}
    t_ours, basins = best_of(lambda: basins_of_attraction(
        "duffing", plane, resolution=n, params=params, t_end=100.0, rtol=RTOL, atol=ATOL), 1)
    well = {k: int(np.sign(a.state[0])) for k, a in enumerate(basins.attractors)
            if a.classification == "stable focus"}
    system = dynsim.system("duffing")
    p = system.parameter_values(params)
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(0, n, sample), rng.integers(0, n, sample)

    def captured(t: float, y: np.ndarray) -> float:
        # the stop dynsim uses: within capture / 2 = 5e-4 of the box side (5) of a well
        return min(max(abs(y[0] - c), abs(y[1])) for c in (-1.0, 1.0)) / (5 * 5e-4) - 0.5

    captured.terminal = True  # type: ignore[attr-defined]

    def scipy_loop(events: object = None) -> np.ndarray:
        ends = [solve_ivp(lambda t, y: system.rhs(t, y, p), (0, 100), [basins.x[j], basins.y[i]],
                          rtol=RTOL, atol=ATOL, events=events).y[:, -1]
                for i, j in zip(rows, cols, strict=True)]
        return np.sign(np.array(ends)[:, 0]).astype(int)

    t_scipy, theirs = best_of(scipy_loop, 1)
    t_stop, stopped = best_of(lambda: scipy_loop(captured), 1)
    ours = np.array([well.get(int(k), 0) for k in basins.labels[rows, cols]])
    scale = n * n / sample
    return [[f"basins, Duffing {n}x{n}", f"{t_ours:.1f} s",
             f"scipy RK45 loop {t_scipy * scale:.0f} s (from {sample} points)",
             f"{t_scipy * scale / t_ours:.0f}x faster",
             f"labels agree on {np.mean(ours == theirs):.1%} of the sample"],
            ["  same, scipy also stops at a well", f"{t_ours:.1f} s",
             f"scipy RK45 loop {t_stop * scale:.0f} s (from {sample} points)",
             f"{t_stop * scale / t_ours:.0f}x faster",
             f"labels agree on {np.mean(ours == stopped):.1%} of the sample"]]


def rossler_maxima(system: dynsim.System, c: float, transient: float,
                   duration: float) -> np.ndarray:
    p = system.parameter_values({"c": c})

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        return system.rhs(t, y, p)

    def peak(t: float, y: np.ndarray) -> float:
        return rhs(t, y)[0]

    peak.direction = -1  # type: ignore[attr-defined]
    settled = solve_ivp(rhs, (0, transient), [1.0, 1.0, 1.0], rtol=RTOL, atol=ATOL).y[:, -1]
    run = solve_ivp(rhs, (transient, transient + duration), settled, rtol=RTOL, atol=ATOL,
                    events=peak)
    return run.y_events[0][:, 0]


def rossler_diagram(n: int, sample: int) -> list[list[object]]:
    values = np.linspace(2.0, 6.0, n)
    t_ours, diagram = best_of(lambda: orbit_diagram(
        "rossler", "c", values, transient=100.0, duration=100.0, rtol=RTOL, atol=ATOL), 1)
    system = dynsim.system("rossler")
    picked = np.random.default_rng(1).choice(n, sample, replace=False)
    t_scipy, theirs = best_of(lambda: [rossler_maxima(system, values[j], 100.0, 100.0)
                                       for j in picked], 1)
    # periodic windows: the largest maximum is phase-independent; compare where periodic
    agree = [abs(diagram.y[diagram.index == j, 0].max() - m.max()) < 1e-3
             for j, m in zip(picked, theirs, strict=True) if values[j] < 4.1]
    t_scaled = t_scipy * n / sample
    return [[f"orbit diagram, Rossler, {n} values", f"{t_ours:.1f} s",
             f"scipy RK45 loop {t_scaled:.0f} s (from {sample} values)",
             f"{t_scaled / t_ours:.0f}x faster",
             f"largest maximum agrees (c < 4.1) on {np.mean(agree):.0%}"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small workloads")
    args = parser.parse_args()
    grid, basin_sample, values, value_sample = (100, 100, 200, 20) if args.quick else \
        (500, 150, 1000, 100)
    dynsim.simulate("lorenz", [1, 1, 1], (0, 1))  # load the plugins outside the timings
    rows = duffing_basins(grid, basin_sample) + rossler_diagram(values, value_sample)
    print(table(["workload", "dynsim (one batch)", "peer", "ratio", "check"], rows))


if __name__ == "__main__":
    main()
