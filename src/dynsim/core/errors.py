"""Errors a user can cause. Each carries a one-line message that says what to do."""

from __future__ import annotations

import difflib
import traceback
from collections.abc import Iterable


class DynsimError(Exception):
    """Base of every error dynsim reports to a user (the CLI prints it as one line, exit 2)."""


class UnknownNameError(DynsimError, KeyError):
    """A system, solver, exporter, parameter or state name that does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class SystemDefinitionError(DynsimError, ValueError):
    """A `System` or `Param` built with inconsistent fields (a plugin author's mistake)."""


class ParameterError(DynsimError, ValueError):
    """A parameter value outside its range, non-finite, or not a number."""


class InputError(DynsimError, ValueError):
    """Bad simulation input: initial conditions, time span, output times, step size."""


class IntegrationError(DynsimError, RuntimeError):
    """A differentiable integration (`dynsim.learn.odeint`) failed.

    Blow-up, non-finite values, max steps or a step size below the minimum; batched
    `simulate` runs report such failures per trajectory instead.
    """


class PluginError(DynsimError):
    """A plugin could not be loaded or its registrations conflict."""


class SceneError(DynsimError, ValueError):
    """A scene file that cannot be read, with the file and key path (or line:col) in front."""


class DataFileError(DynsimError, ValueError):
    """A data file (CSV) that cannot be read, with FILE:LINE:COL in front."""


class ExportError(DynsimError, OSError):
    """Writing an output file failed; any existing file at the target is left untouched."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A ' (did you mean 'x'?)' suffix for the closest candidate, or ''."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown_name(kind: str, name: str, available: Iterable[str],
                 owner: str = "") -> UnknownNameError:
    """An error for an unknown `kind` name (of `owner`, if given) listing what is available."""
    names = sorted(available)
    listing = ", ".join(names) if names else "none"
    of = f" of {owner}" if owner else ""
    return UnknownNameError(
        f"unknown {kind} '{name}'{of}{did_you_mean(name, names)}; available: {listing}"
    )


def exception_line(exc: BaseException, path_hint: str = "") -> str:
    """One line for an exception raised by plugin code, pointing at the plugin's own frame.

    The frame shown is the last one in `path_hint` (the plugin's file) if any, else the
    innermost one: `FILE:LINE: Type: message`.
    """
    if isinstance(exc, SyntaxError):
        return f"{exc.filename}:{exc.lineno}:{exc.offset}: SyntaxError: {exc.msg}"
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        if path_hint and frame.filename == path_hint:
            where = f"{frame.filename}:{frame.lineno}: "
            break
    else:
        if frames:
            where = f"{frames[-1].filename}:{frames[-1].lineno}: "
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{where}{type(exc).__name__}: {text}" if text else f"{where}{type(exc).__name__}"
