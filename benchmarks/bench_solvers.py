"""The solver goals of issue 3, measured side by side in one process.

Run: `.venv/bin/python benchmarks/bench_solvers.py [--quick]`.

1. 10,000 Lorenz trajectories, t in [0, 10], dopri5, rtol 1e-6, atol 1e-9, float64, numpy
   (`dynsim.simulate`, state at t = 10): >= 150x faster than scipy `solve_ivp(RK45)` looped
   per trajectory (100 timed, scaled), and <= 2.5x the bare cost of the right-hand-side calls
   it made (the same batched calls, same sizes, timed alone). Also shown, not a goal: the
   same run sampled at 1001 output times.
2. The same batch on torch CPU: >= 2x faster than `torchdiffeq.odeint` (dopri5) at equal or
   better accuracy per trajectory (max error against scipy DOP853 at rtol 1e-12, on a subset).
3. 50 Lotka–Volterra trajectories, t in [0, 20], dopri5, rtol 1e-6, 1001 output points:
   >= 10x faster than the scipy loop; the absolute time is reported.

Times are the best of several runs (ours and the bare calls, or ours and torchdiffeq, taking
turns, so that load from other processes hits both alike). `--quick` shrinks the workloads
for a smoke run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.integrate import solve_ivp

import dynsim

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_of, best_of_interleaved, table

RTOL, ATOL = 1e-6, 1e-9


def lorenz_states(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform([-15, -20, 5], [15, 20, 40], size=(n, 3))


def recording(system: dynsim.System, sizes: list[int]) -> dynsim.System:
    """`system` with a right-hand side that records the batch size of every call."""
    rhs = system.rhs

    def recorded(t, y, p):
        sizes.append(len(y))
        return rhs(t, y, p)

    return dynsim.System(name=f"{system.name}_recorded", states=system.states,
                         params=dict(system.params), rhs=recorded)


def bare_rhs_calls(system: dynsim.System, sizes: list[int]) -> Callable[[], None]:
    """The same batched right-hand-side calls (same sizes, same order), to be timed alone."""
    p = system.parameter_values()
    y = lorenz_states(max(sizes), seed=1)
    t = np.zeros(len(y))

    def calls() -> None:
        for m in sizes:
            system.rhs(t[:m], y[:m], p)

    return calls


def scipy_loop(system: dynsim.System, y0: np.ndarray, t_span: tuple[float, float],
               t_eval: np.ndarray | None, method: str = "RK45", rtol: float = RTOL,
               atol: float = ATOL) -> np.ndarray:
    p = system.parameter_values()

    def f(t, y):
        return system.rhs(t, y, p)

    return np.stack([solve_ivp(f, t_span, y, method=method, rtol=rtol, atol=atol,
                               t_eval=t_eval).y.T for y in y0])


def lorenz_numpy(n: int, n_scipy: int, repeats: int) -> tuple[list[list[object]], dict]:
    lorenz = dynsim.system("lorenz")
    y0 = lorenz_states(n)
    sizes: list[int] = []
    recorded = recording(lorenz, sizes)

    def ours() -> dynsim.Trajectories:
        sizes.clear()
        return dynsim.simulate(recorded, y0, (0, 10), t_eval=[0, 10], rtol=RTOL, atol=ATOL)

    ours()
    bare = bare_rhs_calls(lorenz, list(sizes))
    (t_ours, traj), (t_bare, _) = best_of_interleaved([ours, bare], repeats)
    _require_ok(traj)
    t_scipy, _ = best_of(lambda: scipy_loop(lorenz, y0[:n_scipy], (0, 10), [0, 10]), 1)
    t_scipy *= n / n_scipy
    t_dense, _ = best_of(lambda: dynsim.simulate(lorenz, y0, (0, 10), points=1001,
                                                 rtol=RTOL, atol=ATOL), repeats)
    steps = traj.stats["accepted"] + traj.stats["rejected"]
    rows = [
        [f"Lorenz numpy, N={n}, state at t=10", f"{t_ours:.3f} s",
         f"scipy RK45 loop {t_scipy:.1f} s", f"{t_scipy / t_ours:.0f}x faster", ">= 150x",
         _mark(t_scipy / t_ours >= 150)],
        ["  vs bare rhs calls", f"{t_ours:.3f} s", f"{len(sizes)} calls {t_bare:.3f} s",
         f"{t_ours / t_bare:.2f}x the rhs", "<= 2.5x", _mark(t_ours / t_bare <= 2.5)],
        ["  same, 1001 output times (info)", f"{t_dense:.3f} s", "", "", "", ""],
    ]
    info = {"steps (mean, max)": (float(steps.mean()), int(steps.max()))}
    return rows, info


def lorenz_torch(n: int, n_ref: int, repeats: int) -> tuple[list[list[object]], dict]:
    import torch
    import torchdiffeq
    from dynsim.builtin_plugins.solvers.explicit_rk import DOPRI5

    from dynsim.numerics import integrate

    def rhs(t, y):
        x, v, z = y[..., 0], y[..., 1], y[..., 2]
        return torch.stack([10 * (v - x), x * (28 - z) - v, x * v - 8 / 3 * z], dim=-1)

    y0_np = lorenz_states(n)
    y0 = torch.tensor(y0_np)
    t = torch.tensor([0.0, 10.0], dtype=torch.float64)
    with torch.no_grad():  # taking turns, like the numpy comparison (fair under load)
        (t_ours, ours), (t_tdq, theirs) = best_of_interleaved(
            [lambda: integrate(rhs, y0, t, DOPRI5, rtol=RTOL, atol=ATOL),
             lambda: torchdiffeq.odeint(rhs, y0, t, method="dopri5", rtol=RTOL, atol=ATOL)],
            repeats)
    reference = scipy_loop(dynsim.system("lorenz"), y0_np[:n_ref], (0, 10), [0, 10],
                           method="DOP853", rtol=1e-12, atol=1e-12)[:, -1]
    err_ours = np.abs(ours.y[:n_ref, -1].numpy() - reference).max(axis=1)
    err_tdq = np.abs(theirs[-1, :n_ref].numpy() - reference).max(axis=1)
    better = np.mean(err_ours <= err_tdq)
    rows = [
        [f"Lorenz torch CPU, N={n}", f"{t_ours:.3f} s", f"torchdiffeq {t_tdq:.3f} s",
         f"{t_tdq / t_ours:.2f}x faster", ">= 2x", _mark(t_tdq / t_ours >= 2)],
        [f"  max error per trajectory ({n_ref})", f"{err_ours.max():.2e}",
         f"torchdiffeq {err_tdq.max():.2e}",
         f"ours <= theirs on {better:.0%}", "worst <= theirs",
         _mark(err_ours.max() <= err_tdq.max())],
    ]
    info = {"median error ours / torchdiffeq": (float(np.median(err_ours)),
                                                float(np.median(err_tdq)))}
    return rows, info


def lotka_volterra(n_scipy_repeats: int, repeats: int) -> tuple[list[list[object]], dict]:
    lv = dynsim.system("lotka_volterra")
    y0 = np.random.default_rng(2).uniform(0.5, 3.0, size=(50, 2))
    t_eval = np.linspace(0, 20, 1001)
    t_ours, traj = best_of(lambda: dynsim.simulate(lv, y0, (0, 20), t_eval=t_eval,
                                                   rtol=RTOL, atol=ATOL), repeats)
    _require_ok(traj)
    t_scipy, ref = best_of(lambda: scipy_loop(lv, y0, (0, 20), t_eval), n_scipy_repeats)
    rows = [[
        "Lotka-Volterra, N=50, 1001 outputs", f"{t_ours * 1e3:.1f} ms",
        f"scipy RK45 loop {t_scipy * 1e3:.0f} ms", f"{t_scipy / t_ours:.0f}x faster", ">= 10x",
        _mark(t_scipy / t_ours >= 10)]]
    return rows, {"max |ours - scipy RK45|": float(np.abs(traj.y - ref).max())}


def _require_ok(traj: dynsim.Trajectories) -> None:
    if not traj.ok:
        raise SystemExit("benchmark run failed: " + "; ".join(traj.failures()[:3]))


def _mark(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small workloads, one repeat")
    args = parser.parse_args()
    n, n_scipy, n_ref, repeats = (1000, 10, 10, 1) if args.quick else (10_000, 100, 50, 5)
    dynsim.simulate("lorenz", [1, 1, 1], (0, 1))  # load the plugins outside the timings
    rows: list[list[object]] = []
    notes: dict = {}
    for part in (lambda: lorenz_numpy(n, n_scipy, repeats),
                 lambda: lorenz_torch(n, n_ref, repeats),
                 lambda: lotka_volterra(1 if args.quick else 2, 3 if args.quick else 10)):
        new_rows, info = part()
        rows += new_rows
        notes.update(info)
    print(table(["workload", "dynsim", "peer", "ratio", "goal", ""], rows))
    for key, value in notes.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
