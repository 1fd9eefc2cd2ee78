"""The trajectory list and the time series of the selected trajectory.

The list names each trajectory by its initial state and why it stopped (forward, and
backward when there is a backward part). Selecting one plots every state against t below,
with a cursor line whose time is marked on the phase plane.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from dynsim.gui import style
from dynsim.gui.plane import cache_axes
from dynsim.gui.tasks import TrajectoryRun


def stop_text(run: TrajectoryRun, i: int) -> str:
    """Why trajectory `i` stopped, forward (and backward), in words."""
    parts = []
    for label, traj in (("forward", run.forward), ("backward", run.backward)):
        if traj is not None and i < traj.n_trajectories:
            parts.append(f"{label}: {style.STOP_REASONS[traj.status[i]]}")
    return "; ".join(parts)


def series(run: TrajectoryRun, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Times (K,) and states (K, D) of trajectory `i`, backward part first, in time order."""
    t, y = run.forward.path(i) if run.forward is not None else (np.empty(0), None)
    if run.backward is not None:
        tb, yb = run.backward.path(i)
        t = np.concatenate([tb[:0:-1], t])
        y = np.vstack([yb[:0:-1], y])
    return t, y


class TrajectoryPanel(QtWidgets.QWidget):
    """List on the left, time series on the right."""

    selected = QtCore.Signal(int)
    """A row was selected (-1: none)."""
    remove_requested = QtCore.Signal(int)
    add_requested = QtCore.Signal()
    cursor_moved = QtCore.Signal(object)
    """The state (D,) at the cursor's time, or None."""

    def __init__(self) -> None:
        super().__init__()
        self.list = QtWidgets.QListWidget()
        self.list.setSelectionMode(QtWidgets.QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setToolTip("select a trajectory to see its time series; Delete removes it")
        add = QtWidgets.QPushButton("Add at state…")
        add.setToolTip("type an exact initial state (Ctrl+T)")
        remove = QtWidgets.QPushButton("Remove")
        left = QtWidgets.QVBoxLayout()
        left.addWidget(self.list)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        left.addLayout(buttons)
        self.plot = pg.PlotWidget(background=style.BACKGROUND)
        self.plot.setLabel("bottom", "t")
        self.plot.addLegend(**style.legend_options())
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        cache_axes(self.plot.getPlotItem())
        self.cursor = pg.InfiniteLine(angle=90, movable=True, pen=style.pen(
            style.SELECTED_COLOUR, 1.5))
        self.cursor.setVisible(False)
        self.plot.addItem(self.cursor)
        self.curves: list[pg.PlotDataItem] = []
        self._legend_names: tuple[str, ...] = ()
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(left, 1)
        layout.addWidget(self.plot, 3)
        self.list.currentRowChanged.connect(self.selected.emit)
        add.clicked.connect(self.add_requested.emit)
        remove.clicked.connect(lambda: self._remove_current())
        QtGui.QShortcut(QtGui.QKeySequence.StandardKey.Delete, self.list,
                        activated=self._remove_current)
        self.cursor.sigPositionChanged.connect(self._cursor_moved)
        self._series: tuple[np.ndarray, np.ndarray] | None = None

    def _remove_current(self) -> None:
        if self.list.currentRow() >= 0:
            self.remove_requested.emit(self.list.currentRow())

    def show_list(self, seeds: tuple[tuple[float, ...], ...], states: tuple[str, ...],
                  run: TrajectoryRun | None) -> None:
        """One row per seed: its number, initial state and why it stopped."""
        texts = []
        for i, seed in enumerate(seeds):
            start = ", ".join(f"{n}={v:.4g}" for n, v in zip(states, seed, strict=True))
            why = stop_text(run, i) if run is not None and run.done else "computing…"
            texts.append(f"{i + 1}: ({start})  {why}")
        was = self.list.blockSignals(True)
        if self.list.count() == len(texts):  # rows changed in place: no relayout, no jump
            for i, text in enumerate(texts):
                item = self.list.item(i)
                if item.text() != text:
                    item.setText(text)
        else:
            row = self.list.currentRow()
            self.list.clear()
            self.list.addItems(texts)
            self.list.setCurrentRow(min(row, len(seeds) - 1))
        self.list.blockSignals(was)

    def show_series(self, run: TrajectoryRun | None, i: int, states: tuple[str, ...]) -> None:
        """Plot each state of trajectory `i` against t (nothing when `i` < 0)."""
        ok = run is not None and run.forward is not None and 0 <= i < run.forward.n_trajectories
        self._series = series(run, i) if ok else None
        while len(self.curves) < len(states):
            colour = style.NULLCLINE_COLOURS[len(self.curves) % len(style.NULLCLINE_COLOURS)]
            self.curves.append(self.plot.plot(pen=style.pen(colour, 1.5)))
        for k, curve in enumerate(self.curves):
            if self._series is not None and k < len(states):
                curve.setData(self._series[0], self._series[1][:, k])
            else:
                curve.setData([], [])
        self._show_legend(states if self._series is not None else ())
        self.cursor.setVisible(self._series is not None and len(self._series[0]) > 0)
        if self.cursor.isVisible():
            t = self._series[0]
            if not t.min() <= self.cursor.value() <= t.max():
                self.cursor.setValue(float(t[0]))
            self._cursor_moved()
        else:
            self.cursor_moved.emit(None)

    def _show_legend(self, names: tuple[str, ...]) -> None:
        """One legend entry per state shown; rebuilt only when they change (a rebuild
        relayouts the plot, a few ms on every redraw of a dragged slider)."""
        if names == self._legend_names:
            return
        self._legend_names = names
        legend = self.plot.getPlotItem().legend
        legend.clear()
        for curve, name in zip(self.curves, names, strict=False):
            legend.addItem(curve, name)

    def _cursor_moved(self) -> None:
        if self._series is None or len(self._series[0]) == 0:
            self.cursor_moved.emit(None)
            return
        t, y = self._series
        at = float(np.clip(self.cursor.value(), t.min(), t.max()))
        self.cursor_moved.emit(np.array([np.interp(at, t, y[:, k]) for k in range(y.shape[1])]))
