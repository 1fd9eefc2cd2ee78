"""Choosing the torch device and dtype of a training run."""

from __future__ import annotations

import torch

from dynsim.core.errors import InputError

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def pick_device(name: str = "auto") -> torch.device:
    """`"auto"`: CUDA if available, then Apple's MPS, else the CPU; or a torch device name."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise InputError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got "
                         f"{name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError("device 'cuda' asked for, but torch finds no CUDA GPU here (use "
                         "device='auto' or 'cpu')")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None)
                                     and torch.backends.mps.is_available()):
        raise InputError("device 'mps' asked for, but it is not available here")
    return device


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    """float32 or float64 (MPS has no float64)."""
    if name not in DTYPES:
        raise InputError(f"dtype must be float32 or float64, got {name!r}")
    if device.type == "mps" and name == "float64":
        raise InputError("the mps device has no float64; use dtype='float32'")
    return DTYPES[name]
