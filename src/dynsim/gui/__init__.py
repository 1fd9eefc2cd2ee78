"""The dynsim desktop app (PySide6 + pyqtgraph): the only package that imports Qt.

`Window` (`from dynsim.gui import Window`) is the main window and its Python API; `render`
draws a phase portrait without a display. The explorer's state (`dynsim.gui.model`) and what
is computed for it (`dynsim.gui.tasks`) import no Qt, so the CLI checks a request before Qt
is loaded.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Window"]


def __getattr__(name: str) -> Any:
    if name == "Window":
        from dynsim.gui.window import Window

        return Window
    raise AttributeError(f"module 'dynsim.gui' has no attribute {name!r}")
