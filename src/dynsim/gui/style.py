"""How each mark looks: colours, pens and symbols shared by the window, renders and legends.

Choices (pplane's conventions where it has them): white background; stable equilibria
filled, unstable ones open; nodes round, foci diamonds, saddles squares; stable
separatrices teal, unstable ones red; forward trajectories dark blue, backward parts light
blue (both solid one-pixel lines, which Qt draws fastest), the selected one amber;
nullclines orange, purple, brown, pink (no blue, teal or red, which mark trajectories and
separatrices); arrow colour from slow (dark purple) to fast (orange) on the plasma map, its
light yellow end left out for contrast on white.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6 import QtGui

BACKGROUND = "w"
FOREGROUND = "k"
FIELD_COLOURS = 8
"""The field's speed is shown in this many colour bins (one curve item per bin)."""
FIELD_COLORMAP = ("plasma", 0.0, 0.82)
NULLCLINE_COLOURS = ("#e66100", "#5e3c99", "#a6761d", "#e7298a", "#666666", "#b8860b")
TRAJECTORY_COLOUR = "#1f4e9c"
BACKWARD_COLOUR = "#8fb3e8"
SELECTED_COLOUR = "#ffb000"
SEPARATRIX_COLOURS = {"stable": "#00a6a6", "unstable": "#c0392b"}
MEASURED_COLOUR = "#2ca02c"
FAILURE_COLOUR = "#d62728"


def pen(colour: str, width: float = 1.5) -> QtGui.QPen:
    """A cosmetic pen (its width in pixels, whatever the zoom)."""
    p = pg.mkPen(colour, width=width)
    p.setCosmetic(True)
    return p


def legend_options() -> dict[str, object]:
    """How the legends look: top right, small black text on a nearly opaque white box, so
    the curves under it do not hide the labels."""
    return {"offset": (-8, 8), "labelTextSize": "8pt", "labelTextColor": FOREGROUND,
            "verSpacing": -6, "brush": pg.mkBrush(255, 255, 255, 215),
            "pen": pg.mkPen("#bbbbbb")}


def field_colours() -> list[QtGui.QColor]:
    """FIELD_COLOURS colours from slow to fast."""
    name, lo, hi = FIELD_COLORMAP
    cmap = pg.colormap.get(name)
    return [cmap.map(lo + (hi - lo) * k / (FIELD_COLOURS - 1), mode="qcolor")
            for k in range(FIELD_COLOURS)]


EQUILIBRIUM_STYLE: dict[str, tuple[str, str, str]] = {
    # classification: (symbol, pen colour, brush colour; "w" = open)
    "stable node": ("o", "#1f4e9c", "#1f4e9c"),
    "stable focus": ("d", "#1f4e9c", "#1f4e9c"),
    "unstable node": ("o", "#c0392b", "w"),
    "unstable focus": ("d", "#c0392b", "w"),
    "saddle": ("s", "#e67e22", "#e67e22"),
    "saddle-focus": ("s", "#e67e22", "w"),
    "center": ("star", "#000000", "#7f7f7f"),
    "non-hyperbolic": ("h", "#555555", "w"),
}
EQUILIBRIUM_SIZE = 13

STOP_REASONS = {
    "success": "end of the time span",
    "event": "left the integration window",
    "non_finite": "blew up (non-finite state)",
    "max_steps": "reached max_steps",
    "step_too_small": "step size too small (stiff?)",
    "cancelled": "cancelled",
    "rhs_error": "the right-hand side raised an error",
}
"""A trajectory's status in words, for tooltips and the trajectory list."""


def arrow_path() -> QtGui.QPainterPath:
    """A filled arrowhead pointing along +x, within the unit box pyqtgraph scales symbols
    from (centred on the point it marks)."""
    path = QtGui.QPainterPath()
    path.moveTo(0.5, 0.0)
    path.lineTo(-0.5, -0.4)
    path.lineTo(-0.25, 0.0)
    path.lineTo(-0.5, 0.4)
    path.closeSubpath()
    return path


ARROW_ANGLES = 72
"""End arrowheads are drawn at the nearest of 72 directions (5 degrees apart), so that the
scatter item caches at most 72 symbols."""
_ARROWS: list[QtGui.QPainterPath] = []


def arrow_symbol(angle_degrees: float) -> QtGui.QPainterPath:
    """The arrowhead turned to `angle_degrees` (screen angle, counter-clockwise from +x)."""
    if not _ARROWS:
        base = arrow_path()
        for k in range(ARROW_ANGLES):
            # screen y points down while the angle counts up: turn clockwise on screen
            _ARROWS.append(QtGui.QTransform().rotate(-k * 360.0 / ARROW_ANGLES).map(base))
    return _ARROWS[round(angle_degrees / (360.0 / ARROW_ANGLES)) % ARROW_ANGLES]
