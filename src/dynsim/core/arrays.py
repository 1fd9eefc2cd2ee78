"""Small array helpers for plugin authors writing vectorised right-hand sides."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import ModuleType

import numpy as np


def is_tensor(x: object) -> bool:
    """Whether `x` is a torch tensor (without importing torch)."""
    return type(x).__module__.startswith("torch") and hasattr(x, "requires_grad")


def array_module(y: object) -> ModuleType:
    """The array library of `y`: `torch` for a torch tensor, `numpy` otherwise.

    A right-hand side written with `xp = dynsim.array_module(y)` and the functions both
    libraries name alike (`xp.stack(parts, axis=-1)`, `xp.sin`, `xp.cos`, `xp.exp`, ...)
    runs on arrays and on tensors, so a hybrid model's known part is differentiated by
    autograd instead of finite differences (there `t` and the parameters are tensors too,
    so `xp.cos(p["omega"] * t)` works). torch is never imported here: a tensor means torch
    is loaded already.
    """
    return sys.modules["torch"] if is_tensor(y) else np


def stack_states(parts: Sequence[object], like: object) -> object:
    """The derivatives `parts`, one per state, stacked on a last axis: what `rhs` returns.

    Each part is shaped like `like[..., 0]` or is a number; the result has `like`'s shape
    `(..., D)`. On arrays it fills one new array, which for the small batches of the app
    takes a third of `np.stack`'s time (a right-hand side is called millions of times); on
    a torch tensor it is `torch.stack(parts, -1)` (autograd, device, dtype kept).
    """
    if is_tensor(like):
        return sys.modules["torch"].stack(list(parts), -1)
    out = np.empty((*np.shape(like)[:-1], len(parts)), dtype=_float_dtype(like))
    for i, part in enumerate(parts):
        out[..., i] = part
    return out


def stack_jacobian(rows: Sequence[Sequence[object]], like: np.ndarray) -> np.ndarray:
    """Stack Jacobian entries into shape (..., D, D); constants broadcast to `like[..., 0]`.

    `rows[i][j]` is d rhs_i / d y_j, a number or an array shaped like `like[..., 0]`.
    """
    out = np.empty((*np.shape(like)[:-1], len(rows), len(rows[0])), dtype=_float_dtype(like))
    for i, row in enumerate(rows):  # (filled in place: np.stack of broadcasts took 3x longer)
        for j, entry in enumerate(row):
            out[..., i, j] = entry
    return out


def _float_dtype(like: object) -> np.dtype:
    """`like`'s floating dtype, or float64."""
    dtype = np.asarray(like).dtype
    return dtype if dtype.kind == "f" else np.dtype(np.float64)
