"""Classic fixed-step explicit Runge–Kutta methods."""

import dynsim
from dynsim.numerics import ButcherTableau, FixedStepRungeKutta

EULER = ButcherTableau(
    name="euler", order=1, c=[0], a=[[]], b=[1],
    reference="L. Euler, Institutionum calculi integralis (1768)")

RK4 = ButcherTableau(
    name="rk4", order=4,
    c=[0, 1 / 2, 1 / 2, 1],
    a=[[], [1 / 2], [0, 1 / 2], [0, 0, 1]],
    b=[1 / 6, 1 / 3, 1 / 3, 1 / 6],
    reference="W. Kutta, Z. Math. Phys. 46 (1901) 435-453: the classic fourth-order method")


@dynsim.hookimpl
def dynsim_register_solvers(register):
    register(FixedStepRungeKutta(EULER, "explicit Euler, order 1, fixed step"))
    register(FixedStepRungeKutta(RK4, "classic Runge–Kutta, order 4, fixed step"))
