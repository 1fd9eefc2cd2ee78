"""`dynsim train TARGET|--data CSV -o MODEL.dsm`: fit a Neural ODE and save the model file.

TARGET is a scene (its trajectories are the data) or a system name (sampled: --trajectories
initial states in its bounds over [0, --t-end], --points each, --noise). A progress line on
stderr shows epoch, losses, NFE and time left; Ctrl-C stops and saves the best model so far.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from dynsim.cli.args import parse_number, parse_whole_number
from dynsim.cli.plugin_setup import load_for_command
from dynsim.cli.target import scene_for_target
from dynsim.core.errors import InputError
from dynsim.core.models import is_model_path

EXIT_DIVERGED = 1
EXIT_INTERRUPTED = 130


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Register the `train` subcommand."""
    p = commands.add_parser(
        "train", parents=[common], help="fit a Neural ODE to trajectories; write MODEL.dsm",
        description="The data: a scene's trajectories, a system sampled from its bounds, or "
                    "a CSV file (--data; each trajectory may have its own times). Options "
                    "not given take the defaults of dynsim.learn.fit (docs/learn.md).")
    p.add_argument("target", metavar="TARGET", nargs="?",
                   help="scene file or system name to simulate the data from")
    p.add_argument("--data", metavar="CSV", help="measured trajectories instead of TARGET")
    p.add_argument("-o", "--output", metavar="MODEL.dsm", required=True,
                   help="model file to write")
    p.add_argument("--family", default="mlp", metavar="NAME",
                   help="model family (default mlp; see 'dynsim list')")
    p.add_argument("--width", metavar="N", help="hidden layer width")
    p.add_argument("--depth", metavar="N", help="hidden layers")
    p.add_argument("--known", metavar="SYSTEM",
                   help="--family hybrid: the known system (a registered name)")
    numbers = {"epochs": "epochs", "lr": "learning rate", "batch": "windows per batch",
               "jac-reg": "weight of the Jacobian (Hutchinson) regulariser",
               "kinetic-reg": "weight of the kinetic-energy regulariser",
               "seed": "random seed (a CPU run is exactly reproducible)",
               "val-from": "hold out samples at t >= T for validation (early stopping)",
               "val-trajectories": "hold out this fraction (or number) of trajectories"}
    for name, text in numbers.items():
        p.add_argument(f"--{name}", metavar="X", help=text)
    p.add_argument("--window", metavar="N or A:B",
                   help="samples ahead per window; A:B grows from A to B (default 4:16)")
    p.add_argument("--adjoint", action="store_true", help="gradients by the adjoint method")
    p.add_argument("--method", metavar="NAME", help="odeint method (default dopri5)")
    p.add_argument("--device", default="auto", help="auto (cuda, mps, cpu), cpu, cuda, mps")
    p.add_argument("--dtype", default="float32", help="float32 (default) or float64")
    p.add_argument("--resume", metavar="CKPT", help="continue from a checkpoint")
    p.add_argument("--checkpoint", metavar="CKPT", help="write checkpoints here")
    p.add_argument("--trajectories", default="16", metavar="N",
                   help="system TARGET: trajectories sampled (default 16)")
    p.add_argument("--points", default="101", metavar="N",
                   help="system TARGET: samples per trajectory (default 101)")
    p.add_argument("--t-end", default="10", metavar="T", help="system TARGET: end time")
    p.add_argument("--noise", default="0", metavar="SIGMA",
                   help="system TARGET: Gaussian noise added to the samples")
    p.add_argument("--json", action="store_true", help="print the final metrics as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    """Train, showing progress; save the model (also on Ctrl-C); print the metrics."""
    load_for_command(args)
    if not is_model_path(args.output):
        raise InputError(f"-o {args.output}: a model file needs the extension .dsm")
    if not Path(args.output).parent.is_dir():
        raise InputError(f"-o {args.output}: folder '{Path(args.output).parent}' does not exist")
    from dynsim.learn import Trainer  # torch: only for this command

    trainer = Trainer(_data(args), resume=args.resume, **_options(args))
    progress = _Progress(sys.stderr, quiet=args.quiet or args.json)
    interrupted = False
    try:
        for record in trainer:
            progress.show(record)
    except KeyboardInterrupt:
        interrupted = True
    progress.close()
    result = trainer.result()
    if not result.history:
        raise InputError("training stopped before the first epoch ended; nothing to save"
                         + (f" ({result.message})" if result.message else ""))
    result.save(args.output)
    metrics = {**result.metrics, "model": args.output,
               "status": "interrupted" if interrupted else result.status}
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        _print_metrics(metrics)
    if interrupted:
        print(f"dynsim: interrupted: saved the best model so far to {args.output}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    if result.status == "diverged":
        print(f"dynsim: warning: {result.message}", file=sys.stderr)
        return EXIT_DIVERGED
    return 0


def _data(args: argparse.Namespace) -> Any:
    from dynsim.learn import TrajectoryData

    if args.data:
        if args.target:
            raise InputError(f"give either TARGET ('{args.target}') or --data, not both")
        return TrajectoryData.from_csv(args.data)
    if args.target is None:
        raise InputError("the following arguments are required: TARGET (a scene file or a "
                         "system name) or --data CSV")
    scene = scene_for_target(args.target)
    if scene.model:
        raise InputError(f"TARGET '{args.target}' is a model file; train on a system, a scene "
                         f"or --data")
    if Path(args.target).suffix.lower() == ".toml":
        return TrajectoryData.from_trajectories(scene.simulate())
    return TrajectoryData.sample(
        scene.get_system(), n=parse_whole_number(args.trajectories, "--trajectories"),
        points=parse_whole_number(args.points, "--points"),
        t_span=(0.0, parse_number(args.t_end, "--t-end")),
        noise=parse_number(args.noise, "--noise"),
        seed=parse_whole_number(args.seed, "--seed") if args.seed else 0)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"family": args.family, "device": args.device,
                               "dtype": args.dtype, "adjoint": args.adjoint}
    model: dict[str, Any] = {}
    for key in ("width", "depth"):
        if getattr(args, key) is not None:
            model[key] = parse_whole_number(getattr(args, key), f"--{key}")
    if args.known is not None:
        model["system"] = args.known
    if model:
        options["model"] = model
    for key in ("epochs", "batch", "seed"):
        if getattr(args, key) is not None:
            options[key] = parse_whole_number(getattr(args, key), f"--{key}")
    for key in ("lr", "jac_reg", "kinetic_reg", "val_from", "val_trajectories"):
        if getattr(args, key) is not None:
            options[key] = parse_number(getattr(args, key), f"--{key.replace('_', '-')}")
    if args.window is not None:
        start, sep, end = args.window.partition(":")
        first = parse_whole_number(start, "--window")
        options["window"] = (first, parse_whole_number(end, "--window")) if sep else first
    if args.method is not None:
        options["method"] = args.method
    if args.checkpoint is not None:
        options["checkpoint"] = args.checkpoint
    return options


class _Progress:
    """One status line on stderr: redrawn in place on a terminal, every 10 % otherwise."""

    def __init__(self, stream: Any, *, quiet: bool) -> None:
        self.stream, self.quiet = stream, quiet
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.drawn = False

    def show(self, record: Any) -> None:
        if self.quiet:
            return
        left = record.elapsed / record.epoch * (record.epochs - record.epoch)
        val = "" if record.val_loss is None else f"  val {record.val_loss:.3e}"
        line = (f"epoch {record.epoch}/{record.epochs}  train {record.train_loss:.3e}{val}  "
                f"nfe {record.nfe_forward}+{record.nfe_backward}  lr {record.lr:.2e}  "
                f"{_clock(record.elapsed)} elapsed, {_clock(left)} left")
        if self.tty:
            self.stream.write("\r\x1b[2K" + line)
            self.drawn = True
        elif record.epoch % max(record.epochs // 10, 1) == 0 or record.epoch == record.epochs:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}:{secs:02d}"


def _print_metrics(metrics: dict[str, Any]) -> None:
    def fmt(value: Any) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    rows = [(k, fmt(v)) for k, v in metrics.items() if v not in (None, "")]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")
