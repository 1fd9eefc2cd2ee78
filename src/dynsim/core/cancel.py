"""Cooperative cancellation shared by long computations (simulation, export, training)."""

from __future__ import annotations

import threading

from dynsim.core.errors import DynsimError


class Cancelled(DynsimError):
    """Raised by work that noticed its `CancelToken` was cancelled."""


class CancelToken:
    """A flag one thread sets and the workers poll; thread-safe."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the work holding this token to stop at its next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether `cancel()` was called."""
        return self._event.is_set()

    def raise_if_cancelled(self, what: str = "operation") -> None:
        """Raise `Cancelled` if `cancel()` was called."""
        if self._event.is_set():
            raise Cancelled(f"{what} cancelled")
