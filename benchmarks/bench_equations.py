"""Equation-defined Lorenz vs the hand-written `lorenz` plugin (goal: within 1.3x).

Run: `.venv/bin/python benchmarks/bench_equations.py [--quick]`. Each measurement is one
function returning (plugin seconds, equations seconds), the best of several interleaved
repeats; the table prints both and their ratio. Add a measurement by adding a function to
`MEASUREMENTS`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

import dynsim
from dynsim.core.expressions import equation_system

N_TRAJECTORIES = 10_000
GOAL = 1.3


def lorenz_from_equations() -> dynsim.System:
    plugin = dynsim.system("lorenz")
    return equation_system(
        "lorenz_equations", plugin.states,
        {"x": "sigma*(y - x)", "y": "x*(rho - z) - y", "z": "x*y - beta*z"},
        plugin.params,
    )


def best_of(plugin: Callable[[], object], equations: Callable[[], object], repeats: int,
            number: int) -> tuple[float, float]:
    """Best mean time of `number` calls of each over `repeats` interleaved runs."""
    times: dict[Callable[[], object], list[float]] = {plugin: [], equations: []}
    for _ in range(repeats):
        for fn, samples in times.items():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples.append((time.perf_counter() - start) / number)
    return min(times[plugin]), min(times[equations])


def states(n: int) -> np.ndarray:
    return np.random.default_rng(0).uniform(-20.0, 20.0, size=(n, 3))


def measure_rhs(quick: bool) -> tuple[float, float]:
    plugin, equations = dynsim.system("lorenz"), lorenz_from_equations()
    y, p = states(N_TRAJECTORIES), plugin.parameter_values()
    repeats, number = (3, 50) if quick else (9, 300)
    return best_of(lambda: plugin.rhs(0.0, y, p), lambda: equations.rhs(0.0, y, p),
                   repeats, number)


def measure_jacobian(quick: bool) -> tuple[float, float]:
    plugin, equations = dynsim.system("lorenz"), lorenz_from_equations()
    y, p = states(N_TRAJECTORIES), plugin.parameter_values()
    repeats, number = (3, 10) if quick else (7, 50)
    return best_of(lambda: plugin.jacobian(0.0, y, p), lambda: equations.jacobian(0.0, y, p),
                   repeats, number)


def measure_simulate(quick: bool) -> tuple[float, float]:
    equations = lorenz_from_equations()
    y0 = states(N_TRAJECTORIES) * 0.5 + np.array([0.0, 0.0, 25.0])
    repeats = 2 if quick else 9

    def run(system: str | dynsim.System) -> Callable[[], object]:
        return lambda: dynsim.simulate(system, y0, (0.0, 1.0), solver="rk4", dt=0.01,
                                       points=11)

    return best_of(run("lorenz"), run(equations), repeats, 1)


MEASUREMENTS: dict[str, Callable[[bool], tuple[float, float]]] = {
    f"rhs, y ({N_TRAJECTORIES}, 3)": measure_rhs,
    f"jacobian, y ({N_TRAJECTORIES}, 3)": measure_jacobian,
    f"simulate rk4, {N_TRAJECTORIES} trajectories, t in [0, 1], dt 0.01": measure_simulate,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    quick = parser.parse_args().quick
    width = max(len(name) for name in MEASUREMENTS)
    print(f"{'measurement':<{width}}  {'plugin':>11}  {'equations':>11}  {'ratio':>6}")
    for name, measure in MEASUREMENTS.items():
        plugin, equations = measure(quick)
        ratio = equations / plugin
        verdict = "ok" if ratio <= GOAL else f"over {GOAL}x"
        print(f"{name:<{width}}  {_time(plugin):>11}  {_time(equations):>11}  "
              f"{ratio:>5.2f}x  {verdict}")


def _time(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.1f} us"


if __name__ == "__main__":
    main()
