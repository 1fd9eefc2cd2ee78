"""Model files: save/load bit-identical, a System everywhere, hostile files refused."""

from __future__ import annotations

import json
import pickle
import struct

import numpy as np
import pytest
import torch

import dynsim
from dynsim.learn import ModelFileError, TrajectoryData, fit

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    data = TrajectoryData.sample("lotka_volterra", n=4, points=21, t_span=(0, 4), seed=0)
    result = fit(data, epochs=2, seed=0)
    path = tmp_path_factory.mktemp("models") / "lv.dsm"
    result.save(path)
    return result, path


def test_save_then_load_predicts_bit_identically(fitted):
    result, path = fitted
    loaded = dynsim.load_model(path)
    y = np.random.default_rng(1).uniform(0, 4, (7, 2))
    assert np.array_equal(loaded.rhs(0.0, y, {}), result.system().rhs(0.0, y, {}))
    assert np.array_equal(loaded.jacobian(0.0, y, {}), result.system().jacobian(0.0, y, {}))
    assert loaded.name == "lv" and loaded.states == ("x", "y") and "learned" in loaded.tags


def test_the_autograd_jacobian_matches_finite_differences(fitted):
    from dynsim.analysis import finite_difference_jacobian

    system = dynsim.load_model(fitted[1])
    y = np.array([[1.0, 2.0], [3.0, 0.5]])
    numeric = finite_difference_jacobian(lambda z: system.rhs(0.0, z, {}), y)
    assert np.allclose(system.jacobian(0.0, y, {}), numeric, rtol=1e-6, atol=1e-8)


def test_a_loaded_model_simulates_and_runs_in_scenes_and_the_cli(fitted, tmp_path, cli):
    _, path = fitted
    traj = dynsim.simulate(dynsim.load_model(path), [[2.0, 1.0]], (0, 2), points=5)
    assert traj.ok and traj.y.shape == (1, 5, 2)
    scene_file = tmp_path / "learned.toml"
    scene_file.write_text(f'[system]\nmodel = "{path}"\n[simulation]\nt_span = [0.0, 2.0]\n'
                          'points = 5\ninitial_conditions = [[2.0, 1.0]]\n')
    scene = dynsim.load_scene(scene_file)
    assert np.array_equal(scene.simulate().y, traj.y)
    scene.save(tmp_path / "again.toml")
    assert dynsim.load_scene(tmp_path / "again.toml") == scene
    out = cli("simulate", str(path), "--points", "5", "--t-end", "2")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "trajectory,t,x,y"
    out = cli("analyze", str(path), "--json")
    assert out.returncode == 0, out.stderr
    assert "equilibria" in json.loads(out.stdout)


class Canary:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickle_named_dsm_is_refused_and_runs_nothing(tmp_path, cli):
    canary = tmp_path / "canary"
    evil = tmp_path / "evil.dsm"
    evil.write_bytes(pickle.dumps(Canary(str(canary))))
    with pytest.raises(ModelFileError, match=r"evil.dsm: not a dynsim model file"):
        dynsim.load_model(evil)
    torch.save({"weights": torch.zeros(3), "payload": Canary(str(canary))}, tmp_path / "t.dsm")
    with pytest.raises(ModelFileError, match="not a dynsim model file"):
        dynsim.load_model(tmp_path / "t.dsm")
    out = cli("simulate", str(evil))
    assert out.returncode == 2 and out.stderr.count("\n") == 1
    assert "not a dynsim model file" in out.stderr
    assert not canary.exists()


def test_truncated_corrupt_and_foreign_files_give_one_clear_error(fitted, tmp_path):
    from safetensors.torch import save_file

    blob = fitted[1].read_bytes()
    (tmp_path / "cut.dsm").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ModelFileError, match=r"cut.dsm: (truncated|corrupt) model file"):
        dynsim.load_model(tmp_path / "cut.dsm")
    (tmp_path / "short.dsm").write_bytes(blob[:5])
    with pytest.raises(ModelFileError, match=r"short.dsm: truncated model file \(5 bytes\)"):
        dynsim.load_model(tmp_path / "short.dsm")
    (size,) = struct.unpack("<Q", blob[:8])
    garbled = blob[:8] + blob[8:8 + size].replace(b'"', b"'", 3) + blob[8 + size:]
    (tmp_path / "bad.dsm").write_bytes(garbled)
    with pytest.raises(ModelFileError, match=r"bad.dsm: not a dynsim model file"):
        dynsim.load_model(tmp_path / "bad.dsm")
    save_file({"w": torch.zeros(2)}, tmp_path / "other.dsm")
    with pytest.raises(ModelFileError, match=r"other.dsm: not a dynsim model file"):
        dynsim.load_model(tmp_path / "other.dsm")
    with pytest.raises(ModelFileError, match="cannot read the model file"):
        dynsim.load_model(tmp_path / "missing.dsm")


def test_a_scene_naming_a_bad_model_file_reports_the_key(tmp_path):
    (tmp_path / "junk.dsm").write_bytes(b"\x80\x04junk")
    scene = tmp_path / "s.toml"
    scene.write_text('[system]\nmodel = "junk.dsm"\n[simulation]\nt_span = [0.0, 1.0]\n')
    with pytest.raises(dynsim.DynsimError, match=r"s.toml: system.model: .*junk.dsm: "
                                                 r"(truncated|not a dynsim model file)"):
        dynsim.load_scene(scene)
