"""`odeint(..., adjoint=True)`: gradients agree with backprop and finite differences; memory
does not grow with the number of steps."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from dynsim.core.errors import InputError  # noqa: E402
from dynsim.learn import odeint  # noqa: E402
from dynsim.learn.memory import SavedTensorMeter  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TIGHT = {"rtol": 1e-11, "atol": 1e-12}


class Mlp(torch.nn.Module):
    def __init__(self, hidden: int = 6, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.net = torch.nn.Sequential(torch.nn.Linear(2, hidden), torch.nn.Tanh(),
                                       torch.nn.Linear(hidden, 2)).double()

    def forward(self, t, y):
        return self.net(y**3) - 0.2 * y + 0.1 * torch.sin(t)


Y0 = [[1.0, 0.5], [-0.3, 0.8], [0.2, -1.1]]
TARGET = torch.linspace(-1.0, 1.0, 5 * 3 * 2, dtype=torch.float64).reshape(5, 3, 2)


def gradients(adjoint: bool, t: torch.Tensor, method: str = "dopri5", tol: float = 1e-11,
              **kwargs):
    func = Mlp()
    y0 = torch.tensor(Y0, dtype=torch.float64, requires_grad=True)
    t = t.clone().requires_grad_(adjoint)
    out = odeint(func, y0, t, method=method, adjoint=adjoint, rtol=tol, atol=tol, **kwargs)
    ((out - TARGET[:len(t)]) ** 2).sum().backward()
    return out.detach(), y0.grad, [p.grad for p in func.parameters()], t.grad


@pytest.mark.parametrize("times", [(0.0, 1.5), (1.5, 0.0)], ids=["forward", "backward"])
def test_adjoint_gradients_equal_backprop(times):
    t = torch.linspace(*times, 5, dtype=torch.float64)
    out_b, y0_b, params_b, _ = gradients(False, t)
    out_a, y0_a, params_a, _ = gradients(True, t)
    # the same steps; without autograd the stage sums run in another order (roundoff)
    torch.testing.assert_close(out_a, out_b, rtol=1e-14, atol=1e-15)
    torch.testing.assert_close(y0_a, y0_b, rtol=1e-7, atol=1e-9)
    for a, b in zip(params_a, params_b, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("method", ["tsit5", "dop853", "bosh3"])
def test_adjoint_works_with_other_methods(method):
    t = torch.linspace(0.0, 1.0, 3, dtype=torch.float64)
    tight = 1e-8 if method == "bosh3" else 1e-11  # (bosh3: third order, many steps)
    tol = 1e-4 if method == "bosh3" else 1e-7  # (bosh3: torchdiffeq's rough interpolant)
    _, y0_b, params_b, _ = gradients(False, t, method, tight)
    _, y0_a, params_a, _ = gradients(True, t, method, tight)
    torch.testing.assert_close(y0_a, y0_b, rtol=tol, atol=tol)
    torch.testing.assert_close(params_a[0], params_b[0], rtol=tol, atol=tol)


def test_adjoint_gradients_match_finite_differences():
    t = torch.linspace(0.0, 1.5, 5, dtype=torch.float64)
    _, y0_grad, params_grad, t_grad = gradients(True, t)
    func = Mlp()
    eps = 1e-6

    def loss(y0=None, tt=None):
        y0 = torch.tensor(Y0, dtype=torch.float64) if y0 is None else y0
        out = odeint(func, y0, t if tt is None else tt, **TIGHT)
        return float(((out - TARGET) ** 2).sum())

    with torch.no_grad():
        y0 = torch.tensor(Y0, dtype=torch.float64)
        for i, j in [(0, 0), (1, 1), (2, 0)]:
            plus, minus = y0.clone(), y0.clone()
            plus[i, j] += eps
            minus[i, j] -= eps
            fd = (loss(plus) - loss(minus)) / (2 * eps)
            assert y0_grad[i, j].item() == pytest.approx(fd, rel=1e-5, abs=1e-7)
        weight = func.net[2].weight
        for i, j in [(0, 0), (1, 3)]:
            old = weight[i, j].item()
            weight[i, j] = old + eps
            up = loss()
            weight[i, j] = old - eps
            down = loss()
            weight[i, j] = old
            assert params_grad[2][i, j].item() == pytest.approx((up - down) / (2 * eps),
                                                                rel=1e-5, abs=1e-7)
        for k in (0, 2, 4):  # the first, an inner and the last output time
            plus, minus = t.clone(), t.clone()
            plus[k] += eps
            minus[k] -= eps
            fd = (loss(tt=plus) - loss(tt=minus)) / (2 * eps)
            assert t_grad[k].item() == pytest.approx(fd, rel=1e-5, abs=1e-7)


def test_adjoint_params_for_a_plain_function():
    a = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    y0 = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    t = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
    out = odeint(lambda t, y: -a * y, y0, t, adjoint=True, adjoint_params=(a,), **TIGHT)
    out[-1].sum().backward()
    # y(2) = y0 exp(-2a): d/da sum = -2 sum(y0) exp(-2a), d/dy0 = exp(-2a)
    expected = -2 * 3.0 * torch.exp(-2 * a.detach())
    assert a.grad.item() == pytest.approx(expected.item(), rel=1e-8)
    torch.testing.assert_close(y0.grad, torch.exp(-2 * a.detach()).expand(2), rtol=1e-8,
                               atol=0)


def test_plain_function_without_adjoint_params_is_refused():
    with pytest.raises(InputError, match=r"must be an nn.Module or .* adjoint_params"):
        odeint(lambda t, y: -y, torch.ones(2), torch.tensor([0.0, 1.0]), adjoint=True)


def test_seminorm_and_adjoint_tolerances_are_accepted():
    t = torch.linspace(0.0, 1.0, 3, dtype=torch.float64)
    _, y0_b, _, _ = gradients(False, t)
    _, y0_a, _, _ = gradients(True, t, adjoint_options={"norm": "seminorm"},
                              adjoint_rtol=1e-10, adjoint_atol=1e-12)
    torch.testing.assert_close(y0_a, y0_b, rtol=1e-6, atol=1e-8)
    with pytest.raises(InputError, match="adjoint_options\\['norm'\\] must be 'seminorm'"):
        gradients(True, t, adjoint_options={"norm": "l2"})
    with pytest.raises(InputError, match="unknown options 'nrom'"):
        gradients(True, t, adjoint_options={"nrom": "seminorm"})


def test_float32_adjoint_runs_and_agrees_roughly():
    func = Mlp().float()
    y0 = torch.tensor(Y0, requires_grad=True)
    t = torch.linspace(0.0, 1.0, 4)
    odeint(func, y0, t, adjoint=True).sum().backward()
    grad_a = y0.grad.clone()
    y0.grad = None
    odeint(func, y0, t).sum().backward()
    assert grad_a.dtype == torch.float32
    torch.testing.assert_close(grad_a, y0.grad, rtol=1e-4, atol=1e-5)


def peak_saved(horizon: float, adjoint: bool) -> tuple[int, int]:
    """Peak bytes autograd held, and the right-hand-side calls, for one forward + backward."""
    func = Mlp(hidden=16)
    calls = [0]

    def counted(t, y):
        calls[0] += 1
        return func(t, y)

    y0 = torch.tensor(Y0, dtype=torch.float64, requires_grad=True)
    t = torch.linspace(0.0, horizon, 5, dtype=torch.float64)
    kwargs = {"adjoint_params": tuple(func.parameters())} if adjoint else {}
    with SavedTensorMeter() as meter:
        out = odeint(counted, y0, t, rtol=1e-6, atol=1e-8, adjoint=adjoint, **kwargs)
        out.pow(2).sum().backward()
    return meter.peak_bytes, calls[0]


def test_adjoint_memory_does_not_grow_with_the_number_of_steps():
    short, calls_short = peak_saved(1.0, adjoint=True)
    long, calls_long = peak_saved(10.0, adjoint=True)
    assert calls_long > 4 * calls_short  # many more steps ...
    assert long <= 1.1 * short  # ... in the same memory
    # while backprop keeps every step's graph
    short_b, _ = peak_saved(1.0, adjoint=False)
    long_b, _ = peak_saved(10.0, adjoint=False)
    assert long_b > 3 * short_b


# -- tensors func closes over: never a silently missing gradient ---------------------------

A = [[0.0, 1.0], [-1.0, -0.1]]


class Scaled(torch.nn.Module):
    """b A y with b a parameter and A a tensor from outside."""

    def __init__(self, a: torch.Tensor) -> None:
        super().__init__()
        self.a = a
        self.b = torch.nn.Parameter(torch.tensor(0.7, dtype=torch.float64))

    def forward(self, t, y):
        return self.b * (self.a @ y)


def _closure_case(kind: str, a: torch.Tensor, **kwargs):
    func = Scaled(a) if kind == "module" else (lambda t, y: a @ y)
    y0 = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    t = torch.linspace(0.0, 1.0, 3, dtype=torch.float64)
    odeint(func, y0, t, rtol=1e-10, atol=1e-12, **kwargs).square().sum().backward()
    return y0.grad


@pytest.mark.parametrize("kind", ["module", "function"])
@pytest.mark.parametrize("mode", ["scipy", "adjoint"])
def test_tensors_func_closes_over_warn_or_get_their_gradient(kind, mode):
    """scipy_solver under backprop and the adjoint differentiate the parameters they are
    given (by default those of an nn.Module func); a tensor requiring grad that func
    uses besides is named in a warning, and adjoint_params gives it its gradient, equal
    to backprop's through dopri5."""
    kwargs = {"method": "scipy_solver", "options": {"solver": "DOP853"}} \
        if mode == "scipy" else {"adjoint": True}
    if kind == "function" and mode == "adjoint":
        kwargs["adjoint_params"] = ()  # (required for a plain function: no warning then)
    reference = torch.tensor(A, dtype=torch.float64, requires_grad=True)
    _closure_case(kind, reference)
    a = torch.tensor(A, dtype=torch.float64, requires_grad=True)
    if "adjoint_params" in kwargs:
        _closure_case(kind, a, **kwargs)
    else:
        with pytest.warns(UserWarning, match=r"no gradient for 1 tensor.*\(2, 2\).*"
                                             r"adjoint_params"):
            _closure_case(kind, a, **kwargs)
    assert a.grad is None
    _closure_case(kind, a, **{**kwargs, "adjoint_params": (a,)})
    torch.testing.assert_close(a.grad, reference.grad, rtol=1e-7, atol=1e-9)


def test_no_warning_without_gradients_or_closed_over_tensors():
    import warnings

    a = torch.tensor(A, dtype=torch.float64)  # no grad: nothing is missing
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _closure_case("module", a, method="scipy_solver")
        _closure_case("module", a, adjoint=True)
        with SavedTensorMeter():  # (saved tensors come back as other objects)
            _closure_case("module", a, adjoint=True)
