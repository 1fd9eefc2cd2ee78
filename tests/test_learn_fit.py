"""fit and Trainer: what a fit recovers, reproducibility, resume, NaN stops, devices."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest
import torch

import dynsim
from dynsim.core.errors import InputError
from dynsim.learn import Trainer, TrajectoryData, fit, pick_device

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def linear_data() -> TrajectoryData:
    return TrajectoryData.sample("linear", n=12, points=41, t_span=(0, 4), seed=0)


@pytest.mark.slow
def test_a_linear_fit_recovers_the_matrix():
    result = fit(linear_data(), epochs=30, window=(2, 6), batch=64, seed=0)
    a = np.array([[-0.5, 1.0], [-1.0, -0.5]])
    system = result.system()
    points = np.random.default_rng(0).uniform(-1, 1, (20, 2))
    jac = system.jacobian(0.0, points, {})
    assert np.abs(jac - a).max() < 0.08
    assert result.status == "finished" and len(result.history) == 30


@pytest.mark.slow
def test_a_small_lotka_volterra_fit_beats_a_threshold_in_seconds():
    data = TrajectoryData.sample("lotka_volterra", n=6, points=61, t_span=(0, 6), noise=0.01,
                                 seed=1)
    start = time.perf_counter()
    result = fit(data, epochs=40, window=(2, 6), batch=64, seed=0)
    seconds = time.perf_counter() - start
    truth = dynsim.simulate("lotka_volterra", [[2.5, 1.5]], (0, 6), points=61).y[0]
    pred = result.predict([2.5, 1.5], np.linspace(0, 6, 61))
    assert np.mean((pred - truth) ** 2) < 2e-3
    assert seconds < 60


def test_a_seeded_cpu_run_is_exactly_reproducible():
    a = fit(linear_data(), epochs=3, seed=7)
    b = fit(linear_data(), epochs=3, seed=7)
    assert all(torch.equal(x, y) for x, y in zip(a.model.state_dict().values(),
                                                 b.model.state_dict().values(), strict=True))
    assert [r.train_loss for r in a.history] == [r.train_loss for r in b.history]


def test_resume_equals_an_uninterrupted_run(tmp_path):
    ckpt = tmp_path / "run.dsm"
    options = dict(epochs=6, seed=3, jac_reg=0.01, val_trajectories=0.25, checkpoint_every=3)
    whole = fit(linear_data(), **options)
    trainer = Trainer(linear_data(), checkpoint=ckpt, **options)
    for record in trainer:
        if record.epoch == 3:
            break
    resumed = fit(linear_data(), resume=ckpt, **options)
    assert [r.train_loss for r in resumed.history] == [r.train_loss for r in whole.history]
    for x, y in zip(whole.model.state_dict().values(), resumed.model.state_dict().values(),
                    strict=True):
        assert torch.equal(x, y)


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_state(with_plugins):
    poisoned = {"on": False}

    @dataclass(frozen=True)
    class Config:
        width: int = 8

    def build(config, dims):
        inner = dynsim.models()["mlp"].build(dynsim.models()["mlp"].make_config(
            {"width": config.width}), dims)

        class Poisoned(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = inner

            def forward(self, t, y):
                out = self.inner(t, y)
                return out * float("nan") if poisoned["on"] else out

        return Poisoned()

    class Plugin:
        @staticmethod
        @dynsim.hookimpl
        def dynsim_register_models(register):
            register(dynsim.ModelFamily("poisoned", Config, build))

    with_plugins(Plugin)
    kept = {}

    def callback(record):
        if record.epoch == 2:
            kept.update({k: v.clone() for k, v in trainer.model.state_dict().items()})
            poisoned["on"] = True

    trainer = Trainer(linear_data(), family="poisoned", epochs=5, callback=callback)
    records = list(trainer)
    result = trainer.result()
    assert len(records) == 2 and result.status == "diverged"
    assert "epoch 3" in result.message and "Lower the learning rate" in result.message
    for key, value in result.model.state_dict().items():
        assert torch.equal(value, kept[key]), key


def test_cancel_token_stops_between_batches():
    token = dynsim.CancelToken()
    trainer = Trainer(linear_data(), epochs=50, cancel=token,
                      callback=lambda r: token.cancel() if r.epoch == 2 else None)
    assert len(list(trainer)) == 2 and trainer.result().status == "cancelled"


def test_records_carry_losses_nfe_lr_and_times():
    records = []
    result = fit(linear_data(), epochs=2, val_from=3.0, callback=records.append)
    first = records[0]
    assert first.val_loss is not None and first.nfe_forward > 0 and first.nfe_backward == 0
    assert first.lr == pytest.approx(1e-2) and first.seconds > 0 and first.window == 4
    assert result.metrics["epochs"] == 2
    adjoint = fit(linear_data(), epochs=1, adjoint=True)
    assert adjoint.history[0].nfe_backward > 0


def test_bad_options_are_input_errors():
    with pytest.raises(InputError, match="unknown fit option 'epoch'"):
        fit(linear_data(), epoch=3)
    with pytest.raises(InputError, match="loss must be one of mse, l1, huber"):
        fit(linear_data(), loss="mae")
    with pytest.raises(dynsim.DynsimError, match=r"unknown model family 'mpl'.*did you mean"):
        fit(linear_data(), family="mpl")


def test_device_auto_is_the_cpu_here():
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    assert pick_device("auto").type == "cpu"
    with pytest.raises(InputError, match="no CUDA GPU"):
        pick_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fit_on_cuda_matches_the_cpu_closely():
    cpu = fit(linear_data(), epochs=3, dtype="float64", device="cpu")
    gpu = fit(linear_data(), epochs=3, dtype="float64", device="cuda")
    assert next(gpu.model.parameters()).device.type == "cuda"
    assert gpu.history[-1].train_loss == pytest.approx(cpu.history[-1].train_loss, rel=1e-6)


@pytest.mark.slow
def test_the_hamiltonian_model_conserves_its_own_energy():
    data = TrajectoryData.sample("harmonic_oscillator", n=10, points=41, t_span=(0, 6), seed=0)
    result = fit(data, family="hamiltonian", epochs=5)
    system = result.system()
    traj = dynsim.simulate(system, [[1.0, 0.0], [0.5, 0.5]], (0, 20), rtol=1e-10, atol=1e-12)
    energy = system.invariant(traj.y, {})
    assert np.abs(energy - energy[:, :1]).max() < 1e-7 * np.abs(energy).max() + 1e-9


def test_the_docs_options_table_states_fits_defaults():
    import ast
    import dataclasses
    from pathlib import Path

    from dynsim.learn import FitOptions

    text = (Path(__file__).resolve().parents[1] / "docs" / "learn.md").read_text()
    table = text.split("| option | default | meaning |")[1].split("\n\n")[0]
    defaults = {f.name: (f.default_factory() if f.default is dataclasses.MISSING
                         else f.default) for f in dataclasses.fields(FitOptions)}
    stated = {}
    for line in table.splitlines()[2:]:
        names, values = line.split(" | ")[:2]
        keys = [n.strip("`| ") for n in names.split(",")]
        parts = ast.literal_eval("[" + values.replace("`", "") + "]")  # "(4, 16)" is one
        assert len(keys) == len(parts), line
        stated.update(zip(keys, parts, strict=True))
    assert stated.pop("resume") is None  # fit's argument, not a FitOptions field
    assert stated == defaults
