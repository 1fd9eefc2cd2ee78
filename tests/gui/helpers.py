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
