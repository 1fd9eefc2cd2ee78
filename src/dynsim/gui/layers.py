"""Drawing: results of `dynsim.gui.tasks` turned into pyqtgraph items on a plot.

`PortraitLayers` owns a fixed set of items on one `PlotItem` and updates their data (it never
clears the plot): the window, `dynsim render` and image export all draw through it. Many
curves share one item, NaN-separated (`connect="finite"`), so hundreds stay fluid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyqtgraph as pg

from dynsim.analysis import DirectionField, EquilibriumSearch, Nullclines, Streamlines
from dynsim.analysis.equilibria import Equilibrium
from dynsim.analysis.separatrices import Separatrix
from dynsim.core.trajectories import Status, Trajectories
from dynsim.gui import style
from dynsim.gui.arrows import FieldArrows
from dynsim.gui.tasks import TrajectoryRun

ARROW_FILL = 0.8
"""An arrow spans 80% of its grid cell (normalised) or up to that (scaled by speed)."""
HEAD = (0.3, 25.0)
"""Arrowhead barbs: 30% of the arrow's length, 25 degrees off its shaft."""
MIN_SCALED = 0.15
"""Arrows scaled by speed are at least 15% of the full length, so slow regions still show
their direction."""


def joined(curves: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """x and y of `curves` ((K_i, 2) arrays) in one NaN-separated pair of arrays."""
    if not curves:
        return np.array([]), np.array([])
    gap = np.full((1, 2), np.nan)
    stacked = np.vstack([part for c in curves for part in (c, gap)][:-1])
    return stacked[:, 0], stacked[:, 1]


def arrow_segments(field: DirectionField, pixel: tuple[float, float], scaled: bool
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Line segments (shaft and two barbs per arrow) in data coordinates, as pairs of end
    points (`FieldArrows`), and each arrow's speed. `pixel` is the data size of one screen
    pixel, so arrows keep their length and angle on screen whatever the axes' aspect
    ratio."""
    px, py = pixel
    gx, gy = np.meshgrid(field.x, field.y)
    cell = min(np.ptp(field.x) / max(len(field.x) - 1, 1) / px,
               np.ptp(field.y) / max(len(field.y) - 1, 1) / py)
    sx, sy = field.u / px, -field.v / py  # on screen, y points down
    norm = np.hypot(sx, sy)
    ok = np.isfinite(norm) & (norm > 0)
    speed = field.magnitude
    length = np.full(norm.shape, ARROW_FILL * cell)
    if scaled and ok.any():
        top = np.nanmax(np.where(ok, speed, np.nan))
        length *= np.clip(np.where(ok, speed, 0) / top, MIN_SCALED, 1.0)
    ux = np.divide(sx, norm, out=np.zeros_like(sx), where=ok)
    uy = np.divide(sy, norm, out=np.zeros_like(sy), where=ok)
    tip = np.stack([ux * length / 2, uy * length / 2], axis=-1)
    barb_length, barb_angle = HEAD[0] * length, np.radians(HEAD[1])
    points = [-tip, tip]
    for sign in (1.0, -1.0):
        c, s = np.cos(np.pi - sign * barb_angle), np.sin(np.pi - sign * barb_angle)
        barb = np.stack([c * ux - s * uy, s * ux + c * uy], axis=-1) * barb_length[..., None]
        points += [tip, tip + barb]
    offsets = np.stack(points, axis=-2)[ok]  # (M, 6, 2) in pixels around each grid point
    x = gx[ok][:, None] + offsets[..., 0] * px
    y = gy[ok][:, None] - offsets[..., 1] * py
    return x.ravel(), y.ravel(), speed[ok]


class PortraitLayers:
    """The items of one phase portrait on `plot`, updated in place by the draw_* methods."""

    def __init__(self, plot: pg.PlotItem) -> None:
        self.plot = plot
        plot.showGrid(x=True, y=True, alpha=0.15)
        self.legend = plot.addLegend(**style.legend_options())
        self.field_item = FieldArrows([style.pen(c.name(), 1.0) for c in style.field_colours()])
        self.plot.addItem(self.field_item)
        self.streamline_item = self._curve(style.pen("#7f7f7f", 1.0))
        self.nullcline_items: dict[str, pg.PlotDataItem] = {}
        self.separatrix_items = {kind: self._curve(style.pen(colour, 1.8))
                                 for kind, colour in style.SEPARATRIX_COLOURS.items()}
        # one-pixel solid pens: Qt draws wider or dashed ones several times slower, and
        # these curves hold up to hundreds of trajectories
        self.backward_item = self._curve(style.pen(style.BACKWARD_COLOUR, 1.0))
        self.forward_item = self._curve(style.pen(style.TRAJECTORY_COLOUR, 1.0))
        self.selected_item = self._curve(style.pen(style.SELECTED_COLOUR, 2.6))
        self.measured_item = self._scatter(symbol="o", size=5, pen=None,
                                           brush=pg.mkBrush(style.MEASURED_COLOUR))
        self.equilibrium_item = self._scatter(hoverable=True, tip=self._equilibrium_tip,
                                              size=style.EQUILIBRIUM_SIZE)
        self.seed_item = self._scatter(symbol="o", size=6, pen=pg.mkPen("w"),
                                       brush=pg.mkBrush("k"))
        self.end_item = self._scatter(hoverable=True, tip=self._end_tip, size=11,
                                      pen=pg.mkPen(style.TRAJECTORY_COLOUR),
                                      brush=pg.mkBrush(style.TRAJECTORY_COLOUR))
        self.cursor_item = self._scatter(symbol="o", size=11, pen=pg.mkPen(
            style.SELECTED_COLOUR, width=2), brush=pg.mkBrush(255, 255, 255, 0))
        self.field: DirectionField | None = None
        self.equilibria: tuple[Equilibrium, ...] = ()
        self.run: TrajectoryRun | None = None
        self.pixel: tuple[float, float] = (1.0, 1.0)
        self.scaled = False
        self._legend_entries: tuple[str, ...] = ()

    def _curve(self, pen: object) -> pg.PlotDataItem:
        """A curve item whose data may hold several curves, NaN-separated."""
        item = pg.PlotDataItem(pen=pen, connect="finite")
        self.plot.addItem(item)
        return item

    def _scatter(self, **opts: object) -> pg.ScatterPlotItem:
        item = pg.ScatterPlotItem(**opts)
        self.plot.addItem(item)
        return item

    # -- layers ------------------------------------------------------------------------------

    def draw_field(self, field: DirectionField | None, pixel: tuple[float, float],
                   scaled: bool) -> None:
        """Arrows of `field` (None: none), coloured by speed in `style.FIELD_COLOURS` bins."""
        self.field, self.pixel, self.scaled = field, pixel, scaled
        if field is None:
            self.field_item.set_arrows(np.empty(0), np.empty(0), np.empty(0, dtype=int))
            return
        x, y, speed = arrow_segments(field, pixel, scaled)
        self.field_item.set_arrows(x, y, _speed_bins(speed, len(self.field_item.pens)))

    def redraw_field(self, pixel: tuple[float, float]) -> None:
        """Draw the current field again for a new pixel size (after a resize)."""
        if self.field is not None and pixel != self.pixel:
            self.draw_field(self.field, pixel, self.scaled)

    def draw_streamlines(self, lines: Streamlines | None) -> None:
        """Evenly spaced streamlines (None: none)."""
        self.streamline_item.setData(*joined(list(lines.lines) if lines else []))

    def draw_nullclines(self, nullclines: Nullclines | None) -> None:
        """One curve per state where its derivative vanishes, each in its own colour."""
        names = nullclines.plane.states if nullclines else ()
        for k, name in enumerate(names):
            if name not in self.nullcline_items:
                colour = style.NULLCLINE_COLOURS[k % len(style.NULLCLINE_COLOURS)]
                self.nullcline_items[name] = self._curve(style.pen(colour, 2.0))
        for name, item in self.nullcline_items.items():
            lines = list(nullclines.lines.get(name, ())) if nullclines else []
            item.setData(*joined(lines))
        self._update_legend()

    def draw_equilibria(self, search: EquilibriumSearch | None,
                        axes: tuple[int, int]) -> None:
        """Equilibria marked by their stability (see `style.EQUILIBRIUM_STYLE`)."""
        self.equilibria = search.equilibria if search else ()
        spots = []
        for k, eq in enumerate(self.equilibria):
            symbol, edge, fill = style.EQUILIBRIUM_STYLE[eq.classification]
            spots.append({"pos": (eq.state[axes[0]], eq.state[axes[1]]), "data": k,
                          "symbol": symbol, "pen": pg.mkPen(edge, width=2),
                          "brush": pg.mkBrush(fill)})
        self.equilibrium_item.setData(spots)
        self._update_legend()

    def draw_separatrices(self, branches: Sequence[Separatrix], axes: tuple[int, int]) -> None:
        """Stable and unstable separatrices of the saddles."""
        for kind, item in self.separatrix_items.items():
            curves = [b.y[:, axes] for b in branches if b.kind == kind]
            item.setData(*joined(curves))
        self._update_legend()

    def draw_trajectories(self, run: TrajectoryRun | None, axes: tuple[int, int]) -> None:
        """Forward curves solid, backward ones dashed, initial points, and at each end an
        arrowhead (time's direction) or a red cross where the solver failed."""
        self.run = run
        parts = [(traj, direction, [traj.path(i)[1][:, axes] for i in range(traj.n_trajectories)])
                 for traj, direction in ((run.forward, "forward"), (run.backward, "backward"))
                 if traj is not None] if run else []
        curves = {direction: paths for _, direction, paths in parts}
        self.forward_item.setData(*joined(curves.get("forward", [])))
        self.backward_item.setData(*joined(curves.get("backward", [])))
        forward = run.forward if run else None
        seeds = forward.y[:, 0][:, axes] if forward is not None else np.empty((0, 2))
        self.seed_item.setData(pos=seeds)
        self.end_item.setData(self._end_spots(parts) if run and run.done else [])
        self._update_legend()

    def draw_selection(self, curve: np.ndarray | None) -> None:
        """Highlight one trajectory's curve (K, 2), or nothing."""
        self.selected_item.setData(*joined([curve] if curve is not None else []))

    def draw_cursor(self, point: tuple[float, float] | None) -> None:
        """The marker linked to the time-series cursor."""
        self.cursor_item.setData(pos=[point] if point is not None else [])

    def draw_measured(self, data: Sequence[Trajectories], axes: tuple[int, int]) -> None:
        """Measured data points (overlaid CSV files)."""
        points = [t.y[i][:, axes] for t in data for i in range(t.n_trajectories)]
        self.measured_item.setData(pos=np.vstack(points) if points else np.empty((0, 2)))
        self._update_legend()

    def set_visible(self, layer: str, on: bool) -> None:
        """Show or hide a layer by its name in `dynsim.core.scene.LAYERS`."""
        for item in self._items(layer):
            item.setVisible(on)
        self._update_legend()

    def _items(self, layer: str) -> list[pg.GraphicsObject]:
        return {
            "field": [self.field_item], "streamlines": [self.streamline_item],
            "nullclines": list(self.nullcline_items.values()),
            "equilibria": [self.equilibrium_item],
            "separatrices": list(self.separatrix_items.values()),
            "trajectories": [self.forward_item, self.backward_item, self.seed_item,
                             self.end_item, self.selected_item],
        }[layer]

    # -- ends, tooltips, legend ---------------------------------------------------------------

    def _end_spots(self, parts: list[tuple[Trajectories, str, list[np.ndarray]]]
                   ) -> list[dict[str, object]]:
        spots = []
        for traj, direction, curves in parts:
            for i, curve in enumerate(curves):
                status = traj.status[i]
                failed = status not in (Status.SUCCESS, Status.EVENT)
                spot = {"pos": tuple(curve[-1]) if len(curve) else None,
                        "data": (direction, i, status, traj.messages[i], float(traj.t[0]))}
                if spot["pos"] is None:
                    continue
                if failed:
                    spot.update(symbol="x", size=13, pen=pg.mkPen(style.FAILURE_COLOUR,
                                                                  width=2),
                                brush=pg.mkBrush(style.FAILURE_COLOUR))
                elif len(curve) >= 2:
                    # time runs forward along every arrowhead: backward parts point home
                    turn = 180.0 if direction == "backward" else 0.0
                    spot["symbol"] = style.arrow_symbol(self._screen_angle(curve) + turn)
                else:
                    continue
                spots.append(spot)
        return spots

    def _screen_angle(self, curve: np.ndarray) -> float:
        """The angle on screen of the curve's last step (counter-clockwise from +x)."""
        tail = curve[-min(len(curve), 3)]
        dx, dy = (curve[-1] - tail) / np.asarray(self.pixel)
        return float(np.degrees(np.arctan2(dy, dx)))

    def _equilibrium_tip(self, x: float, y: float, data: int) -> str:
        return equilibrium_text(self.equilibria[data])

    @staticmethod
    def _end_tip(x: float, y: float, data: tuple[str, int, Status, str, float]) -> str:
        direction, i, status, message, _ = data
        text = f"trajectory {i + 1} ({direction}): {style.STOP_REASONS[status]}"
        return f"{text}\n{message}" if message else text

    def _update_legend(self) -> None:
        """Rebuild the legend when the set of marks shown changed (one entry per kind)."""
        entries = self._legend_wanted()
        labels = tuple(label for _, label in entries)
        if labels == self._legend_entries:
            return
        self._legend_entries = labels
        self.legend.clear()
        for make, label in entries:
            self.legend.addItem(make(), label)

    def _legend_wanted(self) -> list[tuple[Callable[[], pg.GraphicsObject], str]]:
        def drawn(item: pg.GraphicsObject) -> bool:
            return item.isVisible() and item.xData is not None and len(item.xData) > 0

        entries: list[tuple[Callable[[], pg.GraphicsObject], str]] = [
            (lambda item=item: item, f"d{name}/dt = 0")
            for name, item in self.nullcline_items.items() if drawn(item)]
        shown = {e.classification for e in self.equilibria} \
            if self.equilibrium_item.isVisible() else set()
        for classification, (symbol, edge, fill) in style.EQUILIBRIUM_STYLE.items():
            if classification in shown:
                entries.append((lambda s=symbol, e=edge, f=fill: pg.ScatterPlotItem(
                    symbol=s, pen=pg.mkPen(e, width=2), brush=pg.mkBrush(f), size=10),
                    classification))
        entries += [(lambda item=item: item, f"{kind} separatrix")
                    for kind, item in self.separatrix_items.items() if drawn(item)]
        if drawn(self.forward_item):
            entries.append((lambda: self.forward_item, "trajectory (forward)"))
            if drawn(self.backward_item):
                entries.append((lambda: self.backward_item, "backward in time"))
        if len(self.measured_item.data):
            entries.append((lambda: self.measured_item, "measured data"))
        return entries


def equilibrium_text(eq: Equilibrium) -> str:
    """An equilibrium's state, classification, eigenvalues and eigenvectors, as text."""
    state = ", ".join(f"{n} = {v:.6g}" for n, v in zip(eq.states, eq.state, strict=True))
    lines = [eq.classification, state, "eigenvalues and eigenvectors:"]
    for value, vector in zip(eq.eigenvalues, eq.linearization.eigenvectors.T, strict=True):
        lines.append(f"  {_complex(value)}:  ({', '.join(_complex(c) for c in vector)})")
    return "\n".join(lines)


def _complex(z: complex) -> str:
    if abs(z.imag) < 1e-12 * max(1.0, abs(z.real)):
        return f"{z.real:.4g}"
    return f"{z.real:.4g}{z.imag:+.4g}i"


def _speed_bins(speed: np.ndarray, count: int) -> np.ndarray:
    """Bin index 0..count-1 of each speed by quantile (equal numbers of arrows per colour)."""
    finite = np.isfinite(speed)
    if not finite.any():
        return np.zeros(speed.shape, dtype=int)
    edges = np.quantile(speed[finite], np.linspace(0, 1, count + 1)[1:-1])
    return np.clip(np.searchsorted(edges, np.where(finite, speed, np.inf)), 0, count - 1)
