"""Checking values read from TOML scene files; every error names the key path."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from dynsim.core.errors import SceneError, did_you_mean
from dynsim.core.expressions import ExpressionError


def type_name(value: object) -> str:
    """The TOML-ish name of a value's type, for messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, numbers.Real):
        return "a number"
    return type(value).__name__


class SceneExpressionError(ExpressionError, SceneError):
    """An expression in a scene file that does not compile.

    `str()` is `FILE: key: message`, then the expression and a caret (see `ExpressionError`);
    `source` is the file, `key` the key path such as `system.equations.omega`.
    """

    def __init__(self, message: str, *, key: str = "", expression: str = "",
                 column: int | None = None, source: str = "") -> None:
        super().__init__(message, key=key, expression=expression, column=column)
        self.source = source

    def __str__(self) -> str:
        text = super().__str__()
        return f"{self.source}: {text}" if self.source else text


class Checker:
    """Validates parts of one parsed TOML document; errors start with `prefix`."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def error(self, path: str, message: str) -> SceneError:
        """A `SceneError` for the value at key `path`."""
        return SceneError(f"{self.prefix}: {path}: {message}")

    def expression_error(self, error: ExpressionError, path: str) -> SceneExpressionError:
        """`error`, about the expression at key `path`, with the file in front."""
        return SceneExpressionError(error.message, key=path, expression=error.expression,
                                    column=error.column, source=self.prefix)

    def mapping(self, value: object, path: str) -> Mapping[str, Any]:
        """A table with any keys."""
        if not isinstance(value, Mapping):
            raise self.error(path, f"expected a table, got {type_name(value)}")
        return value

    def table(self, value: object, path: str, allowed: Sequence[str],
              required: Sequence[str] = ()) -> Mapping[str, Any]:
        """A table holding only `allowed` keys and all of `required`."""
        value = self.mapping(value, path)
        for key in value:
            if key not in allowed:
                raise self.error(
                    _join(path, key),
                    f"unknown key{did_you_mean(key, allowed)}; allowed keys: {', '.join(allowed)}",
                )
        for key in required:
            if key not in value:
                raise self.error(_join(path, key), "missing (required)")
        return value

    def string(self, value: object, path: str) -> str:
        """A non-empty string."""
        if not isinstance(value, str) or not value:
            raise self.error(path, f"expected a non-empty string, got {type_name(value)}")
        return value

    def number(self, value: object, path: str) -> float:
        """A finite number (integers are accepted)."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise self.error(path, f"expected a number, got {type_name(value)}")
        if not math.isfinite(value):
            raise self.error(path, f"must be a finite number, got {value}")
        return float(value)

    def integer(self, value: object, path: str, minimum: int) -> int:
        """A whole number >= `minimum`."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(path, f"expected a whole number, got {type_name(value)}")
        if value < minimum:
            raise self.error(path, f"must be at least {minimum}, got {value}")
        return value

    def numbers(self, value: object, path: str, length: int | None = None) -> tuple[float, ...]:
        """An array of finite numbers, of `length` items if given."""
        if not isinstance(value, list | tuple):
            raise self.error(path, f"expected an array of numbers, got {type_name(value)}")
        if length is not None and len(value) != length:
            raise self.error(path, f"expected {length} numbers, got {len(value)}")
        return tuple(self.number(v, f"{path}[{i}]") for i, v in enumerate(value))

    def interval(self, value: object, path: str) -> tuple[float, float]:
        """Two finite numbers [low, high] with low < high."""
        lo, hi = self.numbers(value, path, 2)
        if not lo < hi:
            raise self.error(path, f"needs low < high, got [{lo:g}, {hi:g}]")
        return lo, hi

    def strings(self, value: object, path: str) -> tuple[str, ...]:
        """An array of non-empty strings."""
        if not isinstance(value, list | tuple):
            raise self.error(path, f"expected an array of strings, got {type_name(value)}")
        return tuple(self.string(v, f"{path}[{i}]") for i, v in enumerate(value))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
