"""Small array helpers for plugin authors writing vectorised right-hand sides."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def stack_jacobian(rows: Sequence[Sequence[object]], like: np.ndarray) -> np.ndarray:
    """Stack Jacobian entries into shape (..., D, D); constants broadcast to `like[..., 0]`.

    `rows[i][j]` is d rhs_i / d y_j, a number or an array shaped like `like[..., 0]`.
    """
    shape = np.shape(like)[:-1]
    return np.stack(
        [np.stack([np.broadcast_to(entry, shape) for entry in row], axis=-1) for row in rows],
        axis=-2,
    )
