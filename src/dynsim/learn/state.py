"""The state of an `odeint` call as the solvers see it: one tensor.

torchdiffeq accepts a tensor of any shape (0-d included) or a tuple of tensors. A tensor
keeps its shape (func sees exactly what it would); a tuple is flattened and concatenated,
func, the norm, the event function and the callbacks are wrapped to see the tuple, and the
solution is split back into one (T, *shape) tensor per part. The default error norm of a
tuple is torchdiffeq's mixed norm: the largest RMS norm over the parts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from dynsim.core.errors import InputError


class State:
    """`y0` as one tensor (`y0`), and the wrappers between it and the user's view."""

    def __init__(self, y0: Any) -> None:
        self.is_tuple = isinstance(y0, tuple)
        parts = y0 if self.is_tuple else (y0,)
        if self.is_tuple and not parts:
            raise InputError("y0 must not be an empty tuple")
        for i, part in enumerate(parts):
            label = f"y0[{i}]" if self.is_tuple else "y0"
            if not isinstance(part, torch.Tensor):
                raise InputError(f"{label} must be a torch tensor (or y0 a tuple of tensors), "
                                 f"got {type(part).__name__}")
            if not (part.is_floating_point() or part.is_complex()):
                raise InputError(f"{label} must be a floating-point or complex tensor, got "
                                 f"{part.dtype}")
            if part.dtype in (torch.float16, torch.bfloat16):
                raise InputError(f"{label} is {part.dtype}: too few digits for step-size "
                                 "control (the error estimates drown in rounding); use "
                                 "torch.float32 or torch.float64, e.g. y0.float()")
        self.shapes = [p.shape for p in parts]
        self.sizes = [p.numel() for p in parts]
        if self.is_tuple:
            self.y0 = torch.cat([p.reshape(-1) for p in parts])
        else:
            self.y0 = y0
        if self.y0.numel() == 0:
            raise InputError("y0 must hold at least one value")

    @property
    def parts(self) -> tuple[list[torch.Size], bool]:
        """The parts' shapes and whether y0 is a tuple (what tolerances are given over)."""
        return list(self.shapes), self.is_tuple

    @property
    def groups(self) -> list[int] | None:
        """The sizes of the parts whose RMS norms the default norm combines (None: one)."""
        return self.sizes if self.is_tuple and len(self.sizes) > 1 else None

    def split(self, flat: torch.Tensor, length: tuple[int, ...] = ()) -> tuple[torch.Tensor, ...]:
        """The parts of `flat` (*length, N) as (*length, *shape) views."""
        out, start = [], 0
        for shape, size in zip(self.shapes, self.sizes, strict=True):
            out.append(flat[..., start:start + size].view((*length, *shape)))
            start += size
        return tuple(out)

    def view(self, y: torch.Tensor) -> Any:
        """The user's view of a state: the tensor itself, or the tuple of its parts."""
        return self.split(y) if self.is_tuple else y

    def func(self, func: Callable[..., Any]) -> Callable[[torch.Tensor, torch.Tensor],
                                                            torch.Tensor]:
        """func on the solver's tensor (the tuple's concatenated derivatives)."""
        if not self.is_tuple:
            return _checked(func, self.y0.shape)
        sizes, shapes = self.sizes, self.shapes

        def flat(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            out = func(t, self.split(y))
            if not isinstance(out, tuple | list) or len(out) != len(sizes):
                raise InputError(f"func must return a tuple of {len(sizes)} tensors for a "
                                 f"tuple state, got {type(out).__name__}")
            for i, (part, shape) in enumerate(zip(out, shapes, strict=True)):
                if not isinstance(part, torch.Tensor) or part.shape != shape:
                    raise InputError(f"func's output {i} must have y0[{i}]'s shape "
                                     f"{tuple(shape)}")
            return torch.cat([part.reshape(-1) for part in out])

        return flat

    def wrap(self, fn: Callable[..., Any] | None) -> Callable[..., Any] | None:
        """A function of (t, y) (event_fn) seeing the user's view of y."""
        if fn is None or not self.is_tuple:
            return fn
        return lambda t, y: fn(t, self.split(y))

    def norm(self, norm: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
        """A norm of the user's view, as a norm of the solver's tensor."""
        if norm is None or not self.is_tuple:
            return norm
        return lambda y: norm(self.split(y))

    def solution(self, ys: torch.Tensor) -> Any:
        """The user's view of a solution (T, ...): a tensor, or a tuple of (T, *shape)."""
        return self.split(ys, (ys.shape[0],)) if self.is_tuple else ys


def _checked(func: Callable[..., Any], shape: torch.Size) -> Callable[..., torch.Tensor]:
    def f(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = func(t, y)
        if not isinstance(out, torch.Tensor) or out.shape != shape:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise InputError(f"func returned {got} for y of shape {tuple(shape)}; it must "
                             f"return a tensor of y's shape")
        return out

    return f
