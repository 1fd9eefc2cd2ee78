"""The Neural ODE training goal of issue 3: one training step of torchdiffeq's ode_demo.py.

Run: `.venv/bin/python benchmarks/bench_training.py [--quick]`.

The workload is torchdiffeq's `examples/ode_demo.py`: the cubic spiral dy/dt = y^3 A with
A = [[-0.1, 2.0], [-2.0, -0.1]], y(0) = (2, 0), 1000 samples on t in [0, 25] (float32,
torchdiffeq dopri5 at its default tolerances, as the demo builds them), an MLP 2-50-2 with
Tanh applied to y**3, batches of 20 initial states with 10 output times, dopri5 at
rtol 1e-7, atol 1e-9, RMSprop lr 1e-3. The model is first trained for a few iterations
(with torchdiffeq), so the timing sees a model that has moved from its initialisation.

1. Time: forward plus backward (zero_grad, odeint, L1 loss, backward) of
   `dynsim.learn.odeint` against `torchdiffeq.odeint`, with backprop and with the adjoint
   (`adjoint=True` against `torchdiffeq.odeint_adjoint`). Every contestant runs on the same
   batches with the same weights (no optimizer step while timing), taking turns, best of
   several runs per batch, summed over the batches. Goal: ours <= 0.5x torchdiffeq's time in
   both modes. The table also gives the time of the same number of func calls (forward and
   backward) on their own, the floor under our backprop time, the right-hand-side
   evaluations per step (nfe) and the
   error of the forward solution against a float64 reference.
2. Memory: the adjoint's peak memory when the horizon grows tenfold (batch_time 10 -> 100).
   Measured with `dynsim.learn.memory.SavedTensorMeter`: the peak bytes of the distinct
   storages that autograd holds for backward at any moment of the forward and backward
   pass (through `torch.autograd.graph.saved_tensors_hooks`). That is the memory that grows
   with the number of solver steps under backprop (shown for comparison) and must stay
   flat under the adjoint method; temporaries that autograd never saves are not counted.
   Goal: adjoint peak at 10x horizon <= 1.3x the peak at 1x. The longer horizon keeps the
   10 output times of a batch and spaces them ten samples apart (t[0:100:10]), so the
   outputs themselves (which every method must store) stay the same size.

3. Methods: for every torchdiffeq method, the time and the func calls (NFE) of one forward
   plus backward pass (backprop) on the first batch, ours against torchdiffeq's, at the
   defaults (rtol 1e-7, atol 1e-9; fixed-grid methods on the grid of the output times).
4. Large batches: `odeint` on 10,000 Lorenz states (dopri5, rtol 1e-6, atol 1e-9, 101
   output times on [0, 10], float64, CPU, no autograd) against torchdiffeq's `odeint`;
   goal >= 2x faster. The batched engine behind `dynsim.simulate` (per-trajectory step
   sizes, so it may take fewer steps per trajectory) is shown for information.

torch runs with one intra-op thread by default (`--threads` to change): the tensors here
are tiny, and on a machine with other work, MKL's threaded small matrix products (in the
MLP as in the solvers) can stall for milliseconds waiting for a descheduled thread, which
buries both libraries' times in noise.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torchdiffeq
from torch import nn

from dynsim.learn import odeint
from dynsim.learn.memory import SavedTensorMeter

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import best_of_interleaved, table

TRUE_A = torch.tensor([[-0.1, 2.0], [-2.0, -0.1]])
DATA_SIZE, BATCH_SIZE, BATCH_TIME = 1000, 20, 10
RTOL, ATOL = 1e-7, 1e-9


class Spiral(nn.Module):
    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.mm(y**3, TRUE_A.to(y))


class ODEFunc(nn.Module):
    """ode_demo's model: an MLP 2-50-2 with Tanh applied to y**3, counting its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2, 50), nn.Tanh(), nn.Linear(50, 2))
        for m in self.net.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0, std=0.1)
                nn.init.constant_(m.bias, val=0)
        self.calls = 0

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.net(y**3)


def spiral_data() -> tuple[torch.Tensor, torch.Tensor]:
    t = torch.linspace(0.0, 25.0, DATA_SIZE)
    with torch.no_grad():
        true_y = torchdiffeq.odeint(Spiral(), torch.tensor([[2.0, 0.0]]), t, method="dopri5")
    return t, true_y


def batches(t: torch.Tensor, true_y: torch.Tensor, count: int, batch_time: int,
            seed: int) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """ode_demo's `get_batch`: (batch_y0 (20, 1, 2), batch_t (T,), batch_y (T, 20, 1, 2))."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        s = torch.from_numpy(rng.choice(np.arange(DATA_SIZE - batch_time, dtype=np.int64),
                                        BATCH_SIZE, replace=False))
        out.append((true_y[s], t[:batch_time],
                    torch.stack([true_y[s + i] for i in range(batch_time)], dim=0)))
    return out


def pretrained(t: torch.Tensor, true_y: torch.Tensor, iterations: int) -> ODEFunc:
    """The model after `iterations` of ode_demo's training loop (RMSprop, lr 1e-3)."""
    torch.manual_seed(0)
    func = ODEFunc()
    optimizer = torch.optim.RMSprop(func.parameters(), lr=1e-3)
    for y0, bt, by in batches(t, true_y, iterations, BATCH_TIME, seed=1):
        optimizer.zero_grad()
        pred = torchdiffeq.odeint(func, y0, bt, rtol=RTOL, atol=ATOL, method="dopri5")
        torch.mean(torch.abs(pred - by)).backward()
        optimizer.step()
    return func


Solver = Callable[..., torch.Tensor]


def contestants() -> dict[str, tuple[Solver, dict[str, Any]]]:
    return {
        "dynsim backprop": (odeint, {}),
        "torchdiffeq backprop": (torchdiffeq.odeint, {}),
        "dynsim adjoint": (odeint, {"adjoint": True}),
        "torchdiffeq adjoint": (torchdiffeq.odeint_adjoint, {}),
    }


def step(solve: Solver, options: dict[str, Any], func: ODEFunc,
         batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Forward plus backward of one training step; returns the loss."""
    y0, bt, by = batch
    func.zero_grad()
    pred = solve(func, y0, bt, rtol=RTOL, atol=ATOL, method="dopri5", **options)
    loss = torch.mean(torch.abs(pred - by))
    loss.backward()
    return loss.detach()


def timing(func: ODEFunc, data: list, repeats: int) -> tuple[list[list[object]], dict]:
    entries = contestants()
    names = list(entries)
    totals = dict.fromkeys(names, 0.0)
    calls = dict.fromkeys(names, 0)
    grads: dict[str, list[torch.Tensor]] = {}
    bare = 0.0
    for batch in data:
        runs = [lambda s=entries[n][0], o=entries[n][1], b=batch: step(s, o, func, b)
                for n in names]
        for name, run in zip(names, runs, strict=True):  # warm-up, and count the calls
            func.calls = 0
            run()
            calls[name] += func.calls
            if name == "dynsim backprop":
                ours_calls = func.calls
            grads.setdefault(name, []).append(
                torch.cat([p.grad.reshape(-1) for p in func.parameters()]))
        timed = best_of_interleaved([*runs, bare_calls(func, batch, ours_calls)], repeats)
        for name, (best, _) in zip(names, timed, strict=False):
            totals[name] += best
        bare += timed[-1][0]
    errors = solution_errors(func, data)
    rows = []
    for ours, theirs in (("dynsim backprop", "torchdiffeq backprop"),
                         ("dynsim adjoint", "torchdiffeq adjoint")):
        ratio = totals[ours] / totals[theirs]
        mode = ours.split()[1]
        per = len(data)
        rows.append([f"ode_demo step, {mode}", f"{totals[ours] / per * 1e3:.2f} ms",
                     f"torchdiffeq {totals[theirs] / per * 1e3:.2f} ms", f"{ratio:.2f}x",
                     "<= 0.5x", _mark(ratio <= 0.5)])
        rows.append([f"  nfe per step (fwd+bwd), {mode}", f"{calls[ours] / per:.0f}",
                     f"torchdiffeq {calls[theirs] / per:.0f}", "", "", ""])
        if mode == "backprop":
            rows.append(["  the same func calls alone (info)", f"{bare / per * 1e3:.2f} ms",
                         "", f"{bare / totals[theirs]:.2f}x", "", ""])
    rows.append(["  max |y - y_ref64| forward (info)", f"{errors['dynsim']:.1e}",
                 f"torchdiffeq {errors['torchdiffeq']:.1e}", "", "", ""])
    info = {"max |gradient difference| to torchdiffeq backprop (ours backprop, adjoint)": (
        max(float((a - b).abs().max()) for a, b in
            zip(grads["dynsim backprop"], grads["torchdiffeq backprop"], strict=True)),
        max(float((a - b).abs().max()) for a, b in
            zip(grads["dynsim adjoint"], grads["torchdiffeq backprop"], strict=True)))}
    return rows, info


def bare_calls(func: ODEFunc, batch: tuple, count: int) -> Callable[[], None]:
    """`count` calls of func with backward through all of them: the floor under backprop."""
    y0, bt, _ = batch

    def calls() -> None:
        func.zero_grad()
        y = y0.clone().requires_grad_(True)
        torch.stack([func(bt[0], y) for _ in range(count)]).abs().mean().backward()

    return calls


def solution_errors(func: ODEFunc, data: list) -> dict[str, float]:
    """Max error of each library's float32 forward solution against a float64 reference."""
    func64 = ODEFunc().double()
    func64.load_state_dict(func.state_dict())
    out = {"dynsim": 0.0, "torchdiffeq": 0.0}
    with torch.no_grad():
        for y0, bt, _ in data:
            ref = torchdiffeq.odeint(func64, y0.double(), bt.double(), rtol=1e-12, atol=1e-14)
            for name, solve in (("dynsim", odeint), ("torchdiffeq", torchdiffeq.odeint)):
                pred = solve(func, y0, bt, rtol=RTOL, atol=ATOL, method="dopri5")
                out[name] = max(out[name], float((pred.double() - ref).abs().max()))
    return out


def peak_saved_bytes(func: ODEFunc, batch: tuple, solve: Solver,
                     options: dict[str, Any]) -> int:
    with SavedTensorMeter() as meter:
        step(solve, options, func, batch)
    return meter.peak_bytes


def memory(func: ODEFunc, t: torch.Tensor, true_y: torch.Tensor) -> list[list[object]]:
    short = batches(t, true_y, 1, BATCH_TIME, seed=7)[0]
    y0, bt, by = batches(t, true_y, 1, 10 * BATCH_TIME, seed=7)[0]
    long = (y0, bt[::10], by[::10])  # the same 10 outputs, ten times as far apart
    rows = []
    for name, (solve, options) in contestants().items():
        small = peak_saved_bytes(func, short, solve, options)
        large = peak_saved_bytes(func, long, solve, options)
        ratio = large / small
        adjoint = "adjoint" in name
        rows.append([f"autograd peak, {name}", f"{small / 1e3:.0f} kB",
                     f"10x horizon {large / 1e3:.0f} kB", f"{ratio:.2f}x",
                     "<= 1.3x" if adjoint and name.startswith("dynsim") else "(info)",
                     _mark(ratio <= 1.3) if adjoint and name.startswith("dynsim") else ""])
    return rows


METHODS = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun", "euler", "midpoint",
           "heun2", "heun3", "rk4", "explicit_adams", "implicit_adams")
"""torchdiffeq's methods with gradients (scipy_solver has none there)."""


def per_method(func: ODEFunc, batch: tuple, repeats: int) -> list[list[object]]:
    """Time and NFE of one forward + backward pass per method, ours against torchdiffeq's."""
    rows = []
    for method in METHODS:
        runs, calls = [], []
        for solve in (odeint, torchdiffeq.odeint):
            def run(solve=solve, method=method) -> None:
                y0, bt, by = batch
                func.zero_grad()
                pred = solve(func, y0, bt, rtol=RTOL, atol=ATOL, method=method)
                torch.mean(torch.abs(pred - by)).backward()

            func.calls = 0
            run()
            calls.append(func.calls)
            runs.append(run)
        (ours, _), (theirs, _) = best_of_interleaved(runs, repeats)
        rows.append([method, f"{ours * 1e3:.2f} ms", f"{calls[0]}",
                     f"{theirs * 1e3:.2f} ms", f"{calls[1]}", f"{ours / theirs:.2f}x"])
    return rows


def lorenz_rhs(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    x, v, z = y[..., 0], y[..., 1], y[..., 2]
    return torch.stack([10 * (v - x), x * (28 - z) - v, x * v - 8 / 3 * z], dim=-1)


def lorenz(n: int, repeats: int) -> list[list[object]]:
    """odeint on n Lorenz states against torchdiffeq (and the batched engine, info)."""
    from dynsim.builtin_plugins.solvers.explicit_rk import DOPRI5

    from dynsim.numerics import integrate

    y0 = torch.tensor(np.random.default_rng(0).uniform([-15, -20, 5], [15, 20, 40],
                                                       size=(n, 3)))
    t = torch.linspace(0.0, 10.0, 101, dtype=torch.float64)
    options = {"rtol": 1e-6, "atol": 1e-9}
    with torch.no_grad():
        (ours, a), (theirs, b), (engine, _) = best_of_interleaved(
            [lambda: odeint(lorenz_rhs, y0, t, **options),
             lambda: torchdiffeq.odeint(lorenz_rhs, y0, t, method="dopri5", **options),
             lambda: integrate(lorenz_rhs, y0, t, DOPRI5, **options)], repeats)
    ratio = theirs / ours
    gap = float((a - b).abs().max() / b.abs().max())
    return [[f"odeint, {n} Lorenz states", f"{ours:.3f} s", f"torchdiffeq {theirs:.3f} s",
             f"{ratio:.2f}x faster", ">= 2x", _mark(ratio >= 2)],
            ["  batched engine of simulate (info)", f"{engine:.3f} s", "",
             f"{theirs / engine:.2f}x faster", "", ""],
            ["  max |ours - torchdiffeq| / max |y| (info)", f"{gap:.1e}", "", "", "", ""]]


def _mark(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few batches, few repeats")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (default 1, see the docstring)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    count, repeats, warm = (3, 3, 5) if args.quick else (10, 15, 50)
    t, true_y = spiral_data()
    func = pretrained(t, true_y, warm)
    data = batches(t, true_y, count, BATCH_TIME, seed=2)
    rows, info = timing(func, data, repeats)
    rows += memory(func, t, true_y)
    rows += lorenz(1000 if args.quick else 10_000, 1 if args.quick else 3)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{count} batches x best of {repeats}")
    print(table(["workload", "dynsim", "peer", "ratio", "goal", ""], rows))
    for key, value in info.items():
        print(f"{key}: {value}")
    print()
    print("one forward + backward pass per method (ode_demo batch, backprop, defaults)")
    print(table(["method", "dynsim", "nfe", "torchdiffeq", "nfe", "ratio"],
                per_method(func, data[0], repeats)))


if __name__ == "__main__":
    main()
