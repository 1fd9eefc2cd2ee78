"""`dynsim compare MODEL SYSTEM`: a learned model file against the true system."""

from __future__ import annotations

import argparse
import json
from typing import Any

from dynsim.cli.args import parse_assignments, parse_interval, parse_number, parse_whole_number
from dynsim.cli.plugin_setup import load_for_command
from dynsim.cli.target import scene_for_target
from dynsim.core.errors import InputError


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Register the `compare` subcommand."""
    p = commands.add_parser(
        "compare", parents=[common], help="compare a learned model file with the true system",
        description="Field error on a grid, equilibria of both with their stability, the "
                    "error of trajectories from the same states, and the drift of the true "
                    "system's invariant along the learned trajectories.")
    p.add_argument("model", metavar="MODEL", help="model file (.dsm) written by dynsim train")
    p.add_argument("system", metavar="SYSTEM", help="the true system: a name or a scene file")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a parameter of the true system (repeatable)")
    p.add_argument("--box", action="append", default=[], metavar="STATE=LOW:HIGH",
                   help="range of one state (default: the model's data range)")
    p.add_argument("--horizon", default="10", metavar="T",
                   help="time the trajectories are compared over (default 10)")
    p.add_argument("--starts", default="8", metavar="N",
                   help="number of initial states for the trajectories (default 8)")
    p.add_argument("--seed", default="0", metavar="N", help="seed of the initial states")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    """Print the comparison."""
    from dynsim.learn import compare  # torch: only for this command

    load_for_command(args)
    overrides = parse_assignments(args.param, "--param")
    scene = scene_for_target(args.system, (), overrides)
    box = {}
    for item in args.box:
        name, sep, interval = item.partition("=")
        if not sep:
            raise InputError(f"--box expects STATE=LOW:HIGH, got '{item}'")
        box[name.strip()] = parse_interval(interval, f"--box {name.strip()}")
    horizon = parse_number(args.horizon, "--horizon")
    if horizon <= 0:
        raise InputError(f"--horizon must be > 0, got '{args.horizon}'")
    result = compare(args.model, scene.get_system(), params={**scene.params, **overrides},
                     box=box or None, horizon=horizon,
                     starts=parse_whole_number(args.starts, "--starts"),
                     seed=parse_whole_number(args.seed, "--seed"))
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print("\n".join(result.lines()))
    return 0
