"""Parsing typed expressions: the grammar, names and constants, `^`, limits and error messages."""

from __future__ import annotations

import math
import pickle

import pytest

from dynsim.core.errors import DynsimError
from dynsim.core.expressions import (
    MAX_DEPTH,
    MAX_LENGTH,
    Binary,
    Call,
    Const,
    ExpressionError,
    Neg,
    Var,
    compile_numpy,
    free_names,
    parse_expression,
    to_text,
    unknown_names,
)

NAMES = {"x", "y", "z", "a", "b", "t", "theta", "omega", "g", "L", "c"}


def value(text: str, **values: float) -> float:
    """Evaluate `text` with numpy at scalar values (names not given are 0)."""
    names = sorted(NAMES)
    fn = compile_numpy(parse_expression(text, NAMES), names)
    return float(fn(*(values.get(name, 0.0) for name in names)))


def error(text: str, key: str = "system.equations.omega") -> ExpressionError:
    with pytest.raises(ExpressionError) as info:
        parse_expression(text, NAMES, key=key)
    return info.value


# --- the grammar ----------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("1 + 2*3", 7.0),
    ("(1 + 2)*3", 9.0),
    ("2**3**2", 512.0),           # ** is right-associative
    ("2^3^2", 512.0),             # and so is ^
    ("-2**2", -4.0),              # unary minus binds looser than **
    ("-2^2", -4.0),
    ("2**-1", 0.5),
    ("2^-1", 0.5),
    ("8/4/2", 1.0),               # / is left-associative
    ("10 - 4 - 3", 3.0),
    ("+3", 3.0),
    ("--3", 3.0),
    ("1_000 + 0x10", 1016.0),
    ("2.5e-3*1e3", 2.5),
    ("pi", math.pi),
    ("e", math.e),
    ("2*pi*e", 2 * math.pi * math.e),
])
def test_arithmetic_follows_the_usual_precedence(text, expected):
    assert value(text) == pytest.approx(expected, rel=1e-15)


def test_names_become_variables_and_evaluate():
    assert value("a*x - b*x*y", a=1.5, b=2.0, x=3.0, y=0.5) == pytest.approx(1.5)
    assert value("-g/L*sin(theta) - c*omega", g=9.81, L=2.0, theta=0.3, c=0.1, omega=1.0) \
        == pytest.approx(-9.81 / 2 * math.sin(0.3) - 0.1)


def test_tree_shape_is_as_written():
    assert parse_expression("a*x - b", NAMES) == Binary(
        "-", Binary("*", Var("a"), Var("x")), Var("b"))
    assert parse_expression("-x^2", NAMES) == Neg(Binary("**", Var("x"), Const(2.0)))
    assert parse_expression("-2", NAMES) == Const(-2.0)
    assert parse_expression("pi", NAMES) == Const(math.pi, "pi")
    assert parse_expression("asin(x)", NAMES) == Call("arcsin", (Var("x"),))


@pytest.mark.parametrize(("alias", "canonical"), [
    ("asin", "arcsin"), ("acos", "arccos"), ("atan", "arctan"), ("asinh", "arcsinh"),
    ("acosh", "arccosh"), ("atanh", "arctanh"), ("ln", "log"),
])
def test_aliases_translate_to_the_canonical_function(alias, canonical):
    assert parse_expression(f"{alias}(x)", NAMES) == Call(canonical, (Var("x"),))


def test_atan2_alias_takes_two_arguments():
    assert parse_expression("atan2(y, x)", NAMES) == Call("arctan2", (Var("y"), Var("x")))


def test_whitespace_tabs_and_line_breaks_are_spaces():
    assert parse_expression("a *\n\tx\r\n- b", NAMES) == parse_expression("a*x - b", NAMES)


def test_free_names_lists_the_variables_used():
    assert free_names(parse_expression("a*sin(x) + pi*t", NAMES)) == {"a", "x", "t"}


# --- names and constants ---------------------------------------------------------------------

def test_a_variable_called_pi_or_e_shadows_the_constant():
    assert parse_expression("e*x", {"e", "x"}) == Binary("*", Var("e"), Var("x"))
    assert parse_expression("pi", {"pi"}) == Var("pi")
    assert parse_expression("exp(1)", {"e"}) == Call("exp", (Const(1.0),))


def test_function_names_and_variable_names_are_separate():
    assert parse_expression("max(max, 1)", {"max"}) == Call("max", (Var("max"), Const(1.0)))


def test_names_not_given_are_unknown_even_t():
    with pytest.raises(ExpressionError, match="unknown name 't'"):
        parse_expression("t + x", {"x"})


# --- error messages --------------------------------------------------------------------------

def test_unknown_name_message_quotes_the_expression_with_a_caret_and_a_suggestion():
    exc = error("-g/L*sin(thta) - c*omega")
    assert isinstance(exc, DynsimError) and isinstance(exc, ValueError)
    assert exc.key == "system.equations.omega"
    assert exc.expression == "-g/L*sin(thta) - c*omega"
    assert exc.column == 10
    assert str(exc) == (
        "system.equations.omega: unknown name 'thta' (did you mean 'theta'?)\n"
        "    -g/L*sin(thta) - c*omega\n"
        "             ^"
    )


def test_without_a_key_the_first_line_is_the_message():
    with pytest.raises(ExpressionError) as info:
        parse_expression("q", {"x"})
    assert str(info.value).splitlines()[0] == "unknown name 'q'"
    assert info.value.key == ""


@pytest.mark.parametrize(("text", "column", "words"), [
    ("sn(x)", 1, ["unknown function 'sn'", "did you mean 'sin'"]),
    ("frobnicate(x)", 1, ["unknown function 'frobnicate'", "allowed functions:", "heaviside"]),
    ("sin", 1, ["'sin' is a function", "sin(x)"]),
    ("x(2)", 1, ["'x' is a variable, not a function"]),
    ("sin(x, y)", 1, ["sin() takes 1 argument, got 2"]),
    ("atan2(x)", 1, ["atan2() takes 2 arguments, got 1"]),
    ("x + * y", 5, ["invalid syntax"]),
    ("x +", 4, ["incomplete expression"]),
    ("(x + 1", 1, ["'(' was never closed"]),
    ("x + 1)", 6, ["unmatched ')'"]),
    ("2 x", 3, ["missing operator"]),
    ("2(x)", 2, ["missing '*'"]),
    ("x = 1", 3, ["'='", "right-hand side"]),
    ("x % 2", 3, ["mod(x, y)"]),
    ("x // 2", 3, ["floor(x / y)"]),
    ("x ^^ 2", 4, ["invalid syntax"]),
    ("x > 0", 3, ["comparisons are not supported", "heaviside"]),
    ("x and y", 3, ["'and' and 'or'"]),
    ("not x", 1, ["'not'"]),
    ("~x", 1, ["~"]),
    ("x & y", 3, ["bitwise"]),
    ("'x'", 1, ["strings are not allowed"]),
    ("1j", 1, ["complex numbers"]),
    ("True", 1, ["True and False"]),
    ("None", 1, ["None is not allowed"]),
    ("1, 2", 1, ["tuples"]),
    ("1e999", 1, ["too large for float64"]),
    ("x # comment", 3, ["'#'"]),
    ("x \\\n+ 1", 3, ["'\\'"]),
    ("'\\d'", 2, ["'\\'"]),
    ("x \u2212 1", 3, ["U+2212", "did you mean '-'"]),
    ("\u03b8 + 1", 1, ["U+03B8", "did you mean 'theta'"]),
    ("x\u00b2", 2, ["did you mean '^2'"]),
    ("x\x00", 2, ["control character U+0000"]),
])
def test_errors_name_the_problem_at_its_column(text, column, words):
    exc = error(text)
    assert exc.column == column, str(exc)
    for word in words:
        assert word in exc.message
    assert str(exc).splitlines()[2] == "    " + " " * (column - 1) + "^"


def test_caret_points_into_the_text_as_written_after_caret_translation():
    exc = error("x^2 + y^2 + q^2")
    assert exc.column == 13
    assert str(exc).splitlines()[1:] == ["    x^2 + y^2 + q^2", "                ^"]


def test_syntax_error_columns_after_caret_translation():
    assert error("a^b^^c").column == 5


def test_empty_and_blank_expressions():
    for text in ("", "   ", "\n"):
        assert error(text).message == "empty expression"


def test_not_a_string():
    with pytest.raises(ExpressionError, match="expected the expression as a string, got int"):
        parse_expression(3, NAMES, key="k")  # type: ignore[arg-type]


def test_constant_parts_that_are_not_finite_are_errors():
    for text, part in [("9**9**9 + x", "9**9**9"), ("x + 1/0", "1/0"), ("log(0)*x", "log(0)"),
                       ("sqrt(-1)", "sqrt(-1)"), ("10^400", "10^400")]:
        exc = error(text)
        assert f"the constant part '{part}'" in exc.message
        assert exc.column == text.index(part) + 1


def test_error_shows_a_window_of_a_long_expression():
    text = "x + " + "1" * 100 + ".5*y + q + " + "2" * 100 + ".5*y"
    lines = str(error(text)).splitlines()
    assert len(lines[1]) < 90
    assert lines[1][lines[2].index("^")] == "q"


def test_error_pickles_with_its_fields():
    exc = pickle.loads(pickle.dumps(error("sin(thta)")))
    assert (exc.key, exc.column, exc.expression) == ("system.equations.omega", 5, "sin(thta)")
    assert "did you mean 'theta'" in str(exc)


# --- limits ----------------------------------------------------------------------------------

def test_length_limit():
    text = "x+" * (MAX_LENGTH // 2) + "x"
    exc = error(text)
    assert "too long" in exc.message and str(MAX_LENGTH) in exc.message


def test_bracket_depth_limit_is_checked_before_parsing():
    assert parse_expression("(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH, NAMES) == Var("x")
    exc = error("(" * (MAX_DEPTH + 1) + "x" + ")" * (MAX_DEPTH + 1))
    assert "nested too deeply" in exc.message and exc.column == MAX_DEPTH + 1


def test_tree_depth_limit_counts_operators_and_calls():
    assert parse_expression("+".join(["x"] * 50), NAMES) is not None
    assert "nested too deeply" in error("+".join(["x"] * (MAX_DEPTH + 2))).message
    assert "nested too deeply" in error("-" * 150 + "x").message
    assert "nested too deeply" in error("x**" * 120 + "x").message


def test_node_count_limit():
    text = "+".join(f"({'*'.join(['x'] * 25)})" for _ in range(25))
    assert len(text) < MAX_LENGTH
    assert "too large" in error(text).message


# --- to_text ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "canonical"), [
    ("a*x-b*x*y", "a*x - b*x*y"),
    ("x^2", "x**2"),
    ("-x^2", "-x**2"),
    ("(-x)^2", "(-x)**2"),
    ("(-2)^x", "(-2)**x"),
    ("2^(-x)", "2**(-x)"),
    ("(x^2)^3", "(x**2)**3"),
    ("x^2^3", "x**2**3"),
    ("a - (b - c)", "a - (b - c)"),
    ("(a - b) - c", "a - b - c"),
    ("a/(b*c)", "a/(b*c)"),
    ("a*(-b)", "a*(-b)"),
    ("-(a + b)", "-(a + b)"),
    ("-(a*b)", "-(a*b)"),
    ("-(-2)", "-(-2)"),
    ("2.50", "2.5"),
    ("1e20", "1e+20"),
    ("-0.0", "-0"),
    ("atan2(y, x)", "arctan2(y, x)"),
    ("2*pi", "2*pi"),
])
def test_to_text_is_canonical_and_parses_back(text, canonical):
    expr = parse_expression(text, NAMES)
    assert to_text(expr) == canonical
    assert parse_expression(to_text(expr), NAMES) == expr


def test_leading_blanks_and_line_breaks_are_allowed_and_columns_stay_true():
    expr = parse_expression("\n    a*x\n    - b", {"a", "x", "b"})
    assert to_text(expr) == "a*x - b"
    with pytest.raises(ExpressionError) as caught:
        parse_expression("   a*q", {"a"}, key="k")
    assert caught.value.column == 6 and "unknown name 'q'" in str(caught.value)


def test_unknown_names_lists_each_free_name_at_its_first_use():
    assert unknown_names("  a*x - b*x*y + a + sin(pi*t)", {"x", "y", "t"}) == {"a": 3, "b": 9}
    assert unknown_names("x^2", {"x"}) == {}
    with pytest.raises(ExpressionError, match="attribute") as caught:
        unknown_names("a + x.real", {"x"}, key="--eq")
    assert caught.value.key == "--eq"
    with pytest.raises(ExpressionError, match="is a function"):
        unknown_names("a * sin", set())
    with pytest.raises(ExpressionError, match="unknown name '__builtins__'"):
        unknown_names("__builtins__ + a", set())
