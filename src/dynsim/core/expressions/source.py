"""Preparing expression text for Python's parser: checks, whitespace, `^`, column mapping.

- Only printable ASCII, spaces, tabs and line breaks are accepted (names are ASCII
  identifiers); a non-ASCII character is reported with a hint when it looks like an ASCII
  one (`−` for `-`, `×` for `*`, `θ` for `theta`, ...).
- Tabs and line breaks count as spaces, so an expression may span lines in a scene file;
  leading blanks are skipped (Python's parser would call them an indent).
- `^` means power, as in XPPAUT and MATLAB: it is replaced by `**` before parsing (so it
  binds like `**`: `-x^2` is `-(x^2)` and `2^3^2` is `2^9`), and columns in error messages
  still point into the text as written.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from dynsim.core.expressions.errors import ExpressionError
from dynsim.core.expressions.limits import MAX_DEPTH, MAX_LENGTH, bracket_overflow

_LOOKALIKES = {"\u2212": "-", "\u2013": "-", "\u2014": "-", "\u00d7": "*", "\u00b7": "*",
               "\u22c5": "*", "\u2217": "*", "\u00f7": "/", "\u00b2": "^2", "\u00b3": "^3"}

_REJECTED = {"#": "'#' is not allowed: comments belong in the scene file, not in an expression",
             "\\": "'\\' is not allowed in an expression"}


@dataclass(frozen=True)
class Source:
    """One expression: the text as given and the text handed to `ast.parse`.

    `origin[i]` is the index in `text` that character `i` of `python` came from.
    """

    text: str
    key: str
    python: str
    origin: tuple[int, ...]

    def original(self, start: int, end: int) -> str:
        """The part of `text` that characters `start:end` of `python` came from."""
        return self.text[self.origin[start]:self.origin[end - 1] + 1]

    def error(self, message: str, index: int | None) -> ExpressionError:
        """An error at 0-based `index` of `text` (None: no particular column)."""
        column = None if index is None else index + 1
        return ExpressionError(message, key=self.key, expression=self.text, column=column)

    def error_at_python(self, message: str, index: int | None) -> ExpressionError:
        """An error at 0-based `index` of `python` (past the end: just after the text)."""
        if index is None:
            return self.error(message, None)
        if index >= len(self.origin):
            return self.error(message, len(self.text))
        return self.error(message, self.origin[max(index, 0)])


def prepare(text: object, key: str) -> Source:
    """Check `text` and translate it for `ast.parse` (see the module docstring)."""
    if not isinstance(text, str):
        raise ExpressionError(f"expected the expression as a string, got "
                              f"{type(text).__name__}", key=key)
    raw = Source(text, key, text, ())
    if len(text) > MAX_LENGTH:
        raise raw.error(f"expression too long ({len(text)} characters; the limit is "
                        f"{MAX_LENGTH})", MAX_LENGTH)
    for index, char in enumerate(text):
        if not char.isascii():
            raise raw.error(_non_ascii(char), index)
        if not (char.isprintable() or char in "\t\n\r"):
            raise raw.error(f"control character U+{ord(char):04X} is not allowed", index)
        if char in _REJECTED:
            raise raw.error(_REJECTED[char], index)
    if not text.strip():
        raise raw.error("empty expression", None)
    overflow = bracket_overflow(text)
    if overflow is not None:
        raise raw.error(f"brackets nested too deeply (more than {MAX_DEPTH} levels)", overflow)
    python: list[str] = []
    origin: list[int] = []
    first = len(text) - len(text.lstrip())
    for index, char in enumerate(text[first:], start=first):
        replacement = "**" if char == "^" else " " if char in "\t\n\r" else char
        python.append(replacement)
        origin.extend([index] * len(replacement))
    return Source(text, key, "".join(python), tuple(origin))


def _non_ascii(char: str) -> str:
    message = (f"character {char!r} (U+{ord(char):04X}) is not allowed: expressions are "
               "plain ASCII")
    hint = _LOOKALIKES.get(char) or unicodedata.normalize("NFKC", char)
    if not hint.isascii():
        words = unicodedata.name(char, "").split()
        greek = words[:1] == ["GREEK"] and "LETTER" in words[:-1]
        hint = words[words.index("LETTER") + 1].lower() if greek else ""
    return f"{message} (did you mean {hint!r}?)" if hint.strip() else message
