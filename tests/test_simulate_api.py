"""`simulate` and `simulate_iter`: defaults, options, progress, partial results, events."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

import dynsim
from dynsim.core.errors import InputError
from dynsim.core.simulate import DEFAULT_SOLVER
from dynsim.core.solver import Problem, Solution
from dynsim.core.trajectories import Status


def test_dopri5_is_the_default_solver():
    assert DEFAULT_SOLVER == "dopri5"
    default = dynsim.simulate("lorenz", [1, 1, 1], (0, 2))
    explicit = dynsim.simulate("lorenz", [1, 1, 1], (0, 2), solver="dopri5")
    np.testing.assert_array_equal(default.y, explicit.y)
    assert set(default.stats) == {"accepted", "rejected", "rhs_evaluations"}
    assert 0 < default.stats["accepted"][0] < 1000  # adaptive, not 1000 fixed steps


def test_tolerances_scalar_or_per_state():
    loose = dynsim.simulate("van_der_pol", [2, 0], (0, 10), rtol=1e-3, atol=1e-6)
    tight = dynsim.simulate("van_der_pol", [2, 0], (0, 10), rtol=[1e-9, 1e-9],
                            atol=[1e-12, 1e-12])
    assert tight.stats["accepted"][0] > 3 * loose.stats["accepted"][0]
    mixed = dynsim.simulate("van_der_pol", [2, 0], (0, 10), rtol=[1e-9, 1e-3], atol=1e-12)
    assert loose.stats["accepted"][0] < mixed.stats["accepted"][0]


@pytest.mark.parametrize("options", [
    {"rtol": -1e-6}, {"atol": [1e-9, 1e-9]}, {"rtol": "tight"}, {"max_steps": 0},
    {"max_steps": 2.5}, {"first_step": 0.0}, {"min_step": -1.0}, {"events": [42]},
    {"progress": "yes"}, {"dt": -0.1},
])
def test_invalid_options_are_input_errors(options):
    with pytest.raises(InputError):
        dynsim.simulate("lorenz", [1, 1, 1], (0, 1), **options)
    with pytest.raises(InputError):
        dynsim.simulate_iter("lorenz", [1, 1, 1], (0, 1), **options)  # checked at once


def test_step_options_reach_the_solver():
    traj = dynsim.simulate("lorenz", [1, 1, 1], (0, 5), max_steps=20)
    assert traj.status[0] == Status.MAX_STEPS
    first = dynsim.simulate("lorenz", [1, 1, 1], (0, 1), first_step=1e-8)
    assert first.stats["accepted"][0] > dynsim.simulate(
        "lorenz", [1, 1, 1], (0, 1)).stats["accepted"][0]


def test_fixed_step_solvers_still_take_dt():
    traj = dynsim.simulate("lorenz", [1, 1, 1], (0, 1), solver="rk4", dt=0.01, points=11)
    assert traj.stats["accepted"][0] == 100
    euler = dynsim.simulate("lorenz", [1, 1, 1], (0, 1), solver="euler")
    assert euler.stats["accepted"][0] == 1000


def test_progress_is_reported_up_to_one():
    fractions: list[float] = []

    def slow(t, y, p):
        time.sleep(0.001)
        return -y

    system = dynsim.System(name="slow", states=["x"], params={}, rhs=slow)
    dynsim.simulate(system, [[1.0], [2.0]], (0, 20), rtol=1e-8, progress=fractions.append)
    assert fractions[-1] == 1.0 and len(fractions) > 2
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(fractions)


def test_simulate_iter_yields_growing_partial_results_then_the_final_one():
    slow_down = [True]

    def oscillator(t, y, p):
        if slow_down[0]:
            time.sleep(0.001)
        return np.stack([y[:, 1], -y[:, 0]], axis=-1)

    system = dynsim.System(name="slow_oscillator", states=["x", "v"], params={},
                           rhs=oscillator)
    y0 = [[1.0, 0.0], [0.0, 1.0]]
    parts = list(dynsim.simulate_iter(system, y0, (0, 20), rtol=1e-8, points=201))
    assert len(parts) >= 3
    filled = [int((~np.isnan(p.y[0, :, 0])).sum()) for p in parts]
    assert filled == sorted(filled) and filled[0] < 201 and filled[-1] == 201
    assert all(isinstance(p, dynsim.Trajectories) for p in parts)
    slow_down[0] = False
    final = dynsim.simulate(system, y0, (0, 20), rtol=1e-8, points=201)
    np.testing.assert_array_equal(parts[-1].y, final.y)
    # partial results are copies: later steps do not change a yielded one
    assert np.isnan(parts[0].y[0, -1, 0])
    # and they hold every output the steps so far have passed, equal to the final ones
    assert filled[0] > 1
    for part, count in zip(parts, filled, strict=True):
        np.testing.assert_array_equal(part.y[0, :count], final.y[0, :count])


def test_simulate_iter_with_a_solver_without_iter_solve():
    class OneShot:
        name = "one_shot"
        description = "returns zeros"

        def solve(self, problem: Problem) -> Solution:
            n, d = problem.y0.shape
            return Solution(y=np.zeros((n, len(problem.t_eval), d)),
                            status=[Status.SUCCESS] * n, messages=[""] * n)

    parts = list(dynsim.simulate_iter("lorenz", [1, 1, 1], (0, 1), solver=OneShot()))
    assert len(parts) == 1 and (parts[0].y == 0).all()


def test_problem_carries_every_option_to_a_third_party_solver():
    seen: list[Problem] = []

    class Recorder:
        name = "recorder"
        description = "records its problem"

        def solve(self, problem: Problem) -> Solution:
            seen.append(problem)
            n, d = problem.y0.shape
            return Solution(y=np.zeros((n, len(problem.t_eval), d)),
                            status=[Status.SUCCESS] * n, messages=[""] * n)

    def report(fraction: float) -> None:
        pass

    box = dynsim.leave_box(-100, 100)
    dynsim.simulate("lorenz", [1, 1, 1], (0, 1), solver=Recorder(), rtol=[1e-5, 1e-6, 1e-7],
                    atol=1e-8, max_steps=77, first_step=0.01, min_step=1e-9, events=[box],
                    progress=report)
    problem = seen[0]
    np.testing.assert_array_equal(problem.rtol, [1e-5, 1e-6, 1e-7])
    assert problem.atol == 1e-8 and problem.max_steps == 77
    assert problem.first_step == 0.01 and problem.min_step == 1e-9
    assert problem.progress is report and problem.events[0].name == "left_box"
    assert problem.jacobian(0.0, np.ones((2, 3))).shape == (2, 3, 3)
    assert problem.events[0].function(0.0, np.zeros((2, 3))).shape == (2,)


def test_cancelled_before_the_start_ends_every_trajectory_as_cancelled():
    token = dynsim.CancelToken()
    token.cancel()
    traj = dynsim.simulate("lorenz", [[1, 1, 1], [2, 2, 2]], (0, 100), cancel=token)
    assert all(s == Status.CANCELLED for s in traj.status)
    assert not np.isnan(traj.y[:, 0]).any() and np.isnan(traj.y[:, 1:]).all()


def test_event_logs_are_part_of_trajectories():
    crossing = dynsim.Event("x_up", lambda t, y, p: y[..., 0], direction=1)
    traj = dynsim.simulate("harmonic_oscillator", [[1.0, 0.0], [0.0, 1.0]], (0, 10),
                           events=[crossing], rtol=1e-10, atol=1e-12)
    log = traj.events["x_up"]
    assert isinstance(log, dynsim.EventLog) and len(log.t) == 2
    np.testing.assert_allclose(log.t[0], [1.5 * np.pi], atol=1e-8)
    np.testing.assert_allclose(log.t[1], [2 * np.pi], atol=1e-8)
    assert log.y[1].shape == (1, 2)
    plain = dynsim.simulate("harmonic_oscillator", [1.0, 0.0], (0, 1))
    assert dict(plain.events) == {}


def test_backwards_simulation():
    traj = dynsim.simulate("harmonic_oscillator", [1.0, 0.0], (10, 0), points=11,
                           rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(traj.t, np.linspace(10, 0, 11))
    np.testing.assert_allclose(traj.y[0, :, 0], np.cos(traj.t - 10), atol=1e-8)


def test_shipped_scenes_with_fixed_step_solvers_still_run():
    from pathlib import Path

    scene = dynsim.load_scene(Path(__file__).resolve().parents[1] / "scenes" / "lorenz.toml")
    traj = scene.replace_simulation(t_span=(0.0, 1.0), points=101).simulate()
    assert traj.ok and traj.y.shape == (2, 101, 3)


def test_new_names_are_exported_and_import_stays_light():
    for name in ("Event", "EventLog", "simulate_iter", "leave_box"):
        assert name in dynsim.__all__ and hasattr(dynsim, name)
    code = ("import sys, dynsim; dynsim.simulate('lorenz', [1, 1, 1], (0, 1)); "
            "print('torch' in sys.modules, any(m.startswith('PySide6') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_path_ends_exactly_where_a_terminal_event_stopped_the_trajectory():
    traj = dynsim.simulate("saddle", [[1e-3, 0.0], [0.0, 1.0]], (0, 20), points=11,
                           events=[dynsim.leave_box(-1.0, 1.0)])
    t, y = traj.path(0)
    assert y[-1, 0] == pytest.approx(1.0, abs=1e-9) and t[-1] == pytest.approx(np.log(1e3))
    assert np.isfinite(y).all() and len(t) == len(y) == 5  # t = 0, 2, 4, 6, then the exit
    t, y = traj.path(1)  # decays towards the origin: every sample, no event
    assert len(t) == 11 and traj.status[1] == dynsim.Status.SUCCESS
