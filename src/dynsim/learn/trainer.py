"""`fit` and `Trainer`: fitting a model family's vector field to `TrajectoryData`.

The trainer is a generator of `EpochRecord`s (`for record in trainer: ...`), so a progress
bar, the app's training panel and `fit` consume the same thing. One epoch is a pass of
mini-batches of sub-trajectory windows: each window starts at a data sample and predicts
the next `window` samples by integrating the field with `dynsim.learn.odeint`.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from dynsim.core.cancel import CancelToken
from dynsim.core.errors import DynsimError, InputError, IntegrationError, unknown_name
from dynsim.core.model_family import ModelFamily
from dynsim.core.plugins import active_plugins
from dynsim.learn.data import Series, TrajectoryData
from dynsim.learn.device import pick_device, pick_dtype
from dynsim.learn.odeint import odeint

if TYPE_CHECKING:
    from dynsim.learn.result import FitResult

LOSSES = ("mse", "l1", "huber")
OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("cosine", "constant")
EXPLODE = 1e6
"""A batch loss above this many times the first epoch's loss counts as exploding."""


@dataclass(frozen=True)
class FitOptions:
    """Everything `fit` and `Trainer` take besides the data (see docs/learn.md)."""

    family: str = "mlp"
    model: Mapping[str, Any] = field(default_factory=dict)
    epochs: int = 100
    batch: int = 128
    window: int | tuple[int, int] = (4, 16)
    batches_per_epoch: int = 10
    loss: str = "mse"
    optimizer: str = "adam"
    lr: float = 1e-2
    lr_min: float = 1e-4
    schedule: str = "cosine"
    weight_decay: float = 0.0
    clip: float | None = 1.0
    method: str = "dopri5"
    substeps: int = 1
    rtol: float = 1e-6
    atol: float = 1e-8
    adjoint: bool = False
    jac_reg: float = 0.0
    kinetic_reg: float = 0.0
    patience: int | None = 40
    val_trajectories: float = 0.0
    val_from: float | None = None
    device: str = "auto"
    dtype: str = "float32"
    seed: int = 0
    checkpoint: str | Path | None = None
    checkpoint_every: int = 10

    def __post_init__(self) -> None:
        for name, allowed in (("loss", LOSSES), ("optimizer", OPTIMIZERS),
                              ("schedule", SCHEDULES)):
            if getattr(self, name) not in allowed:
                raise InputError(f"{name} must be one of {', '.join(allowed)}, got "
                                 f"{getattr(self, name)!r}")
        for name in ("epochs", "batch", "batches_per_epoch", "substeps", "checkpoint_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"{name} must be a whole number >= 1, got {value!r}")
        start, end = self.windows
        if not 1 <= start <= end:
            raise InputError(f"window must be >= 1 (or START:END with 1 <= START <= END), got "
                             f"{self.window!r}")
        for name in ("lr", "lr_min", "weight_decay", "jac_reg", "kinetic_reg", "rtol", "atol"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise InputError(f"{name} must be a finite number >= 0, got {value!r}")
        if not self.lr > 0:
            raise InputError(f"lr must be > 0, got {self.lr}")
        if self.clip is not None and not self.clip > 0:
            raise InputError(f"clip must be > 0 or None, got {self.clip}")
        if self.patience is not None and self.patience < 1:
            raise InputError(f"patience must be >= 1 or None, got {self.patience}")

    @property
    def windows(self) -> tuple[int, int]:
        """(first, last) window length in samples ahead; it grows over the first half."""
        if isinstance(self.window, int):
            return self.window, self.window
        start, end = self.window
        return int(start), int(end)

    def to_dict(self) -> dict[str, Any]:
        """The options as JSON-ready values (stored in model files and checkpoints)."""
        out = dataclasses.asdict(self)
        out["model"] = dict(self.model)
        out["window"] = list(self.windows)
        out["checkpoint"] = None if self.checkpoint is None else str(self.checkpoint)
        return out


@dataclass(frozen=True)
class EpochRecord:
    """What one epoch did: losses (of scaled states), function evaluations, lr, times."""

    epoch: int
    epochs: int
    train_loss: float
    val_loss: float | None
    nfe_forward: int
    nfe_backward: int
    lr: float
    window: int
    seconds: float
    elapsed: float
    best: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)


class _Counted(torch.nn.Module):
    """The field with a count of its calls (the NFE of the records)."""

    def __init__(self, module: torch.nn.Module) -> None:
        super().__init__()
        self.module = module
        self.calls = 0

    def forward(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.module(t, y)


class Trainer:
    """Step-wise training: iterate it for `EpochRecord`s; `result()` gives the `FitResult`.

    `data` is split by `val_trajectories`/`val_from` (or give `val` data directly). The run
    stops after `epochs`, when the validation loss has not improved for `patience` epochs,
    when `cancel` is cancelled, or when the loss becomes NaN or explodes (then the state of
    the last good epoch is kept and `message` says what to change). `resume` continues from
    a checkpoint written with `checkpoint=PATH`.
    """

    def __init__(self, data: TrajectoryData, *, val: TrajectoryData | None = None,
                 cancel: CancelToken | None = None,
                 callback: Callable[[EpochRecord], None] | None = None,
                 resume: str | Path | None = None, **options: Any) -> None:
        unknown = sorted(set(options) - {f.name for f in dataclasses.fields(FitOptions)})
        if unknown:
            known = ", ".join(f.name for f in dataclasses.fields(FitOptions))
            raise InputError(f"unknown fit option {unknown[0]!r}; options: {known}")
        self.options = opts = FitOptions(**options)
        if not isinstance(data, TrajectoryData):
            raise InputError(f"data must be a dynsim.learn.TrajectoryData, got "
                             f"{type(data).__name__}")
        self.train_data, split_val = data.split(val_trajectories=opts.val_trajectories,
                                                val_from=opts.val_from, seed=opts.seed)
        self.val_data = val if val is not None else split_val
        self.source = data
        self.cancel = cancel
        self.callback = callback
        self.device = pick_device(opts.device)
        self.dtype = pick_dtype(opts.dtype, self.device)
        self.family: ModelFamily = _family(opts.family)
        self.config = self.family.make_config(opts.model)
        self.dims = self.train_data.dims()
        torch.manual_seed(opts.seed)
        self.model = self.family.build(self.config, self.dims).to(self.device, self.dtype)
        self.counted = _Counted(self.model)
        self.augment = int(getattr(self.model, "augment", 0))
        self.optimizer = _optimizer(opts, self.model)
        self.rng = np.random.default_rng(opts.seed)
        self.noise = torch.Generator(device="cpu").manual_seed(opts.seed)
        self._batches = _Windows(self.train_data, self.device, self.dtype)
        self._val = (_Windows(self.val_data, self.device, self.dtype)
                     if self.val_data is not None else None)
        self._scale = torch.tensor(self.dims.y_scale, dtype=self.dtype, device=self.device)
        self.epoch = 0
        self.history: list[EpochRecord] = []
        self.best_state = _snapshot(self.model)
        self.best_loss = math.inf
        self.stale = 0
        self.status = "running"
        self.message = ""
        self.elapsed = 0.0
        self.first_loss: float | None = None
        if resume is not None:
            from dynsim.learn.checkpoint import restore

            restore(self, resume)

    # -- the loop -------------------------------------------------------------------------

    def __iter__(self) -> Iterator[EpochRecord]:
        while self.status == "running":
            if self.epoch >= self.options.epochs:
                self.status = "finished"
                break
            if self.cancel is not None and self.cancel.cancelled:
                self.status, self.message = "cancelled", "training cancelled"
                break
            record = self.run_epoch()
            if record is None:
                break
            if self.callback is not None:
                self.callback(record)
            yield record

    def run_epoch(self) -> EpochRecord | None:
        """One epoch; None if it stopped the run (cancel, NaN or explosion)."""
        opts = self.options
        start = time.perf_counter()
        good_model, good_optim = _snapshot(self.model), copy.deepcopy(self.optimizer.state_dict())
        lr = self._lr()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        window = self._window()
        losses, nfe_f, nfe_b = [], 0, 0
        self.model.train()
        for _ in range(opts.batches_per_epoch):
            if self.cancel is not None and self.cancel.cancelled:
                self._restore(good_model, good_optim)
                self.status, self.message = "cancelled", "training cancelled"
                return None
            y_true, times = self._batches.sample(self.rng, opts.batch, window)
            self.counted.calls = 0
            try:
                pred = self.predict(y_true[:, 0], times)
                loss = self._loss(pred, y_true) + self._regularisers(pred, times)
                value = float(loss.detach())
                nfe_f += self.counted.calls
                self.counted.calls = 0
                if not math.isfinite(value) or (self.first_loss is not None
                                                and value > EXPLODE * self.first_loss):
                    return self._diverged(good_model, good_optim, f"the loss became {value:.3g}")
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
            except IntegrationError as exc:
                return self._diverged(good_model, good_optim, f"the integration failed ({exc})")
            nfe_b += self.counted.calls
            if opts.clip is not None:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), opts.clip)
            self.optimizer.step()
            losses.append(value)
        train_loss = float(np.mean(losses))
        if self.first_loss is None:
            self.first_loss = max(train_loss, 1e-30)
        val_loss = self.validation_loss()
        score = val_loss if val_loss is not None else None
        best = score is None or score < self.best_loss
        if best:
            self.best_state = _snapshot(self.model)
            self.best_loss = score if score is not None else math.inf
            self.stale = 0
        else:
            self.stale += 1
        self.epoch += 1
        seconds = time.perf_counter() - start
        self.elapsed += seconds
        record = EpochRecord(self.epoch, opts.epochs, train_loss, val_loss, nfe_f, nfe_b, lr,
                             window, seconds, self.elapsed, best)
        self.history.append(record)
        if opts.patience is not None and score is not None and self.stale >= opts.patience:
            self.status = "early_stopped"
            self.message = (f"stopped early: the validation loss did not improve for "
                            f"{opts.patience} epochs")
        if opts.checkpoint is not None and (self.epoch % opts.checkpoint_every == 0
                                            or self.status != "running"
                                            or self.epoch == opts.epochs):
            from dynsim.learn.checkpoint import save_checkpoint

            save_checkpoint(self, opts.checkpoint)
        return record

    def predict(self, y0: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """The field's predictions (B, W + 1, D) from states `y0` (B, D) at `times`
        (B, W + 1, float64 on the CPU); augmented states start at zero and are dropped."""
        opts = self.options
        if self.augment:
            y0 = torch.cat([y0, y0.new_zeros(*y0.shape[:-1], self.augment)], dim=-1)
        rel = times - times[:, :1]  # float64 on the host
        times = times.to(self.device, self.dtype)
        params = tuple(p for p in self.model.parameters() if p.requires_grad)
        solve = dict(method=opts.method, rtol=opts.rtol, atol=opts.atol, adjoint=opts.adjoint)
        if opts.adjoint:
            solve["adjoint_params"] = params
        gap = float(rel[0].diff().min())
        regular = float((rel - rel[:1]).abs().max()) <= 1e-5 * gap  # float32 times included
        if regular or _adaptive(opts.method):
            # one solve on the union of the windows' relative times (adaptive methods
            # interpolate the outputs, so many output times cost few steps)
            grid, where = torch.unique((rel[:1] if regular else rel).to(self.dtype),
                                       sorted=True, return_inverse=True)
            if regular:
                where = where.expand_as(rel)
            grid_t = grid.to(self.device)
            options = None
            if opts.substeps > 1 and not _adaptive(opts.method):
                options = {"step_size": float(grid_t.diff().max()) * (1 + 1e-6) / opts.substeps}
            t0 = times[:, 0]
            out = odeint(lambda t, y: self.counted(t0 + t, y), y0, grid_t, options=options,
                         **solve)  # (G, B, D)
            batch = torch.arange(len(y0), device=self.device)[:, None].expand_as(where)
            states = out[where.to(self.device), batch]
        else:
            states = self._piecewise(y0, times, solve)
        return states[..., :self.dims.dimension]

    def _piecewise(self, y0: torch.Tensor, times: torch.Tensor,
                   solve: dict[str, Any]) -> torch.Tensor:
        """Windows with different sample times: each interval in its own time
        tau in [0, 1] (t = t_k + tau dt_k), all windows of the batch at once."""
        unit = torch.tensor([0.0, 1.0], dtype=self.dtype, device=self.device)
        options = (None if _adaptive(self.options.method) or self.options.substeps == 1
                   else {"step_size": 1.0 / self.options.substeps})
        outs, y = [y0], y0
        for k in range(times.shape[1] - 1):
            t_k = times[:, k]
            dt = (times[:, k + 1] - t_k)[:, None]

            def scaled(tau: torch.Tensor, z: torch.Tensor, t_k: torch.Tensor = t_k,
                       dt: torch.Tensor = dt) -> torch.Tensor:
                return dt * self.counted(t_k + tau * dt[:, 0], z)

            y = odeint(scaled, y, unit, options=options, **solve)[-1]
            outs.append(y)
        return torch.stack(outs, dim=1)

    def _loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        diff = (pred[:, 1:] - target[:, 1:]) / self._scale
        if self.options.loss == "l1":
            return diff.abs().mean()
        if self.options.loss == "huber":
            return torch.nn.functional.huber_loss(diff, torch.zeros_like(diff), delta=1.0)
        return (diff ** 2).mean()

    def _regularisers(self, pred: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """Kinetic energy mean |f|^2 and Hutchinson's estimate of the Jacobian's squared
        Frobenius norm mean |e^T df/dy|^2 (e ~ N(0, I)), both of the scaled field at the
        predicted states (Finlay et al. 2020)."""
        opts = self.options
        total = pred.new_zeros(())
        if not (opts.jac_reg or opts.kinetic_reg):
            return total
        rate = self.model_rate()
        y = pred.detach().reshape(-1, pred.shape[-1])
        if self.augment:
            y = torch.cat([y, y.new_zeros(len(y), self.augment)], dim=-1)
        y.requires_grad_(True)
        f = self.model(times.reshape(-1).to(self.device, self.dtype), y) / rate
        if opts.kinetic_reg:
            total = total + opts.kinetic_reg * (f ** 2).sum(-1).mean()
        if opts.jac_reg:
            e = torch.randn(f.shape, generator=self.noise, dtype=torch.float64).to(f)
            (vjp,) = torch.autograd.grad(f, y, e, create_graph=True)
            scale = torch.cat([self._scale, self._scale.new_ones(self.augment)])
            total = total + opts.jac_reg * ((vjp * scale) ** 2).sum(-1).mean()
        return total

    def model_rate(self) -> torch.Tensor:
        """The data's typical |dy/dt| per state (augmented states: their mean)."""
        rate = torch.tensor(self.dims.dy_scale, dtype=self.dtype, device=self.device)
        return torch.cat([rate, rate.mean().repeat(self.augment)])

    def validation_loss(self) -> float | None:
        """The loss over fixed windows of the validation data (of the final window length)."""
        if self._val is None:
            return None
        self.model.eval()
        total, count = 0.0, 0
        with torch.no_grad():
            for y_true, times in self._val.chunks(self.options.windows[1]):
                pred = self.predict(y_true[:, 0], times)
                total += float(self._loss(pred, y_true)) * len(y_true)
                count += len(y_true)
        self.model.train()
        value = total / count
        return value if math.isfinite(value) else math.inf

    def _lr(self) -> float:
        opts = self.options
        if opts.schedule == "constant":
            return opts.lr
        progress = self.epoch / max(opts.epochs - 1, 1)
        return opts.lr_min + 0.5 * (opts.lr - opts.lr_min) * (1 + math.cos(math.pi * progress))

    def _window(self) -> int:
        start, end = self.options.windows
        grow = max(self.options.epochs // 2, 1)
        return round(start + (end - start) * min(self.epoch / grow, 1.0))

    def _restore(self, model_state: dict[str, torch.Tensor], optim_state: dict) -> None:
        self.model.load_state_dict(model_state)
        self.optimizer.load_state_dict(optim_state)

    def _diverged(self, model_state: dict[str, torch.Tensor], optim_state: dict,
                  what: str) -> None:
        self._restore(model_state, optim_state)
        if self._val is None:
            self.best_state = model_state
        self.status = "diverged"
        self.message = (f"training stopped in epoch {self.epoch + 1}: {what}; kept the model "
                        f"of epoch {self.epoch}. Lower the learning rate (lr={self.options.lr:g})"
                        f", clip the gradients harder (clip={self.options.clip}), shorten the "
                        f"window, or train in float64")
        return None

    def result(self) -> FitResult:
        """The best model so far (lowest validation loss; without validation data the last
        good epoch) with the history and metrics."""
        from dynsim.learn.result import FitResult

        model = self.family.build(self.config, self.dims).to(self.device, self.dtype)
        model.load_state_dict(self.best_state)
        status = self.status if self.status != "running" else "interrupted"
        return FitResult(model=model.eval(), family=self.family.name, config=self.config,
                         dims=self.dims, history=tuple(self.history), status=status,
                         message=self.message, options=self.options, data=self.source,
                         best_val_loss=None if self._val is None else self.best_loss)


def fit(data: TrajectoryData | Any, family: str = "mlp", *,
        cancel: CancelToken | None = None, callback: Callable[[EpochRecord], None] | None = None,
        resume: str | Path | None = None, **options: Any) -> FitResult:
    """Fit `family`'s vector field to `data` and return the `FitResult` (see `Trainer`)."""
    if not isinstance(data, TrajectoryData):
        data = TrajectoryData.from_trajectories(data)
    trainer = Trainer(data, family=family, cancel=cancel, callback=callback, resume=resume,
                      **options)
    for _ in trainer:
        pass
    return trainer.result()


class _Windows:
    """The series of some data as tensors, cut into windows of W samples ahead."""

    def __init__(self, data: TrajectoryData, device: torch.device, dtype: torch.dtype) -> None:
        self.series: list[Series] = list(data.series)
        self.t = torch.tensor(np.concatenate([s.t for s in self.series]), dtype=torch.float64)
        self.y = torch.tensor(np.concatenate([s.y for s in self.series]), dtype=dtype)
        lengths = np.array([len(s.t) for s in self.series])
        self.offsets = np.r_[0, np.cumsum(lengths)[:-1]]
        self.lengths = lengths
        self.device, self.dtype = device, dtype

    def _gather(self, starts: np.ndarray, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(starts[:, None] + np.arange(width + 1))
        y = self.y[index].to(self.device)
        return y, self.t[index]

    def sample(self, rng: np.random.Generator, batch: int,
               window: int) -> tuple[torch.Tensor, torch.Tensor]:
        """`batch` random windows of `window` samples ahead (shorter if a series is)."""
        width = int(min(window, self.lengths.min() - 1))
        counts = self.lengths - width
        pick = rng.integers(0, counts.sum(), size=batch)
        series = np.searchsorted(np.cumsum(counts), pick, side="right")
        starts = self.offsets[series] + pick - np.r_[0, np.cumsum(counts)][series]
        return self._gather(starts, width)

    def chunks(self, window: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Consecutive windows covering each series, grouped by width."""
        groups: dict[int, list[int]] = {}
        for offset, length in zip(self.offsets, self.lengths, strict=True):
            width = int(min(window, length - 1))
            for start in range(0, length - width, width):
                groups.setdefault(width, []).append(int(offset + start))
        for width, starts in groups.items():
            yield self._gather(np.array(starts), width)


def _family(name: str) -> ModelFamily:
    plugins = active_plugins()
    if name not in plugins.names("models"):
        raise unknown_name("model family", name, plugins.names("models"))
    return plugins.get("models", name)


def _optimizer(opts: FitOptions, model: torch.nn.Module) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise InputError(f"model family '{opts.family}' built a model with nothing to train")
    kind = torch.optim.AdamW if opts.optimizer == "adamw" else torch.optim.Adam
    return kind(params, lr=opts.lr, weight_decay=opts.weight_decay)


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _adaptive(method: str) -> bool:
    from dynsim.numerics import get_tableau

    try:
        return get_tableau(method).adaptive
    except DynsimError:
        return True  # odeint reports the unknown name


__all__ = ["EpochRecord", "FitOptions", "Trainer", "fit"]
