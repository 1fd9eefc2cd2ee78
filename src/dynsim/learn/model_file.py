"""Model files (`.dsm`): safetensors weights with dynsim's JSON metadata in the header.

The file is one safetensors file: an 8-byte little-endian header length, a JSON header
(tensor names, dtypes, shapes, offsets and `__metadata__`), then raw tensor bytes. Its
`__metadata__` holds `format = "dynsim-model"`, `format_version` and `dynsim`, a JSON
document (family and config, states, scales, training summary and metrics, dynsim
version). Reading checks the header before anything else and never unpickles: a corrupt,
truncated, foreign or pickle file is one `ModelFileError` and nothing of it runs.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynsim.core.atomic import atomic_write
from dynsim.core.errors import DataFileError, DynsimError
from dynsim.core.model_family import ModelDims
from dynsim.core.plugins import active_plugins
from dynsim.core.system import System

FORMAT = "dynsim-model"
FORMAT_VERSION = 1
MAX_HEADER = 64 * 1024 * 1024
"""Headers above this size are refused (a real one is a few kB)."""


class ModelFileError(DataFileError):
    """A model file that cannot be read: corrupt, truncated, foreign or of a newer format."""


def write_model_file(path: str | Path, tensors: Mapping[str, torch.Tensor],
                     document: Mapping[str, Any]) -> None:
    """Write `tensors` and the JSON `document` to `path` atomically."""
    from safetensors.torch import save

    blob = save({k: v.detach().cpu().contiguous() for k, v in tensors.items()},
                metadata={"format": FORMAT, "format_version": str(FORMAT_VERSION),
                          "dynsim": json.dumps(document, allow_nan=False)})
    with atomic_write(path, "wb") as handle:
        handle.write(blob)


def read_model_file(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, document) of a model file; `ModelFileError` for anything else."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the model file: {exc.strerror or exc}") \
            from None
    document = _document(path, blob)
    try:
        tensors = load(blob)
    except (SafetensorError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: corrupt model file ({str(exc).splitlines()[0]})") \
            from None
    return tensors, document


def _document(path: Path, blob: bytes) -> dict[str, Any]:
    """The dynsim document of the header, checked before any tensor is touched."""
    foreign = f"{path}: not a dynsim model file (expected a .dsm file written by dynsim)"
    if len(blob) < 8:
        raise ModelFileError(f"{path}: truncated model file ({len(blob)} bytes)")
    (size,) = struct.unpack("<Q", blob[:8])
    if size > MAX_HEADER or not blob[8:9] == b"{":
        raise ModelFileError(foreign)
    if 8 + size > len(blob):
        raise ModelFileError(f"{path}: truncated model file (the header needs {size} bytes, "
                             f"{len(blob) - 8} are there)")
    try:
        header = json.loads(blob[8:8 + size])
        meta = header["__metadata__"]
    except (ValueError, KeyError, TypeError):
        raise ModelFileError(foreign) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(foreign)
    if meta.get("format_version") != str(FORMAT_VERSION):
        raise ModelFileError(f"{path}: model file format {meta.get('format_version')!r} is not "
                             f"{FORMAT_VERSION}; a newer dynsim wrote it")
    try:
        document = json.loads(meta["dynsim"])
        if not all(key in document for key in ("family", "config", "dims")):
            raise KeyError("family")
    except (ValueError, KeyError, TypeError):
        raise ModelFileError(f"{path}: corrupt model file (its metadata is incomplete)") \
            from None
    return document


def build_module(document: Mapping[str, Any], tensors: Mapping[str, torch.Tensor],
                 source: str) -> torch.nn.Module:
    """The family's module of `document` with the weights `tensors` (strict)."""
    family = active_plugins().get("models", document["family"]) \
        if document["family"] in active_plugins().names("models") else None
    if family is None:
        raise ModelFileError(f"{source}: model family '{document['family']}' is not "
                             f"registered (install or load the plugin that provides it)")
    try:
        config = family.make_config(document["config"])
        module = family.build(config, ModelDims.from_dict(document["dims"]))
        module.load_state_dict(dict(tensors), strict=True)
    except (DynsimError, RuntimeError, KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{source}: the weights do not fit model family "
                             f"'{document['family']}' ({str(exc).splitlines()[0]})") from None
    return module.eval()


def load_model(path: str | Path) -> System:
    """The learned vector field of a model file as a `System` (see `model_system`)."""
    tensors, document = read_model_file(path)
    weights = {k: v for k, v in tensors.items() if k.startswith("model.")}
    module = build_module(document, {k[6:]: v for k, v in weights.items()}, str(path))
    return model_system(module, document, name=_name(Path(path).stem))


def _name(stem: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", stem)
    return name if re.match(r"^[A-Za-z]", name) else f"model_{name}"


def model_system(module: torch.nn.Module, document: Mapping[str, Any], *,
                 name: str = "learned") -> System:
    """A `System` whose rhs runs `module` (batched, float64, no_grad, numpy in and out),
    whose Jacobian comes from autograd, and, for Hamiltonian models, whose invariant is the
    learned H. Augmented models have the extra states `aug_1, aug_2, ...` (start them at 0).
    """
    module = module.to(torch.float64).eval()
    dims = ModelDims.from_dict(document["dims"])
    augment = int(getattr(module, "augment", 0))
    states = (*dims.states, *(f"aug_{i + 1}" for i in range(augment)))

    def tensors(t: Any, y: Any) -> tuple[torch.Tensor, torch.Tensor]:
        y_t = torch.as_tensor(np.asarray(y, dtype=np.float64))
        t_t = torch.as_tensor(np.broadcast_to(np.asarray(t, dtype=np.float64),
                                              y_t.shape[:-1]).copy())
        return t_t, y_t

    def rhs(t: Any, y: Any, p: Mapping[str, float]) -> np.ndarray:
        t_t, y_t = tensors(t, y)
        with torch.no_grad():
            return module(t_t, y_t).numpy()

    def jacobian(t: Any, y: Any, p: Mapping[str, float]) -> np.ndarray:
        t_t, y_t = tensors(t, y)
        y_t = y_t.clone().requires_grad_(True)
        out = module(t_t, y_t)
        rows = [torch.autograd.grad(out[..., i].sum(), y_t, retain_graph=i + 1 < len(states))[0]
                for i in range(len(states))]
        return torch.stack(rows, dim=-2).detach().numpy()

    invariant = None
    if hasattr(module, "energy"):
        def invariant(y: Any, p: Mapping[str, float]) -> np.ndarray:
            with torch.no_grad():
                return module.energy(torch.as_tensor(np.asarray(y, dtype=np.float64))).numpy()

    box = document.get("box") or {}
    bounds = {s: _padded(box[s]) for s in dims.states if s in box}
    y0 = document.get("y0")
    return System(
        name=name, states=states, params={}, rhs=rhs, jacobian=jacobian, invariant=invariant,
        bounds=bounds or None,
        y0=(*y0, *([0.0] * augment)) if y0 else None,
        title=f"{name} (learned {document['family']})", tags=("learned",),
        description=f"Neural ODE ({document['family']}) fitted to "
                    f"{document.get('source') or 'data'}")


def _padded(pair: Any) -> tuple[float, float]:
    lo, hi = (float(v) for v in pair)
    pad = 0.1 * (hi - lo) if hi > lo else 1.0
    return lo - pad, hi + pad
