"""Parsing expression text into an `Expr` tree under an explicit whitelist of syntax.

Python's own parser (`ast.parse`, which never runs code) reads the text; the resulting
syntax tree is then walked and only these node types are accepted:

- numbers (int or float literals, converted to float64; no complex, bool, str or None),
- names: the variables passed in `names`, and the constants `pi` and `e`,
- the operators `+ - * / **` (and `^`, see `source`), unary `-` and `+`,
- calls of allow-listed functions (`functions.FUNCTIONS`) by plain name, with positional
  arguments only and the right number of them.

Everything else (attributes, subscripts, lambdas, comprehensions, f-strings, `:=`, keyword
arguments, comparisons, `and`/`or`, `a if c else b`, `%`, `//`, bitwise operators, ...)
is rejected with the construct's name and its column. Comparisons and conditionals are not
offered: use `heaviside(x - a)` for a switch, `min`, `max`, `abs`, `sign`.

A state or parameter called `pi` or `e` shadows the constant (`exp(1)` is still e). A
negated number literal becomes a negative constant (`-2` is `Const(-2.0)`). A constant part
whose float64 value is not finite (`9**9**9`, `1/0`, `log(0)`, `1e999`) is an error.
Python's `ast` objects never leave this module.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Iterable

from dynsim.core.errors import did_you_mean
from dynsim.core.expressions.errors import ExpressionError
from dynsim.core.expressions.fold import fold_binary, fold_call
from dynsim.core.expressions.functions import ALIASES, CONSTANTS, FUNCTIONS, lookup
from dynsim.core.expressions.limits import MAX_DEPTH, tree_overflow
from dynsim.core.expressions.source import Source, prepare
from dynsim.core.expressions.tree import Binary, Call, Const, Expr, Neg, Var

IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
"""What a state or parameter may be called: a letter, then letters, digits or underscores."""

_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}

_OPERATOR_HINTS = {
    ast.Mod: "the % operator is not supported; use mod(x, y)",
    ast.FloorDiv: "the // operator is not supported; use floor(x / y)",
    ast.MatMult: "the @ operator is not supported",
    ast.BitAnd: "bitwise operators (&) are not supported",
    ast.BitOr: "bitwise operators (|) are not supported",
    ast.LShift: "bitwise operators (<<) are not supported",
    ast.RShift: "bitwise operators (>>) are not supported",
    ast.Not: "'not' is not supported",
    ast.Invert: "the ~ operator is not supported",
}

_CONSTRUCTS = {
    ast.Subscript: "indexing and slicing ('[...]') are not allowed",
    ast.Lambda: "lambda functions are not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.NamedExpr: "assignments (':=') are not allowed",
    ast.Compare: "comparisons are not supported; use heaviside(a - b) for a switch, or "
                 "min/max",
    ast.BoolOp: "'and' and 'or' are not supported",
    ast.IfExp: "conditional expressions ('a if c else b') are not supported; use "
               "heaviside(c) to switch between terms",
    ast.Starred: "unpacking with '*' is not allowed",
    ast.Tuple: "tuples are not allowed (a comma outside a function call)",
    ast.List: "lists are not allowed",
    ast.Set: "sets are not allowed",
    ast.Dict: "dictionaries are not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
}

_LITERALS = {
    str: "strings are not allowed; only real numbers",
    bytes: "bytes are not allowed; only real numbers",
    complex: "complex numbers are not supported; only real numbers",
    bool: "True and False are not numbers here; write 1 or 0",
}

_SYNTAX_HINTS = {
    ";": "';' is not allowed: an expression is a single formula",
    "=": "'=' is not allowed: give only the right-hand side of the equation",
}


def parse_expression(text: str, names: Iterable[str], *, key: str = "") -> Expr:
    """Parse `text` into an `Expr`; `names` are the variables it may use (states, params, t).

    Raises `ExpressionError` (with `key`, the text and the column) for anything else.
    """
    return _parse(text, frozenset(names), key, None)


def unknown_names(text: str, names: Iterable[str], *, key: str = "") -> dict[str, int]:
    """The names `text` uses besides `names`, constants and functions, in order of first use.

    Each maps to the 1-based column of its first use in `text`. Only names that could be
    parameters (`IDENTIFIER`) count: any other unknown name (such as `__builtins__`) is an
    error, as in `parse_expression`, which checks everything else the same way.
    """
    unknown: dict[str, int] = {}
    _parse(text, frozenset(names), key, unknown)
    return unknown


def _parse(text: str, names: frozenset[str], key: str, unknown: dict[str, int] | None) -> Expr:
    source = prepare(text, key)
    try:
        tree = ast.parse(source.python, mode="eval")
    except SyntaxError as exc:
        raise _syntax_error(source, exc) from None
    except (RecursionError, MemoryError):
        raise source.error(f"expression nested too deeply (more than {MAX_DEPTH} levels)",
                           None) from None
    overflow = tree_overflow(tree.body)
    if overflow is not None:
        message, node = overflow
        raise source.error_at_python(message, _column(node))
    return _Converter(source, names, unknown).convert(tree.body)[0]


def _syntax_error(source: Source, exc: SyntaxError) -> ExpressionError:
    message = exc.msg.split(". ")[0].split(" (detected at")[0]
    if not exc.offset or exc.offset > len(source.python):
        return source.error("incomplete expression" if message == "invalid syntax"
                            else message, len(source.text))
    index = exc.offset - 1
    char = source.python[index]
    if message == "invalid syntax" and char in _SYNTAX_HINTS:
        message = _SYNTAX_HINTS[char]
    elif message == "invalid syntax" and (char.isalnum() or char in "_("):
        message = "invalid syntax (a missing operator such as '*'?)"
    return source.error_at_python(message, index)


class _Converter:
    """Turns a whitelisted `ast` tree into an `Expr`, tracking constant values.

    With an `unknown` dict, names outside `names` become variables and are recorded there
    (name -> 1-based column in the text) instead of raising.
    """

    def __init__(self, source: Source, names: frozenset[str],
                 unknown: dict[str, int] | None = None) -> None:
        self.source = source
        self.names = names
        self.unknown = unknown

    def fail(self, message: str, index: int | None) -> ExpressionError:
        return self.source.error_at_python(message, index)

    def convert(self, node: ast.AST) -> tuple[Expr, float | None]:
        """The tree of `node`, and its float64 value if it is constant (else None)."""
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        raise self.fail(self.construct_message(node), self.construct_index(node))

    def constant(self, node: ast.Constant) -> tuple[Expr, float]:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(_LITERALS.get(type(value), f"{value!r} is not allowed"),
                            node.col_offset)
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise self.fail("number too large for float64 (the limit is about 1.8e308)",
                            node.col_offset)
        return Const(number), number

    def name(self, node: ast.Name) -> tuple[Expr, float | None]:
        name = node.id
        if name in self.names:
            return Var(name), None
        if name in CONSTANTS:
            return Const(CONSTANTS[name], name), CONSTANTS[name]
        if lookup(name) is not None:
            raise self.fail(f"'{name}' is a function: call it like {name}(x)", node.col_offset)
        if self.unknown is not None and IDENTIFIER.fullmatch(name):
            self.unknown.setdefault(name, self.source.origin[node.col_offset] + 1)
            return Var(name), None
        known = sorted(self.names | set(CONSTANTS))
        raise self.fail(f"unknown name '{name}'{did_you_mean(name, known)}",
                        node.col_offset)

    def unary(self, node: ast.UnaryOp) -> tuple[Expr, float | None]:
        if isinstance(node.op, ast.UAdd):
            return self.convert(node.operand)
        if not isinstance(node.op, ast.USub):
            raise self.fail(_OPERATOR_HINTS[type(node.op)], node.col_offset)
        operand, value = self.convert(node.operand)
        if value is None:
            return Neg(operand), None
        if isinstance(node.operand, ast.Constant):
            return Const(-value), -value
        return Neg(operand), -value

    def binary(self, node: ast.BinOp) -> tuple[Expr, float | None]:
        op = _BINARY.get(type(node.op))
        if op is None:
            raise self.fail(_OPERATOR_HINTS[type(node.op)], self.between(node.left, node.right))
        left, lvalue = self.convert(node.left)
        right, rvalue = self.convert(node.right)
        value = None if lvalue is None or rvalue is None else fold_binary(op, lvalue, rvalue)
        self.check_finite(node, value)
        return Binary(op, left, right), value

    def call(self, node: ast.Call) -> tuple[Expr, float | None]:
        func = node.func
        if isinstance(func, ast.Constant):
            raise self.fail("a number cannot be called (a missing '*' before '('?)",
                            func.end_col_offset)
        if isinstance(func, ast.Attribute) or type(func) in _CONSTRUCTS:
            raise self.fail(self.construct_message(func), self.construct_index(func))
        if not isinstance(func, ast.Name):
            raise self.fail("only allow-listed functions can be called, by plain name as in "
                            "sin(x)", func.end_col_offset)
        name = func.id
        function = lookup(name)
        if function is None:
            if name in self.names:
                raise self.fail(f"'{name}' is a variable, not a function (a missing '*'?)",
                                node.col_offset)
            raise self.fail(_unknown_function(name), node.col_offset)
        if node.keywords:
            raise self.fail(f"keyword arguments are not allowed: pass the arguments of "
                            f"{name}() by position", node.keywords[0].col_offset)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.fail(_CONSTRUCTS[ast.Starred], arg.col_offset)
        if len(node.args) != function.arity:
            plural = "" if function.arity == 1 else "s"
            raise self.fail(f"{name}() takes {function.arity} argument{plural}, got "
                            f"{len(node.args)}", node.col_offset)
        converted = [self.convert(arg) for arg in node.args]
        args = tuple(expr for expr, _ in converted)
        values = [value for _, value in converted if value is not None]
        value = fold_call(function.name, values) if len(values) == len(args) else None
        self.check_finite(node, value)
        return Call(function.name, args), value

    def check_finite(self, node: ast.expr, value: float | None) -> None:
        if value is not None and not math.isfinite(value):
            part = self.source.original(node.col_offset, node.end_col_offset or 0)
            raise self.fail(f"the constant part '{part}' is {value} in float64; write a "
                            "finite value", node.col_offset)

    def between(self, before: ast.expr, after: ast.expr) -> int:
        """Index of the first operator character between two operands."""
        start = before.end_col_offset or 0
        for index in range(start, after.col_offset):
            if self.source.python[index] not in " ()":
                return index
        return start

    def construct_message(self, node: ast.AST) -> str:
        if isinstance(node, ast.Attribute):
            return f"attribute access ('.{node.attr}') is not allowed"
        return _CONSTRUCTS.get(type(node), f"{type(node).__name__} is not allowed")

    def construct_index(self, node: ast.AST) -> int | None:
        if isinstance(node, ast.Attribute | ast.Subscript):
            return node.value.end_col_offset
        if isinstance(node, ast.Compare):
            return self.between(node.left, node.comparators[0])
        if isinstance(node, ast.BoolOp):
            return self.between(node.values[0], node.values[1])
        if isinstance(node, ast.IfExp):
            return self.between(node.body, node.test)
        if isinstance(node, ast.NamedExpr):
            return self.between(node.target, node.value)
        return _column(node)


def _column(node: ast.AST) -> int | None:
    return node.col_offset if isinstance(node, ast.expr | ast.keyword) else None


def _unknown_function(name: str) -> str:
    known = sorted(set(FUNCTIONS) | set(ALIASES))
    suggestion = did_you_mean(name, known)
    if suggestion:
        return f"unknown function '{name}'{suggestion}"
    return f"unknown function '{name}'; allowed functions: {', '.join(sorted(FUNCTIONS))}"
