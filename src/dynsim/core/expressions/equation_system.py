"""`equation_system`: a `System` defined by typed equations instead of a plugin.

```python
pendulum = equation_system(
    "pendulum", None,
    {"theta": "omega", "omega": "-g/L*sin(theta) - c*omega"},
    {"g": 9.81, "L": 1.0, "c": 0.1},
)
```
Each equation gives d(state)/dt in terms of the states, the parameters, the time `t` and
the constants `pi` and `e`. The `rhs` is vectorised over `y[..., D]` and evaluates with
numpy for arrays and with torch for tensors (torch is imported only when a tensor is
passed); the `jacobian` is the exact symbolic one.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeGuard

import numpy as np

from dynsim.core.errors import DynsimError, InputError, did_you_mean
from dynsim.core.expressions.compile import Closure, build, numpy_functions, torch_functions
from dynsim.core.expressions.differentiate import derivative
from dynsim.core.expressions.errors import ExpressionError
from dynsim.core.expressions.parse import IDENTIFIER, parse_expression
from dynsim.core.expressions.tree import Expr
from dynsim.core.system import Param, System

TIME = "t"


def parse_equations(
    states: Sequence[str] | None,
    equations: Mapping[str, str],
    params: Mapping[str, float | Param],
    *,
    key: str = "system.equations",
    states_key: str = "system.states",
    params_key: str = "system.params",
) -> tuple[tuple[str, ...], dict[str, Param], tuple[Expr, ...]]:
    """Check an equation system and parse it: (states, params, one tree per state).

    `states` None means the keys of `equations`, in order. Errors are `ExpressionError`s
    whose key is `key.<state>`, `states_key` or `params_key.<name>`.
    """
    if not isinstance(equations, Mapping) or not equations:
        raise ExpressionError("expected a table of equations, one per state "
                              "(state = \"right-hand side\")", key=key)
    state_names = _checked_states(tuple(equations) if states is None else states,
                                  key if states is None else states_key)
    for name in equations:
        if name not in state_names:
            raise ExpressionError(f"'{name}' is not a state{did_you_mean(name, state_names)}"
                                  f"; the states are {', '.join(state_names)}",
                                  key=f"{key}.{name}")
    for name in state_names:
        if name not in equations:
            raise ExpressionError(f"missing the equation for state '{name}' (every state "
                                  "needs one)", key=f"{key}.{name}")
    param_specs = _checked_params(params, state_names, params_key)
    names = {*state_names, *param_specs, TIME}
    trees = tuple(parse_expression(_equation_text(equations[s], f"{key}.{s}"), names,
                                   key=f"{key}.{s}") for s in state_names)
    return state_names, param_specs, trees


def equation_system(
    name: str,
    states: Sequence[str] | None,
    equations: Mapping[str, str],
    params: Mapping[str, float | Param],
    *,
    description: str = "",
    title: str = "",
    key: str = "system.equations",
    states_key: str = "system.states",
    params_key: str = "system.params",
    y0: Sequence[float] | None = None,
    bounds: Mapping[str, Sequence[float]] | None = None,
) -> System:
    """A `System` whose right-hand side is given by `equations` (state -> expression text).

    Parameters given as plain numbers become `Param(value)` with no range. See
    `parse_equations` for the checks and error keys.
    """
    state_names, param_specs, trees = parse_equations(
        states, equations, params, key=key, states_key=states_key, params_key=params_key)
    arguments = (TIME, *state_names, *param_specs)
    jacobian_trees = tuple(derivative(tree, s) for tree in trees for s in state_names)
    d = len(state_names)
    text = description or "; ".join(f"d{s}/dt = {str(equations[s]).strip()}"
                                    for s in state_names)
    try:
        return System(
            name=name, states=state_names, params=param_specs,
            rhs=_Vectorised(trees, (d,), arguments, tuple(param_specs)),
            jacobian=_Vectorised(jacobian_trees, (d, d), arguments, tuple(param_specs)),
            description=text, title=title, y0=y0, bounds=bounds, tags=("equations",),
        )
    except DynsimError as exc:
        raise ExpressionError(str(exc), key=key.rpartition(".")[0]) from None


def _checked_states(states: Sequence[str], key: str) -> tuple[str, ...]:
    if isinstance(states, str) or not isinstance(states, Sequence) or not states:
        raise ExpressionError("expected a non-empty list of state names", key=key)
    for state in states:
        if not isinstance(state, str) or not IDENTIFIER.fullmatch(state):
            raise ExpressionError(f"state name {state!r} must start with a letter and hold "
                                  "only letters, digits and underscores", key=key)
        if state == TIME:
            raise ExpressionError(f"'{TIME}' is the time and cannot be a state", key=key)
    if len(set(states)) != len(states):
        repeated = sorted({s for s in states if states.count(s) > 1})
        raise ExpressionError(f"state names repeat: {', '.join(repeated)}", key=key)
    return tuple(states)


def _checked_params(params: Mapping[str, float | Param], states: tuple[str, ...],
                    key: str) -> dict[str, Param]:
    if not isinstance(params, Mapping):
        raise ExpressionError("expected a table of parameters (name = value)", key=key)
    specs: dict[str, Param] = {}
    for name, value in params.items():
        where = f"{key}.{name}"
        if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
            raise ExpressionError(f"parameter name {name!r} must start with a letter and hold "
                                  "only letters, digits and underscores", key=where)
        if name == TIME:
            raise ExpressionError(f"'{TIME}' is the time and cannot be a parameter", key=where)
        if name in states:
            raise ExpressionError(f"'{name}' is already a state", key=where)
        if isinstance(value, Param):
            specs[name] = value
        elif _is_finite_number(value):
            specs[name] = Param(float(value))
        else:
            raise ExpressionError(f"expected a finite number, got {value!r}", key=where)
    return specs


def _is_finite_number(value: object) -> TypeGuard[numbers.Real]:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def _equation_text(value: object, key: str) -> str:
    if isinstance(value, str):
        return value
    if _is_finite_number(value):
        return repr(float(value))
    raise ExpressionError(f"expected the right-hand side as a string, got {value!r}", key=key)


class _Vectorised:
    """`f(t, y, p)`: compiled trees evaluated on `y[..., D]`, stacked to `y[..., *shape]`.

    numpy arrays (or anything else) use numpy closures built here; torch tensors use torch
    closures built on first use.
    """

    def __init__(self, trees: tuple[Expr, ...], shape: tuple[int, ...],
                 arguments: tuple[str, ...], params: tuple[str, ...]) -> None:
        self.trees = trees
        self.shape = shape
        self.arguments = arguments
        self.params = params
        self.dimension = len(arguments) - len(params) - 1
        self.numpy = _compile(trees, arguments, numpy_functions())
        self.torch: list[Closure] | None = None

    def __call__(self, t: Any, y: Any, p: Mapping[str, Any]) -> Any:
        if not isinstance(y, np.ndarray):
            torch = sys.modules.get("torch")
            if torch is not None and isinstance(y, torch.Tensor):
                return self._torch(torch, t, y, p)
            y = np.asarray(y, dtype=np.float64)
        self._check(y)
        args = (_numpy_value(t), *(y[..., i] for i in range(self.dimension)),
                *(_numpy_value(p[name]) for name in self.params))
        out = np.empty((*y.shape[:-1], len(self.numpy)),
                       dtype=y.dtype if y.dtype.kind == "f" else np.float64)
        for i, f in enumerate(self.numpy):
            out[..., i] = f(args)
        return out.reshape(*y.shape[:-1], *self.shape)

    def _torch(self, torch: Any, t: Any, y: Any, p: Mapping[str, Any]) -> Any:
        self._check(y)
        if self.torch is None:
            self.torch = _compile(self.trees, self.arguments, torch_functions())

        def tensor(value: Any) -> Any:
            if isinstance(value, torch.Tensor):
                return value
            return torch.as_tensor(value, dtype=y.dtype, device=y.device)

        args = (tensor(t), *(y[..., i] for i in range(self.dimension)),
                *(tensor(p[name]) for name in self.params))
        base = y.shape[:-1]
        out = torch.stack([torch.broadcast_to(tensor(f(args)).to(y.dtype), base)
                           for f in self.torch], dim=-1)
        return out.reshape(*base, *self.shape)

    def _check(self, y: Any) -> None:
        if y.ndim == 0 or y.shape[-1] != self.dimension:
            raise InputError(f"y must have shape (..., {self.dimension}), one value per "
                             f"state, got shape {tuple(y.shape)}")


def _numpy_value(value: Any) -> Any:
    return value if isinstance(value, np.ndarray) else np.float64(value)


def _compile(trees: tuple[Expr, ...], arguments: tuple[str, ...],
             functions: Mapping[str, Callable[..., Any]]) -> list[Closure]:
    return [_closure(build(tree, arguments, functions)) for tree in trees]


def _closure(compiled: Closure | float) -> Closure:
    if isinstance(compiled, float):
        return lambda a: compiled
    return compiled
