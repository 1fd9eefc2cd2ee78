"""Scene files: loading, validation messages, running and saving."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import dynsim
from dynsim.core.errors import SceneError

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
SCENES = sorted((REPO / "scenes").glob("*.toml"))


def test_the_issue_scene_loads_and_runs():
    scene = dynsim.load_scene(DATA / "issue_scene.toml")
    assert scene.system == "lotka_volterra"
    assert dict(scene.params) == {"alpha": 1.5, "beta": 1.0, "delta": 0.75, "gamma": 1.0}
    assert scene.simulation.t_span == (0.0, 20.0)
    assert scene.simulation.initial_conditions == ((2.0, 1.0), (1.0, 0.5))
    assert (scene.simulation.solver, scene.simulation.dt) == ("rk4", 0.01)
    assert scene.view.axes == ("x", "y")
    assert dict(scene.view.limits) == {"xlim": (0.0, 5.0), "ylim": (0.0, 5.0)}
    traj = scene.simulate()
    assert traj.y.shape == (2, 1001, 2) and traj.ok
    # Lotka–Volterra conserves V = delta x - gamma ln x + beta y - alpha ln y
    system = dynsim.system("lotka_volterra")
    v = system.invariant(traj.y, system.parameter_values(scene.params))
    assert np.ptp(v, axis=1).max() < 1e-8


def test_shipped_scenes_include_the_required_ones():
    names = {p.stem for p in SCENES}
    assert {"lotka_volterra", "lorenz", "attractor", "repulsor", "saddle", "center",
            "van_der_pol"} <= names


@pytest.mark.parametrize("path", SCENES, ids=[p.stem for p in SCENES])
def test_every_shipped_scene_loads_runs_and_round_trips(path, tmp_path):
    scene = dynsim.load_scene(path)
    assert scene.title
    traj = scene.simulate()
    assert traj.ok, traj.failures()
    assert np.isfinite(traj.y).all()
    scene.save(tmp_path / "copy.toml")
    assert dynsim.load_scene(tmp_path / "copy.toml") == scene


def test_save_round_trip_keeps_every_field(tmp_path):
    scene = dynsim.load_scene(DATA / "issue_scene.toml")
    changed = scene.replace_simulation(points=11, dt=None, solver="euler")
    changed.save(tmp_path / "s.toml")
    back = dynsim.load_scene(tmp_path / "s.toml")
    assert back == changed
    assert back.simulation.points == 11 and back.simulation.dt is None


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scene.toml"
    path.write_text(text)
    return path


BASE = DATA.joinpath("issue_scene.toml").read_text()


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(SceneError) as info:
        dynsim.load_scene(path)
    message = str(info.value)
    assert "\n" not in message
    return message.replace(str(path), "FILE")


def test_malformed_toml_gives_file_line_col(tmp_path):
    text = BASE.replace("dt = 0.01", "dt = = 0.01")
    assert error_of(tmp_path, text) == "FILE:9:6: Invalid value"


def test_unterminated_toml_at_end_of_document(tmp_path):
    message = error_of(tmp_path, '[system]\nname = "lorenz')
    assert message.startswith("FILE:2:")


@pytest.mark.parametrize(("old", "new", "expected"), [
    ('name = "lotka_volterra"', 'name = "lotka_voltera"',
     "FILE: system.name: unknown system 'lotka_voltera' (did you mean 'lotka_volterra'?); "
     "available: attractor, center,"),
    ('solver = "rk4"', 'solver = "rk5"',
     "FILE: simulation.solver: unknown solver 'rk5' (did you mean 'rk4'?); available:"),
    ("dt = 0.01", 'dt = "0.01"', "FILE: simulation.dt: expected a number, got a string"),
    ("dt = 0.01", "dt = true", "FILE: simulation.dt: expected a number, got a boolean"),
    ("dt = 0.01", "dt = -1.0", "FILE: simulation.dt: must be positive, got -1"),
    ("dt = 0.01", "stepsize = 0.01",
     "FILE: simulation.stepsize: unknown key; allowed keys: t_span, initial_conditions"),
    ("dt = 0.01", "sovler = 'rk4'", "FILE: simulation.sovler: unknown key (did you mean "
                                    "'solver'?)"),
    ("t_span = [0.0, 20.0]", "t_span = [0.0, inf]",
     "FILE: simulation.t_span[1]: must be a finite number, got inf"),
    ("t_span = [0.0, 20.0]", "t_span = [0.0, nan]",
     "FILE: simulation.t_span[1]: must be a finite number, got nan"),
    ("t_span = [0.0, 20.0]", "t_span = [0.0]",
     "FILE: simulation.t_span: expected 2 numbers, got 1"),
    ("[[2.0, 1.0], [1.0, 0.5]]", "[[2.0, 1.0], [1.0, 0.5, 3.0]]",
     "FILE: simulation.initial_conditions[1]: expected 2 numbers (x, y), got 3"),
    ("[[2.0, 1.0], [1.0, 0.5]]", "[[2.0, 1.0], [1.0, -inf]]",
     "FILE: simulation.initial_conditions[1][1]: must be a finite number, got -inf"),
    ("[[2.0, 1.0], [1.0, 0.5]]", "[2.0, 1.0]",
     "FILE: simulation.initial_conditions[0]: expected an array of numbers, got a number"),
    ("alpha = 1.5,", "alpa = 1.5,",
     "FILE: system.params.alpa: unknown key (did you mean 'alpha'?); allowed keys: alpha, "
     "beta, delta, gamma"),
    ("alpha = 1.5,", "alpha = 99.0,",
     "FILE: system.params.alpha: parameter 'alpha' of system 'lotka_volterra' = 99 lies "
     "outside its range [0, 10]"),
    ("alpha = 1.5,", "alpha = nan,", "FILE: system.params.alpha: must be a finite number"),
    ('axes = ["x", "y"]', 'axes = ["x", "z"]',
     "FILE: view.axes[1]: 'z' is not a state of 'lotka_volterra' (x, y)"),
    ("xlim = [0.0, 5.0]", "xlim = [5.0, 0.0]", "FILE: view.xlim: needs low < high, got [5, 0]"),
    ("[view]", "[veiw]", "FILE: veiw: unknown key (did you mean 'view'?)"),
    ("[system]", "[sys]", "FILE: sys: unknown key"),
])
def test_validation_errors_name_the_key_path(tmp_path, old, new, expected):
    assert old in BASE
    assert error_of(tmp_path, BASE.replace(old, new, 1)).startswith(expected)


def test_missing_required_keys(tmp_path):
    assert error_of(tmp_path, BASE.replace("t_span = [0.0, 20.0]\n", "")) == (
        "FILE: simulation.t_span: missing (required)")
    no_system = BASE.split("[simulation]")[1]
    assert error_of(tmp_path, "[simulation]" + no_system) == "FILE: system: missing (required)"


def test_initial_conditions_default_to_the_system_example(tmp_path):
    text = BASE.replace("initial_conditions = [[2.0, 1.0], [1.0, 0.5]]\n", "")
    scene = dynsim.load_scene(write(tmp_path, text))
    assert scene.simulation.initial_conditions == (dynsim.system("lotka_volterra").y0,)


def test_points_and_t_eval_are_exclusive(tmp_path):
    text = BASE.replace("dt = 0.01", "points = 5\nt_eval = [0.0, 1.0]")
    assert "give either points or t_eval" in error_of(tmp_path, text)


def test_t_eval_scene_runs(tmp_path):
    scene = dynsim.load_scene(write(tmp_path, BASE.replace("dt = 0.01", "t_eval = [0.0, 2.5, 5]")))
    np.testing.assert_array_equal(scene.simulate().t, [0.0, 2.5, 5.0])


def test_unreadable_scene_files(tmp_path):
    with pytest.raises(SceneError, match=r"missing.toml: no such file"):
        dynsim.load_scene(tmp_path / "missing.toml")
    (tmp_path / "bin.toml").write_bytes(b"\xff\xfe")
    with pytest.raises(SceneError, match="not UTF-8 text"):
        dynsim.load_scene(tmp_path / "bin.toml")


def test_save_is_atomic(tmp_path, monkeypatch):
    from dynsim.core import atomic

    scene = dynsim.load_scene(DATA / "issue_scene.toml")
    target = tmp_path / "s.toml"
    target.write_text("old")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", broken_fsync)
    with pytest.raises(dynsim.DynsimError, match="No space left"):
        scene.save(target)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["s.toml"]
