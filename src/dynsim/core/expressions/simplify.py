"""Smart constructors that simplify while building, and `simplify` for whole trees.

Rules: constant folding in float64 (only of unnamed constants, so `2*pi` stays readable, and
only when the result is finite), `x + 0`, `0 + x`, `x - 0`, `0 - x = -x`, `x + -y = x - y`,
`x - -y = x + y`, `x*0 = 0`, `x*1 = x`, `x*-1 = -x`, `-x*y = -(x*y)`, a constant factor moves
to the left, `0/x = 0`, `x/1 = x`, `x/-1 = -x`, `x**1 = x`, `x**0 = 1`, `--x = x` and `-c`
for a constant. `x*0 = 0` and `0/x = 0` are the usual symbolic rules (they ignore x = inf or
NaN); every other rule gives exactly what evaluating the unsimplified tree gives.
"""

from __future__ import annotations

import math

from dynsim.core.expressions.fold import fold_binary, fold_call
from dynsim.core.expressions.tree import Binary, Call, Const, Expr, Neg, Var

ZERO = Const(0.0)
ONE = Const(1.0)


def _number(expr: Expr) -> float | None:
    """The value of an unnamed constant, else None."""
    return expr.value if isinstance(expr, Const) and not expr.name else None


def _folded(value: float) -> Const | None:
    return Const(value) if math.isfinite(value) else None


def neg(a: Expr) -> Expr:
    """-a, simplified."""
    value = _number(a)
    if value is not None:
        return Const(-value)
    if isinstance(a, Neg):
        return a.operand
    return Neg(a)


def binary(op: str, a: Expr, b: Expr) -> Expr:
    """`a op b`, simplified."""
    x, y = _number(a), _number(b)
    if x is not None and y is not None:
        folded = _folded(fold_binary(op, x, y))
        if folded is not None:
            return folded
    return _RULES[op](a, b, x, y)


def _add(a: Expr, b: Expr, x: float | None, y: float | None) -> Expr:
    if x == 0.0:
        return b
    if y == 0.0:
        return a
    if isinstance(b, Neg):
        return binary("-", a, b.operand)
    return Binary("+", a, b)


def _sub(a: Expr, b: Expr, x: float | None, y: float | None) -> Expr:
    if y == 0.0:
        return a
    if x == 0.0:
        return neg(b)
    if isinstance(b, Neg):
        return binary("+", a, b.operand)
    return Binary("-", a, b)


def _mul(a: Expr, b: Expr, x: float | None, y: float | None) -> Expr:
    if x == 0.0 or y == 0.0:
        return ZERO
    if x == 1.0:
        return b
    if y == 1.0:
        return a
    if x == -1.0:
        return neg(b)
    if y == -1.0:
        return neg(a)
    if isinstance(a, Neg):
        return neg(binary("*", a.operand, b))
    if isinstance(b, Neg):
        return neg(binary("*", a, b.operand))
    if isinstance(b, Const) and not isinstance(a, Const):
        return Binary("*", b, a)
    return Binary("*", a, b)


def _div(a: Expr, b: Expr, x: float | None, y: float | None) -> Expr:
    if x == 0.0:
        return ZERO
    if y == 1.0:
        return a
    if y == -1.0:
        return neg(a)
    return Binary("/", a, b)


def _pow(a: Expr, b: Expr, x: float | None, y: float | None) -> Expr:
    if y == 1.0:
        return a
    if y == 0.0:
        return ONE
    return Binary("**", a, b)


_RULES = {"+": _add, "-": _sub, "*": _mul, "/": _div, "**": _pow}


def call(name: str, args: tuple[Expr, ...]) -> Expr:
    """`name(*args)`, folded when every argument is an unnamed constant."""
    values = [value for value in map(_number, args) if value is not None]
    if len(values) == len(args):
        folded = _folded(fold_call(name, values))
        if folded is not None:
            return folded
    return Call(name, args)


def simplify(expr: Expr) -> Expr:
    """`expr` rebuilt bottom-up with the rules above."""
    if isinstance(expr, Const | Var):
        return expr
    if isinstance(expr, Neg):
        return neg(simplify(expr.operand))
    if isinstance(expr, Binary):
        return binary(expr.op, simplify(expr.left), simplify(expr.right))
    return call(expr.name, tuple(simplify(arg) for arg in expr.args))
