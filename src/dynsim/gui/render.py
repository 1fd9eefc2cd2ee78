"""Headless rendering: the phase portrait the window would show, drawn to PNG or SVG.

The same tasks compute the layers and the same `PortraitLayers` draw them as in the window;
without a display, Qt's offscreen platform is used.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6 import QtWidgets

from dynsim.gui import tasks
from dynsim.gui.app import ensure_app
from dynsim.gui.display import display_problem
from dynsim.gui.exports import export_image
from dynsim.gui.layers import PortraitLayers
from dynsim.gui.model import ExplorerState
from dynsim.gui.plane import PhasePlane

DEFAULT_SIZE = (1200, 900)


def render(state: ExplorerState, path: str | Path,
           size: tuple[int, int] = DEFAULT_SIZE) -> None:
    """Compute every visible layer of `state` and write the plane to `path` (.png, .svg)."""
    if display_problem() is not None and QtWidgets.QApplication.instance() is None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    ensure_app()
    plane = PhasePlane()
    plane.resize(*size)
    view = state.view
    plane.view_box.setRange(xRange=view.xlim, yRange=view.ylim, padding=0)
    plane.plot_item.setLabel("bottom", view.axes[0])
    plane.plot_item.setLabel("left", view.axes[1])
    plane.plot_item.setTitle(state.title or state.system.title, color="k")
    QtWidgets.QApplication.processEvents()  # lay the plot out: arrows need its pixel size
    draw_all(state, PortraitLayers(plane.plot_item))
    export_image(plane, path)
    plane.deleteLater()


def draw_all(state: ExplorerState, layers: PortraitLayers) -> None:
    """Compute and draw every visible layer of `state`, in this thread."""
    visible = state.layers.visible
    axes = (state.system.state_index(state.view.axes[0]),
            state.system.state_index(state.view.axes[1]))
    pixel = layers.plot.getViewBox().viewPixelSize()
    if visible["field"]:
        layers.draw_field(tasks.field_of(state), pixel, state.layers.scaling == "speed")
    if visible["streamlines"]:
        layers.draw_streamlines(tasks.streamlines_of(state))
    if visible["nullclines"]:
        layers.draw_nullclines(tasks.nullclines_of(state))
    if visible["equilibria"] or visible["separatrices"]:
        search = tasks.equilibria_of(state)
        layers.draw_equilibria(search, axes)
        if visible["separatrices"]:
            layers.draw_separatrices(tasks.separatrices_of(state, search), axes)
    if visible["trajectories"]:
        layers.draw_trajectories(tasks.trajectories_now(state), axes)
    for name, on in visible.items():
        layers.set_visible(name, on)
