"""The allow-list of functions an expression may call, with their numpy and torch versions.

Every function takes float arguments element-wise and broadcasts like numpy:

    sin cos tan                     arcsin arccos arctan (aliases asin acos atan)
    sinh cosh tanh                  arcsinh arccosh arctanh (aliases asinh acosh atanh)
    arctan2(y, x) (alias atan2)     hypot(x, y) = sqrt(x**2 + y**2)
    exp  log (natural; alias ln)    log10  log2  sqrt  erf
    abs  sign (-1, 0 or 1)          floor  ceil  mod(x, y) = x - y*floor(x/y)
    min(a, b)  max(a, b)            heaviside(x): 0 for x < 0, 1/2 at x = 0, 1 for x > 0

Domain errors give NaN and overflow gives ±inf, as in numpy (`log(-1)` is NaN, `log(0)` is
-inf); NaN propagates through every function, `sign`, `heaviside`, `min` and `max`
included. Aliases are translated to the canonical name when parsing.

Derivatives (used for exact Jacobians) are the usual ones; the non-smooth functions use the
derivative that holds almost everywhere: d abs(x) = sign(x), d sign = d floor = d ceil =
d heaviside = 0, d mod(x, y) = (1, -floor(x/y)), d min(a, b) = (heaviside(b - a),
heaviside(a - b)) and d max(a, b) = (heaviside(a - b), heaviside(b - a)), so at a tie each
argument gets half.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType, ModuleType
from typing import Any

import numpy as np

from dynsim.core.expressions.tree import Binary, Call, Const, Expr, Neg

Partials = Callable[..., tuple[Expr, ...]]
"""Given the argument expressions, the partial derivative with respect to each argument."""


@dataclass(frozen=True)
class Function:
    """One allow-listed function: its arity, implementations and derivative rule.

    `torch` receives the torch module and returns the implementation, so that torch is only
    imported when a tensor is actually evaluated.
    """

    name: str
    arity: int
    numpy: Callable[..., Any]
    torch: Callable[[ModuleType], Callable[..., Any]]
    partials: Partials


def _num(value: float) -> Const:
    return Const(value)


def _mul(a: Expr, b: Expr) -> Expr:
    return Binary("*", a, b)


def _div(a: Expr, b: Expr) -> Expr:
    return Binary("/", a, b)


def _add(a: Expr, b: Expr) -> Expr:
    return Binary("+", a, b)


def _sub(a: Expr, b: Expr) -> Expr:
    return Binary("-", a, b)


def _square(a: Expr) -> Expr:
    return Binary("**", a, Const(2.0))


def _call(name: str, *args: Expr) -> Expr:
    return Call(name, args)


def _erf_numpy(x: Any) -> Any:
    from scipy.special import erf  # scipy is slow to import; only expressions using erf pay

    return erf(x)


def _heaviside_numpy(x: Any) -> Any:
    return np.heaviside(x, 0.5)


def _torch(pick: Callable[[ModuleType], Callable[..., Any]]) -> Callable[[ModuleType],
                                                                         Callable[..., Any]]:
    """Wrap a torch function so plain numbers become tensors like the tensor arguments."""

    def bind(torch: ModuleType) -> Callable[..., Any]:
        fn = pick(torch)
        tensor = torch.Tensor

        def call(*args: Any) -> Any:
            like = next((a for a in args if isinstance(a, tensor)), None)
            if like is None:
                args = tuple(torch.as_tensor(a, dtype=torch.float64) for a in args)
            elif not all(isinstance(a, tensor) for a in args):
                args = tuple(a if isinstance(a, tensor) else
                             torch.as_tensor(a, dtype=like.dtype, device=like.device)
                             for a in args)
            return fn(*args)

        return call

    return bind


def _torch_sign(torch: ModuleType) -> Callable[..., Any]:
    def sign(x: Any) -> Any:  # torch.sign(nan) is 0; numpy's is nan
        return torch.where(torch.isnan(x), x, torch.sign(x))

    return sign


def _torch_heaviside(torch: ModuleType) -> Callable[..., Any]:
    sign = _torch_sign(torch)

    def heaviside(x: Any) -> Any:  # differentiable, unlike torch.heaviside
        return 0.5 * (sign(x) + 1.0)

    return heaviside


_ZERO = (Const(0.0),)

_TABLE: tuple[tuple[str, int, Any, Callable[[ModuleType], Callable[..., Any]], Partials], ...] = (
    ("sin", 1, np.sin, _torch(lambda torch: torch.sin), lambda u: (_call("cos", u),)),
    ("cos", 1, np.cos, _torch(lambda torch: torch.cos), lambda u: (Neg(_call("sin", u)),)),
    ("tan", 1, np.tan, _torch(lambda torch: torch.tan),
     lambda u: (_div(_num(1.0), _square(_call("cos", u))),)),
    ("arcsin", 1, np.arcsin, _torch(lambda torch: torch.asin),
     lambda u: (_div(_num(1.0), _call("sqrt", _sub(_num(1.0), _square(u)))),)),
    ("arccos", 1, np.arccos, _torch(lambda torch: torch.acos),
     lambda u: (Neg(_div(_num(1.0), _call("sqrt", _sub(_num(1.0), _square(u))))),)),
    ("arctan", 1, np.arctan, _torch(lambda torch: torch.atan),
     lambda u: (_div(_num(1.0), _add(_num(1.0), _square(u))),)),
    ("arctan2", 2, np.arctan2, _torch(lambda torch: torch.atan2),
     lambda a, b: (_div(b, _add(_square(a), _square(b))),
                   Neg(_div(a, _add(_square(a), _square(b)))))),
    ("sinh", 1, np.sinh, _torch(lambda torch: torch.sinh), lambda u: (_call("cosh", u),)),
    ("cosh", 1, np.cosh, _torch(lambda torch: torch.cosh), lambda u: (_call("sinh", u),)),
    ("tanh", 1, np.tanh, _torch(lambda torch: torch.tanh),
     lambda u: (_sub(_num(1.0), _square(_call("tanh", u))),)),
    ("arcsinh", 1, np.arcsinh, _torch(lambda torch: torch.asinh),
     lambda u: (_div(_num(1.0), _call("sqrt", _add(_square(u), _num(1.0)))),)),
    ("arccosh", 1, np.arccosh, _torch(lambda torch: torch.acosh),
     lambda u: (_div(_num(1.0), _call("sqrt", _sub(_square(u), _num(1.0)))),)),
    ("arctanh", 1, np.arctanh, _torch(lambda torch: torch.atanh),
     lambda u: (_div(_num(1.0), _sub(_num(1.0), _square(u))),)),
    ("exp", 1, np.exp, _torch(lambda torch: torch.exp), lambda u: (_call("exp", u),)),
    ("log", 1, np.log, _torch(lambda torch: torch.log), lambda u: (_div(_num(1.0), u),)),
    ("log10", 1, np.log10, _torch(lambda torch: torch.log10),
     lambda u: (_div(_num(1.0), _mul(u, _num(math.log(10.0)))),)),
    ("log2", 1, np.log2, _torch(lambda torch: torch.log2),
     lambda u: (_div(_num(1.0), _mul(u, _num(math.log(2.0)))),)),
    ("sqrt", 1, np.sqrt, _torch(lambda torch: torch.sqrt),
     lambda u: (_div(_num(0.5), _call("sqrt", u)),)),
    ("erf", 1, _erf_numpy, _torch(lambda torch: torch.erf),
     lambda u: (_mul(_num(2.0 / math.sqrt(math.pi)), _call("exp", Neg(_square(u)))),)),
    ("abs", 1, np.abs, _torch(lambda torch: torch.abs), lambda u: (_call("sign", u),)),
    ("sign", 1, np.sign, _torch(_torch_sign), lambda u: _ZERO),
    ("floor", 1, np.floor, _torch(lambda torch: torch.floor), lambda u: _ZERO),
    ("ceil", 1, np.ceil, _torch(lambda torch: torch.ceil), lambda u: _ZERO),
    ("heaviside", 1, _heaviside_numpy, _torch(_torch_heaviside), lambda u: _ZERO),
    ("mod", 2, np.mod, _torch(lambda torch: torch.remainder),
     lambda a, b: (_num(1.0), Neg(_call("floor", _div(a, b))))),
    ("min", 2, np.minimum, _torch(lambda torch: torch.minimum),
     lambda a, b: (_call("heaviside", _sub(b, a)), _call("heaviside", _sub(a, b)))),
    ("max", 2, np.maximum, _torch(lambda torch: torch.maximum),
     lambda a, b: (_call("heaviside", _sub(a, b)), _call("heaviside", _sub(b, a)))),
    ("hypot", 2, np.hypot, _torch(lambda torch: torch.hypot),
     lambda a, b: (_div(a, _call("hypot", a, b)), _div(b, _call("hypot", a, b)))),
)

FUNCTIONS = MappingProxyType({name: Function(name, arity, numpy, torch, partials)
                              for name, arity, numpy, torch, partials in _TABLE})
"""Canonical function name -> `Function`."""

ALIASES = MappingProxyType({
    "asin": "arcsin", "acos": "arccos", "atan": "arctan", "atan2": "arctan2",
    "asinh": "arcsinh", "acosh": "arccosh", "atanh": "arctanh", "ln": "log",
})
"""Other accepted spellings -> canonical name."""

CONSTANTS = MappingProxyType({"pi": math.pi, "e": math.e})
"""Named constants (a state or parameter of the same name takes precedence)."""


def lookup(name: str) -> Function | None:
    """The function called `name` (canonical or alias), or None."""
    return FUNCTIONS.get(ALIASES.get(name, name))
