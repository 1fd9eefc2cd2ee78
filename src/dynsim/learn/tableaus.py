"""The Runge–Kutta methods torchdiffeq names that dynsim's solver plugins do not ship.

Plain `ButcherTableau` data, each citing its source; `dynsim.learn.methods` maps
torchdiffeq's method names onto these and the registered tableaus (dopri5, bosh3, ...).
"""

from dataclasses import replace
from fractions import Fraction as F

from dynsim.numerics import ButcherTableau
from dynsim.numerics.tableau import quartic_coefficients

RK4_38 = ButcherTableau(
    name="rk4", order=4,
    c=[0, F(1, 3), F(2, 3), 1],
    a=[[], [F(1, 3)], [F(-1, 3), 1], [1, -1, 1]],
    b=[F(1, 8), F(3, 8), F(3, 8), F(1, 8)],
    reference="W. Kutta, Z. Math. Phys. 46 (1901) 435-453: the 3/8 rule (torchdiffeq's rk4)")

HEUN3 = ButcherTableau(
    name="heun3", order=3,
    c=[0, F(1, 3), F(2, 3)],
    a=[[], [F(1, 3)], [0, F(2, 3)]],
    b=[F(1, 4), 0, F(3, 4)],
    reference="K. Heun, Z. Math. Phys. 45 (1900) 23-38: Heun's third-order method")

ADAPTIVE_HEUN = ButcherTableau(
    name="adaptive_heun", order=2,
    c=[0, 1], a=[[], [1]], b=[F(1, 2), F(1, 2)],
    b_error=[F(-1, 2), F(1, 2)], error_order=1,
    reference="K. Heun (1900): Heun's method with the explicit Euler step as the embedded "
              "first-order estimate (torchdiffeq's adaptive_heun; run in torchdiffeq's "
              "form, see TORCHDIFFEQ_FORM)")

FEHLBERG2 = ButcherTableau(
    name="fehlberg2", order=2,
    c=[0, F(1, 2), 1],
    a=[[], [F(1, 2)], [F(1, 256), F(255, 256)]],
    b=[F(1, 512), F(255, 256), F(1, 512)],
    b_error=[F(1, 512), 0, F(-1, 512)], error_order=1,
    reference="E. Fehlberg, NASA TR R-315 (1969): the Runge-Kutta-Fehlberg 2(1) pair, "
              "propagating the second-order solution (torchdiffeq's fehlberg2; run in "
              "torchdiffeq's form, see TORCHDIFFEQ_FORM)")

_DOPRI8_C = [0, F(1, 18), F(1, 12), F(1, 8), F(5, 16), F(3, 8), F(59, 400), F(93, 200),
             F(5490023248, 9719169821), F(13, 20), F(1201146811, 1299019798), 1, 1, 1]
_DOPRI8_B = [F(14005451, 335480064), 0, 0, 0, 0, F(-59238493, 1068277825),
             F(181606767, 758867731), F(561292985, 797845732), F(-1041891430, 1371343529),
             F(760417239, 1151165299), F(118820643, 751138087), F(-528747749, 2220607170),
             F(1, 4), 0]
_DOPRI8_B_HAT = [F(13451932, 455176623), 0, 0, 0, 0, F(-808719846, 976000145),
                 F(1757004468, 5645159321), F(656045339, 265891186),
                 F(-3867574721, 1518517206), F(465885868, 322736535),
                 F(53011238, 667516719), F(2, 45), 0, 0]
_DOPRI8_A = [
    [],
    [F(1, 18)],
    [F(1, 48), F(1, 16)],
    [F(1, 32), 0, F(3, 32)],
    [F(5, 16), 0, F(-75, 64), F(75, 64)],
    [F(3, 80), 0, 0, F(3, 16), F(3, 20)],
    [F(29443841, 614563906), 0, 0, F(77736538, 692538347), F(-28693883, 1125000000),
     F(23124283, 1800000000)],
    [F(16016141, 946692911), 0, 0, F(61564180, 158732637), F(22789713, 633445777),
     F(545815736, 2771057229), F(-180193667, 1043307555)],
    [F(39632708, 573591083), 0, 0, F(-433636366, 683701615), F(-421739975, 2616292301),
     F(100302831, 723423059), F(790204164, 839813087), F(800635310, 3783071287)],
    [F(246121993, 1340847787), 0, 0, F(-37695042795, 15268766246), F(-309121744, 1061227803),
     F(-12992083, 490766935), F(6005943493, 2108947869), F(393006217, 1396673457),
     F(123872331, 1001029789)],
    [F(-1028468189, 846180014), 0, 0, F(8478235783, 508512852), F(1311729495, 1432422823),
     F(-10304129995, 1701304382), F(-48777925059, 3047939560), F(15336726248, 1032824649),
     F(-45442868181, 3398467696), F(3065993473, 597172653)],
    [F(185892177, 718116043), 0, 0, F(-3185094517, 667107341), F(-477755414, 1098053517),
     F(-703635378, 230739211), F(5731566787, 1027545527), F(5232866602, 850066563),
     F(-4093664535, 808688257), F(3962137247, 1805957418), F(65686358, 487910083)],
    [F(403863854, 491063109), 0, 0, F(-5068492393, 434740067), F(-411421997, 543043805),
     F(652783627, 914296604), F(11173962825, 925320556), F(-13158990841, 6184727034),
     F(3936647629, 1978049680), F(-160528059, 685178525), F(248638103, 1413531060), 0],
    _DOPRI8_B[:13],
]

_DOPRI8_MID = [0.04103130360739393, 0, 0, 0, 0, 0.05100562801991382, 0.2388930677412202,
               0.3096870143996103, -0.2172325471755352, 0.07833405679331928,
               -0.0018614369715579948, 0.007072844202678841, 0.00690847373200576,
               -0.013838404349047373]
"""The weights of y(t + h/2) that torchdiffeq's dopri8 interpolates through."""

DOPRI8 = ButcherTableau(
    name="dopri8", order=8, fsal=True, c=_DOPRI8_C, a=_DOPRI8_A, b=_DOPRI8_B,
    b_error=[b - bh for b, bh in zip(_DOPRI8_B, _DOPRI8_B_HAT, strict=True)], error_order=7,
    dense=quartic_coefficients([float(b) for b in _DOPRI8_B], _DOPRI8_MID), dense_order=4,
    reference="P. J. Prince, J. R. Dormand, High order embedded Runge-Kutta formulae, J. "
              "Comput. Appl. Math. 7 (1981) 67-75: RK8(7)13M with its rational coefficients; "
              "the quartic dense output through the midpoint value torchdiffeq uses")

TORCHDIFFEQ_FORM: dict[str, tuple[bool, tuple[float, ...]]] = {
    "bosh3": (False, (0.0, 0.5, 0.0, 0.0)),
    "fehlberg2": (True, (0.0, 0.5, 0.0)),
    "adaptive_heun": (True, (0.5, 0.0)),
}
"""How torchdiffeq runs these methods, by name: (carry_last, mid). carry_last: the last
stage (at c = 1, evaluated at the embedded solution) starts the next step, although the
step propagates y_new = y + h sum b_j k_j; mid: the weights of the midpoint value its
quartic dense output passes through, y(t + h/2) ~ y + h sum mid_j k_j (over the stages
of the FSAL form, or of the method as written with carry_last). dopri5's and dopri8's
dense outputs already are that quartic (Shampine's midpoint weights)."""

TABLEAUS = (RK4_38, HEUN3, ADAPTIVE_HEUN, FEHLBERG2, DOPRI8)
"""The tableaus above, by torchdiffeq's names."""

SHAMPINE_B_HAT = (F(1951, 21600), 0, F(22642, 50085), F(451, 720), F(-12231, 42400),
                  F(649, 6300), F(1, 60))
"""The fourth-order embedded weights of L. F. Shampine, Some practical Runge-Kutta
formulas, Math. Comp. 46 (1986) 135-150, for the Dormand–Prince 5(4) pair: torchdiffeq's
dopri5 estimates its error with them (2/3 of Dormand and Prince's own estimate)."""


def with_shampine_error(dopri5: ButcherTableau) -> ButcherTableau:
    """The registered dopri5 with Shampine's error estimate (torchdiffeq's dopri5)."""
    b_error = [b - float(bh) for b, bh in zip(dopri5.b, SHAMPINE_B_HAT, strict=True)]
    return replace(dopri5, b_error=b_error,
                   reference=dopri5.reference + "; L. F. Shampine's error estimate (1986)")
