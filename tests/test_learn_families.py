"""Model families: registered through dynsim_register_models, built into torch fields."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

import dynsim
from dynsim.core.errors import InputError

DOCS = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"
DIMS = dynsim.ModelDims(("q", "p"), (0.0, 0.0), (1.0, 1.0), (1.0, 1.0))


def test_the_four_builtin_families_are_registered():
    assert set(dynsim.models()) >= {"mlp", "hamiltonian", "augmented", "hybrid"}
    assert dynsim.models()["mlp"].defaults()["width"] == 64


def test_unknown_and_mistyped_options_name_the_known_ones():
    mlp = dynsim.models()["mlp"]
    with pytest.raises(InputError, match=r"unknown option 'widht'.*did you mean 'width'"):
        mlp.make_config({"widht": 3})
    with pytest.raises(InputError, match=r"option 'depth' .* must be int"):
        mlp.make_config({"depth": "two"})
    assert mlp.make_config({"depth": 3.0}).depth == 3


def test_hamiltonian_field_is_j_grad_h_and_needs_even_dimension():
    family = dynsim.models()["hamiltonian"]
    field = family.build(family.make_config(), DIMS).double()
    y = torch.randn(5, 2, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(field.energy(y).sum(), y)
    f = field(torch.tensor(0.0), y)
    torch.testing.assert_close(f, field.strength * torch.stack([grad[:, 1], -grad[:, 0]], -1))
    assert torch.allclose((f * grad).sum(-1), torch.zeros(5, dtype=torch.float64), atol=1e-12)
    odd = dynsim.ModelDims(("a", "b", "c"), (0, 0, 0), (1, 1, 1), (1, 1, 1))
    with pytest.raises(InputError, match="even number of states"):
        family.build(family.make_config(), odd)


def test_hybrid_starts_as_the_known_system_with_its_gradients():
    family = dynsim.models()["hybrid"]
    dims = dynsim.ModelDims(("x", "y"), (1.0, 1.0), (1.0, 1.0), (1.0, 1.0))
    field = family.build(family.make_config({"system": "lotka_volterra", "learn_params": True}),
                         dims).double()
    y = torch.tensor([[2.0, 1.0]], dtype=torch.float64, requires_grad=True)
    out = field(torch.tensor(0.0), y)
    torch.testing.assert_close(out, torch.tensor([[1.0, 0.5]], dtype=torch.float64))
    out[0, 0].backward()  # d(alpha x - beta x y)/d(x, y) = (alpha - beta y, -beta x)
    torch.testing.assert_close(y.grad, torch.tensor([[0.5, -2.0]], dtype=torch.float64))
    names = field.known.names
    grad_p = dict(zip(names, field.known.values.grad.tolist(), strict=True))
    assert grad_p["alpha"] == pytest.approx(2.0, rel=1e-6)
    assert grad_p["beta"] == pytest.approx(-2.0, rel=1e-6)
    with pytest.raises(InputError, match="needs its known part"):
        family.build(family.make_config(), dims)


def test_the_third_party_family_of_the_docs_loads(tmp_path, with_plugins):
    text = DOCS.read_text()
    code = re.search(r"A third-party family in one file.*?```python\n(.*?)```", text, re.S)[1]
    (tmp_path / "linear_field.py").write_text(code)
    plugins = dynsim.load_plugins([tmp_path], entry_points=False, environment=False)
    assert not plugins.failures()
    family = dynsim.models()["linear_field"]
    field = family.build(family.make_config(), DIMS)
    assert field(torch.tensor(0.0), torch.ones(4, 2)).shape == (4, 2)


def test_hybrid_fits_move_the_known_systems_parameters_towards_the_data():
    from dynsim.learn import TrajectoryData, fit

    data = TrajectoryData.sample("lotka_volterra", n=6, points=31, t_span=(0, 3), seed=0)
    result = fit(data, family="hybrid", epochs=1, batches_per_epoch=3, window=2, batch=16,
                 model={"system": "lotka_volterra", "params": {"alpha": 1.0},
                        "learn_params": True, "width": 4, "depth": 1})
    learned = result.model.known.parameter_values()
    assert 1.0 < learned["alpha"] < 1.5  # the data has alpha = 1.5
    assert result.document()["params"] == learned


@pytest.mark.parametrize("name", ["lotka_volterra", "lorenz", "cubic_spiral", "hopf",
                                  "pendulum", "duffing", "sir", "rossler"])
def test_builtin_known_systems_are_differentiated_by_autograd(name):
    from dynsim.learn.nets import KnownField

    system = dynsim.system(name)
    known = KnownField(system, {}, learn=True)
    assert known.native  # no finite-difference bridge
    rng = np.random.default_rng(1)
    y_np = rng.uniform(0.5, 2.0, (4, system.dimension))
    g_np = rng.standard_normal(y_np.shape)
    t = torch.tensor(0.7, dtype=torch.float64)
    y = torch.tensor(y_np, requires_grad=True)
    out = known(t, y)
    p = known.parameter_values()
    np.testing.assert_allclose(out.detach().numpy(), system.rhs(0.7, y_np, p), rtol=1e-14)
    (out * torch.tensor(g_np)).sum().backward()
    # reference: the plugin's hand-written Jacobian, and central differences in the params
    jac = np.broadcast_to(system.jacobian(0.7, y_np, p), (*y_np.shape, system.dimension))
    np.testing.assert_allclose(y.grad.numpy(), np.einsum("bi,bij->bj", g_np, jac), rtol=1e-12,
                               atol=1e-12)
    for name_p, grad in zip(known.names, known.values.grad.tolist(), strict=True):
        h = 1e-6 * max(1.0, abs(p[name_p]))
        up = system.rhs(0.7, y_np, {**p, name_p: p[name_p] + h})
        down = system.rhs(0.7, y_np, {**p, name_p: p[name_p] - h})
        assert grad == pytest.approx(np.sum(g_np * (up - down)) / (2 * h), rel=1e-6, abs=1e-8)


def test_a_numpy_only_known_system_goes_through_the_bridge_with_the_same_gradient():
    from dynsim.learn.nets import KnownField

    def rhs(t, y, p):  # numpy only: np.stack cannot take tensors that require grad
        return np.stack([p["a"] * y[..., 1], -np.sin(y[..., 0])], axis=-1)

    system = dynsim.System(name="numpy_pendulum", states=["x", "y"],
                           params={"a": dynsim.Param(1.5)}, rhs=rhs)
    known = KnownField(system, {}, learn=True)
    assert not known.native
    y = torch.tensor([[0.3, -1.2], [1.1, 0.4]], dtype=torch.float64, requires_grad=True)
    g = torch.tensor([[0.5, 2.0], [-1.0, 0.25]], dtype=torch.float64)
    (known(torch.tensor(0.0), y) * g).sum().backward()
    # closed form: d/dx = -cos(x) g_y, d/dy = a g_x, d/da = sum(y g_x)
    expected = torch.stack([-torch.cos(y[:, 0]) * g[:, 1], 1.5 * g[:, 0]], -1).detach()
    torch.testing.assert_close(y.grad, expected, rtol=1e-6, atol=1e-8)
    assert known.values.grad.item() == pytest.approx(float((y[:, 1] * g[:, 0]).sum().detach()),
                                                     rel=1e-6)
