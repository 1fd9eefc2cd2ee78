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
- `invariant_drift` -> `InvariantDrift`;
- `lyapunov_spectrum` -> `LyapunovSpectrum` (QR/Benettin on the variational equations);
- `find_limit_cycle` -> `LimitCycle` (period and amplitude from a start point);
- `poincare_section` -> `PoincareSection` (hyperplane crossings, per trajectory);
- `orbit_diagram` -> `OrbitDiagram` (one parameter swept, all values in one batch);
- `basins_of_attraction` -> `BasinMap` of `Attractor` (labels `ESCAPED`, `UNRESOLVED`).

The trajectory analyses (the last five) run the batched engine of `dynsim.numerics`; the
choices they make (transients, tolerances, clustering) are listed in docs/analysis.md.
"""

from dynsim.analysis.basins import ESCAPED, UNRESOLVED, Attractor, BasinMap, basins_of_attraction
from dynsim.analysis.equilibria import Equilibrium, EquilibriumSearch, find_equilibria
from dynsim.analysis.field import DirectionField, direction_field
from dynsim.analysis.grid import Plane, make_plane
from dynsim.analysis.invariants import InvariantDrift, invariant_drift
from dynsim.analysis.jacobian import METHODS, finite_difference_jacobian, jacobian_matrix
from dynsim.analysis.limit_cycle import LimitCycle, find_limit_cycle
from dynsim.analysis.lyapunov import LyapunovSpectrum, lyapunov_spectrum
from dynsim.analysis.nullclines import Nullclines, find_nullclines
from dynsim.analysis.orbit_diagram import OrbitDiagram, orbit_diagram
from dynsim.analysis.poincare import PoincareSection, poincare_section
from dynsim.analysis.stability import CLASSIFICATIONS, Linearization, classify, linearize
from dynsim.analysis.streamlines import Streamlines, evenly_spaced_streamlines

__all__ = [
    "CLASSIFICATIONS", "ESCAPED", "METHODS", "UNRESOLVED", "Attractor", "BasinMap",
    "DirectionField", "Equilibrium", "EquilibriumSearch", "InvariantDrift", "LimitCycle",
    "Linearization", "LyapunovSpectrum", "Nullclines", "OrbitDiagram", "Plane",
    "PoincareSection", "Streamlines", "basins_of_attraction", "classify", "direction_field",
    "evenly_spaced_streamlines", "find_equilibria", "find_limit_cycle", "find_nullclines",
    "finite_difference_jacobian", "invariant_drift", "jacobian_matrix", "linearize",
    "lyapunov_spectrum", "make_plane", "orbit_diagram", "poincare_section",
]
