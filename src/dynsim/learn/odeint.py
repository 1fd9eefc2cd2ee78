"""`odeint`, `odeint_adjoint`, `odeint_event`, `odeint_dense`: torchdiffeq's API.

`odeint(func, y0, t)` integrates dy/dt = func(t, y) with the whole state `y0` (a tensor of
any shape, or a tuple of tensors) as one system (one step size, one error norm, as
torchdiffeq does), and returns the states at the times `t`, shape (T, *y0.shape).
Gradients flow by backprop through the solver's operations (to y0, to func's tensors and
to t), or with `adjoint=True` / `odeint_adjoint` by the adjoint method
(`dynsim.learn.adjoint`). `import dynsim.learn as torchdiffeq` runs torchdiffeq programs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch

from dynsim.core.errors import InputError
from dynsim.learn import events, fixed_grid, stepper, tolerance
from dynsim.learn.adjoint import AdjointProblem, adjoint_odeint, default_norm, tuple_norm
from dynsim.learn.integrate import host_times, integrate, real_dtype, timed
from dynsim.learn.methods import ADAPTIVE, SCIPY
from dynsim.learn.options import Settings, settings, with_options
from dynsim.learn.state import State
from dynsim.learn.stepper import Callbacks
from dynsim.learn.tolerance import Tol

Func = Callable[[torch.Tensor, Any], Any]
"""func(t, y): `t` a scalar tensor, `y` of y0's shape (or a tuple); returns dy/dt alike."""


def odeint(func: Func, y0: Any, t: torch.Tensor, method: Any = None, rtol: Any = 1e-7,
           atol: Any = 1e-9, adjoint: bool = False, options: Mapping[str, Any] | None = None,
           adjoint_params: Iterable[torch.Tensor] | None = None, *,
           event_fn: Callable[..., torch.Tensor] | None = None,
           adjoint_rtol: Any = None, adjoint_atol: Any = None, adjoint_method: Any = None,
           adjoint_options: Mapping[str, Any] | None = None) -> Any:
    """Solve dy/dt = func(t, y), y(t[0]) = y0, and return y at every time of `t`.

    torchdiffeq's `odeint` (and with `adjoint=True` its `odeint_adjoint`), same arguments,
    defaults and results; see docs/learn.md for every method and option.

    - `y0`: a floating (or complex) tensor of any shape, or a tuple of them; the result
      has shape (T, *y0.shape) (a tuple of such for a tuple y0), y0's dtype and device.
    - `t`: 1-D, strictly increasing or decreasing; the result starts with y0.
    - `method`: a torchdiffeq name ("dopri5" when None, "dopri8", "bosh3", "fehlberg2",
      "adaptive_heun", "euler", "midpoint", "heun2", "heun3", "rk4" (the 3/8 rule),
      "explicit_adams", "implicit_adams", "fixed_adams", "scipy_solver"), "rk4_classic",
      any registered explicit Runge–Kutta solver (`dynsim list`) or a `ButcherTableau`.
    - `options`: torchdiffeq's keys (`dynsim.learn.options.OPTIONS`).
    - `event_fn(t, y)`: stop where it crosses zero; returns (event_t, solution at
      [t[0], event_t]), both differentiable.
    - `adjoint=True`: gradients by the adjoint method, memory constant in the number of
      steps, for y0, t and `adjoint_params` (default: `func.parameters()` of an
      `nn.Module`); `adjoint_rtol`, `adjoint_atol`, `adjoint_method`, `adjoint_options`
      default to the forward ones (`norm`: "seminorm" or a function too).

    Raises `InputError` for bad arguments and `IntegrationError` when the integration
    fails (non-finite values, max_num_steps, step size too small).
    """
    state = State(y0)
    t = _check_times(t, event_fn)
    forward = _forward_settings(state, method, rtol, atol, options)
    callbacks = _callbacks(func, state, forward)
    f = state.func(func)
    if adjoint:
        params = _adjoint_params(func, adjoint_params)
        backward, adjoint_opts = _backward_settings(state, forward, method, options,
                                                    adjoint_rtol, adjoint_atol,
                                                    adjoint_method, adjoint_options, params)
        problem_args = (f, state, forward, backward, params, adjoint_opts, callbacks,
                        Callbacks(func, "_adjoint"), adjoint_params is None)
    else:
        scipy = forward.spec.kind == SCIPY
        if (adjoint_params is not None and not scipy) or adjoint_options is not None \
                or adjoint_method is not None:
            raise InputError("adjoint_params, adjoint_method and adjoint_options need "
                             "adjoint=True (or odeint_adjoint); adjoint_params also serves "
                             "method='scipy_solver'")
        problem_args = None
    if event_fn is not None:
        return _until_event(f, state, t, forward, state.wrap(event_fn), callbacks,
                            problem_args)
    if len(t) == 1:
        return state.solution(state.y0[None].clone())
    if problem_args is not None:
        ys = _adjoint(problem_args, state.y0, t)
    elif forward.spec.kind == SCIPY:
        ys = _adjoint(_scipy_problem(func, f, state, t, forward, callbacks, adjoint_params),
                      state.y0, t)
    else:
        ys = _differentiable(f, state, t, forward, callbacks)
    return state.solution(ys)


def odeint_adjoint(func: Func, y0: Any, t: torch.Tensor, *, rtol: Any = 1e-7,
                   atol: Any = 1e-9, method: Any = None,
                   options: Mapping[str, Any] | None = None,
                   event_fn: Callable[..., torch.Tensor] | None = None,
                   adjoint_rtol: Any = None, adjoint_atol: Any = None,
                   adjoint_method: Any = None, adjoint_options: Mapping[str, Any] | None = None,
                   adjoint_params: Iterable[torch.Tensor] | None = None) -> Any:
    """torchdiffeq's `odeint_adjoint`: `odeint(..., adjoint=True)` with its signature."""
    return odeint(func, y0, t, method, rtol, atol, True, options, adjoint_params,
                  event_fn=event_fn, adjoint_rtol=adjoint_rtol, adjoint_atol=adjoint_atol,
                  adjoint_method=adjoint_method, adjoint_options=adjoint_options)


def odeint_event(func: Func, y0: Any, t0: torch.Tensor, *, event_fn: Callable[..., Any],
                 reverse_time: bool = False, odeint_interface: Callable[..., Any] = odeint,
                 **kwargs: Any) -> tuple[torch.Tensor, Any]:
    """torchdiffeq's `odeint_event`: integrate from `t0` (forwards, or backwards with
    `reverse_time`) until `event_fn(t, y)` crosses zero; returns (event_t, solution at
    [t0, event_t]), differentiable in both (`odeint_interface=odeint_adjoint` for the
    adjoint method)."""
    if not isinstance(t0, torch.Tensor):
        t0 = torch.as_tensor(t0, dtype=torch.get_default_dtype())
    start = t0.reshape(-1)
    t = torch.cat([start, start.detach() + (-1.0 if reverse_time else 1.0)])
    return odeint_interface(func, y0, t, event_fn=event_fn, **kwargs)


def odeint_dense(func: Func, y0: torch.Tensor, t0: Any, t1: Any, *, rtol: Any = 1e-7,
                 atol: Any = 1e-9, method: Any = None,
                 options: Mapping[str, Any] | None = None) -> Callable[[torch.Tensor], Any]:
    """torchdiffeq's `odeint_dense`: solve from t0 to t1 with an adaptive method and return
    `dense(t)`, the solution at any times `t` in [t0, t1] (shape (*t.shape, *y0.shape)),
    from every step's dense output."""
    state = State(y0)
    if state.is_tuple:
        raise InputError("odeint_dense takes a tensor y0 (as in torchdiffeq)")
    t = torch.stack([torch.as_tensor(t0, dtype=torch.float64).reshape(()),
                     torch.as_tensor(t1, dtype=torch.float64).reshape(())])
    t = _check_times(t, None)
    forward = settings(method, rtol, atol, options, state.parts)
    if forward.spec.kind != ADAPTIVE:
        raise InputError(f"odeint_dense needs an adaptive method such as 'dopri5', got "
                         f"'{forward.spec.name}'")
    times = host_times(t)
    return stepper.solve_dense(timed(state.func(func), state.y0), state.y0,
                               float(times[0]), float(times[1]), forward)


# -- the pieces --------------------------------------------------------------------------


def _check_times(t: Any, event_fn: Any) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise InputError(f"t must be a 1-D torch tensor of times, got {type(t).__name__}")
    if not t.is_floating_point():
        raise InputError(f"t must be a floating-point tensor, got {t.dtype}")
    if t.ndim != 1 or t.numel() == 0:
        raise InputError(f"t must be a 1-D tensor of output times, got shape {tuple(t.shape)}")
    times = host_times(t)
    if not torch.isfinite(torch.from_numpy(times)).all():
        raise InputError("t must hold finite times")
    steps = times[1:] - times[:-1]
    if steps.size and not ((steps > 0).all() or (steps < 0).all()):
        raise InputError("t must be strictly increasing or strictly decreasing")
    if event_fn is not None and len(t) != 2:
        raise InputError(f"with event_fn, t must hold 2 times (the start and one giving the "
                         f"direction), got {len(t)}")
    return t


def _forward_settings(state: State, method: Any, rtol: Any, atol: Any,
                      options: Mapping[str, Any] | None) -> Settings:
    out = settings(method, rtol, atol, options, state.parts)
    if out.norm is not None and state.is_tuple:
        from dataclasses import replace

        out = replace(out, norm=state.norm(out.norm))
    return out


def _callbacks(func: Any, state: State, forward: Settings) -> Callbacks:
    callbacks = Callbacks(func, wrap=state.view if state.is_tuple else None)
    if callbacks.any and forward.spec.kind != ADAPTIVE:
        unsupported = [n for n, c in zip(Callbacks.NAMES[1:], (callbacks.accept,
                                                                callbacks.reject),
                                          strict=True) if c is not None]
        if unsupported or forward.spec.kind == SCIPY:
            warnings.warn(f"odeint: method '{forward.spec.name}' does not call "
                          f"{', '.join(unsupported) or 'callback_step'}", stacklevel=3)
    return callbacks


def _differentiable(f: Any, state: State, t: torch.Tensor, forward: Settings,
                    callbacks: Callbacks) -> torch.Tensor:
    """The backprop solve; with t requiring grad, its gradients are attached (see below)."""
    y0 = state.y0
    if forward.spec.kind != ADAPTIVE or not t.requires_grad:
        return integrate(f, y0, t, forward, state.groups, forward.norm, callbacks)
    # Adaptive steps are chosen on host floats, so t reaches the solution through two
    # first-order terms of value zero: y(t_i) moves by f(t_i, y_i) dt_i, and moving t_0
    # is moving y0 by -f(t_0, y0) dt_0 (the solution through (t_0 + d, y0)).
    moved = t - t.detach()
    dtype = real_dtype(y0)
    with torch.no_grad():
        f0 = f(t[0].detach().to(dtype), y0)
    start = y0 - moved[0].to(dtype) * f0
    ys = integrate(f, start, t, forward, state.groups, forward.norm, callbacks)
    with torch.no_grad():
        slopes = torch.stack([f(t[i].detach().to(dtype), ys[i].detach())
                              for i in range(1, len(t))])
    shape = (len(t) - 1,) + (1,) * y0.ndim
    return torch.cat([y0[None], ys[1:] + moved[1:].to(dtype).view(shape) * slopes])


def _adjoint_params(func: Any, given: Iterable[torch.Tensor] | None
                    ) -> tuple[torch.Tensor, ...]:
    if given is None:
        if not isinstance(func, torch.nn.Module):
            raise InputError("with the adjoint method, func must be an nn.Module or the "
                             "tensors to differentiate must be passed as adjoint_params "
                             "(may be ())")
        given = func.parameters()
    params = tuple(given)
    if any(not isinstance(p, torch.Tensor) for p in params):
        raise InputError("adjoint_params must be tensors")
    return tuple(p for p in params if p.requires_grad)


def _backward_settings(state: State, forward: Settings, method: Any,
                       options: Mapping[str, Any] | None, rtol: Any, atol: Any,
                       adjoint_method: Any, adjoint_options: Mapping[str, Any] | None,
                       params: tuple[torch.Tensor, ...]) -> tuple[Settings, dict[str, Any]]:
    """The adjoint pass's settings and torchdiffeq's `adjoint_options` dict (with "norm")."""
    if adjoint_method is not None and adjoint_method != method and options is not None \
            and adjoint_options is None:
        raise InputError("with an adjoint_method other than method, give adjoint_options "
                         "too (options cannot be carried over)")
    if adjoint_options is None:
        opts = {k: v for k, v in (options or {}).items() if k != "norm"}
    elif isinstance(adjoint_options, Mapping):
        opts = dict(adjoint_options)
    else:
        raise InputError(f"adjoint_options must be a dict, got {type(adjoint_options).__name__}")
    norm = opts.pop("norm", None)
    if isinstance(norm, str) and norm not in ("seminorm", "mixed"):
        raise InputError(f"adjoint_options['norm'] must be 'seminorm', 'mixed' or a "
                         f"function, got {norm!r}")
    if norm is not None and not isinstance(norm, str) and not callable(norm):
        raise InputError(f"adjoint_options['norm'] must be 'seminorm', 'mixed' or a "
                         f"function, got {norm!r}")
    b_rtol, b_atol = (_adjoint_tolerance(label, given, own, state, params) for label, given, own
                      in (("adjoint_rtol", rtol, forward.rtol),
                          ("adjoint_atol", atol, forward.atol)))
    if tolerance.both_zero(b_rtol, b_atol):
        raise InputError("adjoint_rtol and adjoint_atol cannot both be zero")
    backward = with_options(forward, adjoint_method, b_rtol, b_atol, opts or None)
    if norm is None or isinstance(norm, str):
        norm = default_norm(state, forward.norm, norm == "seminorm")
    elif state.is_tuple:
        norm = tuple_norm(state, norm)
    return backward, {**opts, "norm": norm}


def _adjoint_tolerance(label: str, given: Any, forward: Tol, state: State,
                       params: tuple[torch.Tensor, ...]) -> Tol:
    """An adjoint tolerance over the augmented state (t_a, y, a, *a_theta).

    As in torchdiffeq, a tuple (or 1-D tensor) of 3 + len(params) tolerances gives one per
    part; any other value means what rtol/atol mean for y0 and applies to y and a, the
    parts t_a and a_theta taking its smallest value (torchdiffeq cannot take it there).
    None: the forward tolerance.
    """
    n = state.y0.numel()
    aug = [torch.Size([1]), torch.Size([n]), torch.Size([n]), *(p.shape for p in params)]
    if given is None:
        own = forward
    elif tolerance.per_part(given, aug):
        return tolerance.one(label, given, aug, True)
    else:
        own = tolerance.one(label, given, *state.parts)
    return tolerance.widen(own, [1, n, n, *(p.numel() for p in params)], (1, 2))


def _adjoint(problem_args: tuple[Any, ...], y0: torch.Tensor, t: torch.Tensor
             ) -> torch.Tensor:
    problem = AdjointProblem(*problem_args[:2], t, *problem_args[2:])
    return adjoint_odeint(problem, y0, t, problem_args[4])


def _scipy_problem(func: Any, f: Any, state: State, t: torch.Tensor, forward: Settings,
                   callbacks: Callbacks, adjoint_params: Iterable[torch.Tensor] | None
                   ) -> tuple[Any, ...]:
    """scipy_solver under backprop: differentiated by the adjoint method with scipy, for
    `adjoint_params` (default: the parameters of an nn.Module func; the backward pass then
    warns of any other tensor requiring grad that func uses)."""
    if adjoint_params is not None:
        params = _adjoint_params(func, adjoint_params)
    else:
        params = tuple(p for p in func.parameters() if p.requires_grad) \
            if isinstance(func, torch.nn.Module) else ()
    return (f, state, forward, forward, params,
            {"norm": default_norm(state, forward.norm, False)}, callbacks,
            Callbacks(func, "_adjoint"), adjoint_params is None)


def _until_event(f: Any, state: State, t: torch.Tensor, forward: Settings, event_fn: Any,
                 callbacks: Callbacks, problem_args: tuple[Any, ...] | None
                 ) -> tuple[torch.Tensor, Any]:
    """(event_t, solution at [t0, event_t]) for `odeint(..., event_fn=...)`."""
    y0 = state.y0
    times = host_times(t)
    direction = 1.0 if times[1] > times[0] else -1.0
    g = events.combined(event_fn, t[0].detach().to(real_dtype(y0)), y0.detach())
    kind = forward.spec.kind
    if kind == SCIPY:
        raise InputError("event_fn is not supported with scipy_solver (as in torchdiffeq)")
    if problem_args is None:  # the state at the event has its graph
        event_t, state_e = _event(f, y0, t, direction, forward, g, callbacks)
    else:  # find the event, then solve (differentiably) up to it
        with torch.no_grad():
            event_t, _ = _event(f, y0, t, direction, forward, g, callbacks)
        pair = torch.stack([t[0], event_t.to(t.dtype)])
        ys = _adjoint(problem_args, y0, pair) if problem_args is not None else \
            integrate(f, y0, pair, forward, state.groups, forward.norm, callbacks)
        state_e = ys[-1]
    event_t, state_e = events.reroute(f, g, event_t.to(real_dtype(y0)), state_e)
    solution = torch.stack([y0, state_e])
    return event_t.to(t.dtype), state.solution(solution)


def _event(f: Any, y0: torch.Tensor, t: torch.Tensor, direction: float, forward: Settings,
           g: Any, callbacks: Callbacks) -> tuple[torch.Tensor, torch.Tensor]:
    """The event time and the state there, as the forward method finds them."""
    if forward.spec.kind != ADAPTIVE:
        return fixed_grid.solve_until(f, y0, t[0].detach(), direction, forward, g)
    dtype = real_dtype(y0)
    settled, state_e = stepper.solve_until(
        timed(f, y0), y0, float(host_times(t)[0]), direction, forward,
        lambda s, y: g(torch.scalar_tensor(s, dtype=dtype, device=y.device), y), callbacks)
    return torch.tensor(settled, dtype=torch.float64, device=y0.device), state_e


__all__ = ["Func", "odeint", "odeint_adjoint", "odeint_dense", "odeint_event"]
