"""`dynsim.learn` as torchdiffeq: the same calls give the same results, torchdiffeq itself
being the reference (state shapes, methods, options, gradients, events, adjoint)."""

from __future__ import annotations

import math
import warnings

import pytest

torch = pytest.importorskip("torch")
torchdiffeq = pytest.importorskip("torchdiffeq")

import dynsim.learn as ours  # noqa: E402
from dynsim.core.errors import DynsimError, InputError, IntegrationError  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

F64 = torch.float64
FIXED = ("euler", "midpoint", "heun2", "heun3", "rk4", "explicit_adams", "implicit_adams")
ADAPTIVE = ("dopri5", "bosh3", "fehlberg2", "adaptive_heun", "dopri8")


class Field(torch.nn.Module):
    """A small nonlinear, time-dependent field with parameters, on any state shape."""

    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(0.7, dtype=F64))
        self.b = torch.nn.Parameter(torch.tensor(-0.3, dtype=F64))

    def forward(self, t, y):
        return self.a * torch.sin(y) + self.b * y + 0.2 * torch.cos(2 * t)


def both(call, *args, **kwargs):
    """`call(lib, ...)` for dynsim.learn and torchdiffeq."""
    return call(ours, *args, **kwargs), call(torchdiffeq, *args, **kwargs)


# -- (1) shapes and the calls of the issue -------------------------------------------------


def test_scalar_state_and_time_gradients_of_the_issue():
    y = ours.odeint(lambda t, y: -y, torch.tensor(1.0), torch.tensor([0.0, 1.0]))
    torch.testing.assert_close(y, torch.tensor([1.0, 0.36787944]), rtol=1e-6, atol=1e-7)
    for adjoint in (False, True):
        t = torch.tensor([0.0, 1.0], requires_grad=True)
        kwargs = {"adjoint": True, "adjoint_params": ()} if adjoint else {}
        ours.odeint(lambda t, y: -y, torch.tensor(1.0), t, **kwargs).sum().backward()
        torch.testing.assert_close(t.grad, torch.tensor([0.36787944, -0.36787944]),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 1, 3), (4, 2, 2, 1)])
@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_every_state_shape_matches_torchdiffeq(shape, dtype):
    func = Field().to(dtype)
    y0 = torch.linspace(-1.0, 2.0, max(1, torch.Size(shape).numel()), dtype=dtype).reshape(shape)
    t = torch.linspace(0.0, 2.0, 7, dtype=dtype)
    tight = 1e-6 if dtype == torch.float32 else 1e-11
    with torch.no_grad():
        a, b = both(lambda lib: lib.odeint(func, y0, t, rtol=tight, atol=tight))
    assert a.shape == (7, *shape) and a.dtype == dtype
    tol = 1e-4 if dtype == torch.float32 else 1e-8
    torch.testing.assert_close(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("method", ["dopri5", "dopri8", "rk4", "explicit_adams"])
@pytest.mark.parametrize("adjoint", [False, True])
def test_complex_states_values_and_gradients(method, adjoint):
    t = torch.linspace(0.0, 2.0, 5, dtype=F64)

    def f(t, y):
        return 1j * y - 0.1 * y * torch.cos(t)

    results = []
    for lib in (ours, torchdiffeq):
        y0 = torch.tensor([1 + 0.5j, 0.2 - 1j], dtype=torch.complex128, requires_grad=True)
        solve = lib.odeint_adjoint if adjoint else lib.odeint
        kwargs = {"adjoint_params": ()} if adjoint else {}
        out = solve(f, y0, t, method=method, rtol=1e-10, atol=1e-12, **kwargs)
        results.append((out.detach(), torch.autograd.grad(out.abs().sum(), y0)[0]))
    for x, y in zip(*results, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("t", [[0.0, 1.0, 2.5], [2.5, 1.0, 0.0], [1.0]])
def test_increasing_decreasing_and_single_times(t):
    func = Field()
    y0 = torch.tensor([0.5, -1.0], dtype=F64)
    times = torch.tensor(t, dtype=F64)
    with torch.no_grad():
        a, b = both(lambda lib: lib.odeint(func, y0, times, rtol=1e-10, atol=1e-12))
    torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-9)


def test_tuple_states_forward_and_gradients():
    func = Field()

    def tuple_f(t, y):
        return func(t, y[0]) * y[1].mean(), -y[1] + func(t, y[0]).sum()

    t = torch.linspace(0.0, 1.5, 5, dtype=F64)
    results = []
    for lib in (ours, torchdiffeq):
        for adjoint in (False, True):
            func.zero_grad()
            y0 = (torch.tensor([0.3, -0.2], dtype=F64, requires_grad=True),
                  torch.full((2, 2), 0.5, dtype=F64, requires_grad=True))
            solve = lib.odeint_adjoint if adjoint else lib.odeint
            kwargs = {"adjoint_params": tuple(func.parameters())} if adjoint else {}
            ya, yb = solve(tuple_f, y0, t, rtol=1e-10, atol=1e-12, **kwargs)
            assert ya.shape == (5, 2) and yb.shape == (5, 2, 2)
            (ya.pow(2).sum() + yb.sum()).backward()
            results.append([ya.detach(), yb.detach(), y0[0].grad, y0[1].grad,
                            func.a.grad.clone(), func.b.grad.clone()])
    for other in results[1:]:
        for x, y in zip(results[0], other, strict=True):
            torch.testing.assert_close(x, y, rtol=1e-6, atol=1e-8)


# -- (2) gradients with respect to everything ----------------------------------------------


@pytest.mark.parametrize("method", ["dopri5", "rk4", "euler", "explicit_adams"])
@pytest.mark.parametrize("adjoint", [False, True])
def test_gradients_of_y0_parameters_and_t_match_torchdiffeq(method, adjoint):
    grads = []
    for lib in (ours, torchdiffeq):
        func = Field()
        y0 = torch.tensor([[0.5, -1.0], [0.1, 0.2]], dtype=F64, requires_grad=True)
        t = torch.tensor([0.2, 0.7, 1.5, 2.0], dtype=F64, requires_grad=True)
        options = None if method == "dopri5" else {"step_size": 0.05}
        solve = lib.odeint_adjoint if adjoint else lib.odeint
        out = solve(func, y0, t, method=method, rtol=1e-10, atol=1e-12, options=options)
        (out * torch.arange(out.numel(), dtype=F64).reshape(out.shape)).sum().backward()
        grads.append([y0.grad, func.a.grad, func.b.grad, t.grad])
    # fixed grids: torchdiffeq differentiates the discrete steps, the adjoint the ODE
    tol = 1e-6 if method == "dopri5" or not adjoint else 2e-2
    for x, y in zip(*grads, strict=True):
        torch.testing.assert_close(x, y, rtol=tol, atol=tol)


def test_gradcheck_through_t_and_y0_for_a_fixed_and_an_adaptive_method():
    func = Field()
    for method, options in (("dopri5", None), ("midpoint", {"step_size": 0.1})):
        def solve(y0, t, method=method, options=options):
            return ours.odeint(func, y0, t, method=method, options=options, rtol=1e-10,
                               atol=1e-12)

        y0 = torch.tensor([0.4, -0.6], dtype=F64, requires_grad=True)
        t = torch.tensor([0.0, 0.35, 0.95], dtype=F64, requires_grad=True)
        assert torch.autograd.gradcheck(solve, (y0, t), atol=1e-5, rtol=1e-3)


# -- (3) every method: same names, same numbers --------------------------------------------


@pytest.mark.parametrize("method", FIXED)
@pytest.mark.parametrize("options", [None, {"step_size": 0.13}, {"step_size": 0.1, "perturb": True},
                                     {"step_size": 0.07, "interp": "cubic"}],
                         ids=["grid_t", "step", "perturb", "cubic"])
@pytest.mark.parametrize("reverse", [False, True])
def test_fixed_grid_methods_give_torchdiffeq_numbers(method, options, reverse):
    func = Field()
    y0 = torch.tensor([0.5, -1.0, 2.0], dtype=F64)
    t = torch.linspace(0.0, 1.7, 6, dtype=F64)
    t = t.flip(0) if reverse else t
    with torch.no_grad():
        a, b = both(lambda lib: lib.odeint(func, y0, t, method=method, options=options))
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_rk4_is_the_three_eighths_rule_and_rk4_classic_the_classic_one():
    y0 = torch.tensor([1.0], dtype=F64)
    t = torch.tensor([0.0, 1.0], dtype=F64)
    h = 1.0  # one step of y' = y: both are exact to fourth order, 1 + h + h^2/2 + h^3/6 + h^4/24
    three_eighths = ours.odeint(lambda t, y: y, y0, t, method="rk4")
    classic = ours.odeint(lambda t, y: y, y0, t, method="rk4_classic")
    expected = 1 + h + h**2 / 2 + h**3 / 6 + h**4 / 24
    torch.testing.assert_close(three_eighths[-1, 0], torch.tensor(expected, dtype=F64))
    torch.testing.assert_close(classic[-1, 0], torch.tensor(expected, dtype=F64))
    # on a time-dependent field the two rules differ
    a = ours.odeint(lambda t, y: torch.cos(3 * t) * y, y0, t, method="rk4")
    b = ours.odeint(lambda t, y: torch.cos(3 * t) * y, y0, t, method="rk4_classic")
    c = torchdiffeq.odeint(lambda t, y: torch.cos(3 * t) * y, y0, t, method="rk4")
    assert not torch.allclose(a, b, rtol=1e-6)
    torch.testing.assert_close(a, c, rtol=1e-14, atol=0)


@pytest.mark.parametrize("method", ADAPTIVE)
def test_adaptive_methods_meet_their_tolerance_like_torchdiffeq(method):
    func = Field()
    y0 = torch.tensor([0.5, -1.0], dtype=F64)
    t = torch.linspace(0.0, 3.0, 8, dtype=F64)
    with torch.no_grad():
        reference = ours.odeint(func, y0, t, method="dop853", rtol=1e-13, atol=1e-14)
        a, b = both(lambda lib: lib.odeint(func, y0, t, method=method, rtol=1e-7, atol=1e-9))
    err_ours = float((a - reference).abs().max())
    err_theirs = float((b - reference).abs().max())
    assert err_ours < 1e-4 and err_ours < 2 * err_theirs + 1e-9


def test_method_none_is_dopri5_and_heun2_is_heun():
    func = Field()
    y0 = torch.tensor([0.5, -1.0], dtype=F64)
    t = torch.linspace(0.0, 1.0, 4, dtype=F64)
    with torch.no_grad():
        torch.testing.assert_close(ours.odeint(func, y0, t, method=None),
                                   ours.odeint(func, y0, t, method="dopri5"), rtol=0, atol=0)
        torch.testing.assert_close(ours.odeint(func, y0, t, method="heun2"),
                                   torchdiffeq.odeint(func, y0, t, method="heun2"),
                                   rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("solver", ["RK45", "LSODA", "Radau", "BDF"])
def test_scipy_solver_values_and_gradients(solver):
    func = Field()
    y0 = torch.tensor([0.5, -1.0], dtype=F64, requires_grad=True)
    t = torch.linspace(0.0, 2.0, 5, dtype=F64)
    options = {"solver": solver}
    out = ours.odeint(func, y0, t, method="scipy_solver", rtol=1e-10, atol=1e-12,
                      options=options)
    with torch.no_grad():
        ref = torchdiffeq.odeint(func, y0, t, method="scipy_solver", rtol=1e-10, atol=1e-12,
                                 options=options)
    torch.testing.assert_close(out.detach(), ref, rtol=1e-8, atol=1e-8)  # (LSODA varies)
    out.sum().backward()
    y0_ref = y0.detach().clone().requires_grad_(True)
    torchdiffeq.odeint(func, y0_ref, t, rtol=1e-10, atol=1e-12).sum().backward()
    torch.testing.assert_close(y0.grad, y0_ref.grad, rtol=1e-6, atol=1e-7)


# -- (4) options ---------------------------------------------------------------------------


class Jump:
    def __init__(self):
        self.nfe = 0

    def __call__(self, t, y):
        self.nfe += 1
        return -0.5 * y if t < 0.5 else y**2


@pytest.mark.parametrize("method", ADAPTIVE)
def test_jump_t_saves_work_and_agrees(method):
    y0 = torch.tensor([1.0, 2.0], dtype=F64)
    t = torch.tensor([0.0, 1.0], dtype=F64)
    plain, jumped = Jump(), Jump()
    ours.odeint(plain, y0, t, method=method, rtol=1e-8, atol=1e-8)
    b = ours.odeint(jumped, y0, t, method=method, rtol=1e-8, atol=1e-8,
                    options={"jump_t": torch.tensor([0.5])})
    assert jumped.nfe < plain.nfe
    exact_half = y0 * torch.exp(torch.tensor(-0.25, dtype=F64))
    exact = exact_half / (1 - 0.5 * exact_half)
    tol = 1e-4 if method in ("fehlberg2", "adaptive_heun") else 1e-5  # (second order)
    torch.testing.assert_close(b[-1], exact, rtol=tol, atol=tol)


def test_step_t_min_step_max_step_and_callbacks():
    seen = {"step": [], "accept": [], "reject": []}

    class Counted(Field):
        def callback_step(self, t0, y0, dt):
            seen["step"].append((float(t0), float(dt)))

        def callback_accept_step(self, t0, y0, dt):
            seen["accept"].append((float(t0), float(dt)))

        def callback_reject_step(self, t0, y0, dt):
            seen["reject"].append(float(t0))

    func = Counted()
    y0 = torch.tensor([0.5, -1.0], dtype=F64)
    t = torch.tensor([0.0, 2.0], dtype=F64)
    ours.odeint(func, y0, t, options={"max_step": 0.1, "step_t": [0.333]})
    assert seen["step"] and all(dt <= 0.1 + 1e-15 for _, dt in seen["step"])
    ends = [t0 + dt for t0, dt in seen["accept"]]
    assert any(abs(e - 0.333) < 1e-15 for e in ends)
    assert len(seen["accept"]) + len(seen["reject"]) == len(seen["step"])
    for key in seen:
        seen[key].clear()
    ours.odeint(func, y0, t, rtol=1e-12, atol=1e-12, options={"min_step": 0.5})
    assert all(dt >= 0.5 - 1e-12 for _, dt in seen["step"][:-1]) and not seen["reject"]


def test_callable_norm_first_step_and_max_num_steps():
    calls = []

    def norm(x):
        calls.append(x.shape)
        return x.abs().max()

    func = Field()
    y0 = torch.tensor([[0.5, -1.0]], dtype=F64)
    t = torch.tensor([0.0, 1.0], dtype=F64)
    with torch.no_grad():
        a, b = both(lambda lib: lib.odeint(func, y0, t, options={"norm": norm,
                                                                 "first_step": 0.01}))
    assert calls and all(s == (1, 2) for s in calls)
    torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    with pytest.raises(IntegrationError, match="max_num_steps = 3"):
        ours.odeint(func, y0, t, options={"max_num_steps": 3})


@pytest.mark.parametrize(("options", "message"), [
    ({"step_size": 0.1, "grid_constructor": lambda f, y, t: t}, "exclude each other"),
    ({"interp": "quadratic"}, "'linear' or 'cubic'"),
    ({"perturb": 1}, "perturb'] must be True or False"),
    ({"grid_constructor": lambda f, y, t: torch.linspace(0.1, 1, 3)}, "must return a grid"),
    ({"step_size": -1.0}, "dt must be a positive number"),
])
def test_misused_grid_options_raise_clear_errors(options, message):
    with pytest.raises(InputError, match=message):
        ours.odeint(Field(), torch.ones(2, dtype=F64), torch.tensor([0.0, 1.0], dtype=F64),
                    method="euler", options=options)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"options": {"safety": 2.0}}, "safety'] must be in"),
    ({"options": {"step_t": [0.5], "jump_t": [0.5]}}, "must not share times"),
    ({"options": {"norm": "rms"}}, "norm'] must be a function"),
    ({"options": {"max_step": 0.0}}, "max_step'] must be > min_step"),
    ({"method": "dopri7"}, "unknown method 'dopri7'"),
    ({"rtol": torch.tensor([1e-6, 1e-7, 1e-8])}, "rtol of shape .3,. does not broadcast"),
    ({"atol": (1e-6, -1e-7)}, "atol must be finite and >= 0"),
    ({"rtol": torch.tensor(1e-6, requires_grad=True)}, "rtol cannot require gradient"),
    ({"rtol": 0.0, "atol": torch.tensor([1e-9, 0.0])}, "cannot both be zero"),
    ({"adjoint": True, "adjoint_rtol": (1e-6, 1e-7, 1e-8)}, "adjoint_rtol of shape .3,."),
    ({"adjoint": True, "adjoint_method": "euler", "options": {"first_step": 0.1}},
     "give adjoint_options too"),
])
def test_misused_adaptive_options_raise_clear_errors(kwargs, message):
    with pytest.raises(DynsimError, match=message):
        ours.odeint(Field(), torch.ones(2, dtype=F64), torch.tensor([0.0, 1.0], dtype=F64),
                    **kwargs)


def test_options_of_other_methods_warn_as_in_torchdiffeq():
    with pytest.warns(UserWarning, match="ignores options step_size"):
        ours.odeint(Field(), torch.ones(2, dtype=F64), torch.tensor([0.0, 1.0], dtype=F64),
                    options={"step_size": 0.1})


def test_grid_constructor_forward_and_in_the_adjoint_pass():
    seen = []

    def grid(func, y0, t):
        seen.append(t.tolist())
        return torch.linspace(float(t[0]), float(t[-1]), 11, dtype=F64)

    x0 = torch.tensor(1.0, dtype=F64, requires_grad=True)
    xs = ours.odeint_adjoint(lambda t, x: x, x0, torch.tensor([0.0, 1.0], dtype=F64),
                             method="euler", options={"grid_constructor": grid},
                             adjoint_params=())
    torch.testing.assert_close(xs[1], torch.tensor(1.1**10, dtype=F64))
    xs[1].backward()
    torch.testing.assert_close(x0.grad, torch.tensor(1.1**10, dtype=F64))
    assert seen == [[0.0, 1.0], [1.0, 0.0]]


# -- (5) the adjoint's own arguments ---------------------------------------------------------


def test_adjoint_method_options_and_norms():
    func = Field()
    y0 = torch.tensor([0.5, -1.0], dtype=F64, requires_grad=True)
    t = torch.linspace(0.0, 2.0, 4, dtype=F64)
    reference = torch.autograd.grad(ours.odeint(func, y0, t, rtol=1e-11, atol=1e-12).sum(),
                                    y0)[0]
    seen = []

    def norm(parts):
        seen.append(tuple(p.shape for p in parts))
        return max(p.abs().max() for p in parts)

    for kwargs in ({"adjoint_method": "dopri8", "adjoint_rtol": 1e-11, "adjoint_atol": 1e-12},
                   {"adjoint_method": "rk4", "adjoint_options": {"step_size": 0.01}},
                   {"adjoint_options": {"norm": "seminorm"}, "adjoint_rtol": 1e-11},
                   {"adjoint_options": {"norm": norm}, "adjoint_rtol": 1e-11}):
        out = ours.odeint_adjoint(func, y0, t, rtol=1e-11, atol=1e-12, **kwargs)
        grad = torch.autograd.grad(out.sum(), y0)[0]
        torch.testing.assert_close(grad, reference, rtol=1e-6, atol=1e-7)
    assert seen and seen[0] == ((), (2,), (2,), (), ())


def test_adjoint_callbacks_see_the_augmented_state():
    seen = []

    class Counted(Field):
        def callback_step_adjoint(self, t0, state, dt):
            seen.append(tuple(s.shape for s in state))

    func = Counted()
    y0 = torch.tensor([0.5, -1.0], dtype=F64, requires_grad=True)
    ours.odeint_adjoint(func, y0, torch.tensor([0.0, 1.0], dtype=F64)).sum().backward()
    assert seen and seen[0] == ((), (2,), (2,), (), ())


# -- (6) events --------------------------------------------------------------------------------


@pytest.mark.parametrize("adjoint", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_odeint_event_time_state_and_gradients_match_torchdiffeq(adjoint, reverse):
    results = []
    for lib in (ours, torchdiffeq):
        func = Field()
        y0 = torch.tensor([0.5, 1.0], dtype=F64, requires_grad=True)
        t0 = torch.tensor(0.0, dtype=F64, requires_grad=True)

        def event_fn(t, y):
            return y[0] - (0.9 if not reverse else 0.2)

        kwargs = {"odeint_interface": lib.odeint_adjoint} if adjoint else {}
        event_t, sol = lib.odeint_event(func, y0, t0, event_fn=event_fn, reverse_time=reverse,
                                        rtol=1e-10, atol=1e-12, **kwargs)
        (3 * event_t + sol[-1].pow(2).sum()).backward()
        results.append([event_t.detach(), sol.detach(), y0.grad, func.a.grad, func.b.grad])
    for x, y in zip(*results, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["dopri5", "bosh3", "rk4", "euler"])
def test_event_fn_in_odeint_stops_at_the_crossing(method):
    func = Field()
    y0 = torch.tensor([0.5, 1.0], dtype=F64)
    options = {"step_size": 0.01, "interp": "cubic"} if method in FIXED else None
    with torch.no_grad():
        a, b = both(lambda lib: lib.odeint(func, y0, torch.tensor([0.0, 1.0], dtype=F64),
                                           method=method, options=options, rtol=1e-10,
                                           atol=1e-12, event_fn=lambda t, y: y[0] - 0.9))
    torch.testing.assert_close(a[0], b[0], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(a[1], b[1], rtol=1e-6, atol=1e-7)
    assert abs(float(a[1][-1, 0]) - 0.9) < 1e-4


def test_misuse_of_events_and_states_raises_dynsim_errors():
    func = Field()
    with pytest.raises(InputError, match="with event_fn, t must hold 2 times"):
        ours.odeint(func, torch.ones(2, dtype=F64), torch.tensor([0.0, 1.0, 2.0], dtype=F64),
                    event_fn=lambda t, y: y[0])
    with pytest.raises(InputError, match="needs options\\['step_size'\\]"):
        ours.odeint(func, torch.ones(2, dtype=F64), torch.tensor([0.0, 1.0], dtype=F64),
                    method="euler", event_fn=lambda t, y: y[0] - 2)
    with pytest.raises(InputError, match="func must return a tuple of 2"):
        ours.odeint(lambda t, y: y[0], (torch.ones(1), torch.ones(1)), torch.tensor([0.0, 1.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours.odeint(func, torch.ones(2, dtype=F64), torch.tensor([0.0, 1.0], dtype=F64))


# -- (7) implicit methods (torchdiffeq's later names; no 0.2.5 reference: closed forms) -----


IMPLICIT = {"implicit_euler": 1, "implicit_midpoint": 2, "trapezoid": 2, "radauIIA3": 3,
            "radauIIA5": 5, "gl4": 4, "gl6": 6, "sdirk2": 2, "trbdf2": 2}


@pytest.mark.parametrize(("method", "order"), IMPLICIT.items())
def test_implicit_methods_converge_at_their_order(method, order):
    def f(t, y):
        return torch.stack([y[1], -y[0]]) + 0.1 * torch.cos(t) * y

    y0 = torch.tensor([1.0, 0.5], dtype=F64)
    t = torch.tensor([0.0, 2.0], dtype=F64)
    reference = ours.odeint(f, y0, t, method="dop853", rtol=1e-13, atol=1e-14)[-1]
    errors = [float((ours.odeint(f, y0, t, method=method, rtol=1e-13, atol=1e-14,
                                 options={"step_size": h})[-1] - reference).abs().max())
              for h in (0.1, 0.05)]
    assert abs(math.log2(errors[0] / errors[1]) - order) < 0.2


@pytest.mark.parametrize("method", ["implicit_euler", "radauIIA5", "sdirk2", "trbdf2"])
def test_stiffly_accurate_implicit_methods_take_stiff_steps(method):
    """y' = -1000 (y - cos t) with h = 0.1 (100 times the explicit stability limit)."""
    out = ours.odeint(lambda t, y: -1000.0 * (y - torch.cos(t)), torch.zeros(1, dtype=F64),
                      torch.tensor([0.0, 1.0], dtype=F64), method=method,
                      options={"step_size": 0.1})
    slow = math.cos(1.0) + math.sin(1.0) / 1000  # the slow manifold, to O(1e-6)
    assert abs(float(out[-1, 0]) - slow) < 2e-3


def test_implicit_method_gradients_by_gradcheck():
    func = Field()

    def solve(y0, t):
        return ours.odeint(func, y0, t, method="gl4", rtol=1e-12, atol=1e-14,
                           options={"step_size": 0.1})

    y0 = torch.tensor([0.4, -0.6], dtype=F64, requires_grad=True)
    t = torch.tensor([0.0, 0.35, 0.95], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(solve, (y0, t), atol=1e-5, rtol=1e-3)


def test_odeint_dense_matches_torchdiffeq_at_any_time():
    func = Field()
    y0 = torch.tensor([0.5, -1.0], dtype=F64, requires_grad=True)
    t0, t1 = torch.tensor(0.0, dtype=F64), torch.tensor(3.0, dtype=F64)
    dense = ours.odeint_dense(func, y0, t0, t1, rtol=1e-10, atol=1e-12)
    theirs = torchdiffeq.odeint_dense(func, y0.detach(), t0, t1, rtol=1e-10, atol=1e-12)
    for s in (0.0, 0.3, 1.7, 2.99):
        at = torch.tensor(s, dtype=F64)
        torch.testing.assert_close(dense(at).detach(), theirs(at), rtol=1e-8, atol=1e-9)
    many = dense(torch.tensor([0.3, 1.7], dtype=F64))
    assert many.shape == (2, 2)
    many.sum().backward()  # differentiable like odeint's backprop
    assert y0.grad is not None and torch.isfinite(y0.grad).all()
    with pytest.raises(InputError, match="needs an adaptive method"):
        ours.odeint_dense(func, y0, t0, t1, method="rk4")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("method", ["dopri5", "rk4", "implicit_adams", "radauIIA3"])
@pytest.mark.parametrize("adjoint", [False, True])
def test_cuda_results_and_gradients_match_the_cpu(method, adjoint):
    results = []
    for device in ("cpu", "cuda"):
        func = Field().to(device)
        y0 = (torch.tensor([0.5, -1.0], dtype=F64, device=device, requires_grad=True),
              torch.full((2, 2), 0.3, dtype=F64, device=device))
        t = torch.linspace(0.0, 1.0, 4, dtype=F64, device=device, requires_grad=True)
        solve = ours.odeint_adjoint if adjoint else ours.odeint
        ya, yb = solve(lambda t, y, func=func: (func(t, y[0]), -y[1]), y0, t, method=method,
                       options=None if method == "dopri5" else {"step_size": 0.05},
                       **({"adjoint_params": tuple(func.parameters())} if adjoint else {}))
        assert ya.device.type == device and yb.device.type == device
        ya.sum().backward()
        results.append([ya.detach().cpu(), y0[0].grad.cpu(), t.grad.cpu(), func.a.grad.cpu()])
    for x, y in zip(*results, strict=True):
        torch.testing.assert_close(x, y, rtol=1e-9, atol=1e-10)


def test_adjoint_options_on_grad_fn_and_the_seminorm_saves_calls():
    calls = {"n": 0}

    class Counted(Field):
        def forward(self, t, y):
            calls["n"] += 1
            return super().forward(t, y)

    func = Counted()
    y0 = torch.tensor([0.5, -1.0], dtype=F64, requires_grad=True)
    t = torch.tensor([0.0, 2.0], dtype=F64)
    nfe = {}
    for norm in (None, "seminorm"):
        options = None if norm is None else {"norm": norm}
        out = ours.odeint_adjoint(func, y0, t, rtol=1e-8, atol=1e-8, adjoint_options=options)
        seen = []
        default = out.grad_fn.adjoint_options["norm"]

        def spy(parts, default=default, seen=seen):
            seen.append(len(parts))
            return default(parts)

        out.grad_fn.adjoint_options["norm"] = spy  # torchdiffeq's hook: replaced in place
        calls["n"] = 0
        out.sum().backward()
        nfe[norm] = calls["n"]
        assert seen and seen[0] == 5  # (t_a, y, a, a_a, a_b)
    assert nfe["seminorm"] <= nfe[None]
