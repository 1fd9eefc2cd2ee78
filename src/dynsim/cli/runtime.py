"""What every `dynsim` command runs under: signals, a checked stdout, CLI spellings.

- SIGTERM and SIGHUP raise `Terminated` (a `BaseException`, like KeyboardInterrupt for
  SIGINT), so `atomic_write` removes its temporary file and nothing half-written stays
  behind; the command exits with 128 + the signal number.
- Writing to stdout that fails (a full device, an I/O error) is an `ExportError` naming
  standard output, not an internal error; the pipe's reader going away stays quiet
  (`BrokenPipeError`, handled by `main`).
- Messages spell settings as options (`--solver radau`, see `dynsim.core.spelling`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from dynsim.core.errors import ExportError
from dynsim.core.spelling import command_line_spelling

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(BaseException):
    """The process got SIGTERM or SIGHUP; `signum` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signum = signum


@contextlib.contextmanager
def command_runtime() -> Iterator[None]:
    """Run one command with the rules above (the previous signal handlers come back after)."""
    previous = {}
    for signum in SIGNALS:
        with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
            previous[signum] = signal.signal(signum, _raise_terminated)
    stdout = sys.stdout
    sys.stdout = _CheckedStream(stdout)  # type: ignore[assignment]
    try:
        with command_line_spelling():
            yield
        sys.stdout.flush()
    finally:
        sys.stdout = stdout
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _raise_terminated(signum: int, frame: Any) -> None:
    raise Terminated(signum)


class _CheckedStream:
    """A text stream whose write errors (other than a closed pipe) are `ExportError`s."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def write(self, text: str) -> int:
        """Write `text`; a failure is an `ExportError`."""
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise self._failed(exc) from None

    def flush(self) -> None:
        """Flush; a failure is an `ExportError`."""
        try:
            self._stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: OSError) -> ExportError:
        # what is still buffered can never be written: send it to /dev/null at exit
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
        return ExportError(f"standard output: write failed: {exc.strerror or exc}; free "
                           "space on the device, or send the output elsewhere")
