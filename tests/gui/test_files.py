"""Scenes saved and reopened, bad files, recent files, drops, overlays, the equations editor,
and the unsaved-changes question."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

import dynsim
from dynsim.gui import tasks
from dynsim.gui.equations_dialog import EquationsDialog, build_state
from tests.gui.helpers import curve_points

LV = "scenes/lotka_volterra.toml"


def _drop(w, path: Path) -> None:
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(path))])
    event = QtGui.QDropEvent(QtCore.QPointF(10, 10), QtCore.Qt.DropAction.CopyAction, mime,
                             QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier(0))
    w.dropEvent(event)


def test_save_then_open_restores_the_same_picture(window, tmp_path):
    w = window(LV)
    w.set_params(alpha=1.2, gamma=0.8)
    w.add_trajectory([3.0, 2.0])
    w.model.set_solver(method="dopri5", rtol=1e-8, t_backward=5.0)
    w.model.set_view(xlim=(0.5, 4.0), ylim=(0.25, 3.5), window=2.0)
    w.model.set_layers(nullclines=False, streamlines=True, density=15, scaling="speed")
    w.wait_idle(60)
    w.save_scene(tmp_path / "mine.toml")
    assert w.windowTitle() == "dynsim — mine.toml"
    again = window(tmp_path / "mine.toml")
    assert again.scene == w.scene
    assert again.state.layers == w.state.layers and again.state.view == w.state.view
    np.testing.assert_array_equal(again.trajectories.y, w.trajectories.y)
    np.testing.assert_array_equal(again.backward.y, w.backward.y)
    for pen in range(len(w.layers.field_item.pens)):
        np.testing.assert_array_equal(w.layers.field_item.points(pen),
                                      again.layers.field_item.points(pen))
    assert not any(item.isVisible() and len(curve_points(item))
                   for item in again.layers.nullcline_items.values())  # switched off
    assert len(curve_points(again.layers.streamline_item)) > 0
    assert str((tmp_path / "mine.toml").resolve()) == again.settings.recent[0]


def test_scenes_without_the_new_view_keys_still_open_with_defaults(window, tmp_path):
    path = tmp_path / "old.toml"
    path.write_text('[system]\nname = "saddle"\n[simulation]\nt_span = [0.0, 5.0]\n'
                    'initial_conditions = [[0.1, 1.0]]\n')
    w = window(path)
    assert w.state.solver.t_forward == 5.0 and w.state.solver.t_backward == 5.0
    assert w.state.view.xlim == tuple(dynsim.system("saddle").bounds["x"])
    assert w.state.layers.visible["separatrices"]


def test_a_bad_scene_gives_the_cli_message_in_a_dialog_and_keeps_the_state(
        window, tmp_path, monkeypatch):
    w = window(LV)
    bad = tmp_path / "bad.toml"
    bad.write_text('[system]\nname = "lotka_volterra"\n[simulation]\nt_span = [0.0, 1.0\n')
    shown = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning",
                        lambda parent, title, text: shown.append(text))
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName",
                        lambda *a, **k: (str(bad), ""))
    before = w.scene
    w.ask_open()
    assert len(shown) == 1 and shown[0].startswith(f"{bad}:5:1: ")
    with pytest.raises(dynsim.DynsimError) as cli_error:
        dynsim.load_scene(bad)
    assert shown[0] == str(cli_error.value)
    assert w.scene == before and w.windowTitle() == "dynsim — lotka_volterra.toml"


def test_dropping_a_scene_opens_it_and_a_csv_overlays_measured_points(window, tmp_path):
    w = window(LV)
    _drop(w, Path("scenes/saddle.toml").resolve())
    w.wait_idle(30)
    assert w.state.system.name == "saddle"
    data = dynsim.simulate("saddle", [[0.1, 1.0], [-0.1, 1.0]], (0, 2), points=11)
    data.to_csv(tmp_path / "measured.csv")
    _drop(w, tmp_path / "measured.csv")
    points = w.layers.measured_item.getData()
    assert len(points[0]) == 22
    np.testing.assert_allclose(sorted(points[0]), sorted(data.y[..., 0].ravel()))


def test_recent_files_list_opens_the_file(window, tmp_path):
    w = window(LV)
    w.save_scene(tmp_path / "a.toml")
    w.save_scene(tmp_path / "b.toml")
    w._fill_recent()
    labels = [a.text() for a in w.recent_menu.actions()]
    assert labels[:2] == [str((tmp_path / n).resolve()) for n in ("b.toml", "a.toml")]


def test_closing_with_unsaved_changes_asks(window, monkeypatch):
    w = window(LV)
    w.ask_on_close = True
    w.set_params(alpha=2.0)
    answers = [QtWidgets.QMessageBox.StandardButton.Cancel,
               QtWidgets.QMessageBox.StandardButton.Discard]
    asked = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        lambda *a, **k: (asked.append(a[1]), answers.pop(0))[1])
    assert w.close() is False and w.isVisible()
    assert w.close() is True and asked == ["Unsaved changes", "Unsaved changes"]


def test_equation_editor_shows_caret_errors_and_applies_into_the_picker(window, qtbot):
    w = window(LV)
    dialog = EquationsDialog(w, w.state)
    qtbot.addWidget(dialog)
    dialog.equations.setPlainText("x = y\ny = -sin(x) - c*yy")
    dialog.params.setPlainText("c = 0.2")
    qtbot.waitUntil(lambda: "unknown name 'yy'" in dialog.message.text(), timeout=3000)
    lines = dialog.message.text().split("\n")
    assert lines[0].startswith("system.equations.y: unknown name 'yy' (did you mean 'y'?)")
    assert lines[2].index("^") - 4 == lines[1].index("yy") - 4
    apply = dialog.buttons.button(QtWidgets.QDialogButtonBox.StandardButton.Apply)
    assert not apply.isEnabled()
    dialog.equations.setPlainText("x = y\ny = -sin(x) - c*y")
    qtbot.waitUntil(apply.isEnabled, timeout=3000)
    apply.click()
    assert dialog.result() == QtWidgets.QDialog.DialogCode.Accepted
    w.model.replace(dialog.result_state, "system")
    w.wait_idle(30)
    assert w.state.system.name == "my_system"
    assert any(e.classification == "stable focus" for e in w.layers.equilibria)
    w.choose_system("saddle")
    w.choose_system("my_system")  # still in the picker after another system was shown
    assert w.state.equations is not None and w.state.params["c"] == 0.2
    assert "my_system" in [w.picker.tree.topLevelItem(i).child(j).data(
        0, QtCore.Qt.ItemDataRole.UserRole) for i in range(w.picker.tree.topLevelItemCount())
        for j in range(w.picker.tree.topLevelItem(i).childCount())]


def test_typed_systems_save_as_equations(window, tmp_path):
    state = build_state("pendulum2", "theta = omega\nomega = -g*sin(theta)", "g = 9.81")
    w = window(state.to_scene())
    w.save_scene(tmp_path / "typed.toml")
    text = (tmp_path / "typed.toml").read_text()
    assert 'omega = "-g*sin(theta)"' in text
    assert dynsim.load_scene(tmp_path / "typed.toml").equations.equations["theta"] == "omega"
    with pytest.raises(dynsim.DynsimError, match="parameters line 1"):
        build_state("p", "x = -x", "g := 1")


def test_a_learned_model_file_opens_like_any_system_and_saves_into_the_scene(window, tmp_path):
    from dynsim.learn import TrajectoryData, fit

    data = TrajectoryData.sample("lotka_volterra", n=4, points=21, t_span=(0, 4), seed=0)
    model = tmp_path / "lv.dsm"
    fit(data, epochs=2, seed=0).save(model)
    w = window(model)
    learned = dynsim.load_model(model)
    assert w.state.system.name == "lv" and w.state.system.states == ("x", "y")
    w.add_trajectory([2.0, 1.0])
    w.wait_idle(60)
    expected = dynsim.simulate(**tasks.trajectory_request(w.state))
    np.testing.assert_array_equal(w.trajectories.y, expected.y)
    corner = w.layers.field.plane.lift(w.layers.field.x[0], w.layers.field.y[0])
    # the network's batched arithmetic may differ from a single point's in the last bit
    np.testing.assert_allclose(w.layers.field.derivatives[0, 0], learned.rhs(0.0, corner, {}),
                               rtol=1e-12)
    w.save_scene(tmp_path / "learned.toml")
    assert f'model = "{model}"' in (tmp_path / "learned.toml").read_text()
    again = window(tmp_path / "learned.toml")
    assert again.state.system.name == "lv" and again.state.seeds == w.state.seeds
