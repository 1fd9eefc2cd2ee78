"""rtol/atol as torchdiffeq takes them: numbers, per-element tensors broadcast against the
state, per-part tuples for tuple states; in backprop, the adjoint (adjoint_rtol/atol) and
the methods that ignore or use them. torchdiffeq is the reference."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torchdiffeq = pytest.importorskip("torchdiffeq")

import dynsim.learn as ours  # noqa: E402
from dynsim.core.errors import InputError  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")

F64 = torch.float64


class Field(torch.nn.Module):
    """A nonlinear field with parameters whose components differ in scale (so per-element
    tolerances change the steps); counts its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(0.8, dtype=F64))
        self.calls = 0

    def forward(self, t, y):
        self.calls += 1
        scale = torch.arange(1, y.shape[-1] + 1, dtype=F64)
        return self.a * torch.sin(scale * y) * scale - 0.2 * y + 0.1 * torch.cos(t)


class TupleField(Field):
    """A field on a tuple (x (2,), v (2, 2)), coupled."""

    def forward(self, t, y):
        self.calls += 1
        x, v = y
        return (v.sum(0) * self.a, -torch.sin(x)[None].expand(2, 2) * 3.0 - 0.1 * v)


def run(lib, func, y0, t, **kwargs):
    """(solution, calls) of lib.odeint."""
    func.calls = 0
    return lib.odeint(func, y0, t, **kwargs), func.calls


T = torch.linspace(0.0, 3.0, 13, dtype=F64)


@pytest.mark.parametrize(("rtol", "atol"), [
    (torch.tensor([1e-4, 1e-8, 1e-6], dtype=F64), 1e-9),       # (D,) against (B, D)
    (1e-6, torch.tensor([[1e-3], [1e-10]], dtype=F64)),       # (B, 1) against (B, D)
    (torch.full((2, 3), 1e-6, dtype=F64), torch.tensor(1e-8)),  # full shape, uniform
    ([1e-5, 1e-7, 1e-9], 1e-9),                                # a list, as torch.as_tensor
])
@pytest.mark.parametrize("method", ["dopri5", "bosh3"])
def test_per_element_tolerances_take_torchdiffeqs_steps(rtol, atol, method):
    y0 = torch.tensor([[0.5, -1.0, 0.3], [2.0, 0.1, -0.7]], dtype=F64)
    with torch.no_grad():
        (a, na), (b, nb) = (run(lib, Field(), y0, T, method=method, rtol=rtol, atol=atol)
                            for lib in (ours, torchdiffeq))
    assert na == nb
    torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_per_element_tolerances_change_the_steps():
    """A tolerance looser on the fast component takes fewer steps, as torchdiffeq."""
    y0 = torch.tensor([0.5, -1.0, 0.3], dtype=F64)
    calls = {}
    for label, rtol in (("uniform", 1e-8), ("loose", torch.tensor([1e-8, 1e-8, 1e-3]))):
        with torch.no_grad():
            (_, calls[label]), (_, theirs) = (run(lib, Field(), y0, T, rtol=rtol, atol=1e-10)
                                              for lib in (ours, torchdiffeq))
        assert calls[label] == theirs
    assert calls["loose"] < calls["uniform"]


@pytest.mark.parametrize(("rtol", "atol"), [
    ((1e-4, 1e-8), 1e-9),                                         # one number per part
    ((1e-6, torch.tensor([1e-3, 1e-5, 1e-7, 1e-9])), (1e-8, 1e-10)),  # a part per element
    (torch.tensor([1e-5, 1e-8], dtype=F64), 1e-9),                # a 1-D tensor per part
    (1e-6, 1e-9),
])
def test_per_part_tolerances_of_tuple_states(rtol, atol):
    y0 = (torch.tensor([0.3, -0.2], dtype=F64), torch.tensor([[1.0, 0.5], [-0.4, 0.2]],
                                                            dtype=F64))
    with torch.no_grad():
        (a, na), (b, nb) = (run(lib, TupleField(), y0, T, rtol=rtol, atol=atol)
                            for lib in (ours, torchdiffeq))
    assert na == nb
    for part_a, part_b in zip(a, b, strict=True):
        torch.testing.assert_close(part_a, part_b, rtol=1e-10, atol=1e-10)


def test_per_element_tolerances_in_backprop_match_torchdiffeq():
    y0 = torch.tensor([0.5, -1.0, 0.3], dtype=F64)
    rtol, atol = torch.tensor([1e-9, 1e-7, 1e-8]), torch.tensor([1e-11, 1e-9, 1e-10])
    grads = []
    for lib in (ours, torchdiffeq):
        func, start = Field(), y0.clone().requires_grad_(True)
        lib.odeint(func, start, T, rtol=rtol, atol=atol).square().sum().backward()
        grads.append((start.grad, func.a.grad))
    for ours_grad, their_grad in zip(*grads, strict=True):
        torch.testing.assert_close(ours_grad, their_grad, rtol=1e-6, atol=1e-8)


def test_adjoint_with_per_element_and_per_part_adjoint_tolerances():
    """Per-element forward tolerances carry over to the adjoint pass (y and a; t_a and the
    parameters take the smallest); adjoint_rtol/atol per part of (t_a, y, a, *params) as in
    torchdiffeq. The gradients agree with backprop's and torchdiffeq's adjoint."""
    y0 = torch.tensor([0.5, -1.0, 0.3], dtype=F64)
    rtol = torch.tensor([1e-10, 1e-9, 1e-10], dtype=F64)

    def gradients(lib, adjoint=False, **kwargs):
        func, start = Field(), y0.clone().requires_grad_(True)
        call = lib.odeint_adjoint if adjoint else lib.odeint
        call(func, start, T, **kwargs).square().sum().backward()
        return start.grad, func.a.grad

    reference = gradients(ours, rtol=rtol, atol=1e-12)
    carried = gradients(ours, rtol=rtol, atol=1e-12, adjoint=True)
    per_part = (1e-10, 1e-10, torch.tensor([1e-10, 1e-9, 1e-10]), 1e-10)
    kwargs = dict(rtol=1e-10, atol=1e-12, adjoint_rtol=per_part, adjoint_atol=1e-12,
                  adjoint=True)
    given, theirs = gradients(ours, **kwargs), gradients(torchdiffeq, **kwargs)
    for got in (carried, given, theirs):
        for a, b in zip(got, reference, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-8)
    for a, b in zip(given, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-7, atol=1e-9)


def test_adjoint_tolerances_of_the_forward_shape_apply_to_y_and_a():
    from dynsim.learn.odeint import _adjoint_tolerance
    from dynsim.learn.state import State

    state = State(torch.zeros(2, 2, dtype=F64))
    params = (torch.zeros(3), torch.zeros(1, 2))
    got = _adjoint_tolerance("adjoint_rtol", torch.tensor([1e-6, 1e-8], dtype=F64), 1e-7,
                             state, params)
    expected = [1e-8] + [1e-6, 1e-8] * 4 + [1e-8] * 5
    assert got.tolist() == pytest.approx(expected, rel=0, abs=0)
    per_part = _adjoint_tolerance("adjoint_rtol", (1.0, 2.0, 3.0, 4.0, 5.0), 1e-7, state,
                                  params)
    assert per_part.tolist() == [1.0] + [2.0] * 4 + [3.0] * 4 + [4.0] * 3 + [5.0] * 2
    assert _adjoint_tolerance("adjoint_rtol", None, 1e-7, state, params) == 1e-7


@pytest.mark.parametrize("method", ["euler", "rk4", "midpoint"])
def test_fixed_grid_methods_ignore_tolerances(method):
    y0 = torch.tensor([0.5, -1.0, 0.3], dtype=F64)
    options = {"step_size": 0.05}
    with torch.no_grad():
        plain = ours.odeint(Field(), y0, T, method=method, options=options)
        tensor = ours.odeint(Field(), y0, T, method=method, options=options,
                             rtol=torch.tensor([1e-2, 1e-9, 1e-3]), atol=(1e-3, 1e-4, 1e-5))
        theirs = torchdiffeq.odeint(Field(), y0, T, method=method, options=options,
                                    rtol=torch.tensor([1e-2, 1e-9, 1e-3]))
    assert torch.equal(plain, tensor)
    torch.testing.assert_close(tensor, theirs, rtol=1e-13, atol=1e-13)


def test_implicit_adams_converges_to_per_element_tolerances_as_torchdiffeq():
    y0 = torch.tensor([0.5, -1.0, 0.3], dtype=F64)
    kwargs = dict(method="implicit_adams", options={"step_size": 0.05},
                  rtol=torch.tensor([1e-3, 1e-10, 1e-6]), atol=1e-10)
    with torch.no_grad():
        (a, na), (b, nb) = (run(lib, Field(), y0, T, **kwargs) for lib in (ours, torchdiffeq))
    torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert abs(na - nb) <= 1  # (torchdiffeq's start makes one call more, see docs)


def test_scipy_solver_takes_per_element_tolerances():
    scipy_integrate = pytest.importorskip("scipy.integrate")
    y0 = torch.tensor([0.5, -1.0, 0.3], dtype=F64)
    rtol, atol = torch.tensor([1e-3, 1e-9, 1e-6]), torch.tensor([1e-5, 1e-11, 1e-8])
    with torch.no_grad():
        got = ours.odeint(Field(), y0, T, method="scipy_solver", rtol=rtol, atol=atol,
                          options={"solver": "RK45"})
    func = Field()
    sol = scipy_integrate.solve_ivp(
        lambda s, y: func(torch.tensor(s, dtype=F64), torch.from_numpy(y)).detach().numpy(),
        (0.0, 3.0), y0.numpy(), method="RK45", t_eval=T.numpy(), rtol=rtol.numpy(),
        atol=atol.numpy())
    torch.testing.assert_close(got, torch.from_numpy(sol.y.T), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("y0", "kwargs", "message"), [
    (torch.zeros(2, 3), {"rtol": torch.ones(2)}, r"rtol of shape \(2,\) does not broadcast"),
    (torch.zeros(3), {"atol": torch.ones(2, 3)}, r"atol of shape \(2, 3\) does not broadcast"),
    (torch.zeros(3), {"rtol": torch.tensor([1e-3, float("nan"), 1.0])}, "finite and >= 0"),
    (torch.zeros(3), {"rtol": "tight"}, "must be a number or a tensor"),
    ((torch.zeros(2), torch.zeros(3)), {"rtol": (1e-3, 1e-4, 1e-5)},
     r"one tolerance per part \(2\)"),
    ((torch.zeros(2), torch.zeros(3)), {"atol": (1e-3, torch.ones(2))},
     r"atol\[1\] of shape \(2,\) does not broadcast"),
    (torch.zeros(3), {"rtol": torch.tensor([0.0, 1e-3, 1e-3]), "atol": 0.0},
     "cannot both be zero"),
])
def test_misused_tolerances_raise_clear_errors(y0, kwargs, message):
    with pytest.raises(InputError, match=message):
        ours.odeint(lambda t, y: y, y0,
                    torch.tensor([0.0, 1.0]), **kwargs)
