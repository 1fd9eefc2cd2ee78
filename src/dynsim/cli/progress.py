"""A progress line on stderr for long analyses, shown only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

REFRESH_SECONDS = 0.2
"""The line is redrawn at most this often."""


def progress_line(label: str, stream: TextIO | None = None) -> Callable[[float], None] | None:
    """A `progress(fraction)` callback that redraws `dynsim: LABEL: NN%` on a terminal.

    None when the stream (default stderr) is not a terminal, so logs and pipes stay clean.
    The line is cleared when the fraction reaches 1.
    """
    out = stream if stream is not None else sys.stderr
    if not out.isatty():
        return None
    last = 0.0

    def show(fraction: float) -> None:
        nonlocal last
        now = time.monotonic()
        if fraction >= 1.0:
            out.write("\r\x1b[K")
        elif now - last >= REFRESH_SECONDS:
            out.write(f"\rdynsim: {label}: {100 * fraction:3.0f}%")
            last = now
        else:
            return
        out.flush()

    return show
