"""Stage storage and the stage loop of one explicit Runge–Kutta step, for any backend.

For M trajectories of D states, a store holds, flattened to n = M * D values per row, the
state y, the step-scaled stages h * k_j and the derivative f(t, y). A stage input is then
one matrix-vector product: y_i = [1, a_i0, ..., a_i,i-1] @ [y; h k_0; ...; h k_{i-1}],
whatever the per-trajectory step sizes are; the error estimate and the dense output are
products over the same rows.

- `BufferStages` (numpy, and torch without autograd) preallocates two such matrices and
  uses them in turn: the last stage input of a step (y_new in FSAL form) is written straight
  into row 0 of the other matrix, which the next step starts from. Nothing of size n is
  allocated per step, which matters as much as the arithmetic: short-lived arrays of a few
  hundred kB make the C allocator return memory to the OS and page-fault it back.
- `TrackedStages` (torch with autograd) keeps a list and uses only out-of-place
  operations, so gradients flow through every stage.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dynsim.numerics.backend import Array, Backend


class BufferStages:
    """y, h * k_j (R stages) and f(t, y) in two preallocated (R + 2, capacity) matrices."""

    def __init__(self, backend: Backend, weights: Sequence[Array], stages: int, y: Array,
                 k: Array, capacity: int | None = None) -> None:
        """`weights[i]` is [1, a_i0, ...] for stage i >= 1; `y`, `k` are (M, D)."""
        m, d = y.shape
        self.backend, self.weights, self.rows, self.d = backend, weights, stages, d
        self.n = m * d
        size = capacity if capacity is not None else self.n
        self.buffers = [backend.full((stages + 2, size), 0.0) for _ in range(2)]
        self.scratch = backend.full((size,), 0.0)
        self.cur = 0
        self.buffers[0][0, :self.n] = y.reshape(-1)
        self.buffers[0][-1, :self.n] = k.reshape(-1)

    @property
    def state(self) -> Array:
        """y (M, D) of the current step."""
        return self.buffers[self.cur][0, :self.n].reshape(-1, self.d)

    @property
    def deriv(self) -> Array:
        """f(t, y) (M, D) of the current step."""
        return self.buffers[self.cur][-1, :self.n].reshape(-1, self.d)

    def begin(self, h_flat: Array) -> None:
        """Start a step of sizes `h_flat` (n,): stage 0 is h * f(t, y)."""
        buf = self.buffers[self.cur]
        self.backend.xp.multiply(buf[-1, :self.n], h_flat, out=buf[1, :self.n])

    def stage_input(self, i: int, last: bool) -> Array:
        """y + h sum_j a_ij k_j for stage i, (M, D); `last` marks the FSAL stage (y_new)."""
        out = self.buffers[1 - self.cur][0, :self.n] if last else self.scratch[:self.n]
        self.backend.vecmat(self.weights[i], self.buffers[self.cur][:i + 1, :self.n], out)
        return out.reshape(-1, self.d)

    def put(self, j: int, k: Array, h_flat: Array, last: bool) -> None:
        """Store h * k_j; for the FSAL stage also keep k as the next step's f(t, y)."""
        flat = k.reshape(-1)
        self.backend.xp.multiply(flat, h_flat, out=self.buffers[self.cur][1 + j, :self.n])
        if last:
            self.buffers[1 - self.cur][-1, :self.n] = flat

    def stages(self, upto: int) -> Array:
        """h * k_j for j < upto, (upto, n)."""
        return self.buffers[self.cur][1:1 + upto, :self.n]

    def run(self, f: Callable[..., Array], times: np.ndarray, converted: Any, h_flat: Array,
            first: int, stop: int, fsal: bool) -> tuple[Array, Array]:
        """`stage_input`, f and `put` for stages `first` .. `stop - 1` (see `run_stages`),
        with the views made once per step (this loop is the engine's innermost one)."""
        n, d, xp, vecmat, weights = self.n, self.d, self.backend.xp, self.backend.vecmat, \
            self.weights
        rows = self.buffers[self.cur][:, :n]
        nxt = self.buffers[1 - self.cur]
        scratch = self.scratch[:n]
        y_i = k_i = None
        for row, i in enumerate(range(first, stop)):
            last = fsal and i == stop - 1
            out = nxt[0, :n] if last else scratch
            vecmat(weights[i], rows[:i + 1], out)
            y_i = out.reshape(-1, d)
            k_i = f(times[row], y_i) if converted is None else \
                f(times[row], y_i, converted[row])
            flat = k_i.reshape(-1)
            xp.multiply(flat, h_flat, out=rows[1 + i])
            if last:
                nxt[-1, :n] = flat
        return y_i, k_i

    def finish(self, rejected: np.ndarray) -> None:
        """End the step: trajectories at `rejected` keep their y and f(t, y)."""
        old, new = self.buffers[self.cur], self.buffers[1 - self.cur]
        if rejected.size:
            lanes = (rejected[:, None] * self.d + np.arange(self.d)).ravel()
            index = self.backend.index(lanes)
            for row in (0, -1):
                new[row, :self.n][index] = old[row, :self.n][index]
        self.cur = 1 - self.cur

    def subset(self, rows: np.ndarray) -> BufferStages:
        """A store with the trajectories `rows` only (their y, f and stages so far)."""
        b = self.backend
        index = b.index(rows)
        picked = b.take(self.buffers[self.cur][:, :self.n].reshape(self.rows + 2, -1, self.d),
                        index, axis=1)
        out = BufferStages.__new__(BufferStages)
        out.backend, out.weights, out.rows, out.d = b, self.weights, self.rows, self.d
        out.n = len(rows) * self.d
        out.buffers = [picked.reshape(self.rows + 2, -1), picked.reshape(self.rows + 2, -1)]
        out.scratch = b.full((out.n,), 0.0)
        out.cur = 0
        return out

    def compact(self, keep: np.ndarray) -> None:
        """Keep only the trajectories at `keep` (indices, increasing)."""
        b = self.backend
        index = b.index(keep)
        buf = self.buffers[self.cur]
        n = len(keep) * self.d
        for row in (0, -1):
            kept = b.take(buf[row, :self.n].reshape(-1, self.d), index).reshape(-1)
            buf[row, :n] = kept
        self.n = n


class TrackedStages:
    """The same rows as a list of arrays, with out-of-place operations only (autograd)."""

    def __init__(self, backend: Backend, weights: Sequence[Array], stages: int, y: Array,
                 k: Array, capacity: int | None = None) -> None:
        self.backend, self.weights, self.d = backend, weights, y.shape[1]
        self.items: list[Any] = [None] * stages
        self.y, self.k = y, k
        self.y_new = self.k_new = None

    @property
    def state(self) -> Array:
        """y (M, D) of the current step."""
        return self.y

    @property
    def deriv(self) -> Array:
        """f(t, y) (M, D) of the current step."""
        return self.k

    def begin(self, h_flat: Array) -> None:
        """Start a step of sizes `h_flat` (n,): stage 0 is h * f(t, y)."""
        self.items[0] = self.k.reshape(-1) * h_flat

    def stage_input(self, i: int, last: bool) -> Array:
        """y + h sum_j a_ij k_j for stage i, (M, D); `last` marks the FSAL stage (y_new)."""
        rows = self.backend.xp.stack([self.y.reshape(-1), *self.items[:i]])
        out = (self.weights[i] @ rows).reshape(-1, self.d)
        if last:
            self.y_new = out
        return out

    def put(self, j: int, k: Array, h_flat: Array, last: bool) -> None:
        """Store h * k_j; for the FSAL stage also keep k as the next step's f(t, y)."""
        self.items[j] = k.reshape(-1) * h_flat
        if last:
            self.k_new = k

    def stages(self, upto: int) -> Array:
        """h * k_j for j < upto, (upto, n)."""
        return self.backend.xp.stack(self.items[:upto])

    def finish(self, rejected: np.ndarray) -> None:
        """End the step: trajectories at `rejected` keep their y and f(t, y)."""
        b = self.backend
        y_new, k_new = self.y_new, self.k_new
        if rejected.size:
            index = b.index(rejected)
            y_new = b.put_rows(y_new, index, b.take(self.y, index))
            k_new = b.put_rows(k_new, index, b.take(self.k, index))
        self.y, self.k = y_new, k_new

    def subset(self, rows: np.ndarray) -> TrackedStages:
        """A store with the trajectories `rows` only (their y, f and stages so far)."""
        b = self.backend
        index = b.index(rows)
        out = TrackedStages(b, self.weights, len(self.items), b.take(self.y, index),
                            b.take(self.k, index))
        out.items = [None if item is None else b.take(item.reshape(-1, self.d), index)
                     .reshape(-1) for item in self.items]
        return out

    def compact(self, keep: np.ndarray) -> None:
        """Keep only the trajectories at `keep` (indices, increasing)."""
        index = self.backend.index(keep)
        self.y = self.backend.take(self.y, index)
        self.k = self.backend.take(self.k, index)


Stages = BufferStages | TrackedStages

StageRHS = Callable[[np.ndarray, Array], Array]
"""f(t, y) for the stage loop: `t` host float64 (M,), `y` (M, D); returns (M, D)."""


def run_stages(f: StageRHS, store: Stages, t: np.ndarray, h: np.ndarray, c: np.ndarray,
               h_flat: Array, first: int, stop: int, t_end: np.ndarray | None = None,
               convert: Callable[[np.ndarray], Any] | None = None) -> tuple[Array, Array]:
    """Stages `first` .. `stop - 1`: k_i = f(t + c_i h, y_i), stored in `store`.

    With `t_end` (= t + h exactly), stage `stop - 1` is the FSAL stage at (t_end, y_new).
    With `convert`, the stage times of the whole step are converted at once (one host to
    device copy per step instead of one per stage) and passed as a third argument,
    f(t, y, converted_t). Returns the input and the derivative of the last stage computed.
    """
    times = stage_times(t, h, c[first:stop], t_end)
    converted = None if convert is None else convert(times)
    if isinstance(store, BufferStages):
        return store.run(f, times, converted, h_flat, first, stop, t_end is not None)
    y_i = k_i = None
    for row, i in enumerate(range(first, stop)):
        last = t_end is not None and i == stop - 1
        y_i = store.stage_input(i, last)
        k_i = f(times[row], y_i) if converted is None else \
            f(times[row], y_i, converted[row])  # type: ignore[call-arg]
        store.put(i, k_i, h_flat, last)
    return y_i, k_i


def stage_times(t: np.ndarray, h: np.ndarray, c: np.ndarray,
                t_end: np.ndarray | None = None) -> np.ndarray:
    """Host (len(c), M) times t + c_i h of the stages (the last one `t_end` when given)."""
    times = np.multiply.outer(c, h)
    times += t
    if t_end is not None and len(c):
        times[-1] = t_end
    return times
