"""`dynsim gui`, bare `dynsim` and `dynsim render` from the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dynsim.core.scene import load_scene
from dynsim.gui.model import state_from_scene
from dynsim.gui.render import render
from tests.gui.helpers import picture_colours

REPO = Path(__file__).resolve().parents[2]
SCENES = sorted((REPO / "scenes").glob("*.toml"))
NO_DISPLAY = {"DISPLAY": "", "WAYLAND_DISPLAY": "", "QT_QPA_PLATFORM": ""}


@pytest.mark.parametrize("args", [(), ("gui",), ("gui", "lorenz")])
def test_without_a_display_the_app_says_so_and_points_at_render(cli, args):
    result = cli(*args, env=NO_DISPLAY)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["dynsim: error: no display available (DISPLAY and WAYLAND_DISPLAY are "
                     "unset); to draw a phase portrait without a display use 'dynsim render "
                     "TARGET -o plane.png'"]


def test_gui_reports_a_bad_target_before_anything_else(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[system]\nname = 'lotka_volterra'\n")
    result = cli("gui", str(bad), env=NO_DISPLAY)
    assert result.returncode == 2
    assert result.stderr.strip() == f"dynsim: error: {bad}: simulation: missing (required)"


def test_render_writes_png_and_svg_of_the_scene(cli, tmp_path):
    result = cli("render", "scenes/saddle.toml", "-o", str(tmp_path / "s.png"),
                 "--size", "640x480", "--param", "lambda1=2", cwd=REPO, env=NO_DISPLAY)
    assert result.returncode == 0, result.stderr
    from PySide6 import QtGui

    image = QtGui.QImage(str(tmp_path / "s.png"))
    assert (image.width(), image.height()) == (640, 480)
    assert picture_colours(tmp_path / "s.png") > 20
    result = cli("render", "--eq", "x=y", "--eq", "y=-x", "-o", str(tmp_path / "e.svg"),
                 env=NO_DISPLAY, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "e.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize("args, message", [
    (("render", "lorenz", "-o", "x.gif"), "-o x.gif: pictures are written as .png or .svg"),
    (("render", "lorenz", "-o", "x.png", "--size", "big"),
     "--size: expected WIDTHxHEIGHT in pixels (16 to 10000 each), got 'big'"),
    (("render", "lorenz"), "the following arguments are required: -o/--output"),
    (("render", "lorenz", "-o", "x.png", "--param", "rho=-1"), "parameter 'rho'"),
])
def test_render_argument_errors_are_one_line(cli, tmp_path, args, message):
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("scene", SCENES, ids=[s.stem for s in SCENES])
def test_every_shipped_scene_renders_a_picture_with_content(scene, tmp_path, qapp):
    out = tmp_path / f"{scene.stem}.png"
    render(state_from_scene(load_scene(scene)), out, (480, 360))
    assert picture_colours(out) > 20


def test_pyside_pyqtgraph_clear_loop_survives(tmp_path):
    """PySide6 6.12.0 kills the interpreter in this loop (the team's machine notes)."""
    result = subprocess.run([sys.executable, "-c", CLEAR_LOOP], capture_output=True, text=True,
                            timeout=300, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("ok ")


CLEAR_LOOP = """
import numpy as np, PySide6, pyqtgraph as pg
from PySide6 import QtWidgets
app = QtWidgets.QApplication([])
pw = pg.PlotWidget(); pw.show()
for _ in range(300):
    pw.clear()
    for _ in range(3):
        pw.plot(np.arange(100.0), np.random.rand(100))
    app.processEvents()
print("ok", PySide6.__version__, pg.__version__)
"""


def test_sigterm_while_the_unsaved_changes_question_is_open_closes_the_app(window):
    """`dynsim gui`'s signal handlers dismiss the question and close, as on any other
    SIGTERM (a modal question left open kept the app running, the signal answered)."""
    import signal

    from PySide6 import QtCore, QtWidgets

    from dynsim.cli.gui_cmd import _close_on_signals

    w = window(str(Path(__file__).parents[2] / "scenes" / "lotka_volterra.toml"))
    w.set_params(alpha=1.2)  # unsaved
    w.wait_idle(30)
    w.ask_on_close = True
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    ticker = _close_on_signals(w)
    asked, left_open = [], []

    def terminate():
        asked.append(QtWidgets.QApplication.activeModalWidget() is not None)
        os.kill(os.getpid(), signal.SIGTERM)

    def give_up():  # a failed fix would leave the question open: answer Cancel instead
        dialog = QtWidgets.QApplication.activeModalWidget()
        if dialog is not None:
            left_open.append(dialog.windowTitle())
            dialog.reject()

    try:
        QtCore.QTimer.singleShot(300, terminate)
        QtCore.QTimer.singleShot(5000, give_up)
        w.close()
    finally:
        ticker.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    assert asked == [True]  # the question was open when the signal came
    assert left_open == []  # ... and the signal, not the fallback, dismissed it
    assert not w.isVisible() and w._closing
    assert not w.jobs.busy
