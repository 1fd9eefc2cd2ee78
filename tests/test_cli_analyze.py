"""`dynsim analyze`: equilibria with classification and eigenvalues, text and JSON."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def equilibria(cli, *args):
    result = cli("analyze", *args, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"equilibria"}
    return data["equilibria"]


def test_lorenz_json_has_the_issue_shape_and_values(cli):
    found = equilibria(cli, "lorenz", "--param", "rho=28")
    assert len(found) == 3
    for item in found:
        assert set(item) >= {"state", "classification", "eigenvalues"}
        assert set(item["state"]) == {"x", "y", "z"}
        assert all(set(e) == {"re", "im"} for e in item["eigenvalues"])
    kinds = sorted(item["classification"] for item in found)
    assert kinds == ["saddle", "saddle-focus", "saddle-focus"]
    c = math.sqrt(8 / 3 * 27)
    centres = sorted((round(i["state"]["x"], 9), round(i["state"]["z"], 9)) for i in found)
    assert centres == [(round(-c, 9), 27.0), (0.0, 0.0), (round(c, 9), 27.0)]
    origin = next(i for i in found if i["classification"] == "saddle")
    real = sorted(e["re"] for e in origin["eigenvalues"])
    root = math.sqrt(11**2 + 4 * 10 * 27)  # (-11 ± sqrt(121 + 1080)) / 2 and -beta
    assert real == pytest.approx(sorted([(-11 - root) / 2, -8 / 3, (-11 + root) / 2]),
                                 rel=1e-12)


def test_lorenz_below_one_has_one_stable_node(cli):
    found = equilibria(cli, "lorenz", "--param", "rho=0.5")
    assert [i["classification"] for i in found] == ["stable node"]


def test_scene_target_and_text_output(cli):
    result = cli("analyze", str(REPO / "scenes" / "lotka_volterra.toml"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Equilibria of lotka_volterra (alpha=1.5, beta=1, delta=0.75")
    assert "(x=0, y=0)  saddle" in lines[1]
    assert "(x=1.33333, y=1.5)  center" in lines[2]


def test_box_option_narrows_the_search(cli):
    found = equilibria(cli, "lorenz", "--box", "x=1:20")
    assert [round(i["state"]["z"], 9) for i in found] == [27.0]


@pytest.mark.parametrize(("args", "message"), [
    (["lorenz", "--box", "x=5:1"], "--box x needs LOW < HIGH, got '5:1'"),
    (["lorenz", "--box", "x=5"], "--box x expects LOW:HIGH, got '5'"),
    (["lorenz", "--box", "w=0:1"], "unknown state 'w' of system 'lorenz'"),
    (["lorenz", "--param", "rho=-1"], "lies outside its range"),
    (["lorenz", "--t", "soon"], "--t: expected a number, got 'soon'"),
])
def test_analyze_errors_exit_2(cli, args, message):
    result = cli("analyze", *args)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1


def test_lyapunov_text_and_json(cli):
    args = ("analyze", "hopf", "--lyapunov", "--duration", "10", "--transient", "2")
    text = cli(*args)
    assert text.returncode == 0, text.stderr
    line = text.stdout.splitlines()[-1]
    assert line.startswith("Lyapunov exponents: ") and "1 trajectory over t = 10" in line
    data = json.loads(cli(*args, "--json").stdout)
    assert set(data) == {"equilibria", "lyapunov"}
    assert data["lyapunov"]["exponents"] == pytest.approx([0.0, -2.0], abs=1e-4)
    assert data["lyapunov"]["duration"] == 10


def test_sweep_writes_an_orbit_diagram_csv(cli, tmp_path):
    out = tmp_path / "hopf.csv"
    result = cli("analyze", "hopf", "--sweep", "mu=0.25:2.25:3", "-o", str(out),
                 "--transient", "60", "--duration", "13")
    assert result.returncode == 0, result.stderr
    assert f"written to {out}" in result.stdout.splitlines()[-1]
    lines = out.read_text().splitlines()
    assert lines[0] == "mu,t,x,y"
    rows = [[float(v) for v in line.split(",")] for line in lines[1:]]
    assert {r[0] for r in rows} == {0.25, 1.25, 2.25}
    for mu, t, x, _ in rows:
        assert x == pytest.approx(math.sqrt(mu), rel=1e-6) and 60 <= t <= 73
    # floats are written as repr: they parse back exactly
    assert all(repr(float(v)) == v for line in lines[1:] for v in line.split(","))


def test_sweep_with_section_and_json(cli, tmp_path):
    out = tmp_path / "section.csv"
    result = cli("analyze", "hopf", "--sweep", "mu=1:4:2", "--section", "y=0", "-o",
                 str(out), "--transient", "40", "--duration", "7", "--json")
    assert result.returncode == 0, result.stderr
    sweep = json.loads(result.stdout)["sweep"]
    assert sweep == {"parameter": "mu", "values": 2, "points": sweep["points"],
                     "record": "section y = 0", "output": str(out), "failed": 0}
    rows = [line.split(",") for line in out.read_text().splitlines()[1:]]
    assert len(rows) == sweep["points"] >= 2
    assert all(float(x) == pytest.approx(math.sqrt(float(mu)), rel=1e-6)
               for mu, _, x, _ in rows)


def test_basins_writes_a_labelled_grid(cli, tmp_path):
    out = tmp_path / "basins.csv"
    result = cli("analyze", "duffing", "--param", "gamma=0", "--basins", "--grid", "9,7",
                 "--box", "x=-2:2", "--box", "v=-1.5:1.5", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "0: equilibrium (x=-1, v=0) stable focus" in result.stdout
    lines = out.read_text().splitlines()
    assert lines[0] == "x,v,label"
    rows = [line.split(",") for line in lines[1:]]
    assert len(rows) == 63
    assert (float(rows[0][0]), float(rows[0][1])) == (-2.0, -1.5)
    assert (float(rows[1][0]), float(rows[1][1])) == (-1.5, -1.5)  # x varies fastest
    assert {int(r[2]) for r in rows} <= {0, 1, 2}
    centre = rows[3 * 9 + 4]
    assert (float(centre[0]), float(centre[1]), int(centre[2])) == (0.0, 0.0, 1)  # saddle


def test_basins_json_lists_attractors(cli, tmp_path):
    out = tmp_path / "b.csv"
    result = cli("analyze", "van_der_pol", "--basins", "--grid", "5", "--duration", "30",
                 "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    basins = json.loads(result.stdout)["basins"]
    assert basins["axes"] == ["x", "y"] and basins["grid"] == [5, 5]
    kinds = sorted(a["kind"] for a in basins["attractors"])
    assert kinds == ["cycle", "equilibrium"]
    assert basins["escaped"] == 0 and basins["unresolved"] == 0


def test_existing_output_survives_a_failed_run(cli, tmp_path):
    out = tmp_path / "keep.csv"
    out.write_text("precious\n")
    result = cli("analyze", "hopf", "--sweep", "mu=1:9:3", "-o", str(out))
    assert result.returncode == 2 and "lies outside its range" in result.stderr
    assert out.read_text() == "precious\n"


@pytest.mark.parametrize(("args", "message"), [
    (["hopf", "--sweep", "mu=1:2", "-o", "a.csv"],
     "--sweep expects NAME=START:STOP:N, got 'mu=1:2'"),
    (["hopf", "--sweep", "mu=1:2:3"], "--sweep needs -o OUT.csv"),
    (["hopf", "--sweep", "mu=1:2:1", "-o", "a.csv"], "N must be a whole number >= 2"),
    (["hopf", "--sweep", "mu=1:1:3", "-o", "a.csv"], "START and STOP must differ"),
    (["hopf", "--sweep", "nu=1:2:3", "-o", "a.csv"], "unknown parameter 'nu'"),
    (["hopf", "--sweep", "mu=1:2:3", "--section", "w=1", "-o", "a.csv"], "unknown state 'w'"),
    (["hopf", "--basins"], "--basins needs -o OUT.csv"),
    (["hopf", "--basins", "-o", "a.npz"], "use a .csv name"),
    (["hopf", "--basins", "--sweep", "mu=1:2:3", "-o", "a.csv"], "one at a time"),
    (["hopf", "-o", "a.csv"], "give one of them"),
    (["hopf", "--basins", "--grid", "1", "-o", "a.csv"], "--grid expects N or NX,NY"),
    (["hopf", "--basins", "--axes", "x", "-o", "a.csv"], "--axes expects two state names"),
    (["hopf", "--lyapunov", "--duration", "0"], "--duration: expected a positive number"),
])
def test_analysis_option_errors_exit_2(cli, tmp_path, args, message):
    result = cli("analyze", *args, cwd=tmp_path)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert not list(tmp_path.iterdir())
