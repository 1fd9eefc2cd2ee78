"""Evaluating constant parts in float64 with numpy's rules (overflow gives inf, not an error)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from dynsim.core.expressions.functions import FUNCTIONS

OPERATORS: MappingProxyType[str, Callable[[Any, Any], Any]] = MappingProxyType({
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "**": operator.pow,
})
"""Binary operator symbol -> the Python operator (works on floats, arrays and tensors)."""


def fold_binary(op: str, left: float, right: float) -> float:
    """`left op right` in float64 (`9**9**9` is inf at once; `1/0` is inf, `0/0` NaN)."""
    with np.errstate(all="ignore"):
        return float(OPERATORS[op](np.float64(left), np.float64(right)))


def fold_call(name: str, args: Sequence[float]) -> float:
    """Function `name` (canonical) applied to float64 `args`."""
    with np.errstate(all="ignore"):
        return float(FUNCTIONS[name].numpy(*(np.float64(a) for a in args)))
