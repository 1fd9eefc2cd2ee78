"""Per-trajectory statuses and messages, filled in as trajectories end."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from dynsim.core.solver import Solution
from dynsim.core.trajectories import Status


class Outcomes:
    """Status and message of each of N trajectories; all start as success."""

    def __init__(self, n: int) -> None:
        self.status = [Status.SUCCESS] * n
        self.messages = [""] * n

    def end(self, indices: np.ndarray, status: Status, message: str) -> None:
        """Record that the trajectories at `indices` ended with `status` because of `message`."""
        for i in np.asarray(indices).tolist():
            self.status[i] = status
            self.messages[i] = message

    def solution(self, y: np.ndarray, stats: Mapping[str, np.ndarray]) -> Solution:
        """Package samples and these outcomes as a `Solution`."""
        return Solution(y=y, status=list(self.status), messages=list(self.messages),
                        stats=dict(stats))
