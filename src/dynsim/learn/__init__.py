"""Neural ODE tools on torch: `odeint` (torchdiffeq's convention) with backprop or the adjoint,
model families' building blocks (`nets`), training data, the trainer, model files and the
comparison of a learned field with a true one.

This package imports torch; `import dynsim` never imports it.
"""

from dynsim.learn import nets
from dynsim.learn.compare import Comparison, EquilibriumMatch, compare
from dynsim.learn.data import DataWarning, Series, TrajectoryData
from dynsim.learn.device import pick_device
from dynsim.learn.model_file import ModelFileError, load_model
from dynsim.learn.nets import known_system
from dynsim.learn.odeint import odeint
from dynsim.learn.result import FitResult
from dynsim.learn.trainer import EpochRecord, FitOptions, Trainer, fit

__all__ = [
    "Comparison", "DataWarning", "EpochRecord", "EquilibriumMatch", "FitOptions", "FitResult",
    "ModelFileError", "Series", "Trainer", "TrajectoryData", "compare", "fit", "known_system",
    "load_model", "nets", "odeint", "pick_device",
]
