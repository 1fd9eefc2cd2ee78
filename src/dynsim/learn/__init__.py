"""Neural ODE tools on torch: torchdiffeq's `odeint`, `odeint_adjoint`, `odeint_event`,
`odeint_dense`.

`import dynsim.learn as torchdiffeq` runs torchdiffeq programs (docs/learn.md). This
package imports torch; `import dynsim` never imports it.
"""

from dynsim.learn.odeint import odeint, odeint_adjoint, odeint_dense, odeint_event

__all__ = ["odeint", "odeint_adjoint", "odeint_dense", "odeint_event"]
