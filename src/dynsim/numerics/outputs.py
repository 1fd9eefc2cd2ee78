"""The integrator's output samples, and the output times inside steps interpolated in batches.

`Samples` holds the (N, T, D) outputs. `Interpolations` collects, step after step, the
output times that fall inside accepted steps with what their dense output needs (each
trajectory's Q rows, state, t and h) and evaluates them all together in `flush`: per step
there are only a few (trajectory, time) pairs, and interpolating them there cost more in
numpy call overhead than in arithmetic (a third of a small batch's run time).
"""

from __future__ import annotations

import math

import numpy as np

from dynsim.numerics.backend import Array, Backend, NumpyBackend
from dynsim.numerics.dense import DenseStep


class Samples:
    """The (N, T, D) samples: written in place on numpy, gathered once at the end on torch."""

    def __init__(self, backend: Backend, n: int, t: int, d: int) -> None:
        self.backend, self.shape = backend, (n, t, d)
        self.in_place = isinstance(backend, NumpyBackend)
        self.lanes = np.zeros(0, dtype=np.int64)
        self.flat = backend.full((n * t * d,), math.nan) if self.in_place else None
        self.chunks: list[tuple[np.ndarray, Array]] = []

    def write(self, base: np.ndarray, values: Array) -> None:
        """Write `values` (m, D) at flat offsets `base` (m,) (where each row starts)."""
        d = self.shape[2]
        size = base.size * d
        if size > self.lanes.size:  # (0, 1, .., d-1) repeated, made once, sliced after
            self.lanes = np.tile(np.arange(d), max(base.size, 2 * self.lanes.size // d))
        index = np.repeat(base, d)
        index += self.lanes[:size]
        if self.in_place:
            self.flat[index] = values.reshape(-1)
        else:  # `values` may be a view of a buffer the next step overwrites
            self.chunks.append((index, values.reshape(-1).clone()))

    def result(self, copy: bool) -> Array:
        """The samples (N, T, D); a copy if `copy` (partial solutions)."""
        if self.in_place:
            out = self.flat.reshape(self.shape)
            return out.copy() if copy else out
        b = self.backend
        flat = b.full((math.prod(self.shape),), math.nan)
        if self.chunks:
            index = b.index(np.concatenate([i for i, _ in self.chunks]))
            flat = flat.index_put((index,), b.concat([v for _, v in self.chunks]))
        return flat.reshape(self.shape)


class Interpolations:
    """Output times inside accepted steps, waiting to be interpolated into `samples`."""

    def __init__(self, backend: Backend, samples: Samples, t_eval: np.ndarray,
                 chunk: int) -> None:
        """`chunk`: (trajectory, time) pairs evaluated at once; as many rows wait at most."""
        self.backend, self.samples, self.t_eval, self.chunk = backend, samples, t_eval, chunk
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.q: list[Array] = []
        self.y: list[Array] = []
        self.rows = 0

    def add(self, ids: np.ndarray, start: np.ndarray, end: np.ndarray, t: np.ndarray,
            h: np.ndarray, q: Array, y: Array) -> None:
        """Trajectories `ids` passed the output times `t_eval[start:end]` (each its own
        range) in steps from `t` of size `h`; `q`, `y` are those steps' `DenseStep.rows`.

        The host arrays must not change afterwards (pass copies)."""
        self.parts.append((ids, start, end, t, h))
        self.q.append(q)
        self.y.append(y)
        self.rows += ids.size
        if self.rows >= self.chunk:
            self.flush()

    def flush(self) -> None:
        """Interpolate and write every waiting output."""
        if not self.parts:
            return
        b, (_, n_out, d) = self.backend, self.samples.shape
        if len(self.parts) == 1:  # (a big batch: a step's rows fill a chunk)
            (ids, start, end, t, h), q, y = self.parts[0], self.q[0], self.y[0]
        else:
            columns = zip(*self.parts, strict=True)
            ids, start, end, t, h = (np.concatenate(column) for column in columns)
            q, y = b.concat(self.q), b.concat(self.y)
        dense = DenseStep.of_rows(b, q, y)
        self.parts, self.q, self.y, self.rows = [], [], [], 0
        counts = end - start
        pairs = np.repeat(np.arange(ids.size), counts)
        index = np.arange(pairs.size) + np.repeat(start - np.cumsum(counts) + counts, counts)
        theta = (self.t_eval[index] - t[pairs]) / h[pairs]
        base = (ids[pairs] * n_out + index) * d
        in_order = pairs.size == ids.size  # one time per row: pairs are 0, 1, 2, ...
        for i in range(0, pairs.size, self.chunk):  # pieces: temporaries stay small
            piece = slice(i, i + self.chunk)
            rows = piece if in_order else pairs[piece]
            self.samples.write(base[piece], dense(theta[piece], rows))
