"""How messages name the settings a user can change: as Python keywords or as CLI options.

The library's messages say `solver='radau'`, `max_steps`; under the `dynsim` command (which
runs its commands in `command_line_spelling()`) the same messages say `--solver radau`,
`--max-steps`.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

_COMMAND_LINE = contextvars.ContextVar("dynsim_command_line", default=False)


@contextlib.contextmanager
def command_line_spelling() -> Iterator[None]:
    """Spell settings as `dynsim` options inside the block (in this context)."""
    token = _COMMAND_LINE.set(True)
    try:
        yield
    finally:
        _COMMAND_LINE.reset(token)


def setting(name: str, value: object = None) -> str:
    """`name` (with `value`) as the user types it: `solver='radau'` or `--solver radau`."""
    if _COMMAND_LINE.get():
        option = "--" + name.replace("_", "-")
        return option if value is None else f"{option} {value}"
    return name if value is None else f"{name}={value!r}"


def stream_hint() -> str:
    """How to write a big simulation in pieces as it is computed, for this front end."""
    if _COMMAND_LINE.get():
        return "--stream with -o FILE.csv (or stdout) to write it in chunks as they are computed"
    return "dynsim.stream_csv(...) to write it in chunks as they are computed"
