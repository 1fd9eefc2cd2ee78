"""Small helpers shared by the app's tests."""

from __future__ import annotations

import numpy as np
from PySide6 import QtGui


def picture_colours(path) -> int:
    """How many distinct colours a picture file holds (a blank picture has one)."""
    image = QtGui.QImage(str(path))
    assert not image.isNull(), f"{path} is not a picture"
    image = image.convertToFormat(QtGui.QImage.Format.Format_RGB32)
    data = np.frombuffer(image.constBits(), dtype=np.uint32, count=image.width() *
                         image.height())
    return len(np.unique(data))


def curve_points(item) -> np.ndarray:
    """The finite (x, y) points of a PlotDataItem as a (K, 2) array."""
    x, y = item.getData()
    if x is None:
        return np.empty((0, 2))
    points = np.column_stack([x, y])
    return points[np.isfinite(points).all(axis=1)]


def drag(widget, start, end, modifiers=None, steps: int = 6) -> None:
    """Press at `start`, move to `end` in `steps`, release: every event carries `modifiers`
    (as a user holding Shift produces; QTest's mouseMove cannot)."""
    from PySide6 import QtCore, QtWidgets

    modifiers = modifiers or QtCore.Qt.KeyboardModifier.NoModifier
    left = QtCore.Qt.MouseButton.LeftButton
    kinds = QtCore.QEvent.Type

    def send(kind, pos, button, buttons):
        local = QtCore.QPointF(pos)
        event = QtGui.QMouseEvent(kind, local, widget.mapToGlobal(local), button, buttons,
                                  modifiers)
        QtWidgets.QApplication.sendEvent(widget, event)
        QtWidgets.QApplication.processEvents()

    send(kinds.MouseButtonPress, start, left, left)
    for k in range(1, steps + 1):
        send(kinds.MouseMove, start + (end - start) * (k / steps), QtCore.Qt.MouseButton.NoButton,
             left)
    send(kinds.MouseButtonRelease, end, left, QtCore.Qt.MouseButton.NoButton)
