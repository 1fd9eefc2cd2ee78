"""The real app in a real X server (Xvfb): start it, click into the phase plane with
xdotool, and see a trajectory appear on a screenshot. `./dev test` installs the tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

TOOLS = ("Xvfb", "xdotool", "import")
TRAJECTORY_RGB = (0x1F, 0x4E, 0x9C)  # dynsim.gui.style.TRAJECTORY_COLOUR
SCENE = """
[system]
name = "center"
[simulation]
t_span = [0.0, 10.0]
initial_conditions = []
[view]
xlim = [-2.0, 2.0]
ylim = [-2.0, 2.0]
layers = { field = false, nullclines = false }
"""


def _free_display() -> int:
    for n in range(91, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _trajectory_pixels(shot: Path) -> int:
    from PySide6 import QtGui

    image = QtGui.QImage(str(shot)).convertToFormat(QtGui.QImage.Format.Format_RGB888)
    data = np.frombuffer(image.constBits(), dtype=np.uint8,
                         count=image.bytesPerLine() * image.height())
    rows = data.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3]
    rgb = rows.reshape(image.height(), image.width(), 3).astype(int)
    return int((np.abs(rgb - TRAJECTORY_RGB).sum(axis=-1) < 40).sum())


@pytest.fixture
def xserver(tmp_path):
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        message = f"{', '.join(missing)} not installed (./dev test installs them as root)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    n = _free_display()
    server = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x1024x24", "-nolisten",
                               "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait(lambda: Path(f"/tmp/.X11-unix/X{n}").exists(), 30, "Xvfb to start")
    yield f":{n}"
    server.terminate()
    server.wait(timeout=30)


@pytest.mark.slow
def test_clicking_the_real_window_draws_a_trajectory(xserver, tmp_path):
    scene = tmp_path / "empty.toml"
    scene.write_text(SCENE)
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY",)}
    env.update(DISPLAY=xserver, QT_QPA_PLATFORM="xcb",
               DYNSIM_SETTINGS=str(tmp_path / "settings.ini"))

    def x(*args: str) -> str:
        return subprocess.run(args, env=env, capture_output=True, text=True, timeout=60,
                              check=True).stdout

    def screenshot(name: str) -> Path:
        path = tmp_path / name
        x("import", "-window", "root", str(path))
        return path

    app = subprocess.Popen([sys.executable, "-m", "dynsim", "gui", str(scene)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        window = _wait(lambda: subprocess.run(
            ["xdotool", "search", "--name", "^dynsim — empty.toml"], env=env,
            capture_output=True, text=True).stdout.split(), 60, "the window")[0]
        geometry = dict(line.split("=") for line in x(
            "xdotool", "getwindowgeometry", "--shell", window).split())
        left, top = int(geometry["X"]), int(geometry["Y"])
        width, height = int(geometry["WIDTH"]), int(geometry["HEIGHT"])
        time.sleep(3.0)  # the first picture (no trajectories: the scene has none)
        before = _trajectory_pixels(screenshot("before.png"))
        # the middle of the window lies in the phase plane (docks are at the sides)
        x("xdotool", "mousemove", "--sync", str(left + width // 2 - 60),
          str(top + height // 3), "click", "1")
        after = _wait(lambda: (n := _trajectory_pixels(screenshot("after.png"))) > before + 150
                      and n, 60, "a trajectory on the screen")
        assert after > before + 150
        assert x("xdotool", "getwindowname", window).strip() == "dynsim — empty.toml *"
    finally:
        app.terminate()  # SIGTERM closes the window cleanly
        try:
            app.wait(timeout=20)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait()
    assert app.returncode == 0
    assert "Traceback" not in app.stderr.read()
