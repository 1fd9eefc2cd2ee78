"""Compute processes: the window's jobs run in child processes when these can rebuild the
system, with the same numbers as in the window's own process; anything else, a dead child
or a cancelled job, never loses a picture."""

from __future__ import annotations

import os
import signal
import textwrap
import time
from dataclasses import replace

import numpy as np
import pytest

import dynsim
from dynsim.gui import tasks
from dynsim.gui.compute import compute_pool, dumps, loads, system_spec
from dynsim.gui.model import state_for_system

LV = "scenes/lotka_volterra.toml"
pytestmark = pytest.mark.skipif(os.name != "posix", reason="compute processes need POSIX")


@pytest.fixture
def pool():
    pool = compute_pool()
    assert pool.wait_ready(60), "the compute processes did not start"
    return pool


def test_the_window_computes_in_the_children_and_draws_what_simulate_returns(pool, window):
    w = window(LV)
    before = pool.jobs
    w.set_params(alpha=1.3)
    w.add_trajectory([3.0, 2.0])
    w.wait_idle(60)
    assert pool.jobs >= before + 4  # field, nullclines, equilibria, trajectories
    reference = dynsim.simulate(**tasks.trajectory_request(w.state))
    np.testing.assert_array_equal(w.trajectories.y, reference.y)
    np.testing.assert_array_equal(w.layers.field.magnitude, tasks.field_of(w.state).magnitude)
    assert [e.classification for e in w.layers.equilibria] == ["saddle", "center"]


def test_systems_a_child_cannot_rebuild_are_computed_in_the_window(pool, window):
    spring = dynsim.System("script_spring", ["q", "p"], {},
                           lambda t, y, p: np.stack([y[..., 1], -y[..., 0]], axis=-1),
                           bounds={"q": (-2.0, 2.0), "p": (-2.0, 2.0)}, y0=(1.0, 0.0))
    assert system_spec(state_for_system(spring)) is None
    w = window(spring)
    before = pool.jobs
    w.add_trajectory([0.5, 0.0])
    w.wait_idle(60)
    assert pool.jobs == before
    q, p = w.trajectories.y[-1, -1]
    assert q ** 2 + p ** 2 == pytest.approx(0.25, rel=1e-5)  # a circle, as simulated here


def test_typed_equations_are_rebuilt_in_the_children(pool):
    from dynsim.gui.equations_dialog import build_state

    state = replace(build_state("pendulum", "x = y\ny = -sin(x) - c*y", "c = 0.2"),
                    seeds=((1.0, 0.0), (0.0, 2.0)))
    spec = system_spec(state)
    assert spec[0] == "equations" and spec[3] == {"c": 0.2}
    run = list(pool.run("trajectories", state, dynsim.CancelToken(), lambda f: None,
                        lambda: iter(())))[-1]
    reference = dynsim.simulate(**tasks.trajectory_request(state))
    np.testing.assert_array_equal(run.forward.y, reference.y)


def test_a_child_that_dies_is_reported_and_replaced(pool, window, qtbot):
    w = window(LV)
    messages = []
    report = w.report
    w.report = lambda message: (messages.append(message), report(message))
    w.model.set_solver(t_forward=2000.0)  # long enough to be killed while it runs
    qtbot.waitUntil(lambda: any(label == "trajectories" for label, *_ in w.jobs.status()),
                    timeout=10000)
    qtbot.wait(300)
    for process in list(pool._all):
        os.kill(process.process.pid, signal.SIGKILL)
    w.wait_idle(60)
    assert any("the compute process ended while computing trajectories" in m
               for m in messages), messages
    assert pool.wait_ready(60)
    w.model.set_solver(t_forward=20.0)
    w.wait_idle(60)
    assert w.trajectories.status[0] == dynsim.Status.SUCCESS


def test_a_cancelled_job_stops_in_the_child_and_frees_it(pool, tmp_path, monkeypatch):
    (tmp_path / "slow_plugin.py").write_text(textwrap.dedent('''
        import time
        import numpy as np
        import dynsim

        def rhs(t, y, p):
            time.sleep(0.01)
            return np.stack([y[..., 1], -y[..., 0]], axis=-1)

        @dynsim.hookimpl
        def dynsim_register_systems(register):
            register(dynsim.System("slow_spring", ["q", "p"], {}, rhs,
                                   bounds={"q": (-2, 2), "p": (-2, 2)}, y0=(1.0, 0.0)))
    '''))
    from dynsim.core.plugins import load_plugins, reset_plugins

    load_plugins([tmp_path])
    try:
        state = state_for_system("slow_spring")
        state = replace(state, solver=replace(state.solver, t_forward=1000.0))
        list(pool.run("field", state, dynsim.CancelToken(), lambda f: None, lambda: iter(())))
        assert pool.wait_ready(60)  # restarted with the new plugin folder
        token = dynsim.CancelToken()
        started = time.monotonic()
        parts = pool.run("trajectories", state, token, lambda f: None, lambda: iter(()))
        # the plugin folder reached the children: they run it (no local fallback)
        next(parts)
        token.cancel()
        last = list(parts)[-1]
        assert time.monotonic() - started < 10
        assert last.forward.status[0] == dynsim.Status.CANCELLED
        assert pool.wait_ready(10)
    finally:
        reset_plugins()


def test_results_travel_with_the_windows_system_object():
    state = state_for_system("lotka_volterra")
    field = tasks.field_of(state)
    back = loads(dumps(field), state.system)
    np.testing.assert_array_equal(back.magnitude, field.magnitude)
    assert dumps(state)  # mapping proxies and the System reference pickle
    assert loads(dumps(state), state.system).system is state.system


def test_a_system_the_children_cannot_build_is_computed_here_from_then_on(pool, monkeypatch):
    import dynsim.gui.compute as compute

    state = state_for_system("lotka_volterra")
    list(pool.run("field", state, dynsim.CancelToken(), lambda f: None, lambda: iter(())))
    assert pool.wait_ready(60)  # (restarted if an earlier test changed the plugins)
    monkeypatch.setattr(compute, "system_reference", lambda s: ("name", "no_such_system"))
    pool._specs.clear()
    before = pool.jobs
    here = tasks.field_of(state)
    field = list(pool.run("field", state, dynsim.CancelToken(), lambda f: None,
                          lambda: iter([here])))[-1]
    assert field is here  # the child refused it; the local result came instead
    assert pool.jobs == before + 1  # the child was asked once ...
    list(pool.run("field", state, dynsim.CancelToken(), lambda f: None, lambda: iter([here])))
    assert pool.jobs == before + 1  # ... and not again for this system
    pool._specs.clear()


@pytest.mark.skipif(not hasattr(os, "sched_getscheduler"), reason="Linux scheduling policy")
def test_the_children_yield_every_core_to_the_window(pool):
    """Under SCHED_IDLE a waking GUI thread takes the core at once (nice only shares it)."""
    for process in list(pool._all):
        pid = process.process.pid
        for thread in os.listdir(f"/proc/{pid}/task"):
            assert os.sched_getscheduler(int(thread)) == os.SCHED_IDLE, (pid, thread)
