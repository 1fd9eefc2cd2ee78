"""Numerical integration: Butcher tableaus, the stage loop and the batched integrators."""

from dynsim.numerics.fixed_step import FixedStepRungeKutta
from dynsim.numerics.tableau import ButcherTableau

__all__ = ["ButcherTableau", "FixedStepRungeKutta"]
