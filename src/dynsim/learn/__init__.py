"""Neural ODE tools on torch: `odeint` (torchdiffeq's convention) with backprop or the adjoint,
model families' building blocks (`nets`), training data, the trainer, model files and the
comparison of a learned field with a true one.

This package imports torch; `import dynsim` never imports it.
"""

from dynsim.learn import nets
from dynsim.learn.nets import known_system
from dynsim.learn.odeint import odeint

__all__ = ["known_system", "nets", "odeint"]
