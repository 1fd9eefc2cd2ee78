"""Parsing command-line values: NAME=VALUE pairs, comma-separated states, TARGET and --eq."""

from __future__ import annotations

import argparse
import math
import re

from dynsim.core.errors import InputError

_SPLIT = re.compile(r"[,\s]+")


def parse_number(text: str, what: str) -> float:
    """A finite float from `text`; `what` names the option in the error."""
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{what}: expected a number, got '{text}'") from None
    if not math.isfinite(value):
        raise InputError(f"{what}: expected a finite number, got '{text}'")
    return value


def parse_whole_number(text: str, option: str) -> int:
    """A whole number from `text` ('1000', '1e3'); `option` names the option in the error."""
    value = parse_number(text, option)
    if value != int(value):
        raise InputError(f"{option}: expected a whole number, got '{text}'")
    return int(value)


def parse_tolerance(text: str, option: str) -> float | tuple[float, ...]:
    """'1e-8' -> 1e-8; '1e-6, 1e-9' -> (1e-6, 1e-9) (one per state)."""
    values = parse_state(text, option)
    return values[0] if len(values) == 1 else tuple(values)


NUMBERS = re.compile(r"^-\.?\d[\d.eE+\-,:\s]*$")
"""Arguments that start with '-' but are numbers ('-1,2,3', '-1e-3', '-5:5'), not options."""


def accept_negative_values(parser: argparse.ArgumentParser) -> None:
    """Let option values and positionals start with a minus sign: `--y0 -1,2,3`, `--t -1`.

    argparse takes any argument starting with '-' for an option unless it matches the
    parser's negative-number pattern (documented: "if the parser has no options that look
    like negative numbers"); dynsim's options never start with '-' and a digit, so that
    pattern is widened to number lists, exponents and intervals.
    """
    parser._negative_number_matcher = NUMBERS  # type: ignore[attr-defined]


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    """Add TARGET (optional when equations are given) and `--eq STATE=EXPRESSION`.

    The command then calls `scene_for_target(args.target, args.eq, params)`. Values of the
    command's options may start with a minus sign (`accept_negative_values`).
    """
    accept_negative_values(parser)
    parser.add_argument("target", metavar="TARGET", nargs="?",
                        help="scene file, system name or model file (.dsm); omit it when "
                             "giving --eq")
    parser.add_argument("--eq", action="append", default=[], metavar="STATE=EXPRESSION",
                        help="an equation d(STATE)/dt = EXPRESSION instead of TARGET "
                             "(repeatable, one per state, in order; its parameters need "
                             "--param; see docs/equations.md)")


def parse_assignments(items: list[str], option: str) -> dict[str, float]:
    """`['a=1', 'b=2.5']` -> {'a': 1.0, 'b': 2.5}."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"{option} expects NAME=VALUE, got '{item}'")
        out[name] = parse_number(value.strip(), f"{option} {name}")
    return out


def parse_state(text: str, option: str) -> list[float]:
    """'1, 2.5, -3' -> [1.0, 2.5, -3.0]."""
    parts = [p for p in _SPLIT.split(text.strip()) if p]
    if not parts:
        raise InputError(f"{option} expects comma-separated numbers, got '{text}'")
    return [parse_number(p, option) for p in parts]


def parse_interval(text: str, option: str) -> tuple[float, float]:
    """'-5:5' -> (-5.0, 5.0), with low < high."""
    low, sep, high = text.partition(":")
    if not sep:
        raise InputError(f"{option} expects LOW:HIGH, got '{text}'")
    lo, hi = parse_number(low.strip(), option), parse_number(high.strip(), option)
    if not lo < hi:
        raise InputError(f"{option} needs LOW < HIGH, got '{text}'")
    return lo, hi
