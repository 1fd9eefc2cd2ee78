"""`to_text`: the canonical printed form of an expression tree.

Minimal parentheses, spaces around `+` and `-`, none around `*`, `/` and `**`, unary minus
in parentheses when it is the right operand (`a*(-b)`), integral constants without `.0` and
others in Python's shortest round-trip form. For every tree `parse_expression` or
`derivative` returns, parsing `to_text(expr)` (with the same names) gives `expr` back, as
long as the text stays within the limits (a derivative can be much longer than its input)
and has no constant part that is not finite (d/dx of `x/0` is `1/0`, which `parse_expression`
rejects).
"""

from __future__ import annotations

import math

from dynsim.core.expressions.tree import Binary, Const, Expr, Neg, Var

_ADD, _MUL, _UNARY, _POW, _ATOM = 1, 2, 3, 4, 5
_PRECEDENCE = {"+": _ADD, "-": _ADD, "*": _MUL, "/": _MUL, "**": _POW}
_SPELLING = {"+": " + ", "-": " - ", "*": "*", "/": "/", "**": "**"}


def to_text(expr: Expr) -> str:
    """`expr` as text that parses back to the same tree."""
    return _text(expr)[0]


def _number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _text(expr: Expr) -> tuple[str, int]:
    if isinstance(expr, Const):
        if expr.name:
            return expr.name, _ATOM
        if math.copysign(1.0, expr.value) < 0:
            return "-" + _number(-expr.value), _UNARY
        return _number(expr.value), _ATOM
    if isinstance(expr, Var):
        return expr.name, _ATOM
    if isinstance(expr, Neg):
        text, precedence = _text(expr.operand)
        return "-" + (text if precedence >= _POW else f"({text})"), _UNARY
    if isinstance(expr, Binary):
        own = _PRECEDENCE[expr.op]
        left, lp = _text(expr.left)
        right, rp = _text(expr.right)
        if lp < own or (own == _POW and lp <= _POW):
            left = f"({left})"
        if rp == _UNARY or rp < own or (rp == own and own != _POW):
            right = f"({right})"
        return left + _SPELLING[expr.op] + right, own
    return f"{expr.name}({', '.join(_text(arg)[0] for arg in expr.args)})", _ATOM
