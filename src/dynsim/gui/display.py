"""Whether a window can be shown here (no Qt import: the CLI asks before loading Qt)."""

from __future__ import annotations

import os
import sys

HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc")


def display_problem() -> str | None:
    """Why no window can be shown here (no X or Wayland display), or None if one can."""
    platform = os.environ.get("QT_QPA_PLATFORM", "").partition(":")[0]
    if platform in HEADLESS_PLATFORMS or sys.platform in ("win32", "darwin"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return "no display available (DISPLAY and WAYLAND_DISPLAY are unset)"
