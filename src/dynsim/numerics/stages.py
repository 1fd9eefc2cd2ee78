"""One explicit Runge–Kutta step: the stage loop shared by every method and backend.

Works on numpy arrays and torch tensors alike: only `+`, `*` and the right-hand side are used.
`t` is a scalar or an (M,) array, `y` is (M, D), `h` a scalar or an (M,) array, so each
trajectory of a batch can take its own step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from dynsim.numerics.tableau import ButcherTableau

Array = Any
RHS = Callable[[Array, Array], Array]


def weighted_sum(y: Array, h_col: Array, weights: Sequence[float], k: Sequence[Array]) -> Array:
    """y + h * sum_j weights[j] * k[j], skipping zero weights (`h_col` is h as a column)."""
    total = None
    for w, kj in zip(weights, k, strict=False):
        if w != 0.0:
            term = kj * w
            total = term if total is None else total + term
    return y if total is None else y + h_col * total


def rk_stages(f: RHS, t: Array, y: Array, h: Array, tableau: ButcherTableau,
              k1: Array | None = None) -> list[Array]:
    """The s stage derivatives k_i = f(t + c_i h, y + h sum_j a_ij k_j)."""
    h_col = h[..., None] if getattr(h, "ndim", 0) else h
    k = [f(t, y) if k1 is None else k1]
    for ci, row in zip(tableau.c[1:], tableau.a[1:], strict=True):
        k.append(f(t + ci * h, weighted_sum(y, h_col, row, k)))
    return k
