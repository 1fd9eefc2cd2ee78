"""Checkpoints: a model file that also holds the trainer's state, so `resume` continues a
run exactly where it stopped (same weights, optimizer moments, random streams, history).

The best weights are stored as the model's (`model.*`), so a checkpoint also loads with
`dynsim.load_model`; the current weights are `state.*`, Adam's moments `optim.<i>.<key>`,
the noise generator `rng.torch`. Nothing is pickled.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from dynsim.core.errors import InputError
from dynsim.learn.model_file import ModelFileError, read_model_file, write_model_file

if TYPE_CHECKING:
    from dynsim.learn.trainer import Trainer


def save_checkpoint(trainer: Trainer, path: str | Path) -> None:
    """Write `trainer`'s whole state to `path` atomically."""
    tensors = {f"model.{k}": v for k, v in trainer.best_state.items()}
    tensors.update({f"state.{k}": v for k, v in trainer.model.state_dict().items()})
    optim = trainer.optimizer.state_dict()
    for index, state in optim["state"].items():
        for key, value in state.items():
            tensors[f"optim.{index}.{key}"] = torch.as_tensor(value)
    tensors["rng.torch"] = trainer.noise.get_state()
    document = trainer.result().document()
    document["checkpoint"] = {
        "epoch": trainer.epoch, "best_loss": _finite_or_none(trainer.best_loss),
        "stale": trainer.stale, "elapsed": trainer.elapsed, "first_loss": trainer.first_loss,
        "history": [r.to_dict() for r in trainer.history],
        "numpy_rng": trainer.rng.bit_generator.state, "optim_groups": optim["param_groups"],
    }
    write_model_file(path, tensors, document)


def restore(trainer: Trainer, path: str | Path) -> None:
    """Put the state of the checkpoint at `path` into `trainer` (same family and config)."""
    from dynsim.learn.trainer import EpochRecord

    tensors, document = read_model_file(path)
    state = document.get("checkpoint")
    if state is None:
        raise ModelFileError(f"{path}: a model file, not a checkpoint (write one with "
                             f"checkpoint=PATH / --checkpoint)")
    if document["family"] != trainer.family.name or document["config"] != dataclasses.asdict(
            trainer.config):
        raise InputError(f"{path}: the checkpoint is of family '{document['family']}' with "
                         f"{document['config']}; resume with the same family and options")
    trainer.model.load_state_dict(_prefixed(tensors, "state."))
    trainer.best_state = {k: v.to(trainer.device, trainer.dtype) if v.is_floating_point()
                          else v for k, v in _prefixed(tensors, "model.").items()}
    optim: dict[str, Any] = {"param_groups": state["optim_groups"], "state": {}}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            optim["state"].setdefault(int(index), {})[name] = value
    trainer.optimizer.load_state_dict(optim)
    trainer.noise.set_state(tensors["rng.torch"])
    trainer.rng.bit_generator.state = state["numpy_rng"]
    trainer.epoch = int(state["epoch"])
    trainer.best_loss = float("inf") if state["best_loss"] is None else state["best_loss"]
    trainer.stale = int(state["stale"])
    trainer.elapsed = float(state["elapsed"])
    trainer.first_loss = state["first_loss"]
    trainer.history = [EpochRecord(**r) for r in state["history"]]


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def _finite_or_none(value: float) -> float | None:
    return value if value != float("inf") else None
