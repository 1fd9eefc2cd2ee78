"""`dynsim gui [TARGET]` (also plain `dynsim`): open the desktop app.

The target and options are checked before Qt is imported, so a typo costs no start-up and
gives the usual one-line error.
"""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import Any

from dynsim.cli.args import add_target_arguments, parse_assignments
from dynsim.cli.plugin_setup import load_for_command
from dynsim.cli.simulate_cmd import add_simulation_arguments, apply_options
from dynsim.cli.target import scene_for_target
from dynsim.core.errors import DynsimError
from dynsim.core.scene import Scene


class NoDisplayError(DynsimError):
    """The app cannot open a window here."""


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Register the `gui` subcommand."""
    p = commands.add_parser(
        "gui", parents=[common], help="open the desktop app (also: dynsim with no command)",
        description="Open the explorer on TARGET: a scene file, a system name, or --eq "
                    "equations (default: the system shown last). Options override the scene.")
    add_target_arguments(p)
    add_simulation_arguments(p)
    p.set_defaults(run=run_gui)


def scene_for_app(args: argparse.Namespace) -> Scene | Path | None:
    """What the window opens: a scene file as given, a built scene, or None (last system)."""
    params = parse_assignments(getattr(args, "param", []), "--param")
    target, equations = getattr(args, "target", None), getattr(args, "eq", [])
    if target is None and not equations:
        return None
    scene = apply_options(scene_for_target(target, equations, params), args, params,
                          need_states=False)
    untouched = scene == scene_for_target(target, equations, {})
    if untouched and target is not None and Path(target).suffix.lower() == ".toml":
        return Path(target)  # the title names the file, Save writes back to it
    return scene


def run_gui(args: argparse.Namespace) -> int:
    """Check the request, then open the window and run the event loop."""
    load_for_command(args)
    opened = scene_for_app(args)
    from dynsim.gui.display import display_problem

    problem = display_problem()
    if problem is not None:
        raise NoDisplayError(f"{problem}; to draw a phase portrait without a display use "
                             f"'dynsim render TARGET -o plane.png'")
    from dynsim.gui.app import ensure_app
    from dynsim.gui.window import Window

    app = ensure_app()
    window = Window(opened)
    window.install_exception_hook()
    ticker = _close_on_signals(window)
    window.show()
    code = app.exec()
    ticker.stop()
    return code


def _close_on_signals(window: Any) -> Any:
    """SIGINT, SIGTERM and SIGHUP close the window without asking (its jobs are cancelled,
    its settings written) instead of raising inside Qt's event loop; an open dialog (the
    unsaved-changes question among them) is dismissed first, or it would keep the app
    running. Python runs signal handlers only between bytecodes, so a timer wakes the
    interpreter 5 times a second."""
    from PySide6 import QtCore, QtWidgets

    def close(signum: int, frame: object) -> None:
        window.ask_on_close = False
        for widget in QtWidgets.QApplication.topLevelWidgets():
            if isinstance(widget, QtWidgets.QDialog) and widget.isVisible():
                widget.reject()
        window.close()

    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), close)
    ticker = QtCore.QTimer(interval=200)
    ticker.timeout.connect(lambda: None)
    ticker.start()
    return ticker
