"""`dynsim simulate --eq` and equation scenes through the real command line.

Attack strings go in on the command line and in scene files: each exits with 2 and one clear
message naming the key, and the canary file the attack would create never appears.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from test_expressions_security import ATTACKS as ALL_ATTACKS

import dynsim
from dynsim.cli.main import main

REPO = Path(__file__).resolve().parents[1]
PENDULUM = REPO / "scenes" / "pendulum_equations.toml"
LV_ARGS = ["--eq", "x=alpha*x - beta*x*y", "--eq", "y=delta*x*y - gamma*y",
           "--param", "alpha=1.5", "--param", "beta=1", "--param", "delta=0.75",
           "--param", "gamma=1"]

# The constructs of issue 5, item 4, run in a subprocess both ways (command line, scene file).
ATTACKS = [
    "x.__class__.__bases__[0].__subclasses__()",
    "__import__('os').system('touch CANARY')",
    "open('CANARY', 'w').write('x')",
    "a[0]",
    "(lambda: __import__('os').system('touch CANARY'))()",
    "[__import__('os').system('touch CANARY') for c in (1,)]",
    "f\"{__import__('os').system('touch CANARY')}\"",
    "(c := __import__('os'))",
    "sin(x=1)",
    "(" * 500 + "x" + ")" * 500,
    "x+" * 60_000 + "x",
    "9**9**9",
]


def csv_values(text: str) -> np.ndarray:
    return np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1, ndmin=2)


def assert_refused(result, tmp_path: Path, key: str) -> list[str]:
    """Exit 2, a `dynsim: error: KEY: ...` message of at most 3 lines, nothing created."""
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"dynsim: error: {key}: "), result.stderr
    assert len(lines) <= 3 and len(result.stderr) < 700
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "CANARY").exists()
    return lines


def test_lotka_volterra_by_equations_matches_the_plugin(cli, tmp_path):
    common = ["--y0", "2,1", "--y0", "1,0.5", "--t-end", "20", "--points", "201"]
    typed = cli("simulate", *LV_ARGS, *common, cwd=tmp_path)
    plugin = cli("simulate", "lotka_volterra", *common, cwd=tmp_path)
    assert typed.returncode == plugin.returncode == 0, typed.stderr + plugin.stderr
    assert typed.stdout.splitlines()[0] == "trajectory,t,x,y"
    np.testing.assert_allclose(csv_values(typed.stdout), csv_values(plugin.stdout),
                               rtol=1e-12, atol=1e-12)


def test_eq_output_file_and_solver_options(cli, tmp_path):
    result = cli("simulate", *LV_ARGS, "--y0", "2,1", "-o", "out.csv", "--rtol", "1e-10",
                 "--atol", "1e-12,1e-12", "--max-steps", "1e5", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    traj = dynsim.read_csv(tmp_path / "out.csv")
    assert traj.states == ("x", "y") and traj.y.shape == (1, 1001, 2)
    lv = dynsim.system("lotka_volterra")
    drift = np.ptp(lv.invariant(traj.y, lv.parameter_values()), axis=1)
    assert drift.max() < 1e-8


def test_states_follow_the_eq_order_and_t_pi_e_are_not_parameters(cli, tmp_path):
    result = cli("simulate", "--eq", "v=-k*u + sin(pi*t)*e^0", "--eq", "u=v",
                 "--param", "k=4", "--y0", "0,1", "--points", "3", "--t-end", "1",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "trajectory,t,v,u"


def test_max_steps_reaches_the_solver(cli, tmp_path):
    result = cli("simulate", *LV_ARGS, "--y0", "2,1", "--max-steps", "3", cwd=tmp_path)
    assert result.returncode == 1
    assert "reached max_steps = 3" in result.stderr


def test_missing_parameters_are_listed_with_a_caret(cli, tmp_path):
    result = cli("simulate", "--eq", "x=a*x - b*x*y", "--eq", "y=-c*y + d*x*y",
                 "--param", "a=1", "--y0", "1,1", cwd=tmp_path)
    assert_refused(result, tmp_path, "--eq")
    lines = result.stderr.splitlines()
    assert lines[0] == ("dynsim: error: --eq: no value for parameters b, c, d: give "
                        "--param b=VALUE --param c=VALUE --param d=VALUE")
    assert lines[1:] == ["    x=a*x - b*x*y", "            ^"]


def test_an_unknown_function_points_into_the_whole_argument(cli, tmp_path):
    result = cli("simulate", "--eq", "theta = omega", "--eq", "omega = -sine(theta)",
                 "--y0", "1,0", cwd=tmp_path)
    lines = assert_refused(result, tmp_path, "--eq")
    assert lines[0] == "dynsim: error: --eq: unknown function 'sine' (did you mean 'sin'?)"
    assert lines[1] == "    omega = -sine(theta)"
    assert lines[2].index("^") == lines[1].index("sine")


@pytest.mark.parametrize(("args", "message"), [
    (["--eq", "a*x"], "--eq: expected STATE=EXPRESSION"),
    (["--eq", "2x=1"], "--eq: before '=' comes the state's name"),
    (["--eq", "x=1", "--eq", "x=2"], "--eq: a second equation for state 'x'"),
    (["--eq", "t=1"], "--eq: 't' is the time and cannot be a state"),
    (["--eq", "x=a*x", "--param", "a=1", "--param", "b=2"],
     "--param b: 'b' is not a parameter of the equations (their parameters: a)"),
    (["--eq", "x=-x", "--param", "x=2"], "'x' is not a parameter of the equations"),
    (["--eq", "x=__builtins__"], "--eq: unknown name '__builtins__'"),
    (["--eq", "x=a*x", "--param", "a=1", "lorenz"], "give either TARGET ('lorenz') or --eq"),
])
def test_eq_errors(cli, tmp_path, args, message):
    result = cli("simulate", *args, "--y0", "1", cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_eq_needs_y0(cli, tmp_path):
    result = cli("simulate", "--eq", "x=-x", cwd=tmp_path)
    assert result.returncode == 2
    assert "no initial state to simulate (system 'equations' has no example and the scene " \
        "none); give --y0 with 1 values (x)" in result.stderr


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--rtol", "tight", "--rtol: expected a number, got 'tight'"),
    ("--atol", "1e-6,1e-6,1e-6", "atol must be a number or one number per state (2)"),
    ("--rtol", "-1", "rtol must be finite and >= 0"),
    ("--max-steps", "2.5", "--max-steps: expected a whole number, got '2.5'"),
    ("--max-steps", "0", "max_steps must be a whole number >= 1"),
])
def test_solver_option_errors(cli, tmp_path, option, value, message):
    result = cli("simulate", "lotka_volterra", option, value, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr


@pytest.mark.parametrize("attack", ATTACKS, ids=range(len(ATTACKS)))
def test_attacks_on_the_command_line(cli, tmp_path, attack):
    result = cli("simulate", "--eq", f"x={attack}", "--param", "a=1", "--y0", "1",
                 cwd=tmp_path)
    assert_refused(result, tmp_path, "--eq")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("attack", ATTACKS, ids=range(len(ATTACKS)))
def test_attacks_in_scene_files(cli, tmp_path, attack):
    scene = tmp_path / "attack.toml"
    scene.write_text(tomli_w.dumps({
        "system": {"name": "attack", "equations": {"x": attack}, "params": {"a": 1.0}},
        "simulation": {"t_span": [0.0, 1.0], "initial_conditions": [[1.0]]}}))
    for command in ("simulate", "analyze"):
        result = cli(command, "attack.toml", cwd=tmp_path)
        assert_refused(result, tmp_path, "attack.toml: system.equations.x")
    assert [p.name for p in tmp_path.iterdir()] == ["attack.toml"]


@pytest.mark.parametrize(("attack", "words"), ALL_ATTACKS, ids=range(len(ALL_ATTACKS)))
def test_every_known_attack_through_the_cli_code(attack, words, tmp_path, monkeypatch,
                                                 capsys):
    """The whole list of test_expressions_security, in-process (a subprocess each is slow)."""
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", "--eq", f"x={attack}", "--param", "a=1", "--y0", "1"]) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and lines[0].startswith("dynsim: error: --eq: ")
    assert all(word in lines[0] for word in words), err
    assert len(lines) <= 3 and len(err) < 700
    assert all(ch.isprintable() for line in lines for ch in line)
    assert list(tmp_path.iterdir()) == []


def test_analyze_an_equation_scene(cli, tmp_path):
    result = cli("analyze", str(PENDULUM), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    found = sorted((round(eq["state"]["theta"], 9), eq["classification"])
                   for eq in json.loads(result.stdout)["equilibria"])
    assert found == [(round(-math.pi, 9), "saddle"), (0.0, "stable focus"),
                     (round(math.pi, 9), "saddle")]
    text = cli("analyze", str(PENDULUM), "--param", "c=0", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith("Equilibria of my_pendulum (g=9.81, L=1, c=0)")
    assert "(theta=0, omega=0)  center" in text.stdout


def test_simulate_an_equation_scene_to_csv_with_overrides(cli, tmp_path):
    result = cli("simulate", str(PENDULUM), "-o", "out.csv", "--param", "c=0.5",
                 "--t-end", "5", "--rtol", "1e-9", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    got = dynsim.read_csv(tmp_path / "out.csv")
    scene = dynsim.load_scene(PENDULUM)
    expected = dynsim.simulate(scene.system, scene.simulation.initial_conditions, (0.0, 5.0),
                               params={"c": 0.5}, rtol=1e-9)
    assert got.states == ("theta", "omega")
    np.testing.assert_array_equal(got.y, expected.y)


def test_control_characters_in_messages_are_not_sent_to_the_terminal(cli, tmp_path):
    scene = tmp_path / "s.toml"
    scene.write_text('[system]\nname = "lorenz"\n"\\u001b[2J" = 1\n'
                     '[simulation]\nt_span = [0, 1]\n')
    result = cli("simulate", str(scene), cwd=tmp_path)
    assert result.returncode == 2
    assert "\x1b" not in result.stderr and "system.?[2J: unknown key" in result.stderr


def test_a_domain_error_is_one_warning_line_without_numpy_noise(cli, tmp_path):
    result = cli("simulate", "--eq", "x=-log(x - 2)", "--y0", "1", "--t-end", "1",
                 cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "non_finite" in lines[0] and "RuntimeWarning" not in result.stderr


def test_analyze_equations_from_the_command_line(cli, tmp_path):
    pendulum = ("analyze", "--eq", "theta=omega", "--eq", "omega=-g*sin(theta) - c*omega",
                "--param", "g=9.81", "--param", "c=0.5")
    result = cli(*pendulum, "--box", "theta=-1:4", "--box", "omega=-3:3", "--json",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    found = {round(e["state"]["theta"], 6): e["classification"]
             for e in json.loads(result.stdout)["equilibria"]}
    assert found == {0.0: "stable focus", round(math.pi, 6): "saddle"}
    unbounded = cli(*pendulum, cwd=tmp_path)
    assert unbounded.returncode == 2
    assert "--box STATE=LOW:HIGH" in unbounded.stderr and "theta, omega" in unbounded.stderr
