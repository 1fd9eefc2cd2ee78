"""The solver settings of one `odeint` call: method, tolerances and torchdiffeq's options.

torchdiffeq passes method-specific settings in an untyped `options` dict; `odeint` accepts
the same keys with the same meaning and turns them into a checked, frozen `Settings`. A key
no method knows is an `InputError` naming the known ones; a key known to other methods only
is ignored with a warning, as torchdiffeq does (so one options dict serves several methods).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from dynsim.core.errors import InputError
from dynsim.core.solver import check_step_options
from dynsim.learn import tolerance
from dynsim.learn.methods import ADAMS, ADAPTIVE, FIXED, IMPLICIT, SCIPY, MethodSpec, lookup
from dynsim.learn.tolerance import Tol
from dynsim.numerics import controller as ctl

GRID = {
    "step_size": "fixed-grid methods: the grid spacing (default: the output times are the grid)",
    "grid_constructor": "fixed-grid methods: grid_constructor(func, y0, t) -> the time grid",
    "perturb": "fixed-grid methods: evaluate func just inside each step (discontinuities)",
    "interp": "fixed-grid methods: 'linear' (default) or 'cubic' output interpolation",
}
ADAPTIVE_KEYS = {
    "first_step": "adaptive methods: the first step size (default: Hairer's selection)",
    "min_step": "adaptive methods: the smallest step; steps this small are always accepted",
    "max_step": "adaptive methods: the largest step",
    "step_t": "adaptive methods: times the steps land on",
    "jump_t": "adaptive methods: times of discontinuities of func, landed on and restarted",
    "safety": "adaptive methods: the step-size controller's safety factor (0.9)",
    "ifactor": "adaptive methods: the largest step growth factor (10)",
    "dfactor": "adaptive methods: the smallest step shrink factor (0.2)",
    "max_num_steps": "adaptive methods: attempted steps allowed before each output time "
                     "(default 2**31 - 1)",
    "dtype": "adaptive methods: the dtype of times and step sizes (float64; float32 applies "
             "to float32 states)",
}
ADAMS_KEYS = {
    "max_iters": "implicit_adams, implicit methods: iterations per step (4; Newton: >= 10)",
    "max_order": "Adams methods: the largest order (12)",
}
SCIPY_KEYS = {
    "solver": "scipy_solver: scipy.integrate.solve_ivp's method name (default 'LSODA')",
    "min_step": "scipy_solver: scipy's min_step",
    "max_step": "scipy_solver: scipy's max_step",
    "first_step": "scipy_solver: scipy's first_step",
}
NORM = {"norm": "error norm: a callable of the scaled error (adjoint: 'seminorm' too)"}
OPTIONS = {**GRID, **ADAPTIVE_KEYS, **ADAMS_KEYS, **SCIPY_KEYS, **NORM}
"""Every `options` key `odeint` understands (torchdiffeq's names) and what it does."""

_KEYS = {FIXED: {**GRID, **NORM}, ADAMS: {**GRID, **ADAMS_KEYS, **NORM},
         IMPLICIT: {**GRID, "max_iters": ADAMS_KEYS["max_iters"], **NORM},
         ADAPTIVE: {**ADAPTIVE_KEYS, **NORM}, SCIPY: {**SCIPY_KEYS, **NORM}}

DEFAULT_MAX_STEPS = 2**31 - 1
"""torchdiffeq's default `max_num_steps`."""

Norm = Callable[[Any], Any]
Parts = tuple[list[torch.Size], bool]
"""A state's part shapes and whether it is a tuple (what per-part tolerances refer to)."""


@dataclass(frozen=True)
class Settings:
    """Checked settings of one integration (forward, or the adjoint pass)."""

    spec: MethodSpec
    rtol: Tol
    atol: Tol
    step_size: float | None = None
    grid_constructor: Callable[..., torch.Tensor] | None = None
    perturb: bool = False
    interp: str = "linear"
    first_step: float | None = None
    min_step: float = 0.0
    max_step: float = math.inf
    step_t: tuple[float, ...] = ()
    jump_t: tuple[float, ...] = ()
    safety: float = ctl.SAFETY
    ifactor: float = ctl.MAX_FACTOR
    dfactor: float = ctl.MIN_FACTOR
    max_steps: int = DEFAULT_MAX_STEPS
    norm: Norm | None = None
    max_iters: int = 4
    max_order: int = 12
    dtype: torch.dtype | None = None
    scipy: dict[str, Any] = field(default_factory=dict)

    @property
    def tableau(self) -> Any:
        """The method's Butcher tableau (Adams methods: the RK4 that starts them)."""
        return self.spec.tableau

    @property
    def adaptive(self) -> bool:
        """Whether steps are chosen by error control (the stepper runs the method)."""
        return self.spec.kind == ADAPTIVE


def settings(method: Any, rtol: Any, atol: Any, options: Mapping[str, Any] | None,
             parts: Parts | None = None) -> Settings:
    """`Settings` from `odeint`'s arguments for a state of `parts` (its shapes and whether
    it is a tuple; None: tolerances must be numbers); `InputError` for anything invalid."""
    spec = method if isinstance(method, MethodSpec) else lookup(method)
    checked_rtol, checked_atol = tolerances(rtol, atol, parts)
    opts = _applicable(options, spec)
    values: dict[str, Any] = {}
    if "norm" in opts:
        values["norm"] = _norm(opts.pop("norm"))
    if spec.grid:
        values.update(_grid(opts))
    if spec.kind in (ADAMS, IMPLICIT):
        values.update(_adams(opts))
    if spec.kind == ADAPTIVE:
        values.update(_adaptive(opts))
    if spec.kind == SCIPY:
        values["scipy"] = _scipy(opts)
    return Settings(spec, checked_rtol, checked_atol, **values)


def tolerances(rtol: Any, atol: Any, parts: Parts | None = None) -> tuple[Tol, Tol]:
    """rtol and atol checked (`InputError` unless >= 0, finite, not both zero): floats, or
    per element of a state of `parts` (its shapes, and whether it is a tuple)."""
    if type(rtol) is float and type(atol) is float and rtol > 0 and atol >= 0:
        return rtol, atol
    if parts is None:
        parts = ([torch.Size()], False)
    return tolerance.resolve(rtol, atol, *parts)


def with_options(base: Settings, method: Any, rtol: Tol, atol: Tol,
                 options: Mapping[str, Any] | None) -> Settings:
    """Settings of the adjoint pass: `method` (None: the forward one) with `options` and
    the (checked) tolerances."""
    spec = base.spec if method is None else lookup(method)
    out = base if method is None and options is None else settings(spec, 1e-7, 1e-9, options)
    return replace(out, rtol=rtol, atol=atol)


def _applicable(options: Mapping[str, Any] | None, spec: MethodSpec) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise InputError(f"options must be a dict, got {type(options).__name__}")
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise InputError(f"unknown options {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(OPTIONS)}")
    known = _KEYS[spec.kind]
    ignored = sorted(set(options) - set(known))
    if ignored:
        warnings.warn(f"odeint: method '{spec.name}' ignores options {', '.join(ignored)}",
                      stacklevel=4)
    return {k: v for k, v in options.items() if k in known and v is not None}


def _number(label: str, value: Any) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise InputError(f"options['{label}'] must be a number, got a tensor of shape "
                             f"{tuple(value.shape)}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"options['{label}'] must be a number, got {value!r}")
    return float(value)


def _grid(opts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "step_size" in opts and "grid_constructor" in opts:
        raise InputError("options['step_size'] and options['grid_constructor'] exclude each "
                         "other; give one")
    if "step_size" in opts:
        out["step_size"] = _number("step_size", opts["step_size"])
        check_step_options(out["step_size"], 1, None, None)
    if "grid_constructor" in opts:
        if not callable(opts["grid_constructor"]):
            raise InputError("options['grid_constructor'] must be a function "
                             "(func, y0, t) -> times")
        out["grid_constructor"] = opts["grid_constructor"]
    if "perturb" in opts:
        if not isinstance(opts["perturb"], bool):
            raise InputError(f"options['perturb'] must be True or False, got "
                             f"{opts['perturb']!r}")
        out["perturb"] = opts["perturb"]
    if "interp" in opts:
        if opts["interp"] not in ("linear", "cubic"):
            raise InputError(f"options['interp'] must be 'linear' or 'cubic', got "
                             f"{opts['interp']!r}")
        out["interp"] = opts["interp"]
    return out


def _adams(opts: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, low, high in (("max_iters", 1, None), ("max_order", 1, 12)):
        if key in opts:
            value = opts[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < low or (
                    high is not None and value > high):
                bound = f"{low}..{high}" if high is not None else f">= {low}"
                raise InputError(f"options['{key}'] must be a whole number {bound}, got "
                                 f"{value!r}")
            out[key] = value
    if out.get("max_order", 12) < 4:
        warnings.warn("odeint: max_order below 4 makes the Adams method rk4", stacklevel=4)
    return out


def _adaptive(opts: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("first_step", "min_step", "max_step", "safety", "ifactor", "dfactor"):
        if key in opts:
            out[key] = _number(key, opts[key])
    check_step_options(None, 1, out.get("first_step"), out.get("min_step"))
    if "max_step" in out and not out["max_step"] > out.get("min_step", 0.0):
        raise InputError(f"options['max_step'] must be > min_step, got {out['max_step']!r}")
    for key, ok in (("safety", lambda v: 0 < v <= 1), ("ifactor", lambda v: v >= 1),
                    ("dfactor", lambda v: 0 < v <= 1)):
        if key in out and not ok(out[key]):
            rule = {"safety": "in (0, 1]", "ifactor": ">= 1", "dfactor": "in (0, 1]"}[key]
            raise InputError(f"options['{key}'] must be {rule}, got {out[key]!r}")
    if "max_num_steps" in opts:
        steps = opts["max_num_steps"]
        if isinstance(steps, float) and steps.is_integer():
            steps = int(steps)
        check_step_options(None, steps, None, None)
        out["max_steps"] = int(steps)
    for key in ("step_t", "jump_t"):
        if key in opts:
            out[key] = _times(key, opts[key])
    if set(out.get("step_t", ())) & set(out.get("jump_t", ())):
        raise InputError("options['step_t'] and options['jump_t'] must not share times")
    if "dtype" in opts:
        if opts["dtype"] not in (torch.float32, torch.float64):
            raise InputError(f"options['dtype'] must be torch.float32 or torch.float64, got "
                             f"{opts['dtype']!r}")
        out["dtype"] = opts["dtype"]
    return out


def _times(label: str, value: Any) -> tuple[float, ...]:
    try:
        if not isinstance(value, torch.Tensor):
            value = torch.as_tensor(value, dtype=torch.float64)
        values = value.detach().cpu().to(torch.float64).reshape(-1).tolist()
    except (TypeError, ValueError, RuntimeError):
        raise InputError(f"options['{label}'] must be a 1-D tensor of times") from None
    if not all(math.isfinite(v) for v in values):
        raise InputError(f"options['{label}'] must hold finite times")
    return tuple(sorted(set(values)))


def _scipy(opts: dict[str, Any]) -> dict[str, Any]:
    out = dict(opts)
    solver = out.pop("solver", "LSODA")
    valid = ("RK45", "RK23", "DOP853", "Radau", "BDF", "LSODA")
    if solver not in valid:
        raise InputError(f"options['solver'] must be one of scipy's {', '.join(valid)}, got "
                         f"{solver!r}")
    for key in ("min_step", "max_step", "first_step"):
        if key in out:
            out[key] = _number(key, out[key])
    out["method"] = solver
    return out


def _norm(value: Any) -> Norm:
    if not callable(value):
        raise InputError(f"options['norm'] must be a function of the scaled error, got "
                         f"{value!r}")
    return value
