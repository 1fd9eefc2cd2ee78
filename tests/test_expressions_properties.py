"""Property-based tests of the expression engine (hypothesis).

Expressions are generated here as small tuple trees, printed to text by this file's own
printer and evaluated by this file's own reference evaluator on Python floats with the
`math` module, so parse.py, compile.py and text.py are checked against code they share
nothing with.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dynsim.core.expressions import (
    ExpressionError,
    compile_numpy,
    compile_torch,
    derivative,
    parse_expression,
    to_text,
)

torch = pytest.importorskip("torch")

VARIABLES = ("x", "y", "a")
NAMES = {*VARIABLES, "t"}
SETTINGS = settings(max_examples=200, deadline=None)


class Invalid(Exception):
    """The reference evaluation left the real numbers (domain error, division by zero)."""


def _nan_aware(fn: Callable[[float, float], float]) -> Callable[[float, float], float]:
    return lambda p, q: math.nan if math.isnan(p) or math.isnan(q) else fn(p, q)


def _sign(v: float) -> float:
    return v if math.isnan(v) else float((v > 0) - (v < 0))


def _heaviside(v: float) -> float:
    return v if math.isnan(v) else 0.0 if v < 0 else 1.0 if v > 0 else 0.5


def _sqrt(v: float) -> float:
    if v < 0:
        raise Invalid
    return math.sqrt(v)


# Correctly rounded in IEEE arithmetic, so numpy, torch and math agree bit for bit.
EXACT = {"sqrt": _sqrt, "abs": abs, "sign": _sign, "heaviside": _heaviside,
         "floor": lambda v: float(math.floor(v)) if math.isfinite(v) else v,
         "ceil": lambda v: float(math.ceil(v)) if math.isfinite(v) else v,
         "min": _nan_aware(min), "max": _nan_aware(max)}

# Smooth with bounded slope (or, for exp, slope equal to the value): rounding differences of
# a unit in the last place between the libraries stay small.
SMOOTH = {"sin": math.sin, "cos": math.cos, "tanh": math.tanh, "arctan": math.atan,
          "exp": math.exp}

ARITY = {"min": 2, "max": 2}

# --- generated expressions: (tree, text) -----------------------------------------------------

numbers = st.one_of(st.integers(0, 20).map(float),
                    st.floats(0.0, 10.0, allow_nan=False).map(lambda v: round(v, 4)))


@st.composite
def number_text(draw: st.DrawFn, value: float) -> str:
    style = draw(st.sampled_from(["repr", "exp", "int"]))
    if style == "exp":
        return f"{value:.17e}"
    if style == "int" and value.is_integer():
        return str(int(value))
    return repr(value)


def leaves() -> st.SearchStrategy[tuple]:
    return st.one_of(st.sampled_from(VARIABLES).map(lambda n: ("var", n)),
                     numbers.map(lambda v: ("num", v)),
                     st.sampled_from(["pi", "e"]).map(lambda n: ("const", n)))


def trees(functions: dict[str, Callable], operators: str) -> st.SearchStrategy[tuple]:
    def extend(children: st.SearchStrategy[tuple]) -> st.SearchStrategy[tuple]:
        calls = [st.tuples(st.just("call"), st.just(name),
                           st.lists(children, min_size=ARITY.get(name, 1),
                                    max_size=ARITY.get(name, 1)).map(tuple))
                 for name in functions]
        return st.one_of(
            st.tuples(st.just("bin"), st.sampled_from(list(operators)), children, children),
            st.tuples(st.just("neg"), children),
            st.tuples(st.just("square"), children),
            *calls,
        )

    return st.recursive(leaves(), extend, max_leaves=12)


PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


@st.composite
def printed(draw: st.DrawFn, tree: tuple) -> tuple[str, int]:
    """Text for `tree` with minimal brackets (or extra ones), and its precedence."""
    kind = tree[0]
    if kind in ("var", "const"):
        text, level = tree[1], 5
    elif kind == "num":
        text, level = draw(number_text(tree[1])), 5
    elif kind == "neg":
        inner, inner_level = draw(printed(tree[1]))
        text, level = "-" + (inner if inner_level >= 4 else f"({inner})"), 3
    elif kind == "square":
        inner, inner_level = draw(printed(tree[1]))
        power = draw(st.sampled_from(["^", "**", " ^ ", " ** "]))
        text, level = (inner if inner_level == 5 else f"({inner})") + power + "2", 4
    elif kind == "call":
        args = [draw(printed(arg))[0] for arg in tree[2]]
        text, level = f"{tree[1]}({', '.join(args)})", 5
    else:
        op, own = tree[1], PRECEDENCE[tree[1]]
        left, lp = draw(printed(tree[2]))
        right, rp = draw(printed(tree[3]))
        left = left if lp >= own else f"({left})"
        right = right if rp > own and rp != 3 else f"({right})"
        spaces = draw(st.sampled_from(["", " "]))
        text, level = f"{left}{spaces}{op}{spaces}{right}", own
    if draw(st.integers(0, 9)) == 0:
        return f"({text})", 5
    return text, level


def reference(tree: tuple, env: dict[str, float], functions: dict[str, Callable]) -> float:
    """`tree` evaluated on floats with `math`; raises Invalid outside the reals."""
    kind = tree[0]
    if kind == "var":
        return env[tree[1]]
    if kind == "const":
        return {"pi": math.pi, "e": math.e}[tree[1]]
    if kind == "num":
        return tree[1]
    if kind == "neg":
        return -reference(tree[1], env, functions)
    if kind == "square":
        v = reference(tree[1], env, functions)
        return v * v
    if kind == "call":
        args = [reference(arg, env, functions) for arg in tree[2]]
        try:
            return float(functions[tree[1]](*args))
        except (ValueError, OverflowError):
            raise Invalid from None
    left = reference(tree[2], env, functions)
    right = reference(tree[3], env, functions)
    op = tree[1]
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if right == 0.0:
        raise Invalid
    return left / right


def magnitude(tree: tuple, env: dict[str, float], functions: dict[str, Callable]) -> float:
    """The largest absolute value of any sub-expression (a scale for rounding errors)."""
    parts = [abs(reference(tree, env, functions))]
    for child in tree[1:]:
        if isinstance(child, tuple) and child and isinstance(child[0], str):
            parts.append(magnitude(child, env, functions))
        elif isinstance(child, tuple):
            parts.extend(magnitude(arg, env, functions) for arg in child)
    return max(parts)


points = st.lists(st.tuples(*[st.floats(-3.0, 3.0, allow_nan=False)] * 3),
                  min_size=1, max_size=4)


def parsed(text: str):
    """The parsed text; examples with a non-finite constant part (an error) are skipped."""
    try:
        return parse_expression(text, NAMES)
    except ExpressionError as exc:
        assume("the constant part" not in exc.message)
        raise


def evaluate_all(text: str, envs: list[dict[str, float]]) -> tuple[np.ndarray, np.ndarray]:
    expr = parsed(text)
    columns = [np.array([env[name] for env in envs]) for name in VARIABLES]
    with np.errstate(all="ignore"):
        by_numpy = compile_numpy(expr, VARIABLES)(*columns)
    by_torch = compile_torch(expr, VARIABLES)(*(torch.tensor(c) for c in columns)).numpy()
    return by_numpy, by_torch


def same(value: float, expected: float, tolerance: float) -> bool:
    if math.isnan(expected):
        return math.isnan(value)
    if math.isinf(expected):
        return value == expected
    return abs(value - expected) <= tolerance


EXACT_TREES = trees(EXACT, "+-*/")
SMOOTH_TREES = trees(SMOOTH, "+-*")
ALL_TREES = trees({**EXACT, **SMOOTH}, "+-*/")


@st.composite
def cases(draw: st.DrawFn, tree_strategy: st.SearchStrategy[tuple]):
    tree = draw(tree_strategy)
    text = draw(printed(tree))[0]
    envs = [dict(zip(VARIABLES, p, strict=True)) for p in draw(points)]
    return tree, text, envs


@SETTINGS
@given(cases(EXACT_TREES))
def test_exact_arithmetic_agrees_bit_for_bit_in_numpy_torch_and_reference(case):
    tree, text, envs = case
    by_numpy, by_torch = evaluate_all(text, envs)
    checked = 0
    for i, env in enumerate(envs):
        try:
            expected = reference(tree, env, EXACT)
        except Invalid:
            continue
        checked += 1
        for got in (by_numpy[i], by_torch[i]):
            assert same(float(got), expected, 1e-12 * max(1.0, abs(expected))), \
                (text, env, float(got), expected)
    assume(checked)


@SETTINGS
@given(cases(SMOOTH_TREES))
def test_smooth_functions_agree_in_numpy_torch_and_reference(case):
    tree, text, envs = case
    by_numpy, by_torch = evaluate_all(text, envs)
    checked = 0
    for i, env in enumerate(envs):
        try:
            expected = reference(tree, env, SMOOTH)
            scale = magnitude(tree, env, SMOOTH)
        except (Invalid, OverflowError):
            continue
        if not scale < 1e6:
            continue
        checked += 1
        for got in (by_numpy[i], by_torch[i]):
            assert same(float(got), expected, 1e-12 * (1.0 + scale) ** 2), \
                (text, env, float(got), expected)
    assume(checked)


@SETTINGS
@given(cases(ALL_TREES))
def test_canonical_text_parses_back_to_the_same_tree(case):
    _, text, _ = case
    expr = parsed(text)
    assert parse_expression(to_text(expr), NAMES) == expr
    for name in VARIABLES:
        d = derivative(expr, name)
        try:
            assert parse_expression(to_text(d), NAMES) == d
        except ExpressionError as exc:  # d/dx x/0 is 1/0: text with a non-finite constant
            assert "the constant part" in exc.message


@SETTINGS
@given(cases(SMOOTH_TREES))
def test_derivatives_match_central_differences(case):
    tree, text, envs = case
    expr = parsed(text)
    env = envs[0]
    try:
        scale = magnitude(tree, env, SMOOTH)
    except (Invalid, OverflowError):
        scale = math.inf
    assume(scale < 1e3)
    f = compile_numpy(expr, VARIABLES)
    values = [env[v] for v in VARIABLES]
    h = 1e-5
    for position, name in enumerate(VARIABLES):
        df = compile_numpy(derivative(expr, name), VARIABLES)
        up, down = list(values), list(values)
        up[position] += h
        down[position] -= h
        with np.errstate(all="ignore"):
            numeric = (float(f(*up)) - float(f(*down))) / (2 * h)
            exact = float(df(*values))
        assert abs(exact - numeric) <= 1e-5 * (1.0 + scale) ** 2, (text, name, exact, numeric)


grammar_text = st.text(alphabet="xyat0123456789.+-*/^() ,eEpisncoqrtlgbmahd_[]:=<>!%'\"#\n\t",
                       max_size=40)


@SETTINGS
@given(st.one_of(st.text(max_size=60), grammar_text))
def test_any_text_either_parses_or_raises_expression_error(text):
    try:
        expr = parse_expression(text, NAMES, key="k")
    except ExpressionError as exc:
        assert exc.key == "k"
        assert str(exc).startswith("k: ")
        assert exc.column is None or 1 <= exc.column <= len(text) + 1
        return
    with np.errstate(all="ignore"):
        compile_numpy(expr, ["x", "y", "a", "t"])(np.linspace(-2, 2, 5), 0.5, 2.0, 0.0)
    assert parse_expression(to_text(expr), NAMES) == expr
