"""The side panels: system picker, parameters, solver, view and layers.

Each panel shows part of the `ExplorerModel` and edits it; it redraws itself from the model
after every change (signals blocked while it does, so nothing loops back). A value the model
refuses is reported through `report(message)` and the panel shows the model's value again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from PySide6 import QtCore, QtGui, QtWidgets

from dynsim.core.errors import DynsimError
from dynsim.core.scene import FIELD_SCALINGS, LAYERS
from dynsim.core.system import Param, System
from dynsim.gui.model import ExplorerModel, ExplorerState

Report = Callable[[str], None]
SLIDER_STEPS = 1000
UNBOUNDED = 1e12
"""Spin boxes of parameters and times without a limit accept values up to +-1e12."""


def _blocked(widget: QtWidgets.QWidget, action: Callable[[], None]) -> None:
    was = widget.blockSignals(True)
    try:
        action()
    finally:
        widget.blockSignals(was)


class ScientificSpinBox(QtWidgets.QDoubleSpinBox):
    """A spin box that shows and reads numbers as %g (1e-06, 0.25, 1.5e+03); the arrows
    multiply or divide by 10, as tolerances are tuned."""

    def textFromValue(self, value: float) -> str:
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        try:
            float(text)
            return QtGui.QValidator.State.Acceptable, text, pos
        except ValueError:
            return QtGui.QValidator.State.Intermediate, text, pos

    def stepBy(self, steps: int) -> None:
        self.setValue(self.value() * 10.0 ** steps)


def _spin(lo: float, hi: float, value: float, decimals: int = 6,
          scientific: bool = False) -> QtWidgets.QDoubleSpinBox:
    box = ScientificSpinBox() if scientific else QtWidgets.QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(lo, hi)
    box.setValue(value)
    box.setKeyboardTracking(False)  # typed values apply on Enter or focus change
    box.setAccelerated(True)
    return box


class _Panel(QtWidgets.QWidget):
    """A panel over `model`: `edit` applies a change, `_changed` redraws from the model."""

    def __init__(self, model: ExplorerModel, report: Report) -> None:
        super().__init__()
        self.model, self.report = model, report

    def edit(self, action: Callable[[], None]) -> None:
        """Run a model edit; a refused value is reported and the panel shows the model's."""
        try:
            action()
        except DynsimError as exc:
            self.report(str(exc))
            self._changed(self.model.state, "refused")

    def _changed(self, state: ExplorerState, change: str) -> None:
        raise NotImplementedError


class SystemPicker(QtWidgets.QWidget):
    """Every registered system, grouped by tag, searchable; picking one calls `choose(name)`.

    A system appears under each of its tags ("other" when it has none); the description of
    the selected system is shown below the tree.
    """

    def __init__(self, choose: Callable[[str], None]) -> None:
        super().__init__()
        self._choose = choose
        self.search = QtWidgets.QLineEdit(placeholderText="Search systems…")
        self.search.setClearButtonEnabled(True)
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.about = QtWidgets.QLabel(wordWrap=True)
        self.about.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        for widget in (self.search, self.tree, self.about):
            layout.addWidget(widget)
        layout.setStretch(1, 1)
        self.search.textChanged.connect(self._filter)
        self.tree.itemActivated.connect(self._activated)
        self.tree.itemClicked.connect(self._activated)
        self._systems: dict[str, System] = {}

    def set_systems(self, systems: Mapping[str, System], current: str) -> None:
        """Fill the tree with `systems` and select `current`."""
        self._systems = dict(systems)
        self.tree.clear()
        groups: dict[str, QtWidgets.QTreeWidgetItem] = {}
        for name in sorted(systems, key=lambda n: systems[n].title.lower()):
            system = systems[name]
            for tag in system.tags or ("other",):
                if tag not in groups:
                    groups[tag] = QtWidgets.QTreeWidgetItem([tag])
                    groups[tag].setFlags(QtCore.Qt.ItemFlag.ItemIsEnabled)
                item = QtWidgets.QTreeWidgetItem([system.title])
                item.setData(0, QtCore.Qt.ItemDataRole.UserRole, name)
                item.setToolTip(0, f"{name}: {system.description}")
                groups[tag].addChild(item)
        for tag in sorted(groups):
            self.tree.addTopLevelItem(groups[tag])
        self.tree.expandAll()
        self.show_current(current)
        self._filter(self.search.text())

    def show_current(self, name: str) -> None:
        """Select `name` in the tree and describe it."""
        for item in self._items():
            if item.data(0, QtCore.Qt.ItemDataRole.UserRole) == name:
                _blocked(self.tree, lambda item=item: self.tree.setCurrentItem(item))
                break
        system = self._systems.get(name)
        self.about.setText(f"<b>{system.title}</b> ({name})<br>{system.description}"
                           if system else name)

    def _items(self) -> list[QtWidgets.QTreeWidgetItem]:
        return [self.tree.topLevelItem(i).child(j) for i in range(self.tree.topLevelItemCount())
                for j in range(self.tree.topLevelItem(i).childCount())]

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            visible = 0
            for j in range(group.childCount()):
                item = group.child(j)
                name = item.data(0, QtCore.Qt.ItemDataRole.UserRole)
                system = self._systems[name]
                haystack = f"{name} {system.title} {system.description} {group.text(0)}".lower()
                hidden = not all(w in haystack for w in words)
                item.setHidden(hidden)
                visible += not hidden
            group.setHidden(visible == 0)

    def _activated(self, item: QtWidgets.QTreeWidgetItem) -> None:
        name = item.data(0, QtCore.Qt.ItemDataRole.UserRole)
        if name:
            self._choose(name)


def slider_range(spec: Param) -> tuple[float, float]:
    """The slider's span: [min, max] when both exist, else around the default."""
    width = max(1.0, abs(spec.default))
    lo = spec.min if spec.min is not None else (
        spec.default - width if spec.max is None else min(spec.default, spec.max) - width)
    hi = spec.max if spec.max is not None else max(spec.default, lo) + 2 * width
    return lo, hi


class ParamRow(QtWidgets.QWidget):
    """One parameter: a slider over `slider_range`, a spin box (typed values may leave the
    slider's span, within the parameter's own range) and a reset button."""

    changed = QtCore.Signal(str, float)

    def __init__(self, name: str, spec: Param, value: float) -> None:
        super().__init__()
        self.name, self.spec = name, spec
        self.lo, self.hi = slider_range(spec)
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setObjectName(f"slider_{name}")
        self.spin = _spin(spec.min if spec.min is not None else -UNBOUNDED,
                          spec.max if spec.max is not None else UNBOUNDED, value)
        self.spin.setObjectName(f"spin_{name}")
        reset = QtWidgets.QToolButton(text="↺", toolTip=f"reset {name} to {spec.default:g}")
        label = QtWidgets.QLabel(name)
        label.setToolTip(f"{spec.description} (range {spec.range_text()})".strip())
        layout = QtWidgets.QGridLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(label, 0, 0)
        layout.addWidget(self.spin, 0, 1)
        layout.addWidget(reset, 0, 2)
        layout.addWidget(self.slider, 1, 0, 1, 3)
        self.show_value(value)
        self.slider.valueChanged.connect(self._slid)
        self.spin.valueChanged.connect(lambda v: self.changed.emit(self.name, float(v)))
        reset.clicked.connect(lambda: self.changed.emit(self.name, spec.default))

    def position(self, value: float) -> int:
        """The slider position of `value` (clamped to the slider's span)."""
        fraction = (value - self.lo) / (self.hi - self.lo)
        return round(min(max(fraction, 0.0), 1.0) * SLIDER_STEPS)

    def value_at(self, position: int) -> float:
        """The parameter value at slider `position`."""
        return self.lo + (self.hi - self.lo) * position / SLIDER_STEPS

    def show_value(self, value: float) -> None:
        _blocked(self.spin, lambda: self.spin.setValue(value))
        _blocked(self.slider, lambda: self.slider.setValue(self.position(value)))

    def _slid(self, position: int) -> None:
        value = float(f"{self.value_at(position):.6g}")
        _blocked(self.spin, lambda: self.spin.setValue(value))
        self.changed.emit(self.name, value)


class ParamPanel(_Panel):
    """A row per parameter of the current system, generated from its `Param`s."""

    def __init__(self, model: ExplorerModel, report: Report) -> None:
        super().__init__(model, report)
        self.rows: dict[str, ParamRow] = {}
        self._layout = QtWidgets.QVBoxLayout(self)
        self._layout.setContentsMargins(4, 4, 4, 4)
        self._system: System | None = None
        model.subscribe(self._changed)
        self._changed(model.state, "system")

    def _rebuild(self, state: ExplorerState) -> None:
        while self._layout.count():
            widget = self._layout.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        self.rows = {}
        for name, spec in state.system.params.items():
            row = ParamRow(name, spec, state.params[name])
            row.changed.connect(self._edited)
            self.rows[name] = row
            self._layout.addWidget(row)
        if not self.rows:
            self._layout.addWidget(QtWidgets.QLabel("This system has no parameters."))
        reset = QtWidgets.QPushButton("Reset all to defaults")
        reset.clicked.connect(self.model.reset_params)
        self._layout.addWidget(reset)
        self._layout.addStretch(1)
        self._system = state.system

    def _changed(self, state: ExplorerState, change: str) -> None:
        if state.system is not self._system:
            self._rebuild(state)
        for name, row in self.rows.items():
            row.show_value(state.params[name])

    def _edited(self, name: str, value: float) -> None:
        self.edit(lambda: self.model.set_params(**{name: value}))


class SolverPanel(_Panel):
    """Method, tolerances or step, start time, forward and backward times, output points."""

    def __init__(self, model: ExplorerModel, report: Report, methods: list[str],
                 adaptive: Callable[[str], bool]) -> None:
        super().__init__(model, report)
        self._adaptive = adaptive
        self.method = QtWidgets.QComboBox()
        self.method.addItems(methods)
        self.rtol = _spin(1e-14, 1.0, 1e-6, 16, scientific=True)
        self.atol = _spin(0.0, 1.0, 1e-9, 16, scientific=True)
        self.dt = _spin(0.0, UNBOUNDED, 0.0, 6)
        self.dt.setSpecialValueText("default")
        self.t0 = _spin(-UNBOUNDED, UNBOUNDED, 0.0, 4)
        self.forward = _spin(1e-9, UNBOUNDED, 20.0, 4)
        self.backward = _spin(0.0, UNBOUNDED, 20.0, 4)
        self.points = QtWidgets.QSpinBox()
        self.points.setRange(2, 1_000_000)
        self.points.setKeyboardTracking(False)
        form = QtWidgets.QFormLayout(self)
        for label, widget in (("method", self.method), ("rtol", self.rtol),
                              ("atol", self.atol), ("dt (fixed step)", self.dt),
                              ("start time t0", self.t0), ("forward time", self.forward),
                              ("backward time", self.backward), ("output points", self.points)):
            form.addRow(label, widget)
        self.method.currentTextChanged.connect(
            lambda v: self._set(method=v))
        self.rtol.valueChanged.connect(lambda v: self._set(rtol=float(v)))
        self.atol.valueChanged.connect(lambda v: self._set(atol=float(v)))
        self.dt.valueChanged.connect(lambda v: self._set(dt=float(v) or None))
        self.t0.valueChanged.connect(lambda v: self._set(t0=float(v)))
        self.forward.valueChanged.connect(lambda v: self._set(t_forward=float(v)))
        self.backward.valueChanged.connect(lambda v: self._set(t_backward=float(v)))
        self.points.valueChanged.connect(lambda v: self._set(points=int(v)))
        model.subscribe(self._changed)
        self._changed(model.state, "solver")

    def _set(self, **changes: object) -> None:
        self.edit(lambda: self.model.set_solver(**changes))

    def _changed(self, state: ExplorerState, change: str) -> None:
        sim = state.solver
        for widget, value in ((self.rtol, sim.rtol), (self.atol, sim.atol),
                              (self.dt, sim.dt or 0.0), (self.t0, sim.t0),
                              (self.forward, sim.t_forward), (self.backward, sim.t_backward),
                              (self.points, sim.points)):
            if isinstance(value, (int, float)):
                _blocked(widget, lambda w=widget, v=value: w.setValue(v))
        _blocked(self.method, lambda: self.method.setCurrentText(sim.method))
        adaptive = self._adaptive(sim.method)
        self.rtol.setEnabled(adaptive and isinstance(sim.rtol, float))
        self.atol.setEnabled(adaptive and isinstance(sim.atol, float))
        self.dt.setEnabled(not adaptive)


class ViewPanel(_Panel):
    """The axes (for D > 2), the values of the other states, the ranges and the window."""

    auto_range = QtCore.Signal()

    def __init__(self, model: ExplorerModel, report: Report) -> None:
        super().__init__(model, report)
        self.x_axis, self.y_axis = QtWidgets.QComboBox(), QtWidgets.QComboBox()
        self.limits = {key: _spin(-UNBOUNDED, UNBOUNDED, 0.0, 4)
                       for key in ("xmin", "xmax", "ymin", "ymax")}
        self.window = _spin(1.0, 1000.0, 3.0, 2)
        self.window.setToolTip("trajectories stop when they leave the view enlarged this many "
                               "times around its centre")
        self.slice_box = QtWidgets.QGroupBox("other states held at")
        self.slice_form = QtWidgets.QFormLayout(self.slice_box)
        self.slice_spins: dict[str, QtWidgets.QDoubleSpinBox] = {}
        fit = QtWidgets.QPushButton("Zoom to fit (system bounds)")
        form = QtWidgets.QFormLayout(self)
        form.addRow("horizontal axis", self.x_axis)
        form.addRow("vertical axis", self.y_axis)
        for key, widget in self.limits.items():
            form.addRow(key, widget)
        form.addRow("integration window (views)", self.window)
        form.addRow(self.slice_box)
        form.addRow(fit)
        self.x_axis.currentTextChanged.connect(lambda _: self._axes())
        self.y_axis.currentTextChanged.connect(lambda _: self._axes())
        for widget in self.limits.values():
            widget.valueChanged.connect(self._limits)
        self.window.valueChanged.connect(
            lambda v: self.edit(lambda: model.set_view(window=float(v))))
        fit.clicked.connect(self.auto_range.emit)
        self._system: System | None = None
        model.subscribe(self._changed)
        self._changed(model.state, "system")

    def _axes(self) -> None:
        axes = (self.x_axis.currentText(), self.y_axis.currentText())
        self.edit(lambda: self.model.set_view(axes=axes))

    def _limits(self) -> None:
        v = {k: w.value() for k, w in self.limits.items()}
        self.edit(lambda: self.model.set_view(
            xlim=(v["xmin"], v["xmax"]), ylim=(v["ymin"], v["ymax"])))

    def _slice(self, name: str, value: float) -> None:
        self.edit(lambda: self.model.set_view(
            at={**self.model.state.view.at, name: value}))

    def _changed(self, state: ExplorerState, change: str) -> None:
        view = state.view
        if state.system is not self._system:
            self._system = state.system
            for combo in (self.x_axis, self.y_axis):
                _blocked(combo, lambda c=combo: (c.clear(), c.addItems(state.system.states)))
            self.x_axis.setEnabled(state.system.dimension > 2)
            self.y_axis.setEnabled(state.system.dimension > 2)
        _blocked(self.x_axis, lambda: self.x_axis.setCurrentText(view.axes[0]))
        _blocked(self.y_axis, lambda: self.y_axis.setCurrentText(view.axes[1]))
        values = dict(zip(("xmin", "xmax", "ymin", "ymax"), (*view.xlim, *view.ylim),
                          strict=True))
        for key, widget in self.limits.items():
            _blocked(widget, lambda w=widget, v=values[key]: w.setValue(v))
        _blocked(self.window, lambda: self.window.setValue(view.window))
        if set(self.slice_spins) != set(view.at):
            while self.slice_form.rowCount():
                self.slice_form.removeRow(0)
            self.slice_spins = {}
            for name in view.at:
                spin = _spin(-UNBOUNDED, UNBOUNDED, view.at[name], 4)
                spin.valueChanged.connect(lambda v, n=name: self._slice(n, float(v)))
                self.slice_spins[name] = spin
                self.slice_form.addRow(name, spin)
        for name, spin in self.slice_spins.items():
            _blocked(spin, lambda s=spin, v=view.at[name]: s.setValue(v))
        self.slice_box.setVisible(bool(view.at))


LAYER_LABELS = {"field": "direction field", "streamlines": "streamlines",
                "nullclines": "nullclines", "equilibria": "equilibria",
                "separatrices": "separatrices", "trajectories": "trajectories"}


class LayerPanel(_Panel):
    """A check box per layer, and the field's density and arrow scaling."""

    def __init__(self, model: ExplorerModel, report: Report) -> None:
        super().__init__(model, report)
        self.boxes = {name: QtWidgets.QCheckBox(LAYER_LABELS[name]) for name in LAYERS}
        self.density = QtWidgets.QSpinBox()
        self.density.setRange(2, 200)
        self.density.setKeyboardTracking(False)
        self.scaling = QtWidgets.QComboBox()
        self.scaling.addItems(FIELD_SCALINGS)
        form = QtWidgets.QFormLayout(self)
        for k, (name, box) in enumerate(self.boxes.items()):
            box.setToolTip(f"show or hide the {LAYER_LABELS[name]} (key {k + 1})")
            form.addRow(box)
            box.toggled.connect(lambda on, n=name: model.set_layers(**{n: on}))
        form.addRow("arrows per axis", self.density)
        form.addRow("arrow length", self.scaling)
        self.density.valueChanged.connect(
            lambda v: self.edit(lambda: model.set_layers(density=int(v))))
        self.scaling.currentTextChanged.connect(lambda v: model.set_layers(scaling=v))
        model.subscribe(self._changed)
        self._changed(model.state, "layers")

    def _changed(self, state: ExplorerState, change: str) -> None:
        layers = state.layers
        for name, box in self.boxes.items():
            _blocked(box, lambda b=box, n=name: b.setChecked(layers.visible[n]))
        _blocked(self.density, lambda: self.density.setValue(layers.density))
        _blocked(self.scaling, lambda: self.scaling.setCurrentText(layers.scaling))

