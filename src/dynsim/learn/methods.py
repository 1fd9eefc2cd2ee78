"""The method names `odeint` understands: torchdiffeq's, plus dynsim's registered tableaus.

A name resolves to a `MethodSpec`: the kind of solver that runs it and its data (a tableau,
the Adams variant). torchdiffeq's names mean what they mean there (`rk4` is the 3/8 rule);
dynsim's classic fourth-order method is `rk4_classic`, and every registered explicit
Runge–Kutta solver (`dynsim list`: tsit5, dop853, heun, ...) is available by its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dynsim.core.errors import InputError, UnknownNameError, did_you_mean
from dynsim.learn import tableaus
from dynsim.learn.implicit import IMPLICIT_METHODS
from dynsim.numerics import ButcherTableau, get_tableau

ADAPTIVE, FIXED, ADAMS, SCIPY, IMPLICIT = "adaptive", "fixed", "adams", "scipy", "implicit"


@dataclass(frozen=True)
class MethodSpec:
    """What runs a method: `kind` is adaptive (the stepper), fixed (a grid), adams (a
    multistep grid method), implicit (an implicit Runge–Kutta method on a grid) or scipy
    (`scipy.integrate.solve_ivp`)."""

    name: str
    kind: str
    tableau: Any = None  # a ButcherTableau, or an ImplicitTableau
    implicit: bool = False  # Adams: with the Moulton corrector
    carry_last: bool = False  # adaptive: torchdiffeq's form (`tableaus.TORCHDIFFEQ_FORM`)
    mid: tuple[float, ...] | None = None  # adaptive: quartic dense output through this

    @property
    def grid(self) -> bool:
        """Whether the method steps on a fixed time grid (step_size, grid_constructor)."""
        return self.kind in (FIXED, ADAMS, IMPLICIT)


_OWN = {t.name: t for t in tableaus.TABLEAUS}
_ALIASES = {"heun2": "heun", "rk4_classic": "rk4"}
"""Names answered by a registered tableau of another name (dopri5, bosh3, euler and
midpoint are registered under torchdiffeq's names)."""

TORCHDIFFEQ_NAMES = ("dopri8", "dopri5", "bosh3", "fehlberg2", "adaptive_heun", "euler",
                     "midpoint", "heun2", "heun3", "rk4", "explicit_adams", "implicit_adams",
                     "fixed_adams", "scipy_solver")


def lookup(method: Any) -> MethodSpec:
    """The `MethodSpec` of `method` (None: dopri5, torchdiffeq's default)."""
    if method is None:
        method = "dopri5"
    if isinstance(method, ButcherTableau):
        return _from_tableau(method.name, method, named=False)
    if not isinstance(method, str):
        raise InputError(f"method must be a method name such as 'dopri5', got {method!r}")
    if method in ("explicit_adams", "implicit_adams", "fixed_adams"):
        return MethodSpec(method, ADAMS, tableaus.RK4_38, implicit=method != "explicit_adams")
    if method == "scipy_solver":
        return MethodSpec(method, SCIPY)
    if method in _OWN:
        return _from_tableau(method, _OWN[method])
    if method in IMPLICIT_METHODS:
        return MethodSpec(method, IMPLICIT, IMPLICIT_METHODS[method])
    registered = _ALIASES.get(method, method)
    try:
        tableau = get_tableau(registered)
        if method == "dopri5":
            tableau = _shampine(tableau)
    except (UnknownNameError, InputError):
        names = available()
        raise UnknownNameError(f"unknown method {method!r}{did_you_mean(method, names)}; "
                               f"available: {', '.join(names)}") from None
    return _from_tableau(method, tableau)


_SHAMPINE: dict[int, tuple[ButcherTableau, ButcherTableau]] = {}


def _shampine(dopri5: ButcherTableau) -> ButcherTableau:
    """torchdiffeq's dopri5: the registered one with Shampine's error estimate (cached)."""
    cached = _SHAMPINE.get(id(dopri5))
    if cached is None or cached[0] is not dopri5:
        cached = _SHAMPINE[id(dopri5)] = (dopri5, tableaus.with_shampine_error(dopri5))
    return cached[1]


def _from_tableau(name: str, tableau: ButcherTableau, named: bool = True) -> MethodSpec:
    """The spec of a tableau; looked up by a torchdiffeq name (`named`), in its form."""
    if not tableau.adaptive:
        return MethodSpec(name, FIXED, tableau)
    form = tableaus.TORCHDIFFEQ_FORM.get(name) if named else None
    if form is None:
        return MethodSpec(name, ADAPTIVE, tableau)
    return MethodSpec(name, ADAPTIVE, tableau, carry_last=form[0], mid=form[1])


def _registered_names() -> list[str]:
    import dynsim
    from dynsim.numerics import RungeKuttaSolver

    return [n for n, s in dynsim.solvers().items()
            if isinstance(s, RungeKuttaSolver) and n != "rk4"]


def available() -> list[str]:
    """Every method name `odeint` accepts."""
    return sorted({*TORCHDIFFEQ_NAMES, *IMPLICIT_METHODS, "rk4_classic", *_registered_names()})
