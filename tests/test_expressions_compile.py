"""Compiled expressions (numpy and torch), symbolic derivatives and simplification."""

from __future__ import annotations

import ast
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dynsim.core.expressions as expressions
from dynsim.core.expressions import (
    ALIASES,
    FUNCTIONS,
    Binary,
    Const,
    ExpressionError,
    Neg,
    Var,
    compile_numpy,
    compile_torch,
    derivative,
    parse_expression,
    simplify,
    to_text,
)

torch = pytest.importorskip("torch")

NAMES = ("x", "y", "t", "a")


def sign(v: float) -> float:
    return math.nan if math.isnan(v) else float((v > 0) - (v < 0))


def heaviside(v: float) -> float:
    return math.nan if math.isnan(v) else 0.0 if v < 0 else 1.0 if v > 0 else 0.5


REFERENCE = {
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "arcsin": math.asin,
    "arccos": math.acos, "arctan": math.atan, "arctan2": math.atan2, "sinh": math.sinh,
    "cosh": math.cosh, "tanh": math.tanh, "arcsinh": math.asinh, "arccosh": math.acosh,
    "arctanh": math.atanh, "exp": math.exp, "log": math.log, "log10": math.log10,
    "log2": math.log2, "sqrt": math.sqrt, "erf": math.erf, "abs": abs, "sign": sign,
    "floor": math.floor, "ceil": math.ceil, "heaviside": heaviside,
    "mod": lambda p, q: p % q, "min": min, "max": max, "hypot": math.hypot,
}

# Points inside every function's domain (arccosh needs >= 1, arcsin/arccos/arctanh |x| < 1).
POINTS = {1: [(-0.7,), (-0.2,), (0.0,), (0.3,), (0.9,)],
          2: [(0.3, -0.7), (-2.5, 0.75), (1.25, 1.25), (-0.9, -0.4), (4.0, 1.5)]}
SHIFTED = {"arccosh": 2.0, "log": 1.0, "log10": 1.0, "log2": 1.0, "sqrt": 1.0}


def function_points(name: str) -> list[tuple[float, ...]]:
    shift = SHIFTED.get(name, 0.0)
    return [tuple(v + shift for v in point) for point in POINTS[FUNCTIONS[name].arity]]


def call_text(name: str) -> str:
    return f"{name}(x)" if FUNCTIONS[name].arity == 1 else f"{name}(x, y)"


def test_every_function_has_a_reference_here():
    assert set(REFERENCE) == set(FUNCTIONS)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_functions_match_math_in_numpy_and_torch(name):
    expr = parse_expression(call_text(name), NAMES)
    f_np, f_torch = compile_numpy(expr, ["x", "y"]), compile_torch(expr, ["x", "y"])
    points = function_points(name)
    xs = np.array([p[0] for p in points])
    ys = np.array([p[-1] for p in points])
    expected = [float(REFERENCE[name](*p)) for p in points]
    np.testing.assert_allclose(f_np(xs, ys), expected, rtol=1e-14, atol=1e-15)
    got = f_torch(torch.tensor(xs), torch.tensor(ys))
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("alias", sorted(ALIASES))
def test_aliases_evaluate_like_the_canonical_function(alias):
    canonical = ALIASES[alias]
    args = "x" if FUNCTIONS[canonical].arity == 1 else "x, y"
    point = function_points(canonical)[1]
    for text in (f"{alias}({args})", f"{canonical}({args})"):
        f = compile_numpy(parse_expression(text, NAMES), ["x", "y"])
        assert float(f(point[0], point[-1])) == pytest.approx(REFERENCE[canonical](*point))


@pytest.mark.parametrize("compile_fn", [compile_numpy, compile_torch])
def test_non_smooth_functions_at_their_corners(compile_fn):
    def at(text, *values):
        fn = compile_fn(parse_expression(text, NAMES), ["x", "y"])
        out = fn(*values)
        return float(out)

    assert at("heaviside(x)", 0.0, 0.0) == 0.5
    assert at("heaviside(x)", -0.0, 0.0) == 0.5
    assert at("heaviside(x)", -1e-300, 0.0) == 0.0
    assert at("sign(x)", 0.0, 0.0) == 0.0
    assert at("mod(x, y)", -1.0, 3.0) == 2.0
    assert at("mod(x, y)", 1.0, -3.0) == -2.0
    assert at("min(x, y)", 2.0, -1.0) == -1.0
    assert at("max(x, y)", 2.0, -1.0) == 2.0
    for text in ("sign(x)", "heaviside(x)", "min(x, y)", "max(y, x)", "abs(x)"):
        assert math.isnan(at(text, math.nan, 1.0)), text


@pytest.mark.parametrize("compile_fn", [compile_numpy, compile_torch])
def test_domain_errors_give_nan_and_overflow_inf(compile_fn):
    def at(text, v):
        return float(compile_fn(parse_expression(text, NAMES), ["x"])(v))

    with np.errstate(all="ignore"):
        assert math.isnan(at("log(x)", -1.0))
        assert at("log(x)", 0.0) == -math.inf
        assert math.isnan(at("sqrt(x)", -1.0))
        assert at("exp(x)", 1000.0) == math.inf
        assert at("1/x", 0.0) == math.inf
        assert math.isnan(at("x^0.5", -8.0))


def test_numpy_closures_broadcast_and_keep_shapes():
    f = compile_numpy(parse_expression("a*x + y", NAMES), ["x", "y", "a"])
    x = np.arange(6.0).reshape(2, 3)
    out = f(x, np.array([10.0, 20.0, 30.0]), 2.0)
    assert out.shape == (2, 3)
    np.testing.assert_array_equal(out, 2 * x + np.array([10.0, 20.0, 30.0]))
    assert f(1.0, 2.0, 3.0).shape == ()


def test_a_constant_expression_still_has_the_arguments_shape():
    f = compile_numpy(parse_expression("2*pi", NAMES), ["x"])
    out = f(np.zeros((4, 2)))
    assert out.shape == (4, 2) and np.all(out == 2 * math.pi)
    g = compile_torch(parse_expression("2*pi", NAMES), ["x"])
    assert g(torch.zeros(4, 2, dtype=torch.float32)).shape == (4, 2)


def test_numpy_closures_use_float64_even_for_scalar_parameters():
    f = compile_numpy(parse_expression("a/x + x^a", NAMES), ["x", "a"])
    with np.errstate(all="ignore"):
        assert float(f(0.0, 1.0)) == math.inf        # not ZeroDivisionError
        assert math.isnan(float(f(-8.0, 1 / 3)))     # not a complex number


def test_torch_closures_are_differentiable_and_follow_the_tensor_dtype():
    f = compile_torch(parse_expression("a*sin(x)^2 + max(x, 0) + heaviside(x)", NAMES),
                      ["x", "a"])
    x = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float32, requires_grad=True)
    a = torch.tensor(3.0, dtype=torch.float32, requires_grad=True)
    out = f(x, a)
    assert out.dtype == torch.float32
    out.sum().backward()
    expected = 3 * 2 * np.sin([0.5, -1.0, 2.0]) * np.cos([0.5, -1.0, 2.0]) + [1.0, 0.0, 1.0]
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)
    assert a.grad.item() == pytest.approx(float(np.sum(np.sin([0.5, -1.0, 2.0]) ** 2)),
                                          rel=1e-6)


def test_torch_two_argument_functions_accept_a_constant_argument():
    f = compile_torch(parse_expression("atan2(x, 1) + hypot(2, x) + min(x, 0.5)", NAMES),
                      ["x"])
    x = torch.tensor([0.25, 1.0], dtype=torch.float64)
    expected = [math.atan2(v, 1) + math.hypot(2, v) + min(v, 0.5) for v in (0.25, 1.0)]
    np.testing.assert_allclose(f(x).numpy(), expected, rtol=1e-15)


def test_compiling_with_missing_arguments_is_an_error():
    with pytest.raises(ExpressionError, match="uses y, which is not among the arguments"):
        compile_numpy(parse_expression("x + y", NAMES), ["x"])


def test_wrong_number_of_values_is_a_type_error():
    f = compile_numpy(parse_expression("x + y", NAMES), ["x", "y"])
    with pytest.raises(TypeError, match="takes 2 values, got 1"):
        f(1.0)


# --- derivatives -----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "name", "expected"), [
    ("x^3", "x", "3*x**2"),
    ("a*x - b*x*y", "x", "a - b*y"),
    ("a*x - b*x*y", "y", "-(b*x)"),
    ("sin(x)", "x", "cos(x)"),
    ("cos(2*x)", "x", "-(2*sin(2*x))"),
    ("exp(a*x)", "x", "exp(a*x)*a"),
    ("log(x)", "x", "1/x"),
    ("x/y", "y", "-(x/y**2)"),
    ("2^x", "x", "0.6931471805599453*2**x"),
    ("pi^x", "x", "pi**x*log(pi)"),
    ("x^y", "y", "x**y*log(x)"),
    ("abs(x)", "x", "sign(x)"),
    ("heaviside(x) + floor(x) + sign(x) + ceil(x)", "x", "0"),
    ("a*t", "x", "0"),
    ("sigma*(y - x)", "x", "-sigma"),
    ("x*(rho - z) - y", "z", "-x"),
])
def test_derivative_closed_forms(text, name, expected):
    names = {"x", "y", "z", "a", "b", "t", "sigma", "rho"}
    d = derivative(parse_expression(text, names), name)
    assert to_text(d) == expected
    assert parse_expression(to_text(d), names) == d


def at_jump(name: str, point: tuple[float, ...]) -> bool:
    """Whether a step function jumps at `point` (no finite-difference check there)."""
    if name in ("sign", "heaviside"):
        return point[0] == 0.0
    if name in ("floor", "ceil"):
        return point[0].is_integer()
    return name == "mod" and (point[0] / point[-1]).is_integer()


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_derivative_rule_matches_finite_differences(name):
    expr = parse_expression(call_text(name), NAMES)
    arguments = ["x", "y"]
    f = compile_numpy(expr, arguments)
    for variable, position in (("x", 0), ("y", 1))[:FUNCTIONS[name].arity]:
        df = compile_numpy(derivative(expr, variable), arguments)
        for point in function_points(name):
            if at_jump(name, point):
                continue
            args = [point[0], point[-1]]
            h = 1e-6
            up, down = list(args), list(args)
            up[position] += h
            down[position] -= h
            numeric = (float(f(*up)) - float(f(*down))) / (2 * h)
            assert float(df(*args)) == pytest.approx(numeric, rel=1e-6, abs=1e-7), \
                (name, variable, point)


def test_min_and_max_split_the_derivative_at_a_tie():
    for text in ("min(x, y)", "max(x, y)"):
        expr = parse_expression(text, NAMES)
        dx = compile_numpy(derivative(expr, "x"), ["x", "y"])
        assert float(dx(1.0, 1.0)) == 0.5


def test_derivative_of_a_power_with_a_negative_base_and_constant_exponent():
    d = compile_numpy(derivative(parse_expression("x^3", NAMES), "x"), ["x"])
    assert float(d(-2.0)) == 12.0


# --- simplification --------------------------------------------------------------------------

x, y = Var("x"), Var("y")


@pytest.mark.parametrize(("expr", "expected"), [
    (Binary("+", x, Const(0.0)), x),
    (Binary("+", Const(0.0), x), x),
    (Binary("-", x, Const(0.0)), x),
    (Binary("-", Const(0.0), x), Neg(x)),
    (Binary("+", x, Neg(y)), Binary("-", x, y)),
    (Binary("-", x, Neg(y)), Binary("+", x, y)),
    (Binary("*", x, Const(0.0)), Const(0.0)),
    (Binary("*", Const(1.0), x), x),
    (Binary("*", x, Const(-1.0)), Neg(x)),
    (Binary("*", x, Const(3.0)), Binary("*", Const(3.0), x)),
    (Binary("*", Neg(x), Neg(y)), Binary("*", x, y)),
    (Binary("*", Const(2.0), Neg(y)), Neg(Binary("*", Const(2.0), y))),
    (Binary("*", Neg(x), y), Neg(Binary("*", x, y))),
    (Binary("/", Const(0.0), x), Const(0.0)),
    (Binary("/", x, Const(1.0)), x),
    (Binary("**", x, Const(1.0)), x),
    (Binary("**", x, Const(0.0)), Const(1.0)),
    (Neg(Neg(x)), x),
    (Neg(Const(2.0)), Const(-2.0)),
    (Binary("*", Const(2.0), Binary("+", Const(1.0), Const(2.0))), Const(6.0)),
    (Binary("+", Const(1.0), Const(math.pi, "pi")), Binary("+", Const(1.0),
                                                            Const(math.pi, "pi"))),
    (Binary("/", Const(1.0), Const(0.0)), Binary("/", Const(1.0), Const(0.0))),
])
def test_simplify_rules(expr, expected):
    assert simplify(expr) == expected


# --- safety of the implementation ------------------------------------------------------------

def test_the_package_never_calls_eval_exec_compile_or_import_dynamically():
    forbidden_names = {"eval", "exec", "compile", "__import__", "getattr", "globals", "locals",
                       "vars", "open", "breakpoint"}
    forbidden_attributes = {"eval", "exec", "sympify", "evaluate", "literal_eval"}
    package = Path(expressions.__file__).parent
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            where = f"{path.name}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in forbidden_names, f"{where} calls {node.func.id}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in forbidden_attributes, f"{where}"
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = [alias.name for alias in node.names]
                modules += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                assert not any(m.split(".")[0] in ("sympy", "numexpr") for m in modules)


def test_importing_the_package_does_not_import_torch():
    code = ("import sys, numpy as np; import dynsim.core.expressions as ex; "
            "s = ex.equation_system('s', None, {'x': '-x'}, {}); "
            "s.rhs(0.0, np.ones((3, 1)), {}); s.jacobian(0.0, np.ones((3, 1)), {}); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
