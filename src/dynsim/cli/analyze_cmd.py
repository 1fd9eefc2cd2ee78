"""`dynsim analyze TARGET`: equilibria and their stability."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from dynsim.cli.args import parse_assignments, parse_interval, parse_number
from dynsim.cli.plugin_setup import load_for_command
from dynsim.cli.target import scene_for_target
from dynsim.core.scene import Scene
from dynsim.core.simulate import get_system

if TYPE_CHECKING:
    from dynsim.analysis import EquilibriumSearch


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Register the `analyze` subcommand."""
    p = commands.add_parser(
        "analyze", parents=[common], help="equilibria of a scene or system, with stability",
        description="Find the equilibria in a box (the system's bounds, narrowed by a scene's "
                    "view limits and --box) and classify them.")
    p.add_argument("target", metavar="TARGET", help="scene file or system name")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="set a parameter (repeatable)")
    p.add_argument("--box", action="append", default=[], metavar="STATE=LOW:HIGH",
                   help="search range of one state (repeatable)")
    p.add_argument("--t", default="0", metavar="T",
                   help="time at which a non-autonomous field is frozen (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_analyze)


def run_analyze(args: argparse.Namespace) -> int:
    """Print the equilibria of TARGET."""
    from dynsim.analysis import find_equilibria  # scipy: keep it out of start-up

    load_for_command(args)
    scene = scene_for_target(args.target)
    params = {**scene.params, **parse_assignments(args.param, "--param")}
    search = find_equilibria(scene.system, params=params, box=_box(scene, args.box),
                             t=parse_number(args.t, "--t"))
    if args.json:
        print(json.dumps({"equilibria": search.to_dict()["equilibria"]}, indent=2))
    else:
        _print_equilibria(scene, params, search)
    return 0


def _box(scene: Scene, items: list[str]) -> dict[str, tuple[float, float]]:
    system = get_system(scene.system)
    box = dict(system.bounds or {})
    box.update({axis: scene.view.limits[key] for axis, key in
                zip(scene.view.axes, ("xlim", "ylim", "zlim"), strict=False)
                if key in scene.view.limits})
    for item in items:
        name, _, text = item.partition("=")
        system.state_index(name.strip())
        box[name.strip()] = parse_interval(text, f"--box {name.strip()}")
    return box


def _print_equilibria(scene: Scene, params: dict[str, float], search: EquilibriumSearch) -> None:
    system = get_system(scene.system)
    values = system.parameter_values(params)
    setting = ", ".join(f"{k}={v:g}" for k, v in values.items())
    ranges = ", ".join(f"{k} [{lo:g}, {hi:g}]" for k, (lo, hi) in search.box.items())
    print(f"Equilibria of {system.name} ({setting}) in {ranges}:")
    if not search.equilibria:
        print("  none found")
    for eq in search.equilibria:
        where = ", ".join(f"{n}={v:.6g}" for n, v in zip(eq.states, eq.state, strict=True))
        eig = ", ".join(_complex_text(z) for z in eq.eigenvalues)
        print(f"  ({where})  {eq.classification}  eigenvalues: {eig}")


def _complex_text(z: complex) -> str:
    if z.imag == 0:
        return f"{z.real:.6g}"
    return f"{z.real:.6g}{'+' if z.imag > 0 else '-'}{abs(z.imag):.6g}i"
