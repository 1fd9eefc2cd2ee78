"""Linear stability: eigen-decomposition of the Jacobian and the pplane/XPPAUT vocabulary.

Classification of the eigenvalues λ of a Jacobian J, with s = max(||J||_F, rate) as the
scale and `tol` the relative tolerance (default `ZERO_TOL`). `rate` is a typical rate of
the field given by the caller (`find_equilibria` uses the median over its starts of
max_i |rhs_i|, divided by the box diagonal), so a Jacobian that nearly vanishes at a
degenerate equilibrium (e.g. cubic_spiral's origin) reads as zero instead of being judged
against itself:

- a real part is *zero* when |Re λ| <= tol * s;
- an eigenvalue is *complex* when |Im λ| > sqrt(tol) * s. The square root is deliberate: a
  repeated (defective) eigenvalue, as in a degenerate node, splits under a perturbation of
  size e into a pair about sqrt(e) apart, so repeated real eigenvalues stay a node;
- `center`: every real part is zero and every eigenvalue complex (in 2-D: a purely
  imaginary pair, zero trace, positive determinant);
- `non-hyperbolic`: otherwise, when any real part is zero (including J = 0);
- all real parts negative: `stable focus` if any eigenvalue is complex, else `stable node`
  (star and degenerate nodes included); all positive: `unstable focus` / `unstable node`;
- mixed signs: `saddle-focus` if any eigenvalue is complex (only possible for D >= 3), else
  `saddle`.

The tolerance is relative to ||J|| because that is the size of the errors of a computed
Jacobian and of its eigenvalues. Stiff systems with eigenvalue ratios beyond 1 / tol (1e8)
would see their slow direction called non-hyperbolic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dynsim.analysis.bound import bind
from dynsim.analysis.jacobian import Method, jacobian_function
from dynsim.core.errors import InputError
from dynsim.core.system import System

ZERO_TOL = 1e-8
"""Relative tolerance for zero real parts (sqrt of it, 1e-4, for non-zero imaginary parts).
System Jacobians are exact to rounding (~1e-16) and the default finite differences
(Richardson) to ~1e-12, so 1e-8 leaves a wide margin without blurring real dynamics."""

CLASSIFICATIONS: tuple[str, ...] = (
    "stable node", "unstable node", "saddle", "stable focus", "unstable focus", "center",
    "non-hyperbolic", "saddle-focus",
)


@dataclass(frozen=True, eq=False)
class Linearization:
    """The linearisation of a field at `state` (D,).

    `jacobian` (D, D); `eigenvalues` (D,) complex, sorted by descending real part then
    descending imaginary part; `eigenvectors` (D, D) complex with unit-norm columns,
    column k belonging to `eigenvalues[k]`; `classification` one of `CLASSIFICATIONS`.
    """

    state: np.ndarray
    jacobian: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    classification: str


def classify(eigenvalues: np.ndarray, scale: float | None = None, *,
             tol: float = ZERO_TOL) -> str:
    """The name of the equilibrium type given by `eigenvalues` (see the module docstring).

    `scale` is s of the module docstring; without it, max |λ| is used (which cannot tell a
    nilpotent Jacobian's rounding from real dynamics).
    """
    lam = np.asarray(eigenvalues, dtype=complex).ravel()
    if lam.size == 0 or not np.isfinite(lam).all():
        raise InputError("eigenvalues must be a non-empty list of finite numbers")
    if not tol > 0:
        raise InputError(f"tol must be positive, got {tol!r}")
    s = float(np.max(np.abs(lam))) if scale is None else float(scale)
    zero = np.abs(lam.real) <= tol * s
    complex_ = np.abs(lam.imag) > np.sqrt(tol) * s
    if zero.all() and complex_.all():
        return "center"
    if zero.any():
        return "non-hyperbolic"
    kind = "focus" if complex_.any() else "node"
    if (lam.real < 0).all():
        return f"stable {kind}"
    if (lam.real > 0).all():
        return f"unstable {kind}"
    return "saddle-focus" if complex_.any() else "saddle"


def linearizations(jacobians: np.ndarray, states: np.ndarray, tol: float = ZERO_TOL,
                   rate: float = 0.0) -> list[Linearization]:
    """One `Linearization` per row of `states` (M, D) with Jacobians (M, D, D); `rate` is
    the floor of the classification scale (see the module docstring)."""
    bad = ~np.isfinite(jacobians).all(axis=(-2, -1))
    if bad.any():
        raise InputError(f"the Jacobian at state {states[bad][0].tolist()} is not finite; "
                         "its stability cannot be classified")
    values, vectors = np.linalg.eig(jacobians)
    out = []
    for state, jac, lam, vec in zip(states, jacobians, values, vectors, strict=True):
        order = np.lexsort((-lam.imag, -lam.real))
        lam = lam[order].astype(complex)
        out.append(Linearization(
            state=state, jacobian=jac, eigenvalues=lam,
            eigenvectors=vec[:, order].astype(complex),
            classification=classify(lam, max(_norm(jac), rate), tol=tol)))
    return out


def _norm(matrix: np.ndarray) -> float:
    """||matrix||_F, inf (without a warning) if it overflows."""
    with np.errstate(over="ignore"):
        return float(np.linalg.norm(matrix))


def linearize(system: str | System, state: np.ndarray, *,
              params: Mapping[str, float] | None = None, t: float = 0.0,
              method: Method = "auto", tol: float = ZERO_TOL,
              rate: float = 0.0) -> Linearization:
    """Jacobian, eigenvalues, eigenvectors and classification of `system` at `state` (D,).

    The Jacobian comes from `method` (see `dynsim.analysis.jacobian.METHODS`) at time `t`;
    `tol` and `rate` set the zero tests (module docstring). `state` need not be an
    equilibrium, but the classification only means something there.
    """
    bound = bind(system, params, t)
    point = np.asarray(state, dtype=float)
    if point.shape != (bound.system.dimension,) or not np.isfinite(point).all():
        raise InputError(f"state must be {bound.system.dimension} finite values "
                         f"({', '.join(bound.system.states)}), got {state!r}")
    jac = jacobian_function(bound, method)(point[None])
    return linearizations(jac, point[None], tol, rate)[0]
