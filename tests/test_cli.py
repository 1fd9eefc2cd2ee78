"""The `dynsim` command: listing, simulating, and one-line errors with exit code 2."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dynsim

DATA = Path(__file__).parent / "data"


def test_help_lists_every_command(cli):
    # with no command, dynsim opens the app (tests/gui/test_cli_app.py)
    result = cli("--help")
    assert result.returncode == 0 and "usage: dynsim" in result.stdout
    for command in ("list", "plugins", "simulate", "analyze", "render", "gui"):
        assert f"    {command} " in result.stdout


def test_list_text_and_json(cli):
    text = cli("list")
    assert text.returncode == 0 and text.stderr == ""
    assert "lotka_volterra" in text.stdout and "dynsim.systems.lorenz" in text.stdout
    data = json.loads(cli("list", "--json").stdout)
    lorenz = next(s for s in data["systems"] if s["name"] == "lorenz")
    assert lorenz["states"] == ["x", "y", "z"]
    assert lorenz["params"]["rho"] == {"default": 28.0, "min": 0.0, "max": 300.0,
                                       "description": "Rayleigh number ratio"}
    assert lorenz["plugin"] == "dynsim.systems.lorenz"
    solvers = {s["name"]: s["plugin"] for s in data["solvers"]}
    assert solvers["rk4"].startswith("dynsim.solvers.")
    assert {"name": "csv", "extensions": [".csv"], "plugin": "dynsim.exporters.csv"}.items() <= \
        next(e for e in data["exporters"] if e["name"] == "csv").items()


def test_simulate_system_to_stdout_matches_the_library(cli):
    result = cli("simulate", "lorenz", "--y0", "1,1,1", "--y0", "2, 2, 2", "--t-end", "0.5",
                 "--points", "6", "--solver", "rk4", "--dt", "0.001", "--param", "rho=20")
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert list(frame.columns) == ["trajectory", "t", "x", "y", "z"]
    expected = dynsim.simulate("lorenz", [[1, 1, 1], [2, 2, 2]], (0, 0.5), params={"rho": 20},
                               solver="rk4", dt=0.001, points=6)
    np.testing.assert_array_equal(frame[["x", "y", "z"]].to_numpy(), expected.y.reshape(-1, 3))


def test_simulate_scene_with_overrides_to_file(cli, tmp_path):
    out = tmp_path / "out.csv"
    result = cli("simulate", str(DATA / "issue_scene.toml"), "-o", str(out), "--t-end", "2",
                 "--points", "21", "--param", "alpha=1.0")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    traj = dynsim.read_csv(out)
    assert traj.y.shape == (2, 21, 2)
    np.testing.assert_allclose(traj.t, np.linspace(0, 2, 21))
    scene = dynsim.load_scene(DATA / "issue_scene.toml")
    expected = dynsim.simulate("lotka_volterra", scene.simulation.initial_conditions, (0, 2),
                               params={**scene.params, "alpha": 1.0}, solver="rk4", dt=0.01,
                               points=21)
    np.testing.assert_array_equal(traj.y, expected.y)


def test_simulate_to_npz(cli, tmp_path):
    out = tmp_path / "out.npz"
    result = cli("simulate", "van_der_pol", "-o", str(out), "--points", "11")
    assert result.returncode == 0, result.stderr
    with np.load(out) as data:
        assert data["y"].shape == (1, 11, 2)
        assert list(data["states"]) == ["x", "y"]
        assert list(data["status"]) == ["success"]


def test_python_dash_m(cli):
    # the fixture runs `python -m dynsim`; the console script is the same entry point
    assert cli("--version").stdout.startswith("dynsim ")


@pytest.mark.parametrize(("args", "message"), [
    (["simulate", "lorenzz"], "unknown system 'lorenzz' (did you mean 'lorenz'?); available:"),
    (["simulate", "lorenz", "--param", "rho"], "--param expects NAME=VALUE, got 'rho'"),
    (["simulate", "lorenz", "--param", "rho=abc"], "--param rho: expected a number, got 'abc'"),
    (["simulate", "lorenz", "--param", "rhoo=1"], "unknown parameter 'rhoo' of system 'lorenz' "
                                                 "(did you mean 'rho'?)"),
    (["simulate", "lorenz", "--param", "rho=-5"], "lies outside its range [0, 300]"),
    (["simulate", "lorenz", "--y0", "1,2"], "each initial condition needs 3 values (x, y, z)"),
    (["simulate", "lorenz", "--y0", "1,a,2"], "--y0: expected a number, got 'a'"),
    (["simulate", "lorenz", "--t-end", "0"], "t_span must be two different finite numbers"),
    (["simulate", "lorenz", "--t-end", "inf"], "--t-end: expected a finite number, got 'inf'"),
    (["simulate", "lorenz", "--dt", "-1"], "dt must be a positive number"),
    (["simulate", "lorenz", "--points", "1"], "points must be a whole number >= 2"),
    (["simulate", "lorenz", "--points", "2.5"], "--points: expected a whole number, got '2.5'"),
    (["simulate", "lorenz", "--solver", "rk5"], "unknown solver 'rk5'"),
    (["simulate", "lorenz", "-o", "out.xlsx"], "unknown output format '.xlsx'; known "
                                               "extensions: .csv, .npz"),
    (["simulate", "missing.toml"], "missing.toml: no such file"),
    (["simulate"], "the following arguments are required: TARGET"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["simulate", "lorenz", "--plugins-dir", "/no/such/dir"],
     "plugins directory '/no/such/dir' does not exist"),
])
def test_user_errors_are_one_line_with_exit_code_2(cli, tmp_path, args, message):
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("dynsim")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_scene_error_through_the_cli(cli, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[system]\nname = "lorenz"\n[simulation]\nt_span = [0, 1]\nsolver = 3\n')
    result = cli("simulate", str(bad))
    assert result.returncode == 2
    assert result.stderr == (f"dynsim: error: {bad}: simulation.solver: expected a non-empty "
                             "string, got a number\n")


def test_failed_output_write_keeps_the_old_file(cli, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("old")
    result = cli("simulate", "lorenz", "-o", str(tmp_path / "missing" / "out.csv"))
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert out.read_text() == "old"


def test_failed_trajectory_still_writes_data_and_exits_1(cli, tmp_path):
    out = tmp_path / "out.csv"
    # x' = x^3-ish blow-up: the repulsor from far away under Euler with a huge step
    result = cli("simulate", "repulsor", "--y0", "1e300,1e300", "--y0", "0,0", "--solver",
                 "euler", "--t-end", "10", "--param", "lambda2=5", "-o", str(out))
    assert result.returncode == 1
    assert "trajectory 0: non_finite" in result.stderr
    traj = dynsim.read_csv(out)
    assert np.isnan(traj.y[0, -1]).all() and traj.y[0, 0, 0] == 1e300
    np.testing.assert_array_equal(traj.y[1], 0.0)
