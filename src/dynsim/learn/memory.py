"""`SavedTensorMeter`: how much memory autograd holds for the backward pass, at its peak.

Autograd keeps the tensors each recorded operation saves for its backward (activations,
stage values) until the graph is freed. Inside the meter every saved tensor goes through
`torch.autograd.graph.saved_tensors_hooks`; the meter counts the bytes of the distinct
storages held at any moment (a weight saved by a hundred calls counts once) and records
the peak, over the forward and the backward pass alike. This is the memory that grows with
the number of solver steps under backprop and must not under the adjoint method; temporary
tensors that are never saved for backward are not counted.
"""

from __future__ import annotations

import weakref
from types import TracebackType
from typing import Any

import torch


class SavedTensorMeter:
    """Context manager: `peak_bytes`, `peak_count` of the storages autograd held for backward."""

    def __init__(self) -> None:
        self.held: dict[int, list[int]] = {}  # storage pointer -> [holders, bytes]
        self.bytes = self.peak_bytes = self.peak_count = 0
        self._hooks: Any = None

    def __enter__(self) -> SavedTensorMeter:
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        self._hooks.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._hooks.__exit__(kind, value, traceback)

    def _pack(self, tensor: torch.Tensor) -> _Held:
        storage = tensor.untyped_storage()
        key = storage.data_ptr()
        entry = self.held.setdefault(key, [0, storage.nbytes()])
        if entry[0] == 0:
            self.bytes += entry[1]
        entry[0] += 1
        self.peak_bytes = max(self.peak_bytes, self.bytes)
        self.peak_count = max(self.peak_count, len(self.held))
        held = _Held(tensor)
        weakref.finalize(held, self._release, key)
        return held

    @staticmethod
    def _unpack(held: _Held) -> torch.Tensor:
        return held.tensor

    def _release(self, key: int) -> None:
        entry = self.held[key]
        entry[0] -= 1
        if entry[0] == 0:
            self.bytes -= entry[1]
            del self.held[key]


class _Held:
    """A saved tensor as autograd holds it; its release means the graph let it go."""

    __slots__ = ("__weakref__", "tensor")

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor
