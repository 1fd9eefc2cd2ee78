"""Writing what the window shows: trajectories through exporters, the plane as PNG or SVG."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtSvg, QtWidgets

from dynsim.core.atomic import atomic_write
from dynsim.core.errors import InputError
from dynsim.core.plugins import active_plugins
from dynsim.core.trajectories import Status, Trajectories
from dynsim.gui.tasks import TrajectoryRun

IMAGE_FORMATS = (".png", ".svg")


def whole(run: TrajectoryRun) -> Trajectories:
    """Forward and backward parts as one set of trajectories over t0 - t_backward .. t_end.

    Every trajectory shares both time grids, so the backward samples (reversed, without
    their copy of t0) go before the forward ones. A trajectory's status is its forward
    status, or the backward one when only the backward part failed; its message names the
    part.
    """
    forward, backward = run.forward, run.backward
    if forward is None:
        raise InputError("there are no trajectories yet")
    if backward is None:
        return forward
    t = np.concatenate([backward.t[:0:-1], forward.t])
    y = np.concatenate([backward.y[:, :0:-1], forward.y], axis=1)
    status, messages = [], []
    for f, b, fm, bm in zip(forward.status, backward.status, forward.messages,
                            backward.messages, strict=True):
        failed_back = b not in (Status.SUCCESS, Status.EVENT)
        use_back = f in (Status.SUCCESS, Status.EVENT) and failed_back
        status.append(b if use_back else f)
        messages.append(f"backward: {bm}" if use_back else fm)
    return Trajectories(t=t, y=y, states=forward.states, status=tuple(status),
                        messages=tuple(messages), system=forward.system, params=forward.params)


def exporter_filters() -> str:
    """A file-dialog filter listing every registered exporter."""
    exporters = active_plugins().objects("exporters")
    return ";;".join(f"{e.description or name} ({' '.join('*' + x for x in e.extensions)})"
                     for name, e in sorted(exporters.items()))


def export_trajectories(run: TrajectoryRun, path: str | Path,
                        exporter: str | None = None) -> None:
    """Write `whole(run)` through the exporter named `exporter`, else the one whose
    extension `path` has."""
    path = Path(path)
    exporters = active_plugins().objects("exporters")
    if exporter is None:
        matching = [e for e in exporters.values() if path.suffix.lower() in e.extensions]
        if not matching:
            known = ", ".join(sorted(x for e in exporters.values() for x in e.extensions))
            raise InputError(f"{path}: no exporter writes '{path.suffix}' files (known: "
                             f"{known})")
        chosen = matching[0]
    else:
        chosen = active_plugins().get("exporters", exporter)
    chosen.write(whole(run), path)


def export_image(widget: QtWidgets.QWidget, path: str | Path,
                 size: tuple[int, int] | None = None) -> None:
    """Write `widget` as PNG or SVG (by the extension), atomically, at `size` if given."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_FORMATS:
        raise InputError(f"{path}: pictures are written as {' or '.join(IMAGE_FORMATS)}")
    if size is not None:
        widget.resize(*size)
    QtWidgets.QApplication.processEvents()
    if suffix == ".png":
        image = widget.grab().toImage()
        data = QtCore.QByteArray()
        buffer = QtCore.QBuffer(data)
        buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
        image.save(buffer, "PNG")
        buffer.close()
        payload = bytes(data.data())
    else:
        payload = svg_bytes(widget)
    with atomic_write(path, "wb") as handle:
        handle.write(payload)


def svg_bytes(widget: QtWidgets.QWidget) -> bytes:
    """The widget drawn through Qt's SVG generator (pyqtgraph's SVG exporter fails on
    PySide6 6.11: ../shared/machine-notes.md)."""
    data = QtCore.QByteArray()
    buffer = QtCore.QBuffer(data)
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    generator = QtSvg.QSvgGenerator()
    generator.setOutputDevice(buffer)
    generator.setSize(widget.size())
    generator.setViewBox(QtCore.QRect(0, 0, widget.width(), widget.height()))
    generator.setTitle("dynsim phase plane")
    painter = QtGui.QPainter(generator)
    with _uncached(widget):
        widget.render(painter)
    painter.end()
    buffer.close()
    return bytes(data.data())


_NO_CACHE = QtWidgets.QGraphicsItem.CacheMode.NoCache


@contextmanager
def _uncached(widget: QtWidgets.QWidget) -> Iterator[None]:
    """Scene items drawn afresh, not from their pixmap caches (an SVG keeps text and lines
    as vectors only when they are painted into it)."""
    cached = [(item, item.cacheMode()) for view in widget.findChildren(QtWidgets.QGraphicsView)
              + ([widget] if isinstance(widget, QtWidgets.QGraphicsView) else [])
              for item in view.scene().items() if item.cacheMode() != _NO_CACHE]
    for item, _ in cached:
        item.setCacheMode(_NO_CACHE)
    try:
        yield
    finally:
        for item, mode in cached:
            item.setCacheMode(mode)
