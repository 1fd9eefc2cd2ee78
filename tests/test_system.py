"""`System` and `Param`: validation a plugin author relies on."""

from __future__ import annotations

import numpy as np
import pytest

import dynsim
from dynsim.core.errors import ParameterError, SystemDefinitionError, UnknownNameError


def rhs(t, y, p):
    return -y


def make(**changes):
    fields = {"name": "decay", "states": ["x", "y"], "params": {"k": dynsim.Param(1.0)},
              "rhs": rhs}
    return dynsim.System(**{**fields, **changes})


def test_param_defaults_and_range_text():
    p = dynsim.Param(2, min=0, max=5, description="rate")
    assert (p.default, p.min, p.max, p.description) == (2.0, 0, 5, "rate")
    assert isinstance(p.default, float)
    assert p.range_text() == "[0, 5]"
    assert dynsim.Param(1.0, min=0.0).range_text() == "[0, inf)"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"default": float("nan")}, "default must be a finite number"),
    ({"default": "1"}, "default must be a finite number"),
    ({"default": True}, "default must be a finite number"),
    ({"default": 1.0, "min": 2.0, "max": 1.0}, "min 2.0 is greater than max 1.0"),
    ({"default": 6.0, "min": 0.0, "max": 5.0}, "default 6.0 lies outside [0.0, 5.0]"),
    ({"default": 1.0, "max": float("inf")}, "max must be a finite number"),
])
def test_param_validation(kwargs, message):
    with pytest.raises(SystemDefinitionError, match=message.replace("[", r"\[")):
        dynsim.Param(**kwargs)


def test_system_normalises_fields():
    s = make(params={"k": 2, "c": dynsim.Param(1.0)}, bounds=[(0, 1), (-1, 1)], tags=["a"],
             y0=[1, 2])
    assert s.states == ("x", "y") and s.title == "decay" and s.dimension == 2
    assert s.params["k"] == dynsim.Param(2.0)
    assert dict(s.bounds) == {"x": (0.0, 1.0), "y": (-1.0, 1.0)}
    assert s.tags == ("a",) and s.y0 == (1.0, 2.0)
    assert s.state_index("y") == 1


@pytest.mark.parametrize(("changes", "message"), [
    ({"name": "my system"}, "must start with a letter"),
    ({"name": ""}, "must start with a letter"),
    ({"states": []}, "states must be a non-empty list of identifiers"),
    ({"states": ["x", "x"]}, "state names repeat"),
    ({"states": ["x", "1y"]}, "states must be a non-empty list"),
    ({"params": {"x": 1.0}}, "names used both as state and parameter: ['x']"),
    ({"params": {"k": "fast"}}, "must be a dynsim.Param or a number, got str"),
    ({"rhs": 3}, "rhs must be callable"),
    ({"jacobian": "J"}, "jacobian must be callable"),
    ({"bounds": [(0, 1)]}, "bounds needs one (low, high) pair per state (2), got 1"),
    ({"bounds": {"x": (1, 0)}}, "bounds for 'x' must be finite with low < high"),
    ({"bounds": {"z": (0, 1)}}, "bounds name unknown states: ['z']"),
    ({"y0": [1.0]}, "y0 needs 2 finite values"),
])
def test_system_validation(changes, message):
    with pytest.raises(SystemDefinitionError) as info:
        make(**changes)
    assert message in str(info.value)


def test_parameter_values_checks_names_and_ranges():
    s = make(params={"k": dynsim.Param(1.0, min=0.0, max=2.0), "c": 3.0})
    assert s.parameter_values() == {"k": 1.0, "c": 3.0}
    assert s.parameter_values({"k": np.float64(1.5)}) == {"k": 1.5, "c": 3.0}
    with pytest.raises(UnknownNameError, match="unknown parameter 'kk' of system 'decay' "
                                               r"\(did you mean 'k'\?\); available: c, k"):
        s.parameter_values({"kk": 1.0})
    with pytest.raises(ParameterError, match=r"'k' of system 'decay' = 3 lies outside its "
                                             r"range \[0, 2\]"):
        s.parameter_values({"k": 3.0})
    with pytest.raises(ParameterError, match="must be a finite number, got nan"):
        s.parameter_values({"c": float("nan")})


def test_stack_jacobian_broadcasts_constants():
    y = np.zeros((4, 5, 2))
    j = dynsim.stack_jacobian([[1.0, y[..., 0] + 2], [3.0, 4.0]], like=y)
    assert j.shape == (4, 5, 2, 2)
    np.testing.assert_array_equal(j[2, 3], [[1, 2], [3, 4]])


@pytest.mark.parametrize("shape", [(2,), (7, 2), (4, 5, 2)])
def test_stack_states_matches_np_stack(shape):
    y = np.random.default_rng(0).normal(size=shape)
    parts = [y[..., 0] * y[..., 1], np.sin(y[..., 0])]
    out = dynsim.stack_states(parts, like=y)
    np.testing.assert_array_equal(out, np.stack(parts, axis=-1))
    assert out.shape == shape and out.dtype == np.float64


def test_stack_states_broadcasts_constants_and_keeps_float32():
    y = np.ones((3, 2), dtype=np.float32)
    out = dynsim.stack_states([2.0, y[..., 0]], like=y)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[2, 1]] * 3)


def test_stack_states_on_tensors_keeps_the_gradient():
    torch = pytest.importorskip("torch")
    y = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64, requires_grad=True)
    out = dynsim.stack_states([y[..., 0] * y[..., 1], y[..., 0] ** 2], like=y)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 2)
    out.sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [[2 + 2, 1], [4 + 6, 3]])
