"""rtol and atol of an `odeint` call: numbers, per-element tensors or per-part tuples.

torchdiffeq scales the error by atol + rtol max(|y0|, |y1|), broadcasting tensor
tolerances against the state; for a tuple state a tuple (or list, or 1-D tensor) holds one
tolerance per part, each a number or one value per element of the part. dynsim resolves
either into a `Tol`: a float when every element has the same tolerance (the fast path), else
one float64 value per element of the flattened state, which `like` shapes as a state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from dynsim.core.errors import InputError

Tol = float | torch.Tensor
"""A tolerance: one number, or a 1-D float64 CPU tensor over the flattened state."""


def resolve(rtol: Any, atol: Any, shapes: Sequence[torch.Size], is_tuple: bool
            ) -> tuple[Tol, Tol]:
    """rtol and atol for a state of parts `shapes` (one part unless `is_tuple`), checked:
    finite, >= 0, not both zero anywhere, not requiring gradient (`InputError`)."""
    out = one("rtol", rtol, shapes, is_tuple), one("atol", atol, shapes, is_tuple)
    if both_zero(*out):
        raise InputError("rtol and atol cannot both be zero")
    return out


def one(label: str, value: Any, shapes: Sequence[torch.Size], is_tuple: bool) -> Tol:
    """One tolerance (`label` names it in errors) for a state of parts `shapes`, checked."""
    return _compact(_flat(label, value, shapes, is_tuple))


def both_zero(rtol: Tol, atol: Tol) -> bool:
    """Whether some element has rtol and atol zero."""
    return bool(torch.as_tensor(rtol + atol == 0).any())


def per_part(value: Any, shapes: Sequence[torch.Size]) -> bool:
    """Whether `value` is given per part of a tuple of `shapes` (a tuple, list or 1-D
    tensor of that length, as torchdiffeq reads it)."""
    if isinstance(value, tuple | list) or (isinstance(value, torch.Tensor) and value.ndim == 1):
        return len(value) == len(shapes)
    return False


def widen(tol: Tol, sizes: Sequence[int], inner: tuple[int, int]) -> Tol:
    """`tol` of a state spread over a longer one of parts `sizes`: the parts in `inner`
    (first, count) repeat it, the others take its smallest value (the strictest)."""
    if isinstance(tol, float):
        return tol
    low = float(tol.min())
    first, count = inner
    parts = [tol if first <= i < first + count else torch.full((size,), low, dtype=tol.dtype)
             for i, size in enumerate(sizes)]
    return torch.cat(parts)


def like(tol: Tol, y: torch.Tensor) -> float | torch.Tensor:
    """`tol` as a float, or a tensor of y's shape, real dtype and device."""
    if isinstance(tol, float):
        return tol
    dtype = y.real.dtype if y.is_complex() else y.dtype
    return tol.to(dtype=dtype, device=y.device).view(y.shape)


def host(tol: Tol) -> float | np.ndarray:
    """`tol` as a float, or a flat float64 numpy array."""
    return tol if isinstance(tol, float) else tol.numpy()


def smallest(tol: Tol) -> float:
    """The smallest tolerance of any element."""
    return tol if isinstance(tol, float) else float(tol.min())


def _flat(label: str, value: Any, shapes: Sequence[torch.Size], is_tuple: bool
          ) -> torch.Tensor:
    """`value` as float64 over the flattened state (any length-1 value as one element)."""
    if is_tuple and len(shapes) > 1 and not _single(value):
        if not per_part(value, shapes):
            raise InputError(f"{label} of a tuple state must be a number or hold one "
                             f"tolerance per part ({len(shapes)}), got {value!r}")
        return torch.cat([_part(f"{label}[{i}]", v, shape)
                          for i, (v, shape) in enumerate(zip(value, shapes, strict=True))])
    if is_tuple:  # a number, or a tuple state of one part
        if isinstance(value, tuple | list) and len(value) == 1:
            value = value[0]
        return torch.cat([_part(label, value, shape) for shape in shapes])
    return _part(label, value, shapes[0])


def _single(value: Any) -> bool:
    """Whether `value` is one number (a number, or a tensor or sequence of one)."""
    if isinstance(value, torch.Tensor):
        return value.numel() == 1
    return not isinstance(value, tuple | list) or len(value) == 1


def _part(label: str, value: Any, shape: torch.Size) -> torch.Tensor:
    """One part's tolerance broadcast to its `shape` (or, as torchdiffeq, its size), flat."""
    if isinstance(value, torch.Tensor) and value.requires_grad:
        raise InputError(f"{label} cannot require gradient")
    if isinstance(value, bool):
        raise InputError(f"{label} must be a number or a tensor, got {value!r}")
    try:
        tensor = torch.as_tensor(value).detach().cpu()
        if not (tensor.is_floating_point() or tensor.dtype in (torch.int32, torch.int64)):
            raise TypeError
        tensor = tensor.to(torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise InputError(f"{label} must be a number or a tensor, got {value!r}") from None
    size = shape.numel()
    for target in (shape, torch.Size([size])):
        try:
            if torch.broadcast_shapes(tensor.shape, target) == target:
                flat = tensor.expand(target).reshape(-1)
                break
        except RuntimeError:
            pass
    else:
        raise InputError(f"{label} of shape {tuple(tensor.shape)} does not broadcast against "
                         f"the state's shape {tuple(shape)}")
    if not (bool(torch.isfinite(flat).all()) and bool((flat >= 0).all())):
        raise InputError(f"{label} must be finite and >= 0")
    return flat


def _compact(flat: torch.Tensor) -> Tol:
    """A float when every element has the same tolerance, else the tensor."""
    first = float(flat[0])
    return first if bool((flat == first).all()) else flat.contiguous()
