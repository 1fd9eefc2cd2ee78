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
