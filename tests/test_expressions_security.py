"""Scene files are shared: no expression text may ever run code or exhaust memory or time."""

from __future__ import annotations

import time

import numpy as np
import pytest

from dynsim.core.expressions import (
    MAX_LENGTH,
    ExpressionError,
    compile_numpy,
    equation_system,
    parse_expression,
)

NAMES = {"x", "y", "t", "a"}

# (attack, words the message must contain)
ATTACKS = [
    ("__import__('os').system('touch CANARY')", ["attribute access ('.system')"]),
    ("__import__('os')", ["unknown function '__import__'"]),
    ("().__class__.__bases__[0].__subclasses__()", ["attribute access"]),
    ("x.__class__", ["attribute access ('.__class__')"]),
    ("x.__class__.__mro__", ["attribute access"]),
    ("open('CANARY', 'w')", ["unknown function 'open'"]),
    ("open('CANARY', 'w').write('x')", ["attribute access ('.write')"]),
    ("(lambda: 1)()", ["lambda functions"]),
    ("(lambda: __import__('os'))()", ["lambda functions"]),
    ("[c for c in ()]", ["comprehensions"]),
    ("(c for c in ())", ["comprehensions"]),
    ("{c: 1 for c in ()}", ["comprehensions"]),
    ("f\"{x}\"", ["f-strings"]),
    ("f\"{__import__('os').system('touch CANARY')}\"", ["f-strings"]),
    ("(y := 1)", ["':='"]),
    ("sin(x=1)", ["keyword arguments"]),
    ("sin(**{'x': 1})", ["keyword arguments"]),
    ("sin(*[1])", ["unpacking"]),
    ("a[0]", ["indexing"]),
    ("x[::-1]", ["indexing"]),
    ("x if x else y", ["conditional expressions"]),
    ("eval('1')", ["unknown function 'eval'"]),
    ("exec('1')", ["unknown function 'exec'"]),
    ("compile('1', '', 'eval')", ["unknown function 'compile'"]),
    ("globals()", ["unknown function 'globals'"]),
    ("getattr(x, 'a')", ["unknown function 'getattr'"]),
    ("__builtins__", ["unknown name '__builtins__'"]),
    ("sin.__globals__", ["attribute access ('.__globals__')"]),
    ("x; import os", ["';'"]),
    ("x\nimport os", ["missing operator"]),
    ("import os", ["invalid syntax"]),
    ("x or __import__('os')", ["'and' and 'or'"]),
    ("'a' 'b'", ["strings"]),
    (b"x".decode() + ".real", ["attribute access ('.real')"]),
    ("await x", ["'await'"]),
    ("(yield)", ["'yield'"]),
    ("breakpoint()", ["unknown function 'breakpoint'"]),
    ("\uff45\uff56\uff41\uff4c('1')", ["plain ASCII", "did you mean 'e'"]),   # fullwidth 'eval'
    ("\u0435val('1')", ["plain ASCII"]),          # Cyrillic 'е'
    ("x\u200b", ["plain ASCII"]),                  # zero-width space
    ("x\x00", ["control character"]),
    ("x\x1b[2J", ["control character"]),
    ("x # __import__('os')", ["'#'"]),
    ("9**9**9**9", ["the constant part", "inf"]),
    ("1e999999", ["too large for float64"]),
    ("9" * 1999, ["too large for float64"]),
    ("(" * 200 + "x" + ")" * 200, ["nested too deeply"]),
    ("[" * 200 + "]" * 200, ["nested too deeply"]),
    ("-" * 100_000 + "x", ["too long"]),
    ("-" * 1999 + "x", ["nested too deeply"]),
    ("x" * 1_000_000, ["too long"]),
    ("x+" * 500_000 + "x", ["too long"]),
]


@pytest.mark.parametrize(("attack", "words"), ATTACKS, ids=range(len(ATTACKS)))
def test_attacks_are_rejected_with_a_clear_message_and_no_effect(attack, words, tmp_path,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    attack = attack.replace("CANARY", str(tmp_path / "CANARY"))
    start = time.perf_counter()
    with pytest.raises(ExpressionError) as info:
        parse_expression(attack, NAMES, key="system.equations.x")
    assert time.perf_counter() - start < 1.0
    message = str(info.value)
    for word in words:
        assert word in info.value.message, message
    assert message.startswith("system.equations.x: ")
    assert len(message) < 600          # a 1 MB attack is not echoed back
    assert not (tmp_path / "CANARY").exists()
    assert list(tmp_path.iterdir()) == []


def test_attacks_through_an_equation_system_never_create_the_canary(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    canary = tmp_path / "CANARY"
    for attack, _ in ATTACKS:
        text = attack.replace("CANARY", str(canary))
        with pytest.raises(ExpressionError) as info:
            equation_system("attack", None, {"x": text}, {"a": 1.0})
        assert info.value.key == "system.equations.x"
    assert not canary.exists()


def test_huge_constants_are_quick():
    for text in ("9**9**9", "10**10**10*x", "2**1e300", "(9**9)**(9**9)"):
        start = time.perf_counter()
        with pytest.raises(ExpressionError, match="inf"):
            parse_expression(text, NAMES)
        assert time.perf_counter() - start < 0.1


def test_long_integer_literal_within_the_length_cap_is_quick():
    start = time.perf_counter()
    expr = parse_expression("1" * 300 + "*x", NAMES)
    assert time.perf_counter() - start < 0.1
    assert float(compile_numpy(expr, ["x"])(1.0)) == pytest.approx(float("1" * 300))


def test_the_largest_allowed_expression_parses_compiles_and_differentiates_quickly():
    from dynsim.core.expressions import derivative

    text = "+".join(f"sin(a*x^{k})" for k in range(1, 80))
    text = text[: text.rfind("+", 0, MAX_LENGTH)]
    start = time.perf_counter()
    expr = parse_expression(text, NAMES)
    d = derivative(expr, "x")
    value = compile_numpy(d, ["x", "a"])(np.linspace(0, 1, 1000), 0.5)
    assert np.isfinite(value).all()
    assert time.perf_counter() - start < 2.0


def test_deeply_nested_within_the_limits_compiles_and_differentiates():
    from dynsim.core.expressions import MAX_DEPTH, derivative

    text = "sin(" * (MAX_DEPTH // 2 - 1) + "x" + ")" * (MAX_DEPTH // 2 - 1)
    expr = parse_expression(text, NAMES)
    d = derivative(expr, "x")
    assert np.isfinite(compile_numpy(d, ["x"])(np.array([0.1, 0.2]))).all()
