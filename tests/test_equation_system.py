"""Equation systems: a `System` from typed equations, checked against the hand-written plugins."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dynsim
from dynsim.core.expressions import ExpressionError, equation_system, parse_equations, to_text

LORENZ = {"x": "sigma*(y - x)", "y": "x*(rho - z) - y", "z": "x*y - beta*z"}
LOTKA_VOLTERRA = {"x": "alpha*x - beta*x*y", "y": "delta*x*y - gamma*y"}


def lorenz_equations() -> dynsim.System:
    return equation_system("lorenz_eq", ["x", "y", "z"], LORENZ,
                           {"sigma": 10.0, "rho": 28.0, "beta": 8.0 / 3.0})


def pendulum() -> dynsim.System:
    return equation_system("pendulum", None,
                           {"theta": "omega", "omega": "-g/L*sin(theta) - c*omega"},
                           {"g": 9.81, "L": 1.0, "c": 0.1})


@pytest.fixture
def rng():
    return np.random.default_rng(20240605)


def test_the_issue_example_is_a_system_like_any_other():
    system = pendulum()
    assert isinstance(system, dynsim.System)
    assert system.states == ("theta", "omega")
    assert system.params["g"] == dynsim.Param(9.81)
    assert system.params["g"].min is None and system.params["g"].max is None
    assert system.description == "dtheta/dt = omega; domega/dt = -g/L*sin(theta) - c*omega"
    assert "equations" in system.tags
    p = system.parameter_values({"L": 2.0})
    out = system.rhs(0.0, np.array([0.5, -1.0]), p)
    np.testing.assert_allclose(out, [-1.0, -9.81 / 2 * math.sin(0.5) + 0.1], rtol=1e-15)


@pytest.mark.parametrize(("name", "equations"), [("lorenz", LORENZ),
                                                 ("lotka_volterra", LOTKA_VOLTERRA)])
def test_rhs_and_jacobian_match_the_hand_written_plugin(name, equations, rng):
    plugin = dynsim.system(name)
    system = equation_system(f"{name}_eq", plugin.states, equations, plugin.params)
    y = rng.uniform(-20, 20, size=(500, plugin.dimension))
    p = {k: v * rng.uniform(0.5, 1.5) for k, v in plugin.parameter_values().items()}
    np.testing.assert_allclose(system.rhs(0.0, y, p), plugin.rhs(0.0, y, p), rtol=1e-14)
    np.testing.assert_allclose(system.jacobian(0.0, y, p), plugin.jacobian(0.0, y, p),
                               rtol=1e-14)
    assert system.params == plugin.params


def test_rhs_and_jacobian_work_on_torch_tensors(rng):
    torch = pytest.importorskip("torch")
    plugin, system = dynsim.system("lorenz"), lorenz_equations()
    y = rng.uniform(-20, 20, size=(64, 3))
    p = plugin.parameter_values()
    out = system.rhs(0.0, torch.tensor(y), p)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    np.testing.assert_allclose(out.numpy(), plugin.rhs(0.0, y, p), rtol=1e-14)
    jac = system.jacobian(torch.tensor(0.0), torch.tensor(y), p)
    assert jac.shape == (64, 3, 3)
    np.testing.assert_allclose(jac.numpy(), plugin.jacobian(0.0, y, p), rtol=1e-14)


def test_torch_rhs_follows_the_state_dtype_and_carries_gradients():
    torch = pytest.importorskip("torch")
    system = pendulum()
    y = torch.tensor([[0.3, 0.1], [1.0, -2.0]], dtype=torch.float32, requires_grad=True)
    g = torch.tensor(9.81, dtype=torch.float64, requires_grad=True)
    out = system.rhs(0.0, y, {"g": g, "L": 1.0, "c": 0.1})
    assert out.dtype == torch.float32 and out.shape == (2, 2)
    out[:, 1].sum().backward()
    np.testing.assert_allclose(g.grad.item(), -(math.sin(0.3) + math.sin(1.0)), rtol=1e-6)
    np.testing.assert_allclose(y.grad.numpy(), [[-9.81 * math.cos(0.3), -0.1],
                                                [-9.81 * math.cos(1.0), -0.1]], rtol=1e-6)


@pytest.mark.parametrize("shape", [(3,), (7, 3), (2, 5, 3)])
def test_rhs_is_vectorised_over_leading_axes(shape, rng):
    plugin, system = dynsim.system("lorenz"), lorenz_equations()
    y = rng.normal(size=shape)
    p = plugin.parameter_values()
    assert system.rhs(0.0, y, p).shape == shape
    np.testing.assert_allclose(system.rhs(0.0, y, p), plugin.rhs(0.0, y, p), rtol=1e-14)
    assert system.jacobian(0.0, y, p).shape == (*shape, 3)


def test_y_with_the_wrong_number_of_states_is_an_input_error():
    system = lorenz_equations()
    for y in (np.zeros((5, 4)), np.zeros(2), np.float64(1.0)):
        with pytest.raises(dynsim.DynsimError, match=r"y must have shape \(\.\.\., 3\)"):
            system.rhs(0.0, y, dynsim.system("lorenz").parameter_values())


def test_constant_and_time_dependent_equations_broadcast():
    system = equation_system("forced", None, {"x": "1", "v": "-x + a*cos(t)"}, {"a": 2.0})
    y = np.zeros((4, 2))
    t = np.array([0.0, 0.5, 1.0, 1.5])
    out = system.rhs(t, y, {"a": 2.0})
    np.testing.assert_allclose(out, np.stack([np.ones(4), 2 * np.cos(t)], axis=-1))
    jac = system.jacobian(t, y, {"a": 2.0})
    np.testing.assert_array_equal(jac, np.broadcast_to([[0.0, 0.0], [-1.0, 0.0]], (4, 2, 2)))


def test_numbers_and_params_objects_are_accepted():
    system = equation_system("decay", ["x"], {"x": -1}, {"k": dynsim.Param(1.0, min=0, max=2)})
    assert system.params["k"].max == 2
    np.testing.assert_array_equal(system.rhs(0.0, np.array([[3.0]]), {"k": 1.0}), [[-1.0]])


def test_jacobian_is_exact_for_a_nonlinear_system(rng):
    system = pendulum()
    y = rng.normal(size=(10, 2))
    p = system.parameter_values()
    jac = system.jacobian(0.0, y, p)
    np.testing.assert_allclose(jac[:, 1, 0], -9.81 * np.cos(y[:, 0]), rtol=1e-15)
    np.testing.assert_array_equal(jac[:, 0], np.broadcast_to([0.0, 1.0], (10, 2)))
    np.testing.assert_array_equal(jac[:, 1, 1], -0.1)


def test_simulate_matches_the_plugin_to_1e_12(rng):
    y0 = rng.uniform(-10, 10, size=(50, 3))
    expected = dynsim.simulate("lorenz", y0, (0.0, 1.0), solver="rk4", dt=0.005, points=21)
    got = dynsim.simulate(lorenz_equations(), y0, (0.0, 1.0), solver="rk4", dt=0.005,
                          points=21)
    np.testing.assert_allclose(got.y, expected.y, rtol=1e-12, atol=1e-12)
    assert got.system == "lorenz_eq"


def test_simulate_with_the_default_solver_and_parameters(rng):
    plugin = dynsim.system("lotka_volterra")
    system = equation_system("lv", plugin.states, LOTKA_VOLTERRA, plugin.params)
    y0 = rng.uniform(0.5, 3, size=(5, 2))
    params = {"alpha": 1.2}
    expected = dynsim.simulate(plugin, y0, (0.0, 5.0), params=params, points=11)
    got = dynsim.simulate(system, y0, (0.0, 5.0), params=params, points=11)
    np.testing.assert_allclose(got.y, expected.y, rtol=1e-12, atol=1e-12)


def test_parse_equations_returns_the_trees():
    states, params, trees = parse_equations(None, LOTKA_VOLTERRA,
                                            {"alpha": 1, "beta": 1, "delta": 1, "gamma": 1})
    assert states == ("x", "y")
    assert list(params) == ["alpha", "beta", "delta", "gamma"]
    assert [to_text(tree) for tree in trees] == ["alpha*x - beta*x*y", "delta*x*y - gamma*y"]


# --- errors ----------------------------------------------------------------------------------

def error(states, equations, params, **kwargs) -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        equation_system("s", states, equations, params, **kwargs)
    return info.value


def test_unknown_name_in_an_equation_names_the_key_and_column():
    exc = error(None, {"theta": "omega", "omega": "-g/L*sin(thta) - c*omega"},
                {"g": 9.81, "L": 1.0, "c": 0.1})
    assert str(exc) == ("system.equations.omega: unknown name 'thta' (did you mean 'theta'?)\n"
                        "    -g/L*sin(thta) - c*omega\n"
                        "             ^")


def test_the_key_prefix_can_be_chosen():
    exc = error(None, {"x": "q"}, {}, key="scene.system.equations")
    assert exc.key == "scene.system.equations.x"


def test_equation_for_something_that_is_not_a_state():
    exc = error(["x", "y"], {"x": "y", "yy": "-x"}, {})
    assert exc.key == "system.equations.yy"
    assert "'yy' is not a state (did you mean 'y'?)" in exc.message


def test_missing_equation():
    exc = error(["x", "y"], {"x": "y"}, {})
    assert exc.key == "system.equations.y"
    assert "missing the equation for state 'y'" in exc.message


@pytest.mark.parametrize(("states", "words"), [
    ([], "non-empty list"),
    ("xy", "non-empty list"),
    (["x", "x"], "repeat: x"),
    (["t"], "'t' is the time"),
    (["1x"], "must start with a letter"),
])
def test_bad_states(states, words):
    exc = error(states, {"x": "1"}, {})
    assert exc.key == "system.states"
    assert words in exc.message


def test_bad_state_names_from_the_equation_keys():
    exc = error(None, {"x-1": "1"}, {})
    assert exc.key == "system.equations"
    assert "must start with a letter" in exc.message


@pytest.mark.parametrize(("params", "key", "words"), [
    ({"t": 1.0}, "system.params.t", "'t' is the time"),
    ({"x": 1.0}, "system.params.x", "'x' is already a state"),
    ({"k": "1.0"}, "system.params.k", "expected a finite number"),
    ({"k": True}, "system.params.k", "expected a finite number"),
    ({"k": math.inf}, "system.params.k", "expected a finite number"),
    ({"2k": 1.0}, "system.params.2k", "must start with a letter"),
])
def test_bad_params(params, key, words):
    exc = error(None, {"x": "-x"}, params)
    assert exc.key == key
    assert words in exc.message


def test_equation_must_be_text_or_a_number():
    exc = error(None, {"x": ["-x"]}, {})
    assert exc.key == "system.equations.x"
    assert "expected the right-hand side as a string" in exc.message


def test_no_equations():
    assert "expected a table of equations" in error(None, {}, {}).message


def test_a_bad_system_name_is_reported():
    with pytest.raises(ExpressionError, match="system name") as info:
        equation_system("bad name", None, {"x": "-x"}, {})
    assert info.value.key == "system"


@pytest.mark.parametrize("text", [
    "x**" * 99 + "x",                               # the deepest derivative tree
    "sin(" * 99 + "x" + ")" * 99,
    "+".join(["x*y"] * 49),
])
def test_equations_at_the_size_limits_still_give_rhs_and_jacobian(text):
    system = equation_system("big", None, {"x": text, "y": "-x"}, {})
    y = np.array([[0.9, 0.2], [1.1, 0.3]])
    assert np.isfinite(system.rhs(0.0, y, {})).all()
    assert np.isfinite(system.jacobian(0.0, y, {})).all()


def test_the_time_is_available_but_not_a_parameter():
    system = equation_system("s", None, {"x": "t"}, {})
    np.testing.assert_array_equal(system.rhs(2.0, np.zeros((2, 1)), {}), [[2.0], [2.0]])
