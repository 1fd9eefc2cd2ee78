"""Entry point of the `dynsim` command: argument parsing, dispatch and error reporting.

Every error a user can cause prints one line on stderr and exits with code 2 (an error in a
typed expression adds two lines: the expression and a caret under the problem); a simulation
in which some trajectory failed still writes its output and exits with code 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from dynsim.cli.runtime import Terminated, command_runtime
from dynsim.core.errors import DynsimError

EXIT_OK, EXIT_FAILED_RUN, EXIT_USAGE = 0, 1, 2
ERROR_PREFIX = "dynsim: error: "


class UsageError(DynsimError):
    """A command line argparse rejected."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting, so errors stay one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def build_parser() -> argparse.ArgumentParser:
    """The full `dynsim` argument parser."""
    from dynsim import __version__
    from dynsim.cli import (
        analyze_cmd,
        compare_cmd,
        gui_cmd,
        listing,
        render_cmd,
        simulate_cmd,
        train_cmd,
    )

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--plugins-dir", action="append", metavar="DIR",
                        default=argparse.SUPPRESS,
                        help="also load single-file plugins from DIR (repeatable)")
    parser = _Parser(prog="dynsim", parents=[common],
                     description="Simulate and analyse continuous dynamical systems. "
                                 "With no command, the desktop app starts.")
    parser.add_argument("--version", action="version", version=f"dynsim {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in (listing, simulate_cmd, analyze_cmd, train_cmd, compare_cmd, render_cmd,
                   gui_cmd):
        module.add_commands(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `dynsim` command; returns the exit code."""
    try:
        parser = build_parser()
        args, unknown = parser.parse_known_args(argv)
        if unknown:  # name the command's own help, not the top level's
            prog = f"dynsim {args.command}" if args.command else "dynsim"
            raise UsageError(f"{prog}: unrecognized arguments: {' '.join(unknown)} (see "
                             f"'{prog} --help')")
        if args.command is None:
            from dynsim.cli.gui_cmd import run_gui

            return run_gui(args)
        with command_runtime():
            return args.run(args)
    except DynsimError as exc:
        print(error_text(exc), file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("dynsim: interrupted", file=sys.stderr)
        return 130
    except Terminated as exc:
        print(f"dynsim: {exc}", file=sys.stderr)
        return 128 + exc.signum
    except BrokenPipeError:
        # the reader of our stdout went away (e.g. `| head`); stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        if os.environ.get("DYNSIM_DEBUG"):
            traceback.print_exc()
        print(f"dynsim: internal error: {type(exc).__name__}: {exc} (this is a bug; run with "
              "DYNSIM_DEBUG=1 for the traceback and report it)", file=sys.stderr)
        return EXIT_FAILED_RUN


def error_text(exc: DynsimError) -> str:
    """`dynsim: error: <message>`, with control characters shown as '?'.

    The message's first line follows the prefix; further lines (an `ExpressionError`'s
    expression and caret, aligned with each other) follow unchanged below it.
    """
    text = "".join(ch if ch.isprintable() or ch == "\n" else "?" for ch in str(exc))
    return ERROR_PREFIX + text
