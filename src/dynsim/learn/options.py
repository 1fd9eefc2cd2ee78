"""The solver settings of one `odeint` call: method, tolerances and torchdiffeq-style options.

torchdiffeq passes method-specific settings in an untyped `options` dict; `odeint` accepts
the same keys that apply to dynsim's methods and turns them into a checked, frozen
`Settings`. Anything else is an `InputError` naming the keys that exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from dynsim.core.errors import InputError
from dynsim.core.solver import check_step_options, check_tolerances
from dynsim.numerics import ButcherTableau, get_tableau

OPTIONS = {
    "step_size": "fixed-step methods: the largest step (default: one step per output interval)",
    "first_step": "adaptive methods: the first step size (default: Hairer's selection)",
    "max_num_steps": "attempted steps allowed before the integration fails (default 100000)",
}
"""The `options` keys `odeint` understands (torchdiffeq's names) and what they do."""

NORMS = ("mixed", "seminorm")
"""Error norms of the adjoint pass (`adjoint_options={"norm": ...}`), see `adjoint`."""

DEFAULT_MAX_STEPS = 100_000


@dataclass(frozen=True)
class Settings:
    """Checked settings of one integration (forward, or the adjoint pass)."""

    tableau: ButcherTableau
    rtol: float
    atol: float
    step_size: float | None = None
    first_step: float | None = None
    max_steps: int = DEFAULT_MAX_STEPS
    norm: str = "mixed"

    @property
    def adaptive(self) -> bool:
        """Whether steps are chosen by error control (the method has an error estimate)."""
        return self.tableau.adaptive


def settings(method: str | ButcherTableau, rtol: Any, atol: Any,
             options: Mapping[str, Any] | None) -> Settings:
    """`Settings` from `odeint`'s arguments; `InputError` for anything invalid."""
    tableau = method if isinstance(method, ButcherTableau) else _tableau(method)
    checked_rtol, checked_atol = (_tolerances(rtol, atol) if type(rtol) is float
                                  and type(atol) is float else _tolerances.__wrapped__(rtol, atol))
    opts = _known(options, OPTIONS, "options")
    step_size, first_step = opts.get("step_size"), opts.get("first_step")
    max_steps = opts.get("max_num_steps", DEFAULT_MAX_STEPS)
    if isinstance(max_steps, float) and max_steps.is_integer():
        max_steps = int(max_steps)
    check_step_options(step_size, max_steps, first_step, None)
    if tableau.adaptive and step_size is not None:
        raise InputError(f"options['step_size'] applies to fixed-step methods only; "
                         f"'{tableau.name}' chooses its own steps (give first_step instead)")
    if not tableau.adaptive and first_step is not None:
        raise InputError(f"options['first_step'] applies to adaptive methods only; "
                         f"'{tableau.name}' takes fixed steps (give step_size instead)")
    return Settings(tableau, checked_rtol, checked_atol,
                    None if step_size is None else float(step_size),
                    None if first_step is None else float(first_step), int(max_steps))


def adjoint_settings(forward: Settings, rtol: Any, atol: Any,
                     options: Mapping[str, Any] | None) -> Settings:
    """Settings of the adjoint pass: the forward ones unless given (as torchdiffeq does)."""
    opts = _known(options, {**OPTIONS, "norm": "error norm of the adjoint pass"},
                  "adjoint_options")
    norm = opts.pop("norm", "mixed")
    if norm not in NORMS:
        raise InputError(f"adjoint_options['norm'] must be one of {', '.join(NORMS)}, "
                         f"got {norm!r}")
    base = forward if not opts else settings(forward.tableau, forward.rtol, forward.atol, opts)
    rtol_arr, atol_arr = check_tolerances(forward.rtol if rtol is None else rtol,
                                          forward.atol if atol is None else atol, 1)
    return replace(base, rtol=float(rtol_arr[0]), atol=float(atol_arr[0]), norm=norm)


@lru_cache(maxsize=64)
def _tolerances(rtol: Any, atol: Any) -> tuple[float, float]:
    """`check_tolerances` for one system as floats (cached for float arguments: a training
    loop passes the same ones at every call)."""
    rtol_arr, atol_arr = check_tolerances(rtol, atol, 1)
    return float(rtol_arr[0]), float(atol_arr[0])


def _tableau(name: Any) -> ButcherTableau:
    if not isinstance(name, str):
        raise InputError(f"method must be a solver name such as 'dopri5', got {name!r}")
    return get_tableau(name)


def _known(options: Mapping[str, Any] | None, known: Mapping[str, str],
           label: str) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise InputError(f"{label} must be a dict, got {type(options).__name__}")
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise InputError(f"unknown {label} {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(known)}")
    return {k: v for k, v in options.items() if v is not None}

