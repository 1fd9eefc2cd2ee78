"""Per-trajectory statuses and messages, filled in as trajectories end."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dynsim.core.trajectories import Status


class Outcomes:
    """Status and message of each of N trajectories; all start as success."""

    def __init__(self, n: int) -> None:
        self.status = [Status.SUCCESS] * n
        self.messages = [""] * n

    def end(self, indices: np.ndarray, status: Status, message: str | Sequence[str]) -> None:
        """Record that trajectories `indices` ended with `status`; one message or one each."""
        rows = np.asarray(indices).tolist()
        texts = [message] * len(rows) if isinstance(message, str) else list(message)
        for i, text in zip(rows, texts, strict=True):
            self.status[i] = status
            self.messages[i] = text


def state_text(y: np.ndarray) -> str:
    """A state vector for a message: '[1.5, -2, nan]'."""
    return "[" + ", ".join(f"{v:.6g}" for v in np.asarray(y, dtype=float).ravel()) + "]"
