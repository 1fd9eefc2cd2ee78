"""Neural ODE tools on torch: torchdiffeq's `odeint`, `odeint_adjoint`, `odeint_event`,
`odeint_dense` (with backprop or the adjoint), model families' building blocks (`nets`),
training data, the trainer, model files and the comparison of a learned field with a true
one.

`import dynsim.learn as torchdiffeq` runs torchdiffeq programs (docs/learn.md). This
package imports torch; `import dynsim` never imports it.
"""

from dynsim.learn import nets
from dynsim.learn.compare import Comparison, EquilibriumMatch, compare
from dynsim.learn.data import DataWarning, Series, TrajectoryData
from dynsim.learn.device import pick_device
from dynsim.learn.model_file import ModelFileError, load_model
from dynsim.learn.nets import known_system
from dynsim.learn.odeint import odeint, odeint_adjoint, odeint_dense, odeint_event
from dynsim.learn.result import FitResult
from dynsim.learn.trainer import EpochRecord, FitOptions, Trainer, fit

__all__ = [
    "Comparison", "DataWarning", "EpochRecord", "EquilibriumMatch", "FitOptions", "FitResult",
    "ModelFileError", "Series", "Trainer", "TrajectoryData", "compare", "fit", "known_system",
    "load_model", "nets", "odeint", "odeint_adjoint", "odeint_dense", "odeint_event",
    "pick_device",
]
