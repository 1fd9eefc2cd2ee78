"""The explorer window driven as a user would (mouse, sliders, keys) and by its Python API."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6 import QtCore

import dynsim
from dynsim.gui import tasks
from tests.gui.helpers import curve_points, drag, picture_colours

LV = "scenes/lotka_volterra.toml"


def test_title_names_the_scene_file_and_the_system(window):
    assert window(LV).windowTitle() == "dynsim — lotka_volterra.toml"
    assert window("lorenz").windowTitle() == "dynsim — Lorenz"


def test_first_picture_has_every_layer(window):
    w = window(LV)
    layers = w.layers
    # an arrow (shaft and two barbs: 6 points) at every grid point but the origin, where
    # the field vanishes
    assert len(layers.field_item.points()) == (25 * 25 - 1) * 6
    # coloured by speed: every colour bin holds arrows
    per_pen = [len(layers.field_item.points(k)) for k in range(len(layers.field_item.pens))]
    assert min(per_pen) > 0 and sum(per_pen) == (25 * 25 - 1) * 6
    assert set(layers.nullcline_items) == {"x", "y"}
    kinds = sorted(e.classification for e in layers.equilibria)
    assert kinds == ["center", "saddle"]
    center = next(e for e in layers.equilibria if e.classification == "center")
    np.testing.assert_allclose(center.state, [1 / 0.75, 1.5], rtol=1e-9)
    assert w.trajectories.n_trajectories == 2 and w.backward.n_trajectories == 2


def test_clicking_the_plane_adds_the_trajectory_through_that_point(window, qtbot):
    w = window(LV)
    target = w.plane.data_to_widget(3.0, 2.0)
    qtbot.mouseClick(w.plane.viewport(), QtCore.Qt.MouseButton.LeftButton, pos=target)
    w.wait_idle(30)
    seed = np.array(w.state.seeds[-1])
    pixel = np.array(w.plane.view_box.viewPixelSize())
    assert len(w.state.seeds) == 3
    assert np.all(np.abs(seed - [3.0, 2.0]) <= 1.5 * pixel)
    np.testing.assert_array_equal(w.trajectories.y[-1, 0], seed)
    np.testing.assert_array_equal(w.backward.y[-1, 0], seed)
    drawn = curve_points(w.layers.forward_item)
    assert np.min(np.hypot(*(drawn - seed).T)) == 0.0  # the drawn curve starts at the click


def test_drawn_numbers_are_those_of_dynsim_simulate(window):
    w = window(LV)
    state = w.state
    sim = state.solver
    events = [tasks.window_event(state)]
    expected = dynsim.simulate("lotka_volterra", state.seeds, (sim.t0, sim.t0 + sim.t_forward),
                               params=dict(state.params), solver=sim.method, dt=sim.dt,
                               rtol=sim.rtol, atol=sim.atol, points=sim.points, events=events)
    np.testing.assert_array_equal(w.trajectories.y, expected.y)
    # the scene the window saves simulates to the same numbers (the orbits stay in view)
    np.testing.assert_array_equal(w.scene.simulate().y, expected.y)


def test_moving_a_slider_moves_the_nullclines_and_the_equilibrium(window, qtbot):
    w = window(LV)
    row = w.param_panel.rows["alpha"]
    before = curve_points(w.layers.nullcline_items["x"])
    row.slider.setValue(row.position(2.5))
    w.wait_idle(30)
    assert w.state.params["alpha"] == pytest.approx(2.5, abs=1e-2)
    alpha = w.state.params["alpha"]
    horizontal = curve_points(w.layers.nullcline_items["x"])
    assert not np.array_equal(before, horizontal)
    assert np.any(np.abs(horizontal[:, 1] - alpha / 1.0) < 1e-9)  # dx/dt = 0 at y = alpha/beta
    center = next(e for e in w.layers.equilibria if e.classification == "center")
    assert center.state[1] == pytest.approx(alpha)
    np.testing.assert_array_equal(w.trajectories.y, dynsim.simulate(
        **tasks.trajectory_request(w.state)).y)
    assert w.param_panel.rows["alpha"].spin.value() == pytest.approx(alpha)


def test_a_typed_value_may_leave_the_slider_range_but_not_the_parameter_range(window):
    from dynsim.gui.equations_dialog import build_state

    # a typed parameter has no range: its slider spans the default's neighbourhood only
    w = window(build_state("decay", "x = -k*x\ny = -y", "k = 1").to_scene())
    row = w.param_panel.rows["k"]
    outside = row.hi + 5.0
    row.spin.setValue(outside)
    w.wait_idle(30)
    assert w.state.params["k"] == outside
    assert row.slider.value() == row.slider.maximum()  # pinned at its end, value kept
    # a registered parameter's own range still holds
    w.choose_system("hopf")
    with pytest.raises(dynsim.DynsimError, match="outside its range"):
        w.set_params(mu=1e9)
    assert w.state.params["mu"] == w.state.system.params["mu"].default


def test_right_click_on_a_curve_removes_it_and_undo_removes_the_last(window, qtbot):
    w = window(LV)
    first = w.trajectories.y[0, 0]
    on_curve = w.plane.data_to_widget(*w.trajectories.y[0, 300])
    qtbot.mouseClick(w.plane.viewport(), QtCore.Qt.MouseButton.RightButton, pos=on_curve)
    w.wait_idle(30)
    assert len(w.state.seeds) == 1 and not np.array_equal(w.state.seeds[0], first)
    w.add_trajectory([4.0, 4.0])
    w.undo_trajectory()
    w.wait_idle(30)
    assert len(w.state.seeds) == 1
    w.clear_trajectories()
    w.wait_idle(30)
    assert w.trajectories is None and len(curve_points(w.layers.forward_item)) == 0


def test_dragging_an_initial_point_moves_its_trajectory(window, qtbot):
    w = window(LV)
    start = w.plane.data_to_widget(*w.state.seeds[0])
    end = w.plane.data_to_widget(3.0, 3.0)
    drag(w.plane.viewport(), start, end)
    w.wait_idle(30)
    pixel = np.array(w.plane.view_box.viewPixelSize())
    assert np.all(np.abs(np.array(w.state.seeds[0]) - [3.0, 3.0]) <= 2 * pixel)
    np.testing.assert_array_equal(w.trajectories.y[0, 0], w.state.seeds[0])


def test_keyboard_shortcuts_undo_and_clear(window, qtbot):
    w = window(LV)
    w.add_trajectory([1.0, 1.0])
    w.wait_idle(30)
    qtbot.keyClick(w, QtCore.Qt.Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    w.wait_idle(30)
    assert len(w.state.seeds) == 2
    qtbot.keyClick(w, QtCore.Qt.Key.Key_X, QtCore.Qt.KeyboardModifier.ControlModifier
                   | QtCore.Qt.KeyboardModifier.ShiftModifier)
    w.wait_idle(30)
    assert w.state.seeds == ()
    qtbot.keyClick(w, QtCore.Qt.Key.Key_1)  # toggles the direction field
    assert not w.state.layers.visible["field"]
    assert not w.layers.field_item.isVisible()


def test_zoom_to_fit_and_zoom_back(window):
    w = window(LV)
    w.model.set_view(xlim=(1.0, 2.0), ylim=(1.0, 2.0))
    w.wait_idle(30)
    assert w.plane.view_box.viewRange()[0] == pytest.approx([1.0, 2.0])
    # the axes follow a view set through the model (the View panel's limits)
    assert w.plane.plot_item.getAxis("bottom").range == pytest.approx([1.0, 2.0])
    assert w.plane.plot_item.getAxis("left").range == pytest.approx([1.0, 2.0])
    w.zoom_to_fit()
    w.wait_idle(30)
    assert w.state.view.xlim == (0.0, 5.0)
    w.zoom_back()
    w.wait_idle(30)
    assert w.state.view.xlim == (1.0, 2.0)
    field = w.layers.field
    assert field.x.min() == 1.0 and field.x.max() == 2.0  # the field follows the view


def test_selecting_a_trajectory_shows_its_time_series_with_a_linked_cursor(window):
    w = window(LV)
    w.trajectory_panel.list.setCurrentRow(1)
    w.wait_idle(30)
    t, _ = curve_points(w.trajectory_panel.curves[0]).T
    assert t.min() == pytest.approx(-20.0) and t.max() == pytest.approx(20.0)
    w.trajectory_panel.cursor.setValue(0.0)
    marker = w.layers.cursor_item.data["x"][0], w.layers.cursor_item.data["y"][0]
    np.testing.assert_allclose(marker, w.state.seeds[1], atol=1e-12)


def test_the_time_series_legend_names_the_states_of_the_selected_trajectory(window):
    def labels(w):
        legend = w.trajectory_panel.plot.getPlotItem().legend
        return [label.text for _, label in legend.items]

    w = window(LV)
    w.trajectory_panel.list.setCurrentRow(0)
    w.wait_idle(30)
    assert labels(w) == ["x", "y"]
    w.set_params(alpha=1.3)  # redrawn, the legend kept
    w.wait_idle(30)
    assert labels(w) == ["x", "y"]
    w.clear_trajectories()
    w.wait_idle(30)
    assert labels(w) == []
    w.choose_system("lorenz")
    w.add_trajectory([1.0, 1.0])
    w.wait_idle(60)
    w.trajectory_panel.list.setCurrentRow(0)
    w.wait_idle(30)
    assert labels(w) == ["x", "y", "z"]


def test_three_dimensional_systems_show_a_slice_and_switch_axes(window):
    w = window("lorenz", wait=False)
    w.set_params(rho=10.0)
    w.wait_idle(60)
    assert w.state.view.axes == ("x", "y") and set(w.state.view.at) == {"z"}
    w.model.set_view(axes=("x", "z"))
    w.wait_idle(60)
    assert w.plane.plot_item.getAxis("left").labelText == "z"
    assert w.layers.field.plane.names == ("x", "z")
    w.add_trajectory([1.0, 5.0])  # a plane point: y is held at its slice value
    w.wait_idle(60)
    assert w.state.seeds[-1] == (1.0, w.state.view.at["y"], 5.0)


def test_export_image_png_and_svg_hold_the_picture(window, tmp_path):
    w = window(LV)
    w.export_image(tmp_path / "plane.png")
    assert picture_colours(tmp_path / "plane.png") > 20
    w.export_image(tmp_path / "plane.svg")
    import xml.etree.ElementTree as ET

    root = ET.parse(tmp_path / "plane.svg").getroot()
    assert root.tag.endswith("svg") and len(list(root.iter())) > 100
    # tick labels stay text (the axes' pixmap caches are not used for vector output)
    texts = {"".join(e.itertext()).strip() for e in root.iter() if e.tag.endswith("text")}
    assert {"1", "2", "3", "x", "y"} <= texts


def test_export_csv_reads_back_as_the_drawn_trajectories(window, tmp_path):
    w = window(LV)
    w.export_csv(tmp_path / "traj.csv")
    back = dynsim.read_csv(tmp_path / "traj.csv")
    assert back.t[0] == pytest.approx(-20.0) and back.t[-1] == pytest.approx(20.0)
    n = len(w.backward.t)
    np.testing.assert_array_equal(back.y[:, n - 1:], w.trajectories.y)
    np.testing.assert_array_equal(back.y[:, : n - 1], w.backward.y[:, :0:-1])
    with pytest.raises(dynsim.DynsimError, match=r"no exporter writes '\.xyz'"):
        w.export_trajectories(tmp_path / "traj.xyz")


def test_clicking_an_equilibrium_shows_its_eigenpairs_instead_of_adding_a_trajectory(
        window, qtbot):
    w = window(LV)
    center = next(e for e in w.layers.equilibria if e.classification == "center")
    qtbot.mouseClick(w.plane.viewport(), QtCore.Qt.MouseButton.LeftButton,
                     pos=w.plane.data_to_widget(*center.state))
    w.wait_idle(30)
    assert len(w.state.seeds) == 2
    text = w.last_message
    assert text.startswith("center; x = 1.33333, y = 1.5; eigenvalues and eigenvectors")
    omega = np.sqrt(1.5 * 1.0)  # sqrt(alpha * gamma)
    assert f"0+{omega:.4g}i" in text and f"0-{omega:.4g}i" in text
    tip = w.layers._equilibrium_tip(0, 0, w.layers.equilibria.index(center))
    assert tip.split("\n")[0] == "center"


def test_shift_drag_zooms_to_the_box(window, qtbot):
    w = window(LV)
    a, b = w.plane.data_to_widget(1.0, 1.0), w.plane.data_to_widget(2.0, 3.0)
    drag(w.plane.viewport(), a, b, QtCore.Qt.KeyboardModifier.ShiftModifier)
    w.wait_idle(30)
    xlim, ylim = w.state.view.xlim, w.state.view.ylim
    pixel = w.plane.view_box.viewPixelSize()
    assert xlim == pytest.approx((1.0, 2.0), abs=0.05) and ylim == pytest.approx((1.0, 3.0),
                                                                                   abs=0.05)
    assert len(w.state.seeds) == 2 and pixel[0] > 0
    w.zoom_back()
    w.wait_idle(30)
    assert w.state.view.xlim == (0.0, 5.0)


def test_the_last_system_shown_is_the_next_start(window):
    w = window("van_der_pol")
    w.choose_system("hopf")
    w.close()
    assert window().state.system.name == "hopf"


def test_an_exception_in_a_slot_becomes_a_message(window, monkeypatch):
    import sys

    w = window(LV)
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr("PySide6.QtWidgets.QMessageBox.critical", lambda *a: None)
    w.install_exception_hook()
    try:
        raise ValueError("boom")
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    assert w.last_message == "unexpected error (a bug, please report it): ValueError: boom"
    w.add_trajectory([1.0, 2.0])
    w.wait_idle(30)
    assert len(w.state.seeds) == 3


def test_a_trajectory_from_a_typed_exact_state(window, monkeypatch):
    w = window(LV)
    answers = iter([("0.25, 3.125", True), ("1, two", True), ("1, 2, 3", True)])
    monkeypatch.setattr("PySide6.QtWidgets.QInputDialog.getText",
                        lambda *a, **k: next(answers))
    w.ask_trajectory()
    w.wait_idle(30)
    assert w.state.seeds[-1] == (0.25, 3.125)
    np.testing.assert_array_equal(w.trajectories.y[-1, 0], [0.25, 3.125])
    w.ask_trajectory()
    assert w.last_message == "not numbers: '1, two'; type 2 numbers"
    w.ask_trajectory()
    assert "each initial condition needs 2 values (x, y)" in w.last_message
    assert len(w.state.seeds) == 3


def test_extending_doubles_the_time_and_the_mouse_position_is_shown(window, qtbot):
    w = window(LV)
    w._extend("t_forward")
    w._extend("t_backward")
    w.wait_idle(30)
    assert (w.state.solver.t_forward, w.state.solver.t_backward) == (40.0, 40.0)
    assert w.trajectories.t[-1] == 40.0 and w.backward.t[-1] == -40.0
    qtbot.mouseMove(w.plane.viewport(), w.plane.data_to_widget(2.5, 1.25))
    qtbot.waitUntil(lambda: w.coordinates.text() != "", timeout=3000)
    x, y = (float(part.split("=")[1]) for part in w.coordinates.text().split(","))
    pixel = w.plane.view_box.viewPixelSize()
    assert abs(x - 2.5) <= 2 * pixel[0] and abs(y - 1.25) <= 2 * pixel[1]


def test_while_results_wait_to_be_drawn_the_plane_still_shows_its_picture(window, tmp_path):
    w = window(LV)
    w.plane.hold()  # as between a change and its last result
    w.plane.grab().save(str(tmp_path / "held.png"))
    assert picture_colours(tmp_path / "held.png") > 20  # the picture, not a black square
    w.set_params(alpha=1.2)
    w.wait_idle(60)
    assert not w.plane.held  # released once every result was drawn
    assert w.layers.equilibria[-1].state[1] == pytest.approx(1.2)  # y* = alpha / beta


def test_the_plane_repaints_when_the_last_result_is_drawn_not_when_its_worker_ends(
        window, qtbot, monkeypatch):
    w = window(LV)
    w._hold_timer.setInterval(60_000)  # only the results end the hold here
    job = w._job

    def slow_to_end(kind, state, **extra):
        work = job(kind, state, **extra)
        if kind != "trajectories":
            return work

        def lingering(token, progress):
            yield from work(token, progress)
            time.sleep(1.5)  # the worker is still busy after its final result
        return lingering

    monkeypatch.setattr(w, "_job", slow_to_end)
    before = w.run
    w.set_params(alpha=1.2)
    qtbot.waitUntil(lambda: w.run is not before and w.run.done, timeout=20_000)
    qtbot.waitUntil(lambda: not w.plane.held, timeout=500)
    assert w.jobs.busy  # the repaint did not wait for it
    w.wait_idle(10)


def test_a_slider_move_starts_the_jobs_before_the_panels_repaint(window, qtbot):
    """The jobs for a change are submitted ahead of the repaint of the widgets showing it,
    so the computation starts at once (many changes in one turn still give one refresh)."""
    from PySide6 import QtWidgets

    w = window(LV)
    w.show()
    qtbot.waitExposed(w)
    w.wait_idle(30)
    order = []

    class Painted(QtCore.QObject):
        def eventFilter(self, obj, event):
            if event.type() == QtCore.QEvent.Type.Paint and not order:
                order.append("paint")
            return False

    spy = Painted()
    for child in w.param_panel.findChildren(QtWidgets.QWidget):
        child.installEventFilter(spy)
    submit = w.jobs.submit
    w.jobs.submit = lambda key, *a, **k: (order.append(f"submit {key}"), submit(key, *a, **k))
    row = w.param_panel.rows["alpha"]
    row.slider.setValue(row.slider.value() + 7)
    row.slider.setValue(row.slider.value() + 3)
    w.wait_idle(30)
    assert order[0].startswith("submit"), order
    assert order.count("submit trajectories") == 1, order
    assert w.state.params["alpha"] == pytest.approx(row.value_at(row.slider.value()), rel=1e-9)


def test_the_field_items_bounds_cover_its_strokes_at_every_zoom(window):
    """A one-pixel stroke reaches half a pixel past its end points: the arrows' bounding
    rect holds a pixel around them (at the current zoom), so repaints leave nothing."""
    w = window(LV)

    def margins():
        item = w.layers.field_item
        rect, points = item.boundingRect(), item.points()
        px, py = item.pixelVectors()[0].x(), abs(item.pixelVectors()[1].y())
        return ((points[:, 0].min() - rect.left()) / px,
                (rect.bottom() - points[:, 1].max()) / py)

    assert margins() == pytest.approx((1.0, 1.0), rel=1e-6)
    w.plane.view_box.setRange(xRange=(0.0, 2.0), yRange=(0.0, 2.0), padding=0)  # a wheel zoom
    QtCore.QCoreApplication.processEvents()  # the view moved; its new field is not in yet
    assert margins() == pytest.approx((1.0, 1.0), rel=1e-6)
    w.wait_idle(30)
    assert margins() == pytest.approx((1.0, 1.0), rel=1e-6)
