"""The same engine on torch tensors: equal to numpy, float32, autograd, devices."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from dynsim.builtin_plugins.solvers import explicit_rk  # noqa: E402

import dynsim  # noqa: E402
from dynsim.numerics import integrate  # noqa: E402

TABLEAUS = {t.name: t for t, _ in explicit_rk.SOLVERS}
Y0 = np.array([[1.0, 1.0, 1.0], [-5.0, 3.0, 20.0], [2.0, -1.0, 10.0]])
T_EVAL = np.linspace(0.0, 1.0, 11)


def lorenz_torch(t, y):
    x, v, z = y[..., 0], y[..., 1], y[..., 2]
    return torch.stack([10 * (v - x), x * (28 - z) - v, x * v - 8 / 3 * z], dim=-1)


def lorenz_numpy(t, y):
    system = dynsim.system("lorenz")
    return system.rhs(t, y, system.parameter_values())


@pytest.mark.parametrize("name", sorted(TABLEAUS))
@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "autograd"])
def test_torch_float64_matches_numpy(name, grad):
    tol = 1e-7 if name == "bosh3" else 1e-10  # (bosh3 needs 10^4 steps at 1e-10)
    reference = integrate(lorenz_numpy, Y0, T_EVAL, TABLEAUS[name], rtol=tol, atol=tol)
    y0 = torch.tensor(Y0, requires_grad=grad)
    with torch.set_grad_enabled(grad):
        sol = integrate(lorenz_torch, y0, T_EVAL, TABLEAUS[name], rtol=tol, atol=tol)
    assert isinstance(sol.y, torch.Tensor) and sol.y.dtype == torch.float64
    assert sol.y.requires_grad == grad
    np.testing.assert_allclose(sol.y.detach().numpy(), reference.y, rtol=1e-10, atol=1e-10)
    for key in ("accepted", "rejected", "rhs_evaluations"):
        np.testing.assert_array_equal(sol.stats[key], reference.stats[key])


def test_float32_keeps_its_dtype_and_passes_time_as_a_tensor():
    seen = []

    def rhs(t, y):
        seen.append((t.dtype, t.shape, y.dtype))
        return lorenz_torch(t, y)

    y0 = torch.tensor(Y0, dtype=torch.float32)
    sol = integrate(rhs, y0, torch.linspace(0, 1, 11), TABLEAUS["dopri5"], rtol=1e-5,
                    atol=1e-6)
    assert sol.y.dtype == torch.float32 and all(s == "success" for s in sol.status)
    assert {(d, y) for d, _, y in seen} == {(torch.float32, torch.float32)}
    assert all(len(shape) == 1 for _, shape, _ in seen)
    reference = integrate(lorenz_numpy, Y0, T_EVAL, TABLEAUS["dopri5"], rtol=1e-10,
                          atol=1e-10)
    error = np.abs(sol.y.double().numpy() - reference.y) / (1 + np.abs(reference.y))
    assert error.max() < 1e-3


def test_gradients_of_fixed_step_rk4_equal_finite_differences():
    """The gradient of the discrete map w.r.t. y0 and a parameter, checked numerically."""
    rho = torch.tensor(28.0, dtype=torch.float64, requires_grad=True)

    def rhs(t, y, r=rho):
        x, v, z = y[..., 0], y[..., 1], y[..., 2]
        return torch.stack([10 * (v - x), x * (r - z) - v, x * v - 8 / 3 * z], dim=-1)

    def final(y0, r):
        return integrate(lambda t, y: rhs(t, y, r), y0, [0.0, 0.5], TABLEAUS["rk4"],
                         dt=0.01).y[0, -1]

    y0 = torch.tensor(Y0[:1], requires_grad=True)
    out = final(y0, rho)
    grad_y0, grad_rho = torch.autograd.grad(out[0], (y0, rho))
    eps = 1e-6
    with torch.no_grad():
        for j in range(3):
            shift = torch.zeros_like(y0)
            shift[0, j] = eps
            fd = (final(y0 + shift, rho)[0] - final(y0 - shift, rho)[0]) / (2 * eps)
            assert abs(fd.item() - grad_y0[0, j].item()) < 1e-6 * (1 + abs(fd.item()))
        fd = (final(y0, rho + eps)[0] - final(y0, rho - eps)[0]) / (2 * eps)
    assert abs(fd.item() - grad_rho.item()) < 1e-6 * (1 + abs(fd.item()))


@pytest.mark.parametrize("name", ["dopri5", "tsit5", "dop853", "bosh3"])
def test_adaptive_gradients_match_the_exact_sensitivities(name):
    """y' = a y: dy(T)/dy0 = exp(aT), dy(T)/da = T y0 exp(aT), through dense outputs too."""
    a = torch.tensor(-0.7, dtype=torch.float64, requires_grad=True)
    y0 = torch.tensor([[1.5], [-0.5]], dtype=torch.float64, requires_grad=True)
    t_eval = [0.0, 0.35, 1.0, 2.0]  # 0.35 and 1.0 fall inside steps
    tol = 1e-9 if name == "bosh3" else 1e-11
    sol = integrate(lambda t, y: a * y, y0, t_eval, TABLEAUS[name], rtol=tol, atol=tol)
    for k, t in enumerate(t_eval[1:], start=1):
        grad_y0, grad_a = torch.autograd.grad(sol.y[:, k, 0].sum(), (y0, a),
                                              retain_graph=True)
        growth = np.exp(-0.7 * t)
        np.testing.assert_allclose(grad_y0.numpy()[:, 0], growth, rtol=1e-6)
        np.testing.assert_allclose(grad_a.item(), t * (1.5 - 0.5) * growth, rtol=1e-5)


def test_events_work_on_tensors():
    box = dynsim.leave_box(-30.0, 30.0)
    y0 = torch.tensor([[1.0, 0.5], [0.1, 0.0]], dtype=torch.float64)
    sol = integrate(lambda t, y: y, y0, torch.linspace(0, 5, 6, dtype=torch.float64),
                    TABLEAUS["dopri5"], rtol=1e-10, atol=1e-12, events=[box])
    assert [str(s) for s in sol.status] == ["event", "success"]
    times, states = sol.events["left_box"][0]
    np.testing.assert_allclose(times, [np.log(30.0)], atol=1e-9)
    assert isinstance(states, torch.Tensor) and states.shape == (1, 2)


def test_failures_are_reported_on_torch_too():
    def rhs(t, y):
        if torch.any(y[:, 0] > 5):
            raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")
        return -y

    sol = integrate(rhs, torch.tensor([[1.0], [9.0]], dtype=torch.float64), T_EVAL,
                    TABLEAUS["dopri5"])
    assert [str(s) for s in sol.status] == ["success", "rhs_error"]
    assert torch.isnan(sol.y[1, 1:]).all() and not torch.isnan(sol.y[0]).any()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_cuda_inputs_stay_on_the_gpu():
    y0 = torch.tensor(Y0, device="cuda")
    devices = set()

    def rhs(t, y):
        devices.add((t.device.type, y.device.type))
        return lorenz_torch(t, y)

    sol = integrate(rhs, y0, T_EVAL, TABLEAUS["dopri5"], rtol=1e-8, atol=1e-8)
    assert sol.y.device.type == "cuda" and devices == {("cuda", "cuda")}
    reference = integrate(lorenz_numpy, Y0, T_EVAL, TABLEAUS["dopri5"], rtol=1e-8,
                          atol=1e-8)
    np.testing.assert_allclose(sol.y.cpu().numpy(), reference.y, rtol=1e-8, atol=1e-8)
