"""Neural ODE tools on torch: `odeint` (torchdiffeq's convention) with backprop or the adjoint.

This package imports torch; `import dynsim` never imports it.
"""

from dynsim.learn.odeint import odeint

__all__ = ["odeint"]
