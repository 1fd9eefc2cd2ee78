"""`dynsim simulate TARGET`: run a scene file or a system and write the trajectories."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from dynsim.cli.args import (
    add_target_arguments,
    parse_assignments,
    parse_number,
    parse_state,
    parse_tolerance,
    parse_whole_number,
)
from dynsim.cli.plugin_setup import load_for_command
from dynsim.cli.target import DEFAULT_T_END, scene_for_target
from dynsim.core.atomic import atomic_write
from dynsim.core.csvio import write_csv_to
from dynsim.core.errors import InputError
from dynsim.core.exporter import Exporter
from dynsim.core.plugin_import import plugin_code
from dynsim.core.plugins import PluginSet
from dynsim.core.scene import Scene
from dynsim.core.simulate import DEFAULT_POINTS, DEFAULT_SOLVER
from dynsim.core.stream import stream_csv
from dynsim.core.trajectories import Status


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Register the `simulate` subcommand."""
    p = commands.add_parser(
        "simulate", parents=[common],
        help="simulate a scene file or a system; CSV to stdout or -o FILE",
        description="TARGET is a scene file (.toml) or a system name (see 'dynsim list'); "
                    "or give the equations with --eq instead. Options override the scene. "
                    "Exit code 1 if a trajectory failed (its data is still written, NaN after "
                    "the failure), 2 on bad input.")
    add_target_arguments(p)
    p.add_argument("-o", "--output", metavar="OUT",
                   help="output file; the format follows the extension (.csv, .npz, ...)")
    add_simulation_arguments(p)
    p.add_argument("--stream", action="store_true",
                   help="write the CSV (stdout or -o FILE.csv) in chunks as they are computed, "
                        "in bounded memory, for runs too big to hold (see docs/csv.md)")
    p.set_defaults(run=run_simulate)


def add_simulation_arguments(p: argparse.ArgumentParser) -> None:
    """The options that override a scene's parameters and [simulation] (`apply_options`)."""
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="set a parameter (repeatable)")
    p.add_argument("--y0", action="append", default=[], metavar="'1,1,1'",
                   help="an initial state (repeatable: one trajectory each)")
    p.add_argument("--t-end", metavar="T", help=f"end time (default for a system: "
                                                f"{DEFAULT_T_END:g}, start 0)")
    p.add_argument("--solver", metavar="NAME", help=f"solver (default {DEFAULT_SOLVER})")
    p.add_argument("--dt", metavar="H", help="step size of fixed-step solvers")
    p.add_argument("--points", metavar="N", help="number of output times (default 1001)")
    p.add_argument("--rtol", metavar="TOL", help="relative tolerance of adaptive solvers: a "
                                                 "number or one per state ('1e-6,1e-8')")
    p.add_argument("--atol", metavar="TOL", help="absolute tolerance of adaptive solvers: a "
                                                 "number or one per state")
    p.add_argument("--max-steps", metavar="N", help="most steps per trajectory")


def run_simulate(args: argparse.Namespace) -> int:
    """Build the scene from TARGET and options, run it, write the result."""
    plugins = load_for_command(args)
    if args.stream and args.output and Path(args.output).suffix.lower() != ".csv":
        raise InputError(f"--stream writes CSV; -o {args.output} is not a .csv file")
    exporter = _exporter_for(plugins, args.output) if args.output and not args.stream else None
    params = parse_assignments(args.param, "--param")
    scene = apply_options(scene_for_target(args.target, args.eq, params), args, params)
    stdout = sys.stdout
    if args.stream:
        return _report_failures(_stream(scene, args.output, stdout))
    with plugin_code():  # what the system's code prints goes to stderr, not into the CSV
        traj = scene.simulate()
    if exporter is None:
        write_csv_to(traj, stdout)
        stdout.flush()
    else:
        with plugin_code():  # an exporter is plugin code too
            exporter.write(traj, Path(args.output))
    return _report_failures(traj.failures())


def _stream(scene: Scene, output: str | None, stdout: TextIO) -> list[str]:
    """Run `scene` with `stream_csv` into `output` (atomically) or stdout; failure lines."""
    sim = scene.simulation
    options = {k: v for k, v in sim.options().items() if k != "points"}
    if "t_eval" in options:
        raise InputError("--stream needs evenly spaced output times (--points), not the "
                         "scene's t_eval")
    run = functools.partial(stream_csv, scene.system, sim.initial_conditions, sim.t_span,
                            params=scene.params, points=sim.points or DEFAULT_POINTS,
                            **options)
    with plugin_code():
        if output is None:
            ends = run(stdout)
        else:
            with atomic_write(output, "w", encoding="utf-8", newline="") as handle:
                ends = run(handle)
    return [f"trajectory {i}: {s}: {m}" if m else f"trajectory {i}: {s}"
            for i, (s, m) in enumerate(ends) if s not in (Status.SUCCESS, Status.EVENT)]


def apply_options(scene: Scene, args: argparse.Namespace, params: dict[str, float], *,
                  need_states: bool = True) -> Scene:
    """`scene` with the options of `add_simulation_arguments` applied (`params`: --param).

    With `need_states`, a scene without initial states is an error (the app and `render`
    draw the field alone).
    """
    system = scene.get_system()
    changes = _simulation_changes(scene, args)
    if need_states and "initial_conditions" not in changes and \
            not scene.simulation.initial_conditions:
        raise InputError(f"no initial state to simulate (system '{system.name}' has no "
                         f"example and the scene none); give --y0 with {system.dimension} "
                         f"values ({', '.join(system.states)})")
    params = {**scene.params, **params}
    system.parameter_values(params)
    return replace(scene, params=params, simulation=replace(scene.simulation, **changes))


def _simulation_changes(scene: Scene, args: argparse.Namespace) -> dict[str, Any]:
    """The [simulation] fields the options set."""
    changes: dict[str, Any] = {}
    if args.y0:
        changes["initial_conditions"] = tuple(tuple(parse_state(s, "--y0")) for s in args.y0)
    if args.t_end is not None:
        changes["t_span"] = (scene.simulation.t_span[0], parse_number(args.t_end, "--t-end"))
    if args.solver is not None:
        changes["solver"] = args.solver
    if args.dt is not None:
        changes["dt"] = parse_number(args.dt, "--dt")
    if args.points is not None:
        changes.update(points=parse_whole_number(args.points, "--points"), t_eval=None)
    for option in ("rtol", "atol"):
        text = getattr(args, option)
        if text is not None:
            changes[option] = parse_tolerance(text, f"--{option}")
    if args.max_steps is not None:
        changes["max_steps"] = parse_whole_number(args.max_steps, "--max-steps")
    return changes


def _exporter_for(plugins: PluginSet, output: str) -> Exporter:
    suffix = Path(output).suffix.lower()
    for exporter in plugins.objects("exporters").values():
        if suffix in exporter.extensions:
            return exporter
    known = sorted(e for x in plugins.objects("exporters").values() for e in x.extensions)
    raise InputError(f"-o {output}: unknown output format '{suffix or '(no extension)'}'; "
                     f"known extensions: {', '.join(known)}")


def _report_failures(lines: Sequence[str]) -> int:
    for line in lines:
        print(f"dynsim: warning: {line}", file=sys.stderr)
    return 1 if lines else 0
