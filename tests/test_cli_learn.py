"""`dynsim train` and `dynsim compare` from the shell: outputs, errors, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import dynsim

ONE_THREAD = {"OMP_NUM_THREADS": "1"}


def test_train_from_a_system_writes_a_model_and_json_metrics(tmp_path, cli):
    model = tmp_path / "lin.dsm"
    out = cli("train", "linear", "--epochs", "2", "--trajectories", "3", "--points", "11",
              "--width", "8", "--seed", "1", "-o", str(model), "--json", env=ONE_THREAD)
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)
    assert metrics["epochs"] == 2 and metrics["status"] == "finished"
    assert metrics["model"] == str(model)
    system = dynsim.load_model(model)
    assert system.states == ("x", "y")
    compared = cli("compare", str(model), "linear", "--json", "--horizon", "2",
                   "--starts", "2", env=ONE_THREAD)
    assert compared.returncode == 0, compared.stderr
    report = json.loads(compared.stdout)
    assert set(report) >= {"field", "equilibria", "trajectories", "invariant"}
    assert report["equilibria"][0]["true"]["classification"] == "stable focus"


def test_train_from_measured_csv_with_irregular_times_prints_a_table(tmp_path, cli):
    rng = np.random.default_rng(0)
    parts = []
    for start in ([1.0, 0.0], [0.0, 1.0]):
        t = np.r_[0.0, np.sort(rng.uniform(0, 3, 15))]
        parts.append(dynsim.simulate("linear", start, (0, 3), t_eval=t))
    dynsim.write_csv(parts, tmp_path / "measured.csv")
    out = cli("train", "--data", str(tmp_path / "measured.csv"), "--epochs", "2", "--window",
              "2:3", "-o", str(tmp_path / "m.dsm"), env=ONE_THREAD)
    assert out.returncode == 0, out.stderr
    assert "status" in out.stdout and "train_loss" in out.stdout
    assert "epoch 2/2" in out.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["linear", "--epochs", "x"], "--epochs: expected a number, got 'x'"),
    (["linear", "--family", "nope"], "unknown model family 'nope'"),
    (["linear", "--window", "5:2"], "window must be >= 1"),
    (["--data", "missing.csv"], "missing.csv"),
    (["linear", "--data", "x.csv"], "give either TARGET ('linear') or --data"),
])
def test_train_user_errors_are_one_line_and_exit_2(tmp_path, cli, args, message):
    out = cli("train", *args, "-o", str(tmp_path / "m.dsm"), cwd=tmp_path, env=ONE_THREAD)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and message in out.stderr, out.stderr
    assert not (tmp_path / "m.dsm").exists()


def test_train_needs_a_dsm_output(tmp_path, cli):
    out = cli("train", "linear", "-o", str(tmp_path / "m.pt"))
    assert out.returncode == 2 and "needs the extension .dsm" in out.stderr


def test_ctrl_c_stops_and_saves_the_best_model_so_far(tmp_path):
    model = tmp_path / "m.dsm"
    proc = subprocess.Popen(
        [sys.executable, "-m", "dynsim", "train", "linear", "--epochs", "10", "--trajectories",
         "2", "--points", "11", "-o", str(model)], stderr=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True, env={**os.environ, **ONE_THREAD})
    try:
        first = proc.stderr.readline()
        assert first.startswith("epoch 1/10"), first
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert "saved the best model so far" in stderr
    assert "interrupted" in stdout
    assert dynsim.load_model(model).states == ("x", "y")
