"""A plugin that raises, returns NaN or is slow never freezes or kills the window; closing
with jobs running exits cleanly; corrupt settings are ignored."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6 import QtWidgets

import dynsim


def _rhs_raising(t, y, p):
    if p["k"] > 1.0:
        raise RuntimeError("k above 1 is not modelled")
    return np.stack([y[..., 1], -p["k"] * y[..., 0]], axis=-1)


def _rhs_nan(t, y, p):
    out = np.stack([y[..., 1], -y[..., 0]], axis=-1)
    return np.where(y[..., :1] > 1.0, np.nan, out)


def _rhs_slow(t, y, p):
    time.sleep(p["delay"])
    return np.stack([y[..., 1], -y[..., 0]], axis=-1)


class _Plugin:
    @dynsim.hookimpl
    def dynsim_register_systems(self, register):
        box = {"x": (-2.0, 2.0), "v": (-2.0, 2.0)}
        register(dynsim.System("moody", ["x", "v"], {"k": dynsim.Param(0.5, min=0, max=5)},
                               _rhs_raising, bounds=box, y0=(1.0, 0.0)))
        register(dynsim.System("holey", ["x", "v"], {}, _rhs_nan, bounds=box, y0=(0.5, 0.0)))
        register(dynsim.System("sluggish", ["x", "v"],
                               {"delay": dynsim.Param(0.0, min=0, max=5)}, _rhs_slow,
                               bounds=box, y0=(1.0, 0.0)))


@pytest.fixture
def plugins(with_plugins):
    with_plugins(_Plugin())


def test_an_rhs_that_raises_becomes_a_message_and_the_app_recovers(plugins, window):
    w = window("moody")
    w.set_params(k=2.0)
    w.wait_idle(30)
    assert "k above 1 is not modelled" in w.last_message
    assert len(w.layers.field_item.points()) == 0
    assert w.trajectories.status[0] == dynsim.Status.RHS_ERROR
    w.set_params(k=0.5)
    w.wait_idle(30)
    assert len(w.layers.field_item.points()) > 0
    assert w.trajectories.status[0] == dynsim.Status.SUCCESS


def test_nan_from_the_rhs_leaves_gaps_and_failure_markers(plugins, window):
    w = window("holey")
    field = w.layers.field
    assert np.isnan(field.magnitude).any() and np.isfinite(field.magnitude).any()
    w.add_trajectory([0.0, 1.5])  # swings into x > 1, where the field is NaN
    w.wait_idle(30)
    assert w.trajectories.status[-1] == dynsim.Status.NON_FINITE
    ends = [s for s in w.layers.end_item.data["data"] if s is not None]
    assert any(d[2] == dynsim.Status.NON_FINITE for d in ends)
    tip = w.layers._end_tip(0, 0, next(d for d in ends if d[2] == dynsim.Status.NON_FINITE))
    assert "blew up" in tip


def test_a_slow_rhs_never_blocks_the_gui_thread_and_can_be_cancelled(plugins, window):
    w = window("sluggish")
    w.set_params(delay=0.05)  # every rhs call sleeps: the trajectories take many seconds
    app = QtWidgets.QApplication.instance()
    longest = 0.0
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        start = time.perf_counter()
        app.processEvents()
        longest = max(longest, time.perf_counter() - start)
        time.sleep(0.01)
    assert w.jobs.busy
    assert longest < 0.2, f"the GUI thread stalled for {longest:.3f} s"
    assert w.status_label.text().startswith("computing")
    assert w.cancel_button.isVisible()
    w.cancel_jobs()
    w.wait_idle(30)
    assert not w.jobs.busy and w.last_message == "cancelled"


def test_closing_with_jobs_running_exits_cleanly(plugins, window, capfd):
    w = window("sluggish")
    w.set_params(delay=0.05)
    QtWidgets.QApplication.processEvents()
    assert w.jobs.busy
    start = time.monotonic()
    w.close()
    assert time.monotonic() - start < 5.0
    assert not QtWidgets.QApplication.instance().activeWindow()
    assert "QThread: Destroyed" not in capfd.readouterr().err


def test_corrupt_settings_are_ignored_with_a_warning(window, private_settings):
    private_settings.write_bytes(b"[General]\nrecent=@Invalid(\x00\xff\ngeometry=nonsense\n")
    with pytest.warns(UserWarning, match="ignoring"):
        w = window("saddle")
    assert w.state.system.name == "saddle"
    assert w.settings.recent == []  # the unreadable entry is dropped, not half-read
