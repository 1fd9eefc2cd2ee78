"""Fixtures for the app's tests: offscreen Qt, a private settings file, and windows that are
always closed (their jobs cancelled) when a test ends."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def private_settings(tmp_path, monkeypatch):
    """Every test gets its own settings file."""
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("DYNSIM_SETTINGS", str(path))
    return path


@pytest.fixture
def window(qtbot):
    """`window(target)` opens a shown Window, waits for its first picture, closes it after."""
    from dynsim.gui import Window

    opened = []

    def open_window(target=None, *, wait=True):
        w = Window(target)
        w.ask_on_close = False
        qtbot.addWidget(w)
        w.show()
        opened.append(w)
        if wait:
            w.wait_idle(60)
        return w

    yield open_window
    for w in opened:
        w.close()
