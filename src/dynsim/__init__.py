"""dynsim: a plugin-based simulator for continuous dynamical systems.

```python
import dynsim
traj = dynsim.simulate("lorenz", y0=[1, 1, 1], t_span=(0, 10))
traj.to_csv("lorenz.csv")
```
Importing dynsim never imports torch or Qt; `dynsim.learn` and `dynsim.gui` do.
"""

from dynsim.core.arrays import array_module, stack_jacobian, stack_states
from dynsim.core.atomic import atomic_write
from dynsim.core.cancel import Cancelled, CancelToken
from dynsim.core.csvio import read_csv, read_csv_series, write_csv
from dynsim.core.errors import DynsimError
from dynsim.core.events import Event, EventLog, leave_box
from dynsim.core.exporter import Exporter
from dynsim.core.hookspecs import hookimpl
from dynsim.core.model_family import ModelDims, ModelFamily
from dynsim.core.models import load_model
from dynsim.core.plugins import PluginSet, active_plugins, load_plugins
from dynsim.core.scene import Scene, load_scene
from dynsim.core.simulate import get_system as system
from dynsim.core.simulate import simulate, simulate_iter
from dynsim.core.solver import Problem, Solution, Solver
from dynsim.core.stream import stream_csv
from dynsim.core.system import Param, System
from dynsim.core.trajectories import Status, Trajectories

__version__ = "0.1.0.dev0"


def systems() -> dict[str, System]:
    """All registered systems by name."""
    return active_plugins().objects("systems")


def solvers() -> dict[str, Solver]:
    """All registered solvers by name."""
    return active_plugins().objects("solvers")


def exporters() -> dict[str, Exporter]:
    """All registered exporters by name."""
    return active_plugins().objects("exporters")


def models() -> dict[str, ModelFamily]:
    """All registered learned-model families by name."""
    return active_plugins().objects("models")


__all__ = [
    "CancelToken", "Cancelled", "DynsimError", "Event", "EventLog", "Exporter", "ModelDims",
    "ModelFamily", "Param",
    "PluginSet", "Problem", "Scene", "Solution", "Solver", "Status", "System", "Trajectories",
    "__version__", "active_plugins", "array_module", "atomic_write", "exporters", "hookimpl",
    "leave_box", "load_model", "load_plugins", "load_scene", "models", "read_csv",
    "read_csv_series", "simulate", "simulate_iter", "solvers", "stack_jacobian", "stack_states",
    "stream_csv", "system", "systems", "write_csv",
]
