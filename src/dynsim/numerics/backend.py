"""A deliberately tiny shim over numpy and torch, picked from the type of the input.

The integrator keeps its bookkeeping (times, step sizes, error norms, indices) in float64
numpy arrays on the host and only the states and stages in the input's array type, so this
shim covers just what the state arithmetic needs. torch is imported only when the input is a
tensor. The functions with identical signatures in both libraries (`abs`, `maximum`, `sqrt`,
`isfinite`, `where`, `multiply`, `stack`, matrix products with `@`) are used through `xp`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from dynsim.core.arrays import is_tensor

Array = Any


def backend_for(y0: Array) -> Backend:
    """The backend of `y0`: torch for a tensor (same device and dtype), numpy otherwise."""
    if is_tensor(y0):
        return TorchBackend(y0)
    return NumpyBackend(np.asarray(y0))


class Backend:
    """Array operations the integrator needs on states: one implementation per library."""

    xp: Any
    dtype: Any
    eps: float

    def asarray(self, x: Array) -> Array:
        """`x` in this backend's floating dtype (and device)."""
        raise NotImplementedError

    def from_host(self, x: np.ndarray) -> Array:
        """A host numpy array as a backend array of the state dtype (numpy: maybe no copy)."""
        raise NotImplementedError

    def fresh(self, x: np.ndarray) -> Array:
        """Like `from_host`, for a host array nobody modifies afterwards: on numpy `x`
        itself, on torch's CPU a tensor sharing its memory when the dtype matches."""
        return self.from_host(x)

    def host(self, x: Array) -> np.ndarray:
        """A backend array as a detached host numpy array."""
        raise NotImplementedError

    def index(self, rows: np.ndarray) -> Array:
        """Host integer indices in the form `take` and `put_rows` want."""
        return rows

    def take(self, x: Array, rows: Array, axis: int = 0) -> Array:
        """The entries of `x` at `rows` along `axis` (a gather)."""
        raise NotImplementedError

    def put_rows(self, a: Array, rows: Array, b: Array) -> Array:
        """`a` with its rows at `rows` replaced by `b` (may reuse `a`'s memory)."""
        raise NotImplementedError

    def concat(self, parts: Sequence[Array]) -> Array:
        """`parts` joined along the first axis."""
        raise NotImplementedError

    def vecmat(self, w: Array, matrix: Array, out: Array) -> Array:
        """`w @ matrix` ((k,) times (k, n)) written into `out` (n,)."""
        raise NotImplementedError

    def full(self, shape: tuple[int, ...], value: float) -> Array:
        """A new array of `shape` filled with `value`."""
        raise NotImplementedError

    def detach(self, x: Array) -> Array:
        """`x` cut from any autograd graph (the same values)."""
        return x

    def tracked(self, *arrays: Array) -> bool:
        """Whether any of `arrays` is part of an autograd graph."""
        return False

    def no_grad(self) -> contextlib.AbstractContextManager[Any]:
        """A context in which no autograd graph is recorded."""
        return contextlib.nullcontext()


class NumpyBackend(Backend):
    """numpy arrays (float64 unless the input is another floating type)."""

    def __init__(self, like: np.ndarray) -> None:
        self.xp = np
        self.dtype = like.dtype if np.issubdtype(like.dtype, np.floating) else np.float64
        self.eps = float(np.finfo(self.dtype).eps)

    def asarray(self, x: Array) -> np.ndarray:
        return np.asarray(x, dtype=self.dtype)

    def from_host(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=self.dtype)

    def host(self, x: Array) -> np.ndarray:
        return np.asarray(x)

    def take(self, x: np.ndarray, rows: np.ndarray, axis: int = 0) -> np.ndarray:
        return np.take(x, rows, axis=axis)

    def put_rows(self, a: np.ndarray, rows: np.ndarray, b: np.ndarray) -> np.ndarray:
        a[rows] = b
        return a

    def concat(self, parts: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts)

    def vecmat(self, w: np.ndarray, matrix: np.ndarray, out: np.ndarray) -> np.ndarray:
        return np.matmul(w, matrix, out=out)

    def full(self, shape: tuple[int, ...], value: float) -> np.ndarray:
        return np.full(shape, value, dtype=self.dtype)


class TorchBackend(Backend):
    """torch tensors on the input's device, in the input's floating dtype."""

    def __init__(self, like: Any) -> None:
        import torch

        self.xp = torch
        self.device = like.device
        self.dtype = like.dtype if like.is_floating_point() else torch.get_default_dtype()
        self.eps = float(torch.finfo(self.dtype).eps)

    def asarray(self, x: Array) -> Any:
        return self.xp.as_tensor(x).to(device=self.device, dtype=self.dtype)

    def from_host(self, x: np.ndarray) -> Any:
        # always a copy: the host array may change while autograd still holds the tensor
        return self.xp.tensor(x, dtype=self.dtype, device=self.device)

    def fresh(self, x: np.ndarray) -> Any:
        return self.xp.from_numpy(np.ascontiguousarray(x)).to(device=self.device,
                                                               dtype=self.dtype)

    def host(self, x: Array) -> np.ndarray:
        return x.detach().cpu().numpy()

    def index(self, rows: np.ndarray) -> Any:
        return self.xp.from_numpy(np.asarray(rows, dtype=np.int64)).to(self.device)

    def take(self, x: Any, rows: Any, axis: int = 0) -> Any:
        return self.xp.index_select(x, axis, rows)

    def put_rows(self, a: Any, rows: Any, b: Any) -> Any:
        return a.index_copy(0, rows, b)  # out of place: safe under autograd

    def concat(self, parts: Sequence[Any]) -> Any:
        return self.xp.cat(list(parts))

    def vecmat(self, w: Any, matrix: Any, out: Any) -> Any:
        return self.xp.mv(matrix.t(), w, out=out)

    def full(self, shape: tuple[int, ...], value: float) -> Any:
        return self.xp.full(shape, value, dtype=self.dtype, device=self.device)

    def detach(self, x: Any) -> Any:
        return x.detach()

    def tracked(self, *arrays: Any) -> bool:
        return self.xp.is_grad_enabled() and any(
            getattr(x, "requires_grad", False) for x in arrays)

    def no_grad(self) -> contextlib.AbstractContextManager[Any]:
        return self.xp.no_grad()
