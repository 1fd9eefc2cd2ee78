"""The phase-plane widget: a pyqtgraph plot whose mouse gestures edit the explorer.

- left click: a trajectory through that point;
- left drag starting on an initial point: move it (its trajectory follows live);
- left drag elsewhere: pan; Shift + left drag: rubber-band zoom; wheel: zoom;
- right click on a curve: remove that trajectory (elsewhere: pyqtgraph's view menu).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from dynsim.gui import style

PICK_PIXELS = 8.0
"""A press within 8 pixels of an initial point grabs it; a right click within 8 pixels of a
curve removes it."""


def cache_axes(plot: pg.PlotItem) -> None:
    """Keep the plot's axes (with the grid they draw) as pixmaps: they change only with the
    view, and redrawing their text was half of every repaint while the data changed."""
    for side in ("left", "bottom"):
        plot.getAxis(side).setCacheMode(
            QtWidgets.QGraphicsItem.CacheMode.DeviceCoordinateCache)


class PlaneViewBox(pg.ViewBox):
    """A ViewBox that turns clicks and drags into explorer actions (see the module doc)."""

    clicked = QtCore.Signal(float, float)
    seed_dragged = QtCore.Signal(int, float, float)
    curve_removed = QtCore.Signal(int)

    def __init__(self) -> None:
        super().__init__(defaultPadding=0.0)  # a zoom box shows exactly the box
        self.seed_points: Callable[[], np.ndarray] = lambda: np.empty((0, 2))
        self.curve_points: Callable[[], list[np.ndarray]] = list
        self._dragging: int | None = None
        self._drag_mode = pg.ViewBox.PanMode

    def _pixels(self, points: np.ndarray) -> np.ndarray:
        """Data points (K, 2) in scene pixels."""
        px, py = self.viewPixelSize()
        return points / np.array([px, py])

    def nearest_seed(self, scene_pos: QtCore.QPointF) -> int | None:
        """The index of the initial point within `PICK_PIXELS` of `scene_pos`, if any."""
        seeds = self.seed_points()
        if len(seeds) == 0:
            return None
        here = self.mapSceneToView(scene_pos)
        distance = np.hypot(*(self._pixels(seeds - [here.x(), here.y()])).T)
        k = int(np.argmin(distance))
        return k if distance[k] <= PICK_PIXELS else None

    def nearest_curve(self, scene_pos: QtCore.QPointF) -> int | None:
        """The index of the trajectory passing within `PICK_PIXELS` of `scene_pos`, if any."""
        here = self.mapSceneToView(scene_pos)
        best, best_distance = None, PICK_PIXELS
        for k, curve in enumerate(self.curve_points()):
            if len(curve) == 0:
                continue
            d = np.hypot(*(self._pixels(curve - [here.x(), here.y()])).T)
            d = d[np.isfinite(d)]
            if len(d) and d.min() <= best_distance:
                best, best_distance = k, float(d.min())
        return best

    def mouseClickEvent(self, ev: object) -> None:
        button = ev.button()
        if button == QtCore.Qt.MouseButton.LeftButton:
            point = self.mapSceneToView(ev.scenePos())
            ev.accept()
            self.clicked.emit(point.x(), point.y())
            return
        if button == QtCore.Qt.MouseButton.RightButton:
            k = self.nearest_curve(ev.scenePos())
            if k is not None:
                ev.accept()
                self.curve_removed.emit(k)
                return
        super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev: object, axis: int | None = None) -> None:
        if ev.button() != QtCore.Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        if ev.isStart():
            self._dragging = self.nearest_seed(ev.buttonDownScenePos())
            shift = bool(ev.modifiers() & QtCore.Qt.KeyboardModifier.ShiftModifier)
            self._drag_mode = pg.ViewBox.RectMode if shift else pg.ViewBox.PanMode
        if self._dragging is not None:
            ev.accept()
            point = self.mapSceneToView(ev.scenePos())
            self.seed_dragged.emit(self._dragging, point.x(), point.y())
            if ev.isFinish():
                self._dragging = None
            return
        mode = self.state["mouseMode"]
        self.state["mouseMode"] = self._drag_mode  # chosen when the drag started
        try:
            super().mouseDragEvent(ev, axis)
        finally:
            self.state["mouseMode"] = mode


class PhasePlane(pg.PlotWidget):
    """The plot the portrait is drawn on, with a `PlaneViewBox`."""

    def __init__(self, parent: object = None) -> None:
        self.view_box = PlaneViewBox()
        super().__init__(parent, background=style.BACKGROUND, viewBox=self.view_box)
        self.plot_item = self.getPlotItem()
        self.plot_item.setMenuEnabled(True)
        for side in ("left", "bottom"):
            axis = self.plot_item.getAxis(side)
            axis.setPen(style.FOREGROUND)
            axis.setTextPen(style.FOREGROUND)
        cache_axes(self.plot_item)
        self.view_box.setMouseMode(pg.ViewBox.PanMode)

    held = False
    """Whether changes to the items wait for `release()` to be repainted."""

    def hold(self) -> None:
        """Repaint nothing for changes of the items until `release()` (exposed parts and
        `grab()` still show the items as they are)."""
        if not self.held:
            self.held = True
            self.setViewportUpdateMode(pg.GraphicsView.ViewportUpdateMode.NoViewportUpdate)

    def release(self) -> None:
        """Repaint the changes held since `hold()`, once."""
        if self.held:
            self.held = False
            self.setViewportUpdateMode(
                pg.GraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
            self.viewport().update()

    def data_to_widget(self, x: float, y: float) -> QtCore.QPoint:
        """The widget pixel at state-space point (x, y) (for tests and scripts)."""
        scene = self.view_box.mapViewToScene(QtCore.QPointF(x, y))
        return self.mapFromScene(scene)
