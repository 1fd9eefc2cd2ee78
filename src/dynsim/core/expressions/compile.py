"""Compiling an expression tree into vectorised closures for numpy or torch.

The tree is turned, once, into nested Python closures that call numpy ufuncs (or torch
functions) and Python's arithmetic operators; constant parts are folded at compile time. No
text is ever compiled to code (no eval, exec or compile). A compiled expression evaluates
element-wise with broadcasting over arrays (or tensors) of any shape.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np

from dynsim.core.expressions.errors import ExpressionError
from dynsim.core.expressions.fold import OPERATORS, fold_binary, fold_call
from dynsim.core.expressions.functions import FUNCTIONS
from dynsim.core.expressions.text import to_text
from dynsim.core.expressions.tree import Binary, Const, Expr, Neg, Var, free_names

Closure = Callable[[Sequence[Any]], Any]
"""A compiled expression: takes the argument values in order, returns the value."""

Functions = Mapping[str, Callable[..., Any]]


def numpy_functions() -> Functions:
    """Canonical function name -> numpy implementation."""
    return {name: function.numpy for name, function in FUNCTIONS.items()}


@cache
def torch_functions() -> Functions:
    """Canonical function name -> torch implementation (imports torch)."""
    import torch

    return {name: function.torch(torch) for name, function in FUNCTIONS.items()}


def build(expr: Expr, arguments: Sequence[str], functions: Functions) -> Closure | float:
    """A closure over the argument tuple, or a float when `expr` is constant."""
    index = {name: position for position, name in enumerate(arguments)}
    missing = sorted({name for name in free_names(expr) if name not in index})
    if missing:
        raise ExpressionError(f"'{to_text(expr)}' uses {', '.join(missing)}, which "
                              f"{'is' if len(missing) == 1 else 'are'} not among the "
                              f"arguments ({', '.join(arguments)})")
    return _build(expr, index, functions)


def _build(expr: Expr, index: Mapping[str, int], functions: Functions) -> Closure | float:
    if isinstance(expr, Const):
        return expr.value
    if isinstance(expr, Var):
        return operator.itemgetter(index[expr.name])
    if isinstance(expr, Neg):
        operand = _build(expr.operand, index, functions)
        if isinstance(operand, float):
            return -operand
        return lambda a: -operand(a)
    if isinstance(expr, Binary):
        return _binary(expr.op, _build(expr.left, index, functions),
                       _build(expr.right, index, functions))
    args = [_build(arg, index, functions) for arg in expr.args]
    values = [arg for arg in args if isinstance(arg, float)]
    if len(values) == len(args):
        return fold_call(expr.name, values)
    return _call(functions[expr.name], args)


def _binary(op: str, left: Closure | float, right: Closure | float) -> Closure | float:
    fn = OPERATORS[op]
    if isinstance(left, float):
        if isinstance(right, float):
            return fold_binary(op, left, right)
        return lambda a: fn(left, right(a))
    if isinstance(right, float):
        return lambda a: fn(left(a), right)
    return lambda a: fn(left(a), right(a))


def _call(fn: Callable[..., Any], args: list[Any]) -> Closure:
    """A call with at least one non-constant argument (every function takes 1 or 2)."""
    if len(args) == 1:
        (only,) = args
        return lambda a: fn(only(a))
    first, second = args
    if isinstance(first, float):
        return lambda a: fn(first, second(a))
    if isinstance(second, float):
        return lambda a: fn(first(a), second)
    return lambda a: fn(first(a), second(a))


def compile_numpy(expr: Expr, arguments: Sequence[str]) -> Callable[..., np.ndarray]:
    """`f(*values)` evaluating `expr` in float64 with numpy; `values` follow `arguments`.

    Values may be numbers or arrays of any broadcastable shapes; the result has their
    broadcast shape (so a constant expression still gives an array).
    """
    root = build(expr, arguments, numpy_functions())
    count = len(arguments)

    def evaluate(*values: Any) -> np.ndarray:
        _check_count(values, count)
        arrays = tuple(np.asarray(value, dtype=np.float64) for value in values)
        shape = np.broadcast_shapes(*(array.shape for array in arrays))
        result = root if isinstance(root, float) else root(arrays)
        return np.broadcast_to(np.asarray(result, dtype=np.float64), shape)

    return evaluate


def compile_torch(expr: Expr, arguments: Sequence[str]) -> Callable[..., Any]:
    """`f(*values)` evaluating `expr` with torch (differentiable); `values` follow `arguments`.

    Numbers among the values become tensors of the dtype and device of the first tensor
    (float64 on the CPU if there is none); the result has the broadcast shape.
    """
    import torch

    root = build(expr, arguments, torch_functions())
    count = len(arguments)

    def evaluate(*values: Any) -> Any:
        _check_count(values, count)
        like = next((v for v in values if isinstance(v, torch.Tensor)), None)
        options: dict[str, Any] = {"dtype": torch.float64}
        if like is not None:
            options = {"dtype": like.dtype if like.is_floating_point() else torch.float64,
                       "device": like.device}
        tensors = tuple(torch.as_tensor(value, **options) for value in values)
        shape = torch.broadcast_shapes(*(tensor.shape for tensor in tensors))
        result = root if isinstance(root, float) else root(tensors)
        return torch.broadcast_to(torch.as_tensor(result, **options), shape)

    return evaluate


def _check_count(values: Sequence[Any], count: int) -> None:
    if len(values) != count:
        raise TypeError(f"the compiled expression takes {count} values, got {len(values)}")
