"""`dynsim.learn.odeint`: torchdiffeq's convention, values, shapes, options, failures, backprop."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

import dynsim  # noqa: E402
from dynsim.core.errors import InputError, IntegrationError, UnknownNameError  # noqa: E402
from dynsim.learn import odeint  # noqa: E402
from dynsim.numerics import RungeKuttaSolver  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

FIXED = {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}


def explicit_methods() -> list[str]:
    return sorted(n for n, s in dynsim.solvers().items() if isinstance(s, RungeKuttaSolver))


def rotation(t, y):
    """dy/dt = J y with J = [[0, 1], [-1, 0]]: y(t) = R(t) y0, on the last axis."""
    return torch.stack([y[..., 1], -y[..., 0]], dim=-1)


def rotation_exact(y0, t):
    c, s = torch.cos(t), torch.sin(t)
    shape = (len(t),) + (1,) * (y0.ndim - 1)
    c, s = c.reshape(shape), s.reshape(shape)
    x, v = y0[..., 0], y0[..., 1]
    return torch.stack([c * x + s * v, -s * x + c * v], dim=-1)


class Mlp(torch.nn.Module):
    def __init__(self, dim: int = 2, hidden: int = 8, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.net = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.Tanh(),
                                       torch.nn.Linear(hidden, dim)).double()

    def forward(self, t, y):
        return self.net(y**3) - 0.1 * y


def test_registered_explicit_methods_are_all_there():
    assert {"euler", "midpoint", "heun", "rk4", "bosh3", "dopri5", "tsit5", "dop853"} <= set(
        explicit_methods())


@pytest.mark.parametrize("method", explicit_methods())
def test_every_method_matches_the_closed_form(method):
    y0 = torch.tensor([[1.0, 0.0], [0.3, -2.0]], dtype=torch.float64)
    t = torch.linspace(0.0, 2.0, 9, dtype=torch.float64)
    options = {"step_size": 1e-3 if method == "euler" else 1e-2} if method in FIXED else None
    tight = 1e-8 if method == "bosh3" else 1e-10  # (bosh3 needs many steps below)
    out = odeint(rotation, y0, t, method=method, rtol=tight, atol=tight, options=options)
    assert out.shape == (9, 2, 2) and out.dtype == torch.float64
    # bosh3: torchdiffeq's quartic dense output through the second-order midpoint value
    tol = {"euler": 1e-2, "midpoint": 1e-3, "heun": 1e-3, "bosh3": 2e-5}.get(method, 1e-8)
    torch.testing.assert_close(out, rotation_exact(y0, t), rtol=0, atol=tol)
    assert torch.equal(out[0], y0)


@pytest.mark.parametrize("method", ["dopri5", "bosh3"])
def test_matches_torchdiffeq_at_tight_tolerance(method):
    torchdiffeq = pytest.importorskip("torchdiffeq")
    func = Mlp()
    y0 = torch.tensor([[1.5, 0.2], [-0.5, 1.0], [0.1, 0.1]], dtype=torch.float64)
    t = torch.linspace(0.0, 3.0, 20, dtype=torch.float64)
    with torch.no_grad():
        tight = 1e-8 if method == "bosh3" else 1e-11
        ours = odeint(func, y0, t, method=method, rtol=tight, atol=tight)
        theirs = torchdiffeq.odeint(func, y0, t, method=method, rtol=tight, atol=tight)
    tol = 1e-5 if method == "bosh3" else 1e-9  # (bosh3: a third-order method)
    torch.testing.assert_close(ours, theirs, rtol=tol, atol=tol)


def test_batch_dimensions_and_coupling_are_one_system():
    torchdiffeq = pytest.importorskip("torchdiffeq")

    def coupled(t, y):  # every batch element feels the mean of all: not separable
        return -y + y.mean(dim=(0, 1), keepdim=True) * torch.sin(t)

    y0 = torch.randn(3, 4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    t = torch.tensor([0.0, 0.5, 1.5, 2.0], dtype=torch.float64)
    out = odeint(coupled, y0, t, rtol=1e-11, atol=1e-12)
    assert out.shape == (4, 3, 4, 2)
    reference = torchdiffeq.odeint(coupled, y0, t, rtol=1e-11, atol=1e-12)
    torch.testing.assert_close(out, reference, rtol=1e-8, atol=1e-9)


def test_func_gets_a_scalar_tensor_time_and_the_batch_shape():
    seen = []

    def func(t, y):
        seen.append((t.shape, t.dtype, y.shape))
        return -y

    odeint(func, torch.ones(5, 3), torch.tensor([0.0, 1.0]))
    assert set(seen) == {(torch.Size([]), torch.float32, torch.Size([5, 3]))}


def test_decreasing_times_integrate_backwards():
    y0 = torch.tensor([1.0, 0.0], dtype=torch.float64)
    t = torch.linspace(2.0, -1.0, 7, dtype=torch.float64)
    out = odeint(rotation, y0, t, rtol=1e-10, atol=1e-12)
    exact = rotation_exact(y0, t - 2.0)
    torch.testing.assert_close(out, exact, rtol=0, atol=1e-8)


def test_float32_stays_float32_and_accurate():
    y0 = torch.tensor([[1.0, 0.0]])
    t = torch.linspace(0.0, 5.0, 11)
    out = odeint(rotation, y0, t)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, rotation_exact(y0.double(), t.double()).float(),
                               rtol=0, atol=1e-5)


def test_exponential_growth_closed_form():
    y0 = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    t = torch.tensor([0.0, 0.1, 1.0, 3.0], dtype=torch.float64)
    out = odeint(lambda t, y: 0.7 * y, y0, t, method="dop853", rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out, y0 * torch.exp(0.7 * t)[:, None], rtol=1e-10, atol=0)


def test_time_dependent_right_hand_side():
    # dy/dt = cos(t): y = y0 + sin(t), also starting away from 0
    t = torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64)
    out = odeint(lambda t, y: torch.cos(t).expand_as(y), torch.zeros(1, dtype=torch.float64), t,
                 rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(out[:, 0], torch.sin(t) - math.sin(1.0), rtol=0, atol=1e-9)


def test_fixed_step_defaults_to_one_step_per_interval():
    calls = []

    def func(t, y):
        calls.append(float(t))
        return -y

    t = torch.linspace(0.0, 1.0, 5, dtype=torch.float64)
    odeint(func, torch.ones(2, dtype=torch.float64), t, method="euler")
    assert calls == pytest.approx([0.0, 0.25, 0.5, 0.75])  # as torchdiffeq: one per step


def test_fixed_step_size_option_lands_on_output_times():
    t = torch.tensor([0.0, 0.33, 1.0], dtype=torch.float64)
    out = odeint(lambda t, y: -y, torch.ones(1, dtype=torch.float64), t, method="rk4",
                 options={"step_size": 0.01})
    torch.testing.assert_close(out[:, 0], torch.exp(-t), rtol=1e-9, atol=0)


def test_a_single_output_time_returns_y0():
    y0 = torch.ones(2, 3)
    out = odeint(lambda t, y: y, y0, torch.tensor([0.5]))
    assert out.shape == (1, 2, 3) and torch.equal(out[0], y0)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"options": {"stepsize": 0.1}}, "unknown options 'stepsize'; known: step_size"),
    ({"options": {"max_num_steps": 0}}, "max_steps must be a whole number >= 1"),
    ({"options": {"first_step": -1.0}}, "first_step must be a positive number"),
    ({"rtol": -1.0}, "rtol must be finite and >= 0"),
    ({"options": [("step_size", 1)]}, "options must be a dict"),
    ({"adjoint_params": ()}, "adjoint_params, adjoint_method and adjoint_options need "
                             "adjoint=True"),
])
def test_bad_options_raise_input_errors(kwargs, message):
    with pytest.raises(InputError) as info:
        odeint(rotation, torch.ones(2), torch.tensor([0.0, 1.0]), **kwargs)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_unknown_method_names_the_available_ones():
    with pytest.raises(UnknownNameError, match="dopri5"):
        odeint(rotation, torch.ones(2), torch.tensor([0.0, 1.0]), method="dopri")


@pytest.mark.parametrize(("y0", "t", "message"), [
    (torch.ones(2, dtype=torch.int64), torch.tensor([0.0, 1.0]), "y0 must be a floating-point"),
    ([1.0, 2.0], torch.tensor([0.0, 1.0]), "y0 must be a torch tensor"),
    (torch.ones(2), torch.tensor([0.0, 1.0, 0.5]), "strictly increasing or strictly decr"),
    (torch.ones(2), torch.ones(2, 2), "t must be a 1-D tensor"),
    (torch.ones(2), torch.tensor([0.0, math.inf]), "t must hold finite times"),
])
def test_bad_inputs_raise_input_errors(y0, t, message):
    with pytest.raises(InputError, match=message):
        odeint(rotation, y0, t)


def test_wrong_output_shape_of_func_is_reported():
    with pytest.raises(InputError, match=r"func returned \(3,\) for y of shape \(2,\)"):
        odeint(lambda t, y: torch.ones(3), torch.ones(2), torch.tensor([0.0, 1.0]))


@pytest.mark.parametrize(("func", "options", "message"), [
    (lambda t, y: y**2, None, "blow-up"),  # y = 1 / (1 - t): infinite at t = 1
    (lambda t, y: y * float("nan"), None, "not finite at t0"),
    (lambda t, y: -y, {"max_num_steps": 3}, "reached max_num_steps = 3"),
])
def test_failures_raise_one_line_integration_errors(func, options, message):
    with pytest.raises(IntegrationError) as info:
        odeint(func, torch.ones(1, dtype=torch.float64),
               torch.tensor([0.0, 2.0], dtype=torch.float64), options=options)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert isinstance(info.value, dynsim.DynsimError)


def test_fixed_step_blow_up_is_reported():
    with pytest.raises(IntegrationError, match="non-finite between t"):
        odeint(lambda t, y: y**2, torch.ones(1, dtype=torch.float64),
               torch.tensor([0.0, 3.0], dtype=torch.float64), method="euler",
               options={"step_size": 0.1})


def finite_difference(loss, x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    grad = torch.zeros_like(x)
    flat = x.detach().reshape(-1)
    for i in range(flat.numel()):
        plus, minus = flat.clone(), flat.clone()
        plus[i] += eps
        minus[i] -= eps
        grad.reshape(-1)[i] = (loss(plus.reshape(x.shape)) - loss(minus.reshape(x.shape))) / (
            2 * eps)
    return grad


def test_backprop_gradient_of_y0_matches_finite_differences():
    func = Mlp()
    t = torch.linspace(0.0, 1.0, 5, dtype=torch.float64)
    target = torch.linspace(-1, 1, 5 * 3 * 2, dtype=torch.float64).reshape(5, 3, 2)

    def loss(y0):
        return ((odeint(func, y0, t, rtol=1e-12, atol=1e-12) - target) ** 2).sum()

    y0 = torch.tensor([[1.0, 0.5], [-0.3, 0.8], [0.2, -1.1]], dtype=torch.float64,
                      requires_grad=True)
    loss(y0).backward()
    with torch.no_grad():
        expected = finite_difference(loss, y0)
    torch.testing.assert_close(y0.grad, expected, rtol=1e-5, atol=1e-7)


def test_backprop_gradient_of_parameters_matches_finite_differences():
    func = Mlp(hidden=3)
    y0 = torch.tensor([[1.0, 0.5], [-0.3, 0.8]], dtype=torch.float64)
    t = torch.linspace(0.0, 1.0, 4, dtype=torch.float64)
    weight = func.net[0].weight

    def loss(w):
        with torch.no_grad():
            weight.copy_(w)
        return odeint(func, y0, t, rtol=1e-12, atol=1e-12).pow(2).sum()

    w0 = weight.detach().clone()
    loss(w0).backward()
    analytic = weight.grad.clone()
    with torch.no_grad():
        expected = finite_difference(loss, w0)
    torch.testing.assert_close(analytic, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_tensors_stay_on_the_device():
    y0 = torch.tensor([[1.0, 0.0]], device="cuda", dtype=torch.float64, requires_grad=True)
    t = torch.linspace(0.0, 1.0, 3, device="cuda", dtype=torch.float64)
    out = odeint(rotation, y0, t, rtol=1e-10, atol=1e-12)
    assert out.device == y0.device
    out.sum().backward()
    assert y0.grad.device == y0.device


@pytest.mark.parametrize("error", [0.0, 1e-9, 0.3, 1.0, 2.5, 1e12, math.inf, math.nan])
@pytest.mark.parametrize("capped", [False, True])
def test_step_factor_is_the_numerics_i_controller(error, capped):
    """The stepper's host-float controller is `PIController` with gains 1 and 0."""
    np = pytest.importorskip("numpy")
    from dynsim.learn.stepper import step_factor
    from dynsim.numerics import controller as ctl

    order = 4
    rows = np.zeros(1, dtype=np.int64)
    none = np.zeros(0, dtype=np.int64)
    for rejected in (rows, none):
        expected, _ = ctl.PIController(order, beta1=1.0, beta2=0.0).factors(
            np.array([error]), ctl.PIController.initial_memory(1), rejected,
            rows if capped else none)
        got = step_factor(error, 1.0 / (order + 1), capped)
        assert got == pytest.approx(float(expected[0]), rel=1e-12)


@pytest.mark.parametrize("method", [m for m in explicit_methods()
                                    if dynsim.solvers()[m].adaptive])
def test_dense_output_rows_are_the_methods_interpolant(method):
    """The stepper's Bernstein rows give the same interpolant as `stage_weights`."""
    np = pytest.importorskip("numpy")
    from dynsim.learn.options import settings
    from dynsim.learn.rk_method import Method
    from dynsim.numerics.dense import stage_weights

    s = settings(method, 1e-6, 1e-9, None)
    m = Method(s, torch.zeros(1, dtype=torch.float64))
    rows = m._columns.numpy().T[m.dense_row:m.error_row]  # (P, J)
    theta = np.array([0.0, 0.1, 0.37, 0.5, 0.99, 1.0])
    expected = stage_weights(m.dense, theta).T  # (m, J)
    if s.spec.mid is None:  # the tableau's own interpolant
        np.testing.assert_array_equal(m.dense, s.tableau.matrices.dense)
    got = np.array([m.bernstein(th) for th in theta]) @ rows
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-13)


@pytest.mark.parametrize("method", ["dopri5", "dop853", "bosh3"])
@pytest.mark.parametrize("adjoint", [False, True])
def test_host_and_device_step_control_agree(method, adjoint, monkeypatch):
    """CPU states are controlled through numpy views, other devices with torch operations:
    both paths choose the same steps (the torch one is checked here on the CPU)."""
    from dynsim.learn import stepper

    func = Mlp()
    y0 = torch.tensor([[1.5, 0.2], [-0.5, 1.0]], dtype=torch.float64, requires_grad=True)
    t = torch.linspace(0.0, 2.0, 6, dtype=torch.float64)

    def solve():
        func.zero_grad()
        out = odeint(func, y0, t, method=method, rtol=1e-8, atol=1e-9, adjoint=adjoint)
        grads = torch.autograd.grad(out.pow(2).sum(), [y0, *func.parameters()])
        return out.detach(), grads

    host = solve()
    monkeypatch.setattr(stepper, "on_host", lambda y0: False)
    device = solve()
    torch.testing.assert_close(device[0], host[0], rtol=1e-12, atol=1e-13)
    for a, b in zip(device[1], host[1], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
