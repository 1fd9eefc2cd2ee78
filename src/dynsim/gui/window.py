"""`Window`: the main window, and the Python API that drives it (as napari's `Viewer`).

```python
from dynsim.gui import Window
w = Window("scenes/lotka_volterra.toml")  # or Window("lorenz"), Window(scene), Window()
w.set_params(alpha=1.2)                   # as if the sliders moved
w.add_trajectory([2.0, 1.0])              # as if that point was clicked
w.wait_idle(timeout=10)                   # process events until no job is running
w.trajectories                            # the forward trajectories drawn now
w.save_scene("mine.toml"); w.export_csv("traj.csv"); w.export_image("plane.png")
w.show()
```

The window holds an `ExplorerModel`; every widget edits it and every change schedules the
jobs of the layers it affects (`dynsim.gui.jobs`); results are drawn by `PortraitLayers`.
"""

from __future__ import annotations

import collections
import functools
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from dynsim.core.cancel import CancelToken
from dynsim.core.errors import DynsimError, InputError
from dynsim.core.models import load_model
from dynsim.core.plugins import active_plugins
from dynsim.core.scene import Scene, load_scene
from dynsim.core.system import System
from dynsim.core.targets import target_kind
from dynsim.core.trajectories import Trajectories
from dynsim.gui import tasks
from dynsim.gui.app import Settings, ensure_app
from dynsim.gui.compute import compute_pool
from dynsim.gui.exports import export_image, export_trajectories, exporter_filters
from dynsim.gui.jobs import JobRunner, Work
from dynsim.gui.layers import PortraitLayers, equilibrium_text
from dynsim.gui.model import (
    FALLBACK_LIMITS,
    ExplorerModel,
    ExplorerState,
    state_for_system,
    state_from_scene,
)
from dynsim.gui.panels import LayerPanel, ParamPanel, SolverPanel, SystemPicker, ViewPanel
from dynsim.gui.plane import PhasePlane
from dynsim.gui.trajectory_panel import TrajectoryPanel, series

DEFAULT_SYSTEM = "lotka_volterra"
STATUS_POLL_MS = 150
SHOW_CANCEL_AFTER = 0.4
"""Seconds a job runs before the status bar offers to cancel it."""
DOCK_WIDTH, DOCK_HEIGHT = 230, 190
"""Initial sizes of the side docks and the trajectory dock, in pixels."""
VIEW_SETTLE_MS = 40
JOB_ORDER = ("field", "nullclines", "equilibria", "trajectories", "streamlines")
"""The order jobs start in when they run one after another (`dynsim.gui.jobs`): the quick
layers first, so they follow a slider at once."""
PARALLEL_JOB_ORDER = ("trajectories", "field", "nullclines", "equilibria", "streamlines")
"""The order with two compute processes: the trajectories (the longest job) in one, the
quick layers one after another in the other."""
FRAME_HOLD_MS = 100
"""While the jobs of a change run, the phase plane is repainted when all of them are done,
or this long after the change (then as results arrive): one repaint per picture instead of
one per layer, which took as long as the layers' numbers. (The trajectory panel changes
once per finished run; holding it too cost more on release than it saved.)"""
PARTIAL_EVERY = 0.15
"""Seconds between two drawings of trajectories that are still growing (the first partial
result waits this long too, so quick runs are drawn once, complete)."""
REFRESH_EVENT = QtCore.QEvent.Type(QtCore.QEvent.registerEventType())
"""Posted (at high priority) when the model changed: the jobs for it are submitted once per
turn of the event loop, however many changes came in it, and before the widgets that show
the change repaint (a zero-time timer fired only after them, 3 ms later)."""
WAIT_POLL_MS = 20
"""`wait_idle` returns as soon as the last event of a picture is handled; without events it
checks its timeout this often."""
"""Pans and zooms are passed to the model after the view has been still this long."""

Target = str | Path | Scene | System | None


def initial_state(target: Target, settings: Settings | None = None) -> tuple[ExplorerState,
                                                                           Path | None]:
    """The state for a TARGET (scene file, learned model file, system name, `Scene`,
    `System`, or None: the last system shown, else Lotka–Volterra) and the scene file it
    came from."""
    if isinstance(target, Scene):
        return state_from_scene(target), None
    if isinstance(target, System):
        return state_for_system(target), None
    if target is None:
        last = settings.last_system if settings else ""
        name = last if last in active_plugins().objects("systems") else DEFAULT_SYSTEM
        return state_for_system(name), None
    kind, path = target_kind(target), Path(target)
    if kind == "model":
        return state_for_system(load_model(path), model=str(path)), None
    if kind == "scene":
        return state_from_scene(load_scene(path)), path
    return state_for_system(str(target)), None


class Window(QtWidgets.QMainWindow):
    """The dynsim explorer window; see the module docstring for its Python API."""

    def __init__(self, target: Target = None, *, settings: Settings | None = None) -> None:
        ensure_app()
        super().__init__()
        self.settings = settings or Settings()
        state, path = initial_state(target, self.settings)
        self.model = ExplorerModel(state)
        self.path: Path | None = path
        self.modified = False
        self.jobs = JobRunner(self)
        self.run: tasks.TrajectoryRun | None = None
        self.measured: list[Trajectories] = []
        self._zoom_history: list[tuple[tuple[float, float], tuple[float, float]]] = []
        self._dirty: set[str] = set()
        self._pending: dict[str, Callable[[], None]] = {}
        self._awaiting: set[str] = set()  # layers whose newest job gave no final result yet
        self._selected = -1
        self._closing = False
        self.typed: dict[str, ExplorerState] = {}
        """Systems typed as equations, learned models or `System`s shown this session."""
        self._build()
        self.model.subscribe(self._model_changed)
        self._model_changed(self.model.state, "system")
        self.modified = False
        self._update_title()
        geometry = self.settings.geometry
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1280, 860)

    # -- construction ------------------------------------------------------------------------

    def _build(self) -> None:
        self.setAcceptDrops(True)
        self.plane = PhasePlane()
        self.layers = PortraitLayers(self.plane.plot_item)
        self.setCentralWidget(self.plane)
        vb = self.plane.view_box
        vb.seed_points = self._seed_points
        vb.curve_points = self._curve_points
        vb.clicked.connect(self._clicked)
        vb.seed_dragged.connect(self._seed_dragged)
        vb.curve_removed.connect(self.remove_trajectory)
        self.layers.equilibrium_item.sigClicked.connect(
            lambda item, points, event: self.show_equilibrium(int(points[0].data())))
        vb.sigRangeChanged.connect(lambda *_: self._view_timer.start())
        vb.sigResized.connect(lambda *_: self._resized())
        self.plane.scene().sigMouseMoved.connect(self._mouse_moved)
        self._view_timer = QtCore.QTimer(self, singleShot=True, interval=VIEW_SETTLE_MS)
        self._view_timer.timeout.connect(self._view_settled)
        self._refresh_posted = False
        self._hold_timer = QtCore.QTimer(self, singleShot=True, interval=FRAME_HOLD_MS)
        self._hold_timer.timeout.connect(self._release_paint)
        self._flush_timer = QtCore.QTimer(self, singleShot=True, interval=0)
        self._flush_timer.timeout.connect(self._draw_pending)

        report = self.report
        self.picker = SystemPicker(self.choose_system)
        self.param_panel = ParamPanel(self.model, report)
        self.solver_panel = SolverPanel(self.model, report,
                                        sorted(active_plugins().objects("solvers")),
                                        tasks.is_adaptive)
        self.view_panel = ViewPanel(self.model, report)
        self.view_panel.auto_range.connect(self.zoom_to_fit)
        self.layer_panel = LayerPanel(self.model, report)
        self.trajectory_panel = TrajectoryPanel()
        self.trajectory_panel.selected.connect(self._select)
        self.trajectory_panel.remove_requested.connect(self.remove_trajectory)
        self.trajectory_panel.add_requested.connect(self.ask_trajectory)
        self.trajectory_panel.cursor_moved.connect(self._cursor_moved)

        area = QtCore.Qt.DockWidgetArea
        systems = self._dock("Systems", self.picker, area.LeftDockWidgetArea)
        params = self._dock("Parameters", _scrolled(self.param_panel), area.RightDockWidgetArea)
        tabs = QtWidgets.QTabWidget()
        for title, panel in (("Solver", self.solver_panel), ("View", self.view_panel),
                             ("Layers", self.layer_panel)):
            tabs.addTab(_scrolled(panel), title)
        settings = self._dock("Settings", tabs, area.RightDockWidgetArea)
        bottom = self._dock("Trajectories", self.trajectory_panel, area.BottomDockWidgetArea)
        self.setCorner(QtCore.Qt.Corner.BottomLeftCorner, area.LeftDockWidgetArea)
        self.setCorner(QtCore.Qt.Corner.BottomRightCorner, area.RightDockWidgetArea)
        horizontal, vertical = QtCore.Qt.Orientation.Horizontal, QtCore.Qt.Orientation.Vertical
        self.resizeDocks([systems, params], [DOCK_WIDTH, DOCK_WIDTH + 60], horizontal)
        self.resizeDocks([params, settings], [1, 1], vertical)
        self.resizeDocks([bottom], [DOCK_HEIGHT], vertical)
        self.plane.setMinimumSize(360, 300)
        self._build_status_bar()
        self._build_menus()

    def _dock(self, title: str, widget: QtWidgets.QWidget,
              area: QtCore.Qt.DockWidgetArea) -> QtWidgets.QDockWidget:
        dock = QtWidgets.QDockWidget(title, self)
        dock.setObjectName(f"dock_{title}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_label = QtWidgets.QLabel()
        self.progress = QtWidgets.QProgressBar(maximumWidth=140, visible=False)
        self.progress.setRange(0, 100)
        self.cancel_button = QtWidgets.QPushButton("Cancel (Esc)", visible=False)
        self.cancel_button.clicked.connect(self.cancel_jobs)
        self.coordinates = QtWidgets.QLabel()
        bar.addWidget(self.status_label, 1)
        for widget in (self.progress, self.cancel_button, self.coordinates):
            bar.addPermanentWidget(widget)
        self._status_timer = QtCore.QTimer(self, interval=STATUS_POLL_MS)
        self._status_timer.timeout.connect(self._show_activity)
        self._status_timer.start()
        self.jobs.activity.connect(self._activity_changed)
        self.jobs.activity.connect(self._jobs_changed)

    def _build_menus(self) -> None:
        keys = QtGui.QKeySequence
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "New system from &equations…", self.edit_equations, "Ctrl+E")
        self._action(file_menu, "&Open scene…", self.ask_open, keys.StandardKey.Open)
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._action(file_menu, "Overlay measured &data (CSV)…", self.ask_overlay)
        file_menu.addSeparator()
        self._action(file_menu, "&Save scene", self.save, keys.StandardKey.Save)
        self._action(file_menu, "Save scene &as…", self.ask_save_as, keys.StandardKey.SaveAs)
        self._action(file_menu, "E&xport trajectories…", self.ask_export, "Ctrl+Shift+E")
        self._action(file_menu, "Export &picture (PNG, SVG)…", self.ask_export_image,
                     "Ctrl+Shift+P")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, keys.StandardKey.Quit)
        edit = self.menuBar().addMenu("&Trajectories")
        self._action(edit, "&Add at state…", self.ask_trajectory, "Ctrl+T")
        self._action(edit, "&Undo last trajectory", self.undo_trajectory, keys.StandardKey.Undo)
        self._action(edit, "&Clear trajectories", self.clear_trajectories, "Ctrl+Shift+X")
        self._action(edit, "Extend &forward (double the time)",
                     lambda: self._extend("t_forward"), "Ctrl+]")
        self._action(edit, "Extend &backward (double the time)",
                     lambda: self._extend("t_backward"), "Ctrl+[")
        view = self.menuBar().addMenu("&View")
        self._action(view, "Zoom to &fit", self.zoom_to_fit, "Ctrl+0")
        self._action(view, "Zoom &back", self.zoom_back, "Ctrl+B")
        self._action(view, "Cancel running jobs", self.cancel_jobs, "Esc")
        view.addSeparator()
        for k, name in enumerate(self.layer_panel.boxes):
            box = self.layer_panel.boxes[name]
            self._action(view, f"Toggle {box.text()}", box.toggle, str(k + 1))
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&Mouse and keys", self._show_help, keys.StandardKey.HelpContents)

    def _action(self, menu: QtWidgets.QMenu, text: str, slot: object,
                shortcut: object = None) -> QtGui.QAction:
        action = menu.addAction(text)
        action.triggered.connect(lambda *_: slot())  # type: ignore[operator]
        if shortcut is not None:
            action.setShortcut(QtGui.QKeySequence(shortcut))
        return action

    # -- the Python API ----------------------------------------------------------------------

    @property
    def state(self) -> ExplorerState:
        """The window's whole state."""
        return self.model.state

    @property
    def scene(self) -> Scene:
        """The window's whole state as a `dynsim.Scene`."""
        return self.model.state.to_scene()

    @property
    def trajectories(self) -> Trajectories | None:
        """The forward trajectories drawn now (None before the first result)."""
        return self.run.forward if self.run else None

    @property
    def backward(self) -> Trajectories | None:
        """The backward parts drawn now (None when the backward time is 0)."""
        return self.run.backward if self.run else None

    def set_params(self, **values: float) -> None:
        """Set parameter values, as if their sliders moved (bad values raise)."""
        self.model.set_params(**values)

    def choose_system(self, system: str | System) -> None:
        """Show another system with its defaults (trajectories are cleared)."""
        try:
            typed = self.typed.get(system) if isinstance(system, str) else None
            state = state_for_system(typed.system, typed.equations, typed.params,
                                     typed.model) if typed else state_for_system(system)
            self.model.replace(state, "system")
        except DynsimError as exc:
            self.report(str(exc))

    def add_trajectory(self, point: Sequence[float]) -> None:
        """A trajectory through `point`: plane coordinates (x, y) or a full state (D,)."""
        values = [float(v) for v in point]
        state = self.model.state
        if len(values) == 2 and state.system.dimension > 2:
            values = list(self.model.lift(*values))
        self.model.add_seed(values)

    def remove_trajectory(self, index: int) -> None:
        """Remove trajectory `index` (0-based, as listed)."""
        if 0 <= index < len(self.model.state.seeds):
            self.model.remove_seed(index)

    def undo_trajectory(self) -> None:
        """Remove the trajectory added last."""
        if self.model.state.seeds:
            self.model.remove_seed(len(self.model.state.seeds) - 1)

    def clear_trajectories(self) -> None:
        """Remove every trajectory."""
        self.model.clear_seeds()

    def open_scene(self, path: str | Path) -> None:
        """Open a scene file (raises `DynsimError` with the file's line and column)."""
        scene = load_scene(path)
        self.model.replace(state_from_scene(scene), "system")
        self.path, self.modified = Path(path), False
        self.settings.add_recent(str(Path(path).resolve()))
        self._update_title()

    def save_scene(self, path: str | Path) -> None:
        """Save everything the window shows as a scene file (atomically)."""
        self.scene.save(path)
        self.path, self.modified = Path(path), False
        self.settings.add_recent(str(Path(path).resolve()))
        self._update_title()

    def export_trajectories(self, path: str | Path, exporter: str | None = None) -> None:
        """Write the trajectories through a registered exporter (by name or extension)."""
        if self.run is None or self.run.forward is None:
            raise InputError("there are no trajectories to export; click in the plane first")
        export_trajectories(self.run, path, exporter)

    def export_csv(self, path: str | Path) -> None:
        """Write the trajectories as dynsim CSV (backward parts first, in time order)."""
        self.export_trajectories(path, "csv")

    def export_image(self, path: str | Path, size: tuple[int, int] | None = None) -> None:
        """Write the phase plane as PNG or SVG (by extension)."""
        self._release_paint(at_once=True)
        export_image(self.plane, path, size)

    def overlay_csv(self, path: str | Path) -> None:
        """Draw the trajectories of a dynsim CSV file as measured data points."""
        from dynsim.core.csvio import read_csv

        data = read_csv(path)
        missing = set(self.model.state.view.axes) - set(data.states)
        if missing:
            raise InputError(f"{path}: has no column for {', '.join(sorted(missing))} "
                             f"(its states: {', '.join(data.states)})")
        self.measured.append(data)
        self._draw_measured()

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Process events until no job is running or queued (TimeoutError after `timeout`)."""
        app = QtWidgets.QApplication.instance()
        deadline = time.monotonic() + timeout
        loop = QtCore.QEventLoop()
        # events wake the loop at once (a job's result, a timer); this one re-checks the
        # deadline when none comes
        wake = QtCore.QTimer(interval=WAIT_POLL_MS)
        wake.start()
        while (self._refresh_posted or self._view_timer.isActive() or self.jobs.busy
               or self._pending or self.plane.held):
            if time.monotonic() > deadline:
                running = ", ".join(label for label, *_ in self.jobs.status())
                raise TimeoutError(f"jobs still running after {timeout:g} s: {running}")
            loop.processEvents(QtCore.QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
        wake.stop()
        app.processEvents()

    def install_exception_hook(self) -> None:
        """Show exceptions escaping Qt slots in the status bar and a dialog, not a crash."""
        def hook(kind: type[BaseException], error: BaseException, tb: object) -> None:
            sys.__excepthook__(kind, error, tb)  # type: ignore[arg-type]
            message = f"unexpected error (a bug, please report it): {kind.__name__}: {error}"
            self.report(message)
            if not self._closing:
                QtWidgets.QMessageBox.critical(self, "dynsim", message)
        sys.excepthook = hook

    def report(self, message: str) -> None:
        """Show `message` in the status bar (and remember it as the last message)."""
        self.last_message = message
        self.status_label.setText(message)
        self.status_label.setToolTip(message)

    last_message = ""
    ask_on_close = True
    """Whether closing with unsaved changes asks to save them (scripts may turn it off)."""

    # -- reacting to the model ---------------------------------------------------------------

    def _model_changed(self, state: ExplorerState, change: str) -> None:
        self.modified = True
        self._update_title()
        if change == "system":
            if active_plugins().objects("systems").get(state.system.name) is not state.system:
                self.typed[state.system.name] = state
            self.picker.set_systems(active_plugins().objects("systems")
                                    | {n: s.system for n, s in self.typed.items()},
                                    state.system.name)
            self.settings.last_system = state.system.name
            self.measured = []
            self._draw_measured()
            self._zoom_history.clear()
            self.run = None
            self._dirty |= {"field", "streamlines", "nullclines", "equilibria", "trajectories"}
            self._show_range(state)
            self._apply_visibility(state)
        elif change in ("params", "solver"):
            self._dirty |= {"field", "streamlines", "nullclines", "equilibria", "trajectories"}
        elif change == "view":
            self._show_range(state)
            self._dirty |= {"field", "streamlines", "nullclines", "equilibria", "trajectories"}
        elif change == "layers":
            self._apply_visibility(state)
            self._dirty |= {"field", "streamlines", "equilibria"}
        elif change == "seeds":
            self._dirty.add("trajectories")
        if not self._refresh_posted:
            self._refresh_posted = True
            QtCore.QCoreApplication.postEvent(self, QtCore.QEvent(REFRESH_EVENT),
                                              QtCore.Qt.EventPriority.HighEventPriority.value)

    def customEvent(self, event: QtCore.QEvent) -> None:
        if event.type() == REFRESH_EVENT:  # (Qt calls this for custom event types only)
            self._refresh_posted = False
            self._refresh()

    def _refresh(self) -> None:
        state = self.model.state
        visible = state.layers.visible
        # two jobs at once only in two compute processes; here they run one after another
        parallel = compute_pool().ready > 1 and compute_pool().can_run(state)
        self.jobs.pool.setMaxThreadCount(2 if parallel else 1)
        order = PARALLEL_JOB_ORDER if parallel else JOB_ORDER
        for layer in sorted(self._dirty, key=order.index):
            if layer != "equilibria" and not visible[layer]:
                continue  # computed when switched on
            if layer == "equilibria" and not (visible["equilibria"] or
                                              visible["separatrices"]):
                continue
            self._dirty.discard(layer)
            getattr(self, f"_submit_{layer}")(state)
        if self.jobs.busy:
            self._hold_paint()

    def _jobs_changed(self) -> None:
        if not self.jobs.busy:
            self._awaiting.clear()  # (cancelled jobs deliver nothing)
            self._release_paint()
            compute_pool().start()  # after the first picture, which it would slow down

    def _hold_paint(self) -> None:
        """Keep the picture as it is until the jobs are done (see `FRAME_HOLD_MS`)."""
        if not self._hold_timer.isActive():
            self.plane.hold()
            self._hold_timer.start()

    def _release_paint(self, at_once: bool = False) -> None:
        """End the hold: the results still waiting are drawn (all now if `at_once`), then
        the plane repaints."""
        self._hold_timer.stop()
        while at_once and self._pending:
            self._pending.pop(next(iter(self._pending)))()
        self._settle()

    def _draw_pending(self) -> None:
        """Draw the newest waiting result of one layer (one per turn of the event loop, so
        that no turn takes longer than a frame)."""
        if self._pending:
            self._pending.pop(next(iter(self._pending)))()
        self._settle()

    def _settle(self) -> None:
        if self._pending:
            self._flush_timer.start()
        elif not self._hold_timer.isActive() and self.plane.held:
            self.plane.release()

    def _submit(self, key: str, work: Work, draw: Callable[[Any], None],
                on_error: Callable[[BaseException], None], **options: Any) -> None:
        """Submit a layer job. Its results wait to be drawn, one layer per turn of the
        event loop, the plane repainting once when none waits and no hold is on (a dragged
        slider delivers results faster than they are worth drawing)."""
        def deliver(value: Any) -> None:
            self._pending[key] = functools.partial(draw, value)
            self.plane.hold()
            if not isinstance(value, tasks.TrajectoryRun) or value.done:
                self._delivered(key)
            self._flush_timer.start()

        def failed(error: BaseException) -> None:
            self._pending.pop(key, None)
            self._delivered(key)
            on_error(error)

        self._awaiting.add(key)
        self.jobs.submit(key, work, deliver, failed, **options)

    def _delivered(self, key: str) -> None:
        """The newest job of layer `key` gave its final result (or failed). When no layer
        waits for one, the hold ends: the plane repaints once the results are drawn, not
        when the workers have ended too, a few ms later."""
        if not self.jobs.has_queued(key):
            self._awaiting.discard(key)
        if not self._awaiting:
            self._hold_timer.stop()

    def _submit_field(self, state: ExplorerState) -> None:
        scaled = state.layers.scaling == "speed"
        self._submit("field", self._job("field", state),
                     lambda f: self.layers.draw_field(f, self._pixel(), scaled),
                     self._failed("direction field",
                                  lambda: self.layers.draw_field(None, (1.0, 1.0), False)),
                     label="direction field")

    def _submit_streamlines(self, state: ExplorerState) -> None:
        self._submit("streamlines", self._job("streamlines", state),
                     self.layers.draw_streamlines,
                     self._failed("streamlines", lambda: self.layers.draw_streamlines(None)),
                     label="streamlines")

    def _submit_nullclines(self, state: ExplorerState) -> None:
        self._submit("nullclines", self._job("nullclines", state),
                     self.layers.draw_nullclines,
                     self._failed("nullclines", lambda: self.layers.draw_nullclines(None)),
                     label="nullclines")

    def _submit_equilibria(self, state: ExplorerState) -> None:
        axes = _axes(state)

        def draw(result: tuple[object, tuple[object, ...]]) -> None:
            search, seps = result
            self.layers.draw_equilibria(search, axes)  # type: ignore[arg-type]
            self.layers.draw_separatrices(seps, axes)  # type: ignore[arg-type]

        work = self._job("equilibria", state,
                         separatrices=state.layers.visible["separatrices"])
        self._submit("equilibria", work, draw,
                     self._failed("equilibria", lambda: draw((None, ()))),
                     label="equilibria and separatrices")

    def _submit_trajectories(self, state: ExplorerState) -> None:
        axes = _axes(state)

        started = time.monotonic()
        last_partial = [started]

        def draw(run: tasks.TrajectoryRun) -> None:
            now = time.monotonic()
            if not run.done and now - last_partial[0] < PARTIAL_EVERY:
                return  # growing curves are redrawn a few times a second, not every chunk
            last_partial[0] = now
            self.run = run
            self.layers.draw_trajectories(run, axes)
            if run.done:
                self.trajectory_panel.show_list(state.seeds, state.system.states, run)
                self._select(self._selected)
                failed = [line for traj in (run.forward, run.backward) if traj is not None
                          for line in traj.failures()]
                if failed:
                    self.report(f"{len(failed)} trajectory part(s) stopped early: {failed[0]}")

        def clear() -> None:
            self.run = None
            self.layers.draw_trajectories(None, axes)

        self.trajectory_panel.show_list(state.seeds, state.system.states, None)
        self._submit("trajectories", self._job("trajectories", state), draw,
                     self._failed("trajectories", clear), growing=True,
                     label="trajectories")

    def _job(self, kind: str, state: ExplorerState, **extra: bool) -> Work:
        """The work of layer job `kind` (`tasks.run_task`), in a compute process when one
        can rebuild the system (`dynsim.gui.compute`), else in the worker thread."""
        pool = compute_pool()

        def work(token: CancelToken, progress: Callable[[float], None]) -> Any:
            def here() -> Iterator[Any]:
                result = tasks.run_task(kind, state, token, progress, **extra)
                return result.parts if isinstance(result, tasks.Growing) else iter([result])

            results = pool.run(kind, state, token, progress, here, **extra)
            if kind == "trajectories":
                return results
            return collections.deque(results, maxlen=1).pop()  # the final result
        return work

    def _failed(self, what: str, clear: Callable[[], None]) -> Callable[[BaseException], None]:
        """An error handler for a layer's job: say what failed, clear the layer."""
        def failed(error: BaseException) -> None:
            if isinstance(error, DynsimError):
                self.report(f"{what}: {error}")
            else:
                self.report(f"{what} failed: {type(error).__name__}: {error}")
            clear()
        return failed

    def _apply_visibility(self, state: ExplorerState) -> None:
        for name, on in state.layers.visible.items():
            self.layers.set_visible(name, on)

    # -- view --------------------------------------------------------------------------------

    def _show_range(self, state: ExplorerState) -> None:
        vb = self.plane.view_box
        (x0, x1), (y0, y1) = vb.viewRange()
        if not (_close((x0, x1), state.view.xlim) and _close((y0, y1), state.view.ylim)):
            # (not with signals blocked: the axes and the items' transform follow the
            # range through them; `_view_settled` then finds the model's view unchanged)
            vb.setRange(xRange=state.view.xlim, yRange=state.view.ylim, padding=0)
        x, y = state.view.axes
        self.plane.plot_item.setLabel("bottom", x)
        self.plane.plot_item.setLabel("left", y)

    def _view_settled(self) -> None:
        (x0, x1), (y0, y1) = self.plane.view_box.viewRange()
        view = self.model.state.view
        if _close((x0, x1), view.xlim) and _close((y0, y1), view.ylim):
            return
        self._zoom_history.append((view.xlim, view.ylim))
        try:
            self.model.set_view(xlim=(x0, x1), ylim=(y0, y1))
        except DynsimError as exc:
            self.report(str(exc))

    def _resized(self) -> None:
        self.layers.redraw_field(self._pixel())

    def zoom_to_fit(self) -> None:
        """Show the system's default box (its bounds) for the current axes."""
        state = self.model.state
        bounds = state.system.bounds or {}
        xlim, ylim = (tuple(bounds.get(name, FALLBACK_LIMITS)) for name in state.view.axes)
        self._zoom_history.append((state.view.xlim, state.view.ylim))
        self.model.set_view(xlim=xlim, ylim=ylim)

    def zoom_back(self) -> None:
        """Return to the view before the last zoom or pan."""
        if self._zoom_history:
            xlim, ylim = self._zoom_history.pop()
            self.model.set_view(xlim=xlim, ylim=ylim)

    def _pixel(self) -> tuple[float, float]:
        px, py = self.plane.view_box.viewPixelSize()
        if not (np.isfinite(px) and np.isfinite(py) and px > 0 and py > 0):
            view = self.model.state.view
            return (np.ptp(view.xlim) / 600.0, np.ptp(view.ylim) / 600.0)
        return float(px), float(py)

    # -- mouse and keyboard ------------------------------------------------------------------

    def _clicked(self, x: float, y: float) -> None:
        try:
            self.add_trajectory((x, y))
        except DynsimError as exc:
            self.report(str(exc))

    def show_equilibrium(self, index: int) -> str:
        """Show equilibrium `index`'s state, type, eigenvalues and eigenvectors (status bar
        and a tooltip at the mouse); returns the text."""
        text = equilibrium_text(self.layers.equilibria[index])
        self.report(text.replace("\n", "; "))
        QtWidgets.QToolTip.showText(QtGui.QCursor.pos(), text, self.plane)
        return text

    def _seed_dragged(self, index: int, x: float, y: float) -> None:
        state = self.model.state
        if index >= len(state.seeds):
            return
        seed = list(state.seeds[index])
        i, j = (state.system.state_index(n) for n in state.view.axes)
        seed[i], seed[j] = x, y
        self.model.move_seed(index, seed)

    def _seed_points(self) -> np.ndarray:
        state = self.model.state
        if not state.seeds:
            return np.empty((0, 2))
        return np.array(state.seeds)[:, list(_axes(state))]

    def _curve_points(self) -> list[np.ndarray]:
        run, axes = self.run, _axes(self.model.state)
        if run is None or run.forward is None:
            return []
        return [_plane_points(run, i, axes) for i in range(run.forward.n_trajectories)]

    def _mouse_moved(self, pos: QtCore.QPointF) -> None:
        point = self.plane.view_box.mapSceneToView(pos)
        x, y = self.model.state.view.axes
        self.coordinates.setText(f"{x} = {point.x():.4g}, {y} = {point.y():.4g}")

    def _select(self, index: int) -> None:
        self._selected = index
        run, state = self.run, self.model.state
        axes = _axes(state)
        valid = run is not None and run.forward is not None and \
            0 <= index < run.forward.n_trajectories
        self.layers.draw_selection(_plane_points(run, index, axes) if valid else None)
        self.trajectory_panel.show_series(run, index if valid else -1, state.system.states)

    def _cursor_moved(self, point: np.ndarray | None) -> None:
        axes = _axes(self.model.state)
        self.layers.draw_cursor(None if point is None else (point[axes[0]], point[axes[1]]))

    def ask_trajectory(self) -> None:
        """Ask for an exact initial state and add its trajectory."""
        state = self.model.state
        names = ", ".join(state.system.states)
        text, ok = QtWidgets.QInputDialog.getText(
            self, "Add trajectory", f"Initial state ({names}), comma-separated:")
        if not ok:
            return
        try:
            values = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
        except ValueError:
            self.report(f"not numbers: {text!r}; type {state.system.dimension} numbers")
            return
        try:
            self.model.add_seed(values)
        except DynsimError as exc:
            self.report(str(exc))

    def _extend(self, which: str) -> None:
        sim = self.model.state.solver
        self.model.set_solver(**{which: max(getattr(sim, which), sim.t_forward / 2) * 2})

    def cancel_jobs(self) -> None:
        """Cancel every running job (their layers keep what they drew last)."""
        if self.jobs.busy:
            self.jobs.cancel()
            self.report("cancelled")

    # -- status bar --------------------------------------------------------------------------

    def _activity_changed(self) -> None:
        """The status follows the poll; a job's start or end shows at once only when the
        window turns busy or idle (a dragged slider would relabel the status bar ~100
        times a second)."""
        if self.jobs.busy != self._shown_busy:
            self._shown_busy = self.jobs.busy
            self._show_activity()

    _shown_busy = False

    def _show_activity(self) -> None:
        running = self.jobs.status()
        if not running:
            self.progress.setVisible(False)
            self.cancel_button.setVisible(False)
            if self.status_label.text().startswith("computing"):
                self.report("ready")
            return
        _, fraction, seconds = max(running, key=lambda r: r[2])
        names = ", ".join(r[0] for r in running)
        self.status_label.setText(f"computing {names}…")
        slow = seconds > SHOW_CANCEL_AFTER
        self.progress.setVisible(slow)
        self.cancel_button.setVisible(slow)
        self.progress.setValue(round(100 * fraction))

    def _update_title(self) -> None:
        state = self.model.state
        name = self.path.name if self.path else (state.title or state.system.title)
        self.setWindowTitle(f"dynsim — {name}{' *' if self.modified else ''}")

    def _draw_measured(self) -> None:
        self.layers.draw_measured(self.measured, _axes(self.model.state))

    # -- files -------------------------------------------------------------------------------

    def ask_open(self) -> None:
        """File > Open: choose a scene file."""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open scene", "",
                                                        "Scenes (*.toml);;All files (*)")
        if path:
            self._guarded(lambda: self.open_scene(path), "Cannot open the scene")

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda *_, p=path: self._guarded(
                lambda: self.open_scene(p), "Cannot open the scene"))
        if not self.settings.recent:
            self.recent_menu.addAction("(none)").setEnabled(False)

    def save(self) -> None:
        """File > Save: to the scene file, or ask for one."""
        if self.path is None:
            self.ask_save_as()
        else:
            self._guarded(lambda: self.save_scene(self.path), "Cannot save the scene")

    def ask_save_as(self) -> bool:
        """File > Save as; returns whether the scene was saved."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save scene", "scene.toml",
                                                        "Scenes (*.toml)")
        if not path:
            return False
        return self._guarded(lambda: self.save_scene(path), "Cannot save the scene")

    def ask_export(self) -> None:
        """File > Export trajectories (format by the chosen filter or extension)."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export trajectories", "trajectories.csv", exporter_filters())
        if path:
            self._guarded(lambda: self.export_trajectories(path), "Cannot export")

    def ask_export_image(self) -> None:
        """File > Export picture."""
        path, _ = QtWidgets.QFileDialog.getSaveFileName(
            self, "Export picture", "phase_plane.png", "PNG image (*.png);;SVG drawing (*.svg)")
        if path:
            self._guarded(lambda: self.export_image(path), "Cannot export the picture")

    def ask_overlay(self) -> None:
        """File > Overlay measured data."""
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Overlay measured data", "",
                                                        "dynsim CSV (*.csv)")
        if path:
            self._guarded(lambda: self.overlay_csv(path), "Cannot read the data")

    def _guarded(self, action: object, title: str) -> bool:
        """Run a file action; a user error becomes a dialog and the state is kept."""
        try:
            action()  # type: ignore[operator]
            return True
        except (DynsimError, OSError) as exc:
            self.report(str(exc))
            if not self._closing:
                QtWidgets.QMessageBox.warning(self, title, str(exc))
            return False

    def edit_equations(self) -> None:
        """File > New system from equations."""
        from dynsim.gui.equations_dialog import EquationsDialog

        dialog = EquationsDialog(self, self.model.state)
        if dialog.exec() == QtWidgets.QDialog.DialogCode.Accepted and dialog.result_state:
            self.model.replace(dialog.result_state, "system")

    def dragEnterEvent(self, event: QtGui.QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QtGui.QDropEvent) -> None:
        for url in event.mimeData().urls():
            path = url.toLocalFile()
            if path.lower().endswith(".csv"):
                self._guarded(lambda p=path: self.overlay_csv(p), "Cannot read the data")
            else:
                self._guarded(lambda p=path: self.open_scene(p), "Cannot open the scene")
        event.acceptProposedAction()

    def _show_help(self) -> None:
        QtWidgets.QMessageBox.information(self, "Mouse and keys", HELP)

    # -- closing -----------------------------------------------------------------------------

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        if self.ask_on_close and self.modified and not self._closing and \
                self._ask_unsaved() is False:
            event.ignore()
            return
        self._closing = True
        self._status_timer.stop()
        self.settings.geometry = self.saveGeometry()
        self.settings.sync()
        self.jobs.shutdown()
        event.accept()

    def _ask_unsaved(self) -> bool:
        """Ask about unsaved changes: False means do not close."""
        answer = QtWidgets.QMessageBox.question(
            self, "Unsaved changes", "Save the scene before closing?",
            QtWidgets.QMessageBox.StandardButton.Save
            | QtWidgets.QMessageBox.StandardButton.Discard
            | QtWidgets.QMessageBox.StandardButton.Cancel)
        if answer == QtWidgets.QMessageBox.StandardButton.Cancel:
            return False
        if answer == QtWidgets.QMessageBox.StandardButton.Save:
            if self.path is None:
                return self.ask_save_as()
            return self._guarded(lambda: self.save_scene(self.path), "Cannot save the scene")
        return True


HELP = """Left click: a trajectory through that point (forward and backward in time).
Drag an initial point: move it; its trajectory follows.
Drag elsewhere: pan. Shift + drag: zoom to a box. Wheel: zoom. Ctrl+B: zoom back.
Right click on a curve: remove that trajectory.
Hover an equilibrium: its state, type, eigenvalues and eigenvectors.
Keys 1-6 toggle the layers; Ctrl+Z undoes the last trajectory; Esc cancels running jobs."""


def _plane_points(run: tasks.TrajectoryRun, i: int, axes: tuple[int, int]) -> np.ndarray:
    """Plane points of trajectory `i`, backward part first (for picking and highlighting)."""
    return series(run, i)[1][:, axes]


def _axes(state: ExplorerState) -> tuple[int, int]:
    return (state.system.state_index(state.view.axes[0]),
            state.system.state_index(state.view.axes[1]))


def _close(a: Sequence[float], b: Sequence[float], rel: float = 1e-9) -> bool:
    scale = max(abs(b[1] - b[0]), 1e-300)
    return all(abs(x - y) <= rel * scale for x, y in zip(a, b, strict=True))


def _scrolled(widget: QtWidgets.QWidget) -> QtWidgets.QScrollArea:
    area = QtWidgets.QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
    return area
