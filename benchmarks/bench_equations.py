"""Equation-defined Lorenz vs the hand-written `lorenz` plugin (goal: within 1.3x).

Run: `.venv/bin/python benchmarks/bench_equations.py [--quick]`. The main workload is the
solver benchmark's: 10,000 Lorenz trajectories, t in [0, 10], dopri5, rtol 1e-6, atol 1e-9,
float64, numpy. Both systems run side by side (interleaved, best of several repeats) and the
table prints both times and their ratio; the bare right-hand side and Jacobian on the same
batch are timed too, to show where a difference would come from.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from _timing import best_of_interleaved, table
from bench_solvers import lorenz_states

import dynsim
from dynsim.core.expressions import equation_system

N_TRAJECTORIES = 10_000
GOAL = 1.3


def lorenz_from_equations() -> dynsim.System:
    """The `lorenz` plugin's system, typed as equations."""
    plugin = dynsim.system("lorenz")
    return equation_system(
        "lorenz_equations", plugin.states,
        {"x": "sigma*(y - x)", "y": "x*(rho - z) - y", "z": "x*y - beta*z"},
        plugin.params,
    )


def pair(call: Callable[[dynsim.System], object], repeats: int) -> tuple[float, float]:
    """Best times of `call(plugin)` and `call(equations)`, taking turns."""
    plugin, equations = dynsim.system("lorenz"), lorenz_from_equations()
    (t_plugin, _), (t_equations, _) = best_of_interleaved(
        [lambda: call(plugin), lambda: call(equations)], repeats)
    return t_plugin, t_equations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 trajectories, 1 repeat")
    quick = parser.parse_args().quick
    n = 1_000 if quick else N_TRAJECTORIES
    y0 = lorenz_states(n)
    p = dynsim.system("lorenz").parameter_values()

    def many(function: Callable[[dynsim.System], object], number: int):
        return lambda s: [function(s) for _ in range(number)]

    workloads = {
        f"rhs, y ({n}, 3), x100": many(lambda s: s.rhs(0.0, y0, p), 100),
        f"jacobian, y ({n}, 3), x10": many(lambda s: s.jacobian(0.0, y0, p), 10),
        f"simulate dopri5, {n} trajectories, t in [0, 10]": lambda s: dynsim.simulate(
            s, y0, (0.0, 10.0), solver="dopri5", rtol=1e-6, atol=1e-9, points=101),
    }
    rows = []
    for name, call in workloads.items():
        t_plugin, t_equations = pair(call, 1 if quick else 5)
        ratio = t_equations / t_plugin
        rows.append([name, f"{t_plugin * 1e3:.1f} ms", f"{t_equations * 1e3:.1f} ms",
                     f"{ratio:.2f}x", "ok" if ratio <= GOAL else f"over {GOAL}x"])
    print(table(["workload", "plugin", "equations", "ratio", f"goal <= {GOAL}x"], rows))


if __name__ == "__main__":
    main()
