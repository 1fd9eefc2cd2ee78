"""`FitResult`: a fitted model with its history; it saves as a model file and acts as a
`System`."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dynsim.core.model_family import ModelDims
from dynsim.core.system import System
from dynsim.learn.data import TrajectoryData
from dynsim.learn.model_file import model_system, write_model_file


@dataclass(frozen=True, eq=False)
class FitResult:
    """The fitted `model` (the best state) of `family` with `config` and `dims`, the epoch
    `history`, how the run ended (`status`: finished, early_stopped, cancelled, diverged,
    interrupted; `message` says why), the `options` and the training `data`."""

    model: torch.nn.Module
    family: str
    config: Any
    dims: ModelDims
    history: tuple[Any, ...]
    status: str
    message: str
    options: Any
    data: TrajectoryData
    best_val_loss: float | None = None

    @property
    def metrics(self) -> dict[str, Any]:
        """Final numbers: epochs, losses, best validation loss, function calls, seconds."""
        last = self.history[-1] if self.history else None
        return {
            "status": self.status, "message": self.message, "epochs": len(self.history),
            "train_loss": last.train_loss if last else None,
            "val_loss": last.val_loss if last else None,
            "best_val_loss": self.best_val_loss,
            "nfe_forward": sum(r.nfe_forward for r in self.history),
            "nfe_backward": sum(r.nfe_backward for r in self.history),
            "seconds": last.elapsed if last else 0.0,
        }

    def document(self) -> dict[str, Any]:
        """The JSON metadata of the model file."""
        from dynsim import __version__

        data = self.data
        first = data.series[0]
        return {
            "family": self.family, "config": dataclasses.asdict(self.config),
            "dims": self.dims.to_dict(), "states": list(self.dims.states),
            "source": data.system, "source_params": data.params,
            "params": _learned_params(self.model),
            "box": {k: list(v) for k, v in data.box().items()},
            "y0": [float(v) for v in first.y[0]],
            "training": {"options": self.options.to_dict(), "status": self.status,
                         "message": self.message, "trajectories": data.n_trajectories,
                         "points": data.n_points},
            "metrics": self.metrics, "dynsim_version": __version__,
        }

    def save(self, path: str | Path) -> None:
        """Write the model file (safetensors + JSON metadata, see `dynsim.load_model`)."""
        weights = {f"model.{k}": v for k, v in self.model.state_dict().items()}
        write_model_file(path, weights, self.document())

    def system(self, name: str = "learned") -> System:
        """The learned field as a `System`, exactly as `dynsim.load_model` returns it."""
        import copy

        return model_system(copy.deepcopy(self.model), self.document(), name=name)

    def predict(self, y0: Sequence[float] | np.ndarray, t: Sequence[float] | np.ndarray, *,
                method: str = "dopri5", rtol: float = 1e-8, atol: float = 1e-10) -> np.ndarray:
        """States (T, ..., D) from `y0` (..., D) at times `t`, in float64 with `odeint`."""
        from dynsim.learn.odeint import odeint

        model = _float64_copy(self.model)
        augment = int(getattr(model, "augment", 0))
        y = torch.as_tensor(np.asarray(y0, dtype=float))
        if augment:
            y = torch.cat([y, y.new_zeros(*y.shape[:-1], augment)], dim=-1)
        with torch.no_grad():
            out = odeint(model, y, torch.as_tensor(np.asarray(t, dtype=float)), method=method,
                         rtol=rtol, atol=atol)
        return out[..., :self.dims.dimension].numpy()


def _float64_copy(model: torch.nn.Module) -> torch.nn.Module:
    import copy

    return copy.deepcopy(model).to("cpu", torch.float64).eval()


def _learned_params(model: torch.nn.Module) -> dict[str, float]:
    """The known system's parameter values of a hybrid model (learned or fixed)."""
    known = getattr(model, "known", None)
    return known.parameter_values() if known is not None else {}
