"""Equation systems in scene files: loading, running, analysing, saving, and refusing attacks."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import tomli_w

import dynsim
from dynsim.analysis import find_equilibria
from dynsim.core.errors import SceneError
from dynsim.core.expressions import ExpressionError
from dynsim.core.scene import EquationSource, SimulationSpec

REPO = Path(__file__).resolve().parents[1]
PENDULUM = REPO / "scenes" / "pendulum_equations.toml"

LOTKA_VOLTERRA = {"x": "alpha*x - beta*x*y", "y": "delta*x*y - gamma*y"}
LV_PARAMS = {"alpha": 1.5, "beta": 1.0, "delta": 0.75, "gamma": 1.0}

# The attacks of issue 5, item 4 (the full list runs in test_expressions_security.py and,
# through the CLI's own code, in test_equations_cli.py).
ATTACKS = [
    ("x.__class__.__mro__", "attribute access"),
    ("__import__('os').system('touch CANARY')", "attribute access ('.system')"),
    ("__import__('os')", "unknown function '__import__'"),
    ("open('CANARY', 'w').write('x')", "attribute access ('.write')"),
    ("a[0]", "indexing"),
    ("(lambda: __import__('os'))()", "lambda functions"),
    ("[c for c in ()]", "comprehensions"),
    ("f\"{__import__('os').system('touch CANARY')}\"", "f-strings"),
    ("(y := 1)", "':='"),
    ("sin(x=1)", "keyword arguments"),
    ("(" * 200 + "x" + ")" * 200, "nested too deeply"),
    ("-" * 1999 + "x", "nested too deeply"),
    ("x+" * 500_000 + "x", "too long"),
    ("9**9**9", "the constant part '9**9**9' is inf"),
    ("x\x1b[2J", "control character"),
]


def document(equations: dict[str, str], params: dict[str, float] | None = None,
             **system: object) -> dict:
    return {"system": {"name": "eqs", "equations": equations, "params": params or {},
                       **system},
            "simulation": {"t_span": [0.0, 1.0], "initial_conditions": [[1.0] * len(equations)]}}


def write_scene(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "scene.toml"
    path.write_bytes(tomli_w.dumps(doc).encode())
    return path


def load_error(tmp_path: Path, doc: dict) -> SceneError:
    path = write_scene(tmp_path, doc)
    with pytest.raises(SceneError) as info:
        dynsim.load_scene(path)
    return info.value


def test_the_shipped_pendulum_scene_is_an_equation_system():
    scene = dynsim.load_scene(PENDULUM)
    assert isinstance(scene.system, dynsim.System)
    assert scene.system_name == scene.system.name == "my_pendulum"
    assert scene.get_system() is scene.system
    assert scene.system.states == ("theta", "omega")
    assert dict(scene.params) == {"g": 9.81, "L": 1.0, "c": 0.1}
    assert dict(scene.equations.equations) == {"theta": "omega",
                                               "omega": "-g/L*sin(theta) - c*omega"}
    traj = scene.simulate()
    assert traj.ok and traj.system == "my_pendulum"
    reference = dynsim.simulate(scene.system, scene.simulation.initial_conditions,
                                scene.simulation.t_span, params=scene.params)
    np.testing.assert_array_equal(traj.y, reference.y)


def test_save_load_round_trip_keeps_the_equation_text(tmp_path):
    text = "\n  -g/L*sin(theta)\n   - c*omega^1  "      # spacing, line breaks and ^
    doc = document({"theta": "omega", "omega": text}, {"g": 9.81, "L": 1.0, "c": 0.1},
                   title="Pendulum", description="typed by hand")
    scene = dynsim.load_scene(write_scene(tmp_path, doc))
    scene.save(tmp_path / "copy.toml")
    back = dynsim.load_scene(tmp_path / "copy.toml")
    assert back == scene
    assert back.equations.equations["omega"] == text
    assert (back.system.title, back.system.description) == ("Pendulum", "typed by hand")
    np.testing.assert_array_equal(back.simulate().y, scene.simulate().y)
    changed = scene.replace_simulation(rtol=1e-8, atol=(1e-9, 1e-10), max_steps=5000)
    changed.save(tmp_path / "changed.toml")
    assert dynsim.load_scene(tmp_path / "changed.toml") == changed
    assert changed != scene


def test_states_default_to_the_order_of_the_equations_and_are_saved(tmp_path):
    scene = dynsim.load_scene(write_scene(tmp_path, document({"v": "-u", "u": "v"})))
    assert scene.system.states == ("v", "u")
    assert scene.to_dict()["system"]["states"] == ["v", "u"]


def test_params_changed_after_loading_are_saved_as_the_values(tmp_path):
    scene = dynsim.load_scene(PENDULUM)
    heavier = replace(scene, params={"c": 0.5})
    heavier.save(tmp_path / "s.toml")
    assert dict(dynsim.load_scene(tmp_path / "s.toml").params) == {"g": 9.81, "L": 1.0,
                                                                    "c": 0.5}


def test_lotka_volterra_by_equations_matches_the_plugin(tmp_path):
    plugin = dynsim.load_scene(REPO / "scenes" / "lotka_volterra.toml")
    for solver in ({}, {"solver": "rk4", "dt": 0.01}):
        doc = document(LOTKA_VOLTERRA, LV_PARAMS)
        doc["simulation"] = {"t_span": [0.0, 20.0],
                             "initial_conditions": [[2.0, 1.0], [1.0, 0.5]], **solver}
        typed = dynsim.load_scene(write_scene(tmp_path, doc))
        expected = plugin.replace_simulation(solver=solver.get("solver", "dopri5"),
                                             dt=solver.get("dt")).simulate()
        got = typed.simulate()
        assert got.ok and expected.ok
        np.testing.assert_allclose(got.y, expected.y, rtol=1e-12, atol=1e-12)


def test_a_scene_can_be_built_in_python():
    source = EquationSource(("x", "y"), LOTKA_VOLTERRA)
    scene = dynsim.Scene(system="lv", params=LV_PARAMS, equations=source,
                         simulation=SimulationSpec(t_span=(0.0, 1.0),
                                                   initial_conditions=((1.0, 1.0),)))
    assert isinstance(scene.system, dynsim.System) and scene.system.name == "lv"
    assert scene.simulate().ok


def test_equilibria_of_the_pendulum_scene():
    scene = dynsim.load_scene(PENDULUM)
    search = find_equilibria(scene.system, params=scene.params,
                             box={"theta": (-1.0, 4.0), "omega": (-2.0, 2.0)})
    found = {round(eq.state[0], 9): eq.classification for eq in search.equilibria}
    assert found == {0.0: "stable focus", round(math.pi, 9): "saddle"}


def test_equations_win_over_a_registered_system_of_the_same_name(tmp_path):
    doc = document({"x": "-x", "y": "-2*y", "z": "0"}, name="lorenz")
    scene = dynsim.load_scene(write_scene(tmp_path, doc))
    assert scene.system is not dynsim.system("lorenz")
    y = scene.simulate().y[0, -1]
    np.testing.assert_allclose(y, [math.exp(-1), math.exp(-2), 1.0], rtol=1e-6)


def test_an_expression_error_names_the_key_and_shows_a_caret(tmp_path):
    doc = document({"theta": "omega", "omega": "-g/L*sin(thta) - c*omega"},
                   {"g": 9.81, "L": 1.0, "c": 0.1})
    error = load_error(tmp_path, doc)
    assert isinstance(error, ExpressionError)
    assert error.key == "system.equations.omega" and error.column == 10
    path = tmp_path / "scene.toml"
    assert str(error).split("\n") == [
        f"{path}: system.equations.omega: unknown name 'thta' (did you mean 'theta'?)",
        "    -g/L*sin(thta) - c*omega",
        "             ^",
    ]


@pytest.mark.parametrize(("change", "key", "message"), [
    ({"equations": {"x": 1.0}}, "system.equations.x", "expected the right-hand side as a "
                                                      "string (in quotes), got a number"),
    ({"equations": "x"}, "system.equations", "expected a table, got a string"),
    ({"params": {"a": "1"}}, "system.params.a", "expected a number, got a string"),
    ({"params": {"a": float("inf")}}, "system.params.a", "must be a finite number"),
    ({"params": []}, "system.params", "expected a table, got an array"),
    ({"states": ["x", "y"]}, "system.equations.y", "missing the equation for state 'y'"),
    ({"states": "x"}, "system.states", "expected an array of strings"),
    ({"params": {"x": 1.0}}, "system.params.x", "'x' is already a state"),
    ({"params": {"b": 1.0}}, "system.equations.x", "unknown name 'a'"),
    ({"name": "2x"}, "system.name", "must start with a letter"),
    ({"title": ""}, "system.title", "expected a non-empty string"),
])
def test_equation_table_errors_name_the_key(tmp_path, change, key, message):
    doc = document({"x": "a*x"}, {"a": 1.0})
    doc["system"].update(change)
    text = str(load_error(tmp_path, doc))
    assert text.split("\n")[0].startswith(f"{tmp_path / 'scene.toml'}: {key}: "), text
    assert message in text


def test_states_without_equations_and_equation_keys_for_a_registered_system(tmp_path):
    doc = document({"x": "-x"})
    del doc["system"]["equations"]
    doc["system"]["states"] = ["x"]
    assert "system.equations: missing (required with system.states)" in str(
        load_error(tmp_path, doc))
    doc = document({"x": "-x"})
    doc["system"] = {"name": "lorenz", "title": "Lorenz"}
    assert "system.title: only an equation system" in str(load_error(tmp_path, doc))


@pytest.mark.parametrize(("attack", "words"), ATTACKS, ids=range(len(ATTACKS)))
def test_attacks_in_scene_files_are_refused_and_run_nothing(attack, words, tmp_path,
                                                           monkeypatch):
    monkeypatch.chdir(tmp_path)
    error = load_error(tmp_path, document({"x": attack}, {"a": 1.0}))
    first = str(error).split("\n")[0]
    assert first.startswith(f"{tmp_path / 'scene.toml'}: system.equations.x: ")
    assert words in error.message
    assert len(str(error)) < 600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.toml"]


def test_attack_as_a_state_or_parameter_name_is_refused(tmp_path):
    doc = document({"__class__": "1"})
    assert "system.equations: state name '__class__' must start with a letter" in str(
        load_error(tmp_path, doc))
    doc = document({"x": "1"}, {"__import__": 1.0})
    assert "system.params.__import__: parameter name '__import__'" in str(
        load_error(tmp_path, doc))


@pytest.mark.parametrize(("simulation", "message"), [
    ({"rtol": -1e-3}, "simulation.rtol: must be >= 0, got -0.001"),
    ({"rtol": "tight"}, "simulation.rtol: expected a number, got a string"),
    ({"atol": [1e-9, 1e-9, 1e-9]}, "simulation.atol: expected a number, or 2 numbers (one per "
                                   "state: x, y), got 3"),
    ({"atol": [1e-9, -1.0]}, "simulation.atol[1]: must be >= 0, got -1"),
    ({"atol": [1e-9, float("nan")]}, "simulation.atol[1]: must be a finite number, got nan"),
    ({"rtol": 0, "atol": 0}, "simulation.rtol: rtol and atol cannot both be zero"),
    ({"max_steps": 0}, "simulation.max_steps: must be at least 1, got 0"),
    ({"max_steps": 1.5}, "simulation.max_steps: expected a whole number, got a number"),
])
def test_tolerance_and_step_errors(tmp_path, simulation, message):
    doc = document(LOTKA_VOLTERRA, LV_PARAMS)
    doc["simulation"].update(simulation)
    text = str(load_error(tmp_path, doc))
    assert text.endswith(message) and "\n" not in text, text


def test_tolerances_and_max_steps_reach_the_solver(tmp_path):
    doc = {"system": {"name": "lotka_volterra"},
           "simulation": {"t_span": [0.0, 20.0], "rtol": 1e-10, "atol": [1e-12, 1e-12]}}
    scene = dynsim.load_scene(write_scene(tmp_path, doc))
    assert (scene.simulation.rtol, scene.simulation.atol) == (1e-10, (1e-12, 1e-12))
    tight, loose = scene.simulate(), scene.replace_simulation(rtol=1e-3, atol=1e-6).simulate()
    assert tight.stats["accepted"].sum() > loose.stats["accepted"].sum()
    short = scene.replace_simulation(max_steps=3).simulate()
    assert not short.ok and "reached max_steps = 3" in short.failures()[0]
