"""`ExpressionError`: a bad expression or equation system, shown with a caret at the column."""

from __future__ import annotations

from typing import Any

from dynsim.core.errors import DynsimError

_WINDOW = 72
"""At most this many characters of the expression are shown around the caret."""


class ExpressionError(DynsimError, ValueError):
    """A user's expression (or equation system) that dynsim will not compile.

    `key` is where the expression came from (e.g. 'system.equations.omega', may be empty),
    `expression` the text as given and `column` the 1-based column of the problem (or None).
    `str()` gives the key and message on the first line, then the expression and a caret::

        system.equations.omega: unknown name 'thta' (did you mean 'theta'?)
            -g/L*sin(thta) - c*omega
                     ^
    """

    def __init__(self, message: str, *, key: str = "", expression: str = "",
                 column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.key = key
        self.expression = expression
        self.column = column

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message,), self.__dict__)

    def __str__(self) -> str:
        head = f"{self.key}: {self.message}" if self.key else self.message
        if not self.expression:
            return head
        shown, caret = _excerpt(self.expression, self.column)
        lines = [head, "    " + shown]
        if caret is not None:
            lines.append("    " + " " * caret + "^")
        return "\n".join(lines)


def _excerpt(expression: str, column: int | None) -> tuple[str, int | None]:
    """The expression as one printable line (cut around `column`) and the caret's offset."""
    caret = None if column is None else min(max(column - 1, 0), len(expression))
    start, end = 0, len(expression)
    if end > _WINDOW:
        centre = caret if caret is not None else 0
        start = max(0, min(centre - _WINDOW // 2, end - _WINDOW))
        end = start + _WINDOW
    prefix = "..." if start > 0 else ""
    suffix = "..." if end < len(expression) else ""
    shown = "".join(ch if ch.isprintable() else " " if ch.isspace() else "?"
                    for ch in expression[start:end])
    return prefix + shown + suffix, None if caret is None else caret - start + len(prefix)
