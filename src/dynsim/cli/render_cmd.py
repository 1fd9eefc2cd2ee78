"""`dynsim render TARGET -o OUT.png|OUT.svg`: the app's phase portrait, without a display."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from dynsim.cli.args import add_target_arguments, parse_assignments
from dynsim.cli.plugin_setup import load_for_command
from dynsim.cli.simulate_cmd import add_simulation_arguments, apply_options
from dynsim.cli.target import scene_for_target
from dynsim.core.errors import InputError

IMAGE_SUFFIXES = (".png", ".svg")
_SIZE = re.compile(r"^\s*(\d+)\s*[xX]\s*(\d+)\s*$")
MAX_SIDE = 10_000


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Register the `render` subcommand."""
    p = commands.add_parser(
        "render", parents=[common], help="draw a scene's phase portrait to PNG or SVG",
        description="Draw what the app's phase plane shows for TARGET (a scene file, a "
                    "system name, or --eq equations): field, nullclines, equilibria, "
                    "separatrices and trajectories, as the scene's [view] selects. Works "
                    "without a display.")
    add_target_arguments(p)
    p.add_argument("-o", "--output", metavar="OUT", required=True,
                   help="the picture: .png or .svg")
    p.add_argument("--size", metavar="WxH", default="1200x900",
                   help="picture size in pixels (default 1200x900)")
    add_simulation_arguments(p)
    p.set_defaults(run=run_render)


def parse_size(text: str) -> tuple[int, int]:
    """'1200x900' -> (1200, 900)."""
    match = _SIZE.match(text)
    if not match or not all(16 <= int(v) <= MAX_SIDE for v in match.groups()):
        raise InputError(f"--size: expected WIDTHxHEIGHT in pixels (16 to {MAX_SIDE} each), "
                         f"got '{text}'")
    return int(match[1]), int(match[2])


def run_render(args: argparse.Namespace) -> int:
    """Check everything, then load Qt and draw."""
    output = Path(args.output)
    if output.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError(f"-o {args.output}: pictures are written as .png or .svg")
    size = parse_size(args.size)
    load_for_command(args)
    params = parse_assignments(args.param, "--param")
    scene = apply_options(scene_for_target(args.target, args.eq, params), args, params,
                          need_states=False)
    from dynsim.gui.model import state_from_scene

    state = state_from_scene(scene)
    from dynsim.gui.render import render

    render(state, output, size)
    print(f"dynsim: wrote {output} ({size[0]}x{size[1]})")
    return 0
