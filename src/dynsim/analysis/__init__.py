"""Phase-space analysis of any registered system, with no Qt and no torch.

Every function takes a `System` or a registered name plus `params` overrides and returns a
small frozen dataclass of numpy arrays:

- `make_plane` -> `Plane`: the 2-D slice the plane analyses work on (axes, ranges, values
  of the other states, time);
- `direction_field` -> `DirectionField`; `evenly_spaced_streamlines` -> `Streamlines`;
  `find_nullclines` -> `Nullclines`;
- `jacobian_matrix` (system Jacobian or finite differences), `linearize` ->
  `Linearization`, `classify` (the stability vocabulary `CLASSIFICATIONS`);
- `find_equilibria` -> `EquilibriumSearch` of `Equilibrium`;
- `invariant_drift` -> `InvariantDrift`.
"""

from dynsim.analysis.equilibria import Equilibrium, EquilibriumSearch, find_equilibria
from dynsim.analysis.field import DirectionField, direction_field
from dynsim.analysis.grid import Plane, make_plane
from dynsim.analysis.invariants import InvariantDrift, invariant_drift
from dynsim.analysis.jacobian import METHODS, finite_difference_jacobian, jacobian_matrix
from dynsim.analysis.nullclines import Nullclines, find_nullclines
from dynsim.analysis.stability import CLASSIFICATIONS, Linearization, classify, linearize
from dynsim.analysis.streamlines import Streamlines, evenly_spaced_streamlines

__all__ = [
    "CLASSIFICATIONS", "METHODS", "DirectionField", "Equilibrium", "EquilibriumSearch",
    "InvariantDrift", "Linearization", "Nullclines", "Plane", "Streamlines", "classify",
    "direction_field", "evenly_spaced_streamlines", "find_equilibria", "find_nullclines",
    "finite_difference_jacobian", "invariant_drift", "jacobian_matrix", "linearize",
    "make_plane",
]
