"""`derivative`: exact symbolic differentiation of an expression tree.

Sums, products, quotients, powers and the chain rule through every allow-listed function
(see `functions` for the rules, including the almost-everywhere derivatives of abs, sign,
floor, ceil, heaviside, mod, min and max). `u**c` with an exponent that does not depend on
the variable gives `c*u**(c - 1)*du` (valid for negative u too); `c**v` gives
`c**v*log(c)*dv`. The result is simplified (see `simplify`).
"""

from __future__ import annotations

from dynsim.core.expressions.functions import FUNCTIONS
from dynsim.core.expressions.simplify import ONE, ZERO, binary, call, neg, simplify
from dynsim.core.expressions.tree import Binary, Const, Expr, Neg, Var


def derivative(expr: Expr, name: str) -> Expr:
    """d expr / d name, simplified."""
    if isinstance(expr, Const):
        return ZERO
    if isinstance(expr, Var):
        return ONE if expr.name == name else ZERO
    if isinstance(expr, Neg):
        return neg(derivative(expr.operand, name))
    if isinstance(expr, Binary):
        return _binary(expr, derivative(expr.left, name), derivative(expr.right, name))
    total: Expr = ZERO
    for partial, arg in zip(FUNCTIONS[expr.name].partials(*expr.args), expr.args, strict=True):
        darg = derivative(arg, name)
        if darg != ZERO:
            total = binary("+", total, binary("*", simplify(partial), darg))
    return total


def _binary(expr: Binary, da: Expr, db: Expr) -> Expr:
    a, b, op = expr.left, expr.right, expr.op
    if op in ("+", "-"):
        return binary(op, da, db)
    if op == "*":
        return binary("+", binary("*", da, b), binary("*", a, db))
    if op == "/":
        return binary("-", binary("/", da, b),
                      binary("/", binary("*", a, db), binary("**", b, Const(2.0))))
    if db == ZERO:
        return binary("*", binary("*", b, binary("**", a, binary("-", b, ONE))), da)
    log_a = call("log", (a,))
    if da == ZERO:
        return binary("*", binary("*", expr, log_a), db)
    return binary("*", expr, binary("+", binary("*", db, log_a),
                                    binary("/", binary("*", b, da), a)))
