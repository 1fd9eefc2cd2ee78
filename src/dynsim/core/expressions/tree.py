"""The expression tree: small immutable dataclasses, compared by structure.

`parse_expression` builds these from text; `derivative` and `simplify` build new ones. No
Python `ast` object is ever kept in a tree.
"""

from __future__ import annotations

from dataclasses import dataclass

BINARY_OPERATORS = ("+", "-", "*", "/", "**")


@dataclass(frozen=True, slots=True)
class Const:
    """A float64 constant; `name` is 'pi' or 'e' when it was written by name."""

    value: float
    name: str = ""


@dataclass(frozen=True, slots=True)
class Var:
    """A variable: a state, a parameter or the time `t`."""

    name: str


@dataclass(frozen=True, slots=True)
class Neg:
    """Unary minus."""

    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary:
    """`left op right` with `op` one of `BINARY_OPERATORS`."""

    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Call:
    """A call of an allow-listed function (by its canonical name) with positional arguments."""

    name: str
    args: tuple[Expr, ...]


Expr = Const | Var | Neg | Binary | Call


def children(expr: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of `expr`."""
    if isinstance(expr, Neg):
        return (expr.operand,)
    if isinstance(expr, Binary):
        return (expr.left, expr.right)
    if isinstance(expr, Call):
        return expr.args
    return ()


def free_names(expr: Expr) -> frozenset[str]:
    """The variable names `expr` uses."""
    names: set[str] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, Var):
            names.add(node.name)
        stack.extend(children(node))
    return frozenset(names)
