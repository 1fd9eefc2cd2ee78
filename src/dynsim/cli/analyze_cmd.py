"""`dynsim analyze TARGET`: equilibria and their stability; optionally the Lyapunov spectrum
(`--lyapunov`), an orbit diagram (`--sweep NAME=START:STOP:N -o OUT.csv`) and a basin grid
(`--basins -o OUT.csv`). The CSV formats are described in docs/csv.md."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dynsim.cli.args import (
    add_target_arguments,
    parse_assignments,
    parse_interval,
    parse_number,
    parse_state,
)
from dynsim.cli.plugin_setup import load_for_command
from dynsim.cli.progress import progress_line
from dynsim.cli.target import scene_for_target
from dynsim.core.atomic import atomic_write
from dynsim.core.budget import batch_bytes, check_memory
from dynsim.core.errors import InputError
from dynsim.core.plugin_import import plugin_code
from dynsim.core.scene import Scene
from dynsim.core.simulate import get_system
from dynsim.core.system import System

if TYPE_CHECKING:
    from dynsim.analysis import BasinMap, EquilibriumSearch, LyapunovSpectrum, OrbitDiagram

DEFAULT_GRID = 101
"""Grid points per axis of `--basins` (odd: the centre lines are on the grid)."""


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Register the `analyze` subcommand."""
    p = commands.add_parser(
        "analyze", parents=[common], help="equilibria of a scene or system, with stability",
        description="Find the equilibria in a box (the system's bounds, narrowed by a scene's "
                    "view limits and --box) and classify them.")
    add_target_arguments(p)
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="set a parameter (repeatable)")
    p.add_argument("--box", action="append", default=[], metavar="STATE=LOW:HIGH",
                   help="search range of one state (repeatable)")
    p.add_argument("--t", default="0", metavar="T",
                   help="time at which a non-autonomous field is frozen (default 0)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--lyapunov", action="store_true",
                   help="add the Lyapunov spectrum (from the scene's initial states or the "
                        "system's example state)")
    p.add_argument("--sweep", metavar="NAME=START:STOP:N",
                   help="write an orbit diagram of parameter NAME (N values) to -o OUT.csv")
    p.add_argument("--basins", action="store_true",
                   help="write the basins of attraction on a grid over the view axes to -o")
    p.add_argument("-o", "--output", metavar="OUT.csv", help="CSV file of --sweep/--basins")
    p.add_argument("--state", metavar="NAME",
                   help="--sweep: record the local maxima of this state (default: the first)")
    p.add_argument("--section", metavar="STATE=VALUE",
                   help="--sweep: record upward crossings of STATE = VALUE instead of maxima")
    p.add_argument("--grid", metavar="N or NX,NY",
                   help=f"--basins: grid points per axis (default {DEFAULT_GRID})")
    p.add_argument("--axes", metavar="X,Y",
                   help="--basins: the two states of the plane (default: the scene's view "
                        "axes, else the first two states); ranges from --box")
    p.add_argument("--transient", metavar="T",
                   help="--lyapunov/--sweep: time run before anything is recorded")
    p.add_argument("--duration", metavar="T",
                   help="--lyapunov/--sweep: time recorded; --basins: integration time")
    p.set_defaults(run=run_analyze)


def run_analyze(args: argparse.Namespace) -> int:
    """Print the equilibria of TARGET, and run the analyses the options ask for."""
    _check_outputs(args)
    load_for_command(args)
    with plugin_code():  # what the system's code prints goes to stderr
        report, lines, failed, scene, params, search = _analyses(args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_equilibria(scene, params, search)
        for line in lines:
            print(line)
    return _warn_failures(failed)


def _analyses(args: argparse.Namespace) -> tuple[dict[str, Any], list[str], int, Scene,
                                                  dict[str, float], EquilibriumSearch]:
    """Run what the options ask for: (JSON report, text lines, failures, scene, params,
    equilibria)."""
    from dynsim.analysis import find_equilibria  # scipy: keep it out of start-up

    overrides = parse_assignments(args.param, "--param")
    scene = scene_for_target(args.target, args.eq, overrides)
    params = {**scene.params, **overrides}
    box = _box(scene, args.box)
    times = _times(args)
    search = find_equilibria(scene.system, params=params, box=box,
                             t=parse_number(args.t, "--t"))
    report: dict[str, Any] = {"equilibria": search.to_dict()["equilibria"]}
    lines: list[str] = []
    failed = 0
    if args.lyapunov:
        spectrum = _lyapunov(scene, params, times)
        report["lyapunov"] = spectrum.to_dict()
        lines.append(_lyapunov_text(spectrum))
        failed += report["lyapunov"]["failed"]
    if args.sweep:
        diagram = _sweep(scene, params, args, times)
        report["sweep"] = _sweep_summary(diagram, args.output)
        lines.append(_sweep_text(diagram, args.output))
        failed += sum(s != "success" for s in diagram.status)
    if args.basins:
        basins = _basins(scene, params, box, args, times)
        report["basins"] = _basins_summary(basins, args.output)
        lines += _basins_text(basins, args.output)
    return report, lines, failed, scene, params, search


def _check_outputs(args: argparse.Namespace) -> None:
    """-o goes with exactly one of --sweep and --basins, and names a .csv file."""
    if args.sweep and args.basins:
        raise InputError("--sweep and --basins each write a file; run them one at a time")
    writes = bool(args.sweep or args.basins)
    if writes and not args.output:
        raise InputError(f"{'--sweep' if args.sweep else '--basins'} needs -o OUT.csv")
    if args.output and not writes:
        raise InputError("-o is the file of --sweep or --basins; give one of them")
    if args.output and Path(args.output).suffix.lower() != ".csv":
        raise InputError(f"-o {args.output}: --sweep and --basins write CSV; use a .csv name")


def _times(args: argparse.Namespace) -> dict[str, float]:
    """The --transient and --duration given (positive numbers), by keyword."""
    out = {}
    for key, text in (("transient", args.transient), ("duration", args.duration)):
        if text is not None:
            value = parse_number(text, f"--{key}")
            if value < 0 or (value == 0 and key == "duration"):
                raise InputError(f"--{key}: expected a positive number, got '{text}'")
            out[key] = value
    return out


def _starts(scene: Scene) -> np.ndarray:
    """The scene's initial states, else the system's example state."""
    system = get_system(scene.system)
    if scene.simulation.initial_conditions:
        return np.array(scene.simulation.initial_conditions, dtype=float)
    if system.y0 is None:
        raise InputError(f"system '{system.name}' has no example initial state; use a scene "
                         "with initial_conditions")
    return np.array([system.y0])


def _lyapunov(scene: Scene, params: dict[str, float],
              times: dict[str, float]) -> LyapunovSpectrum:
    from dynsim.analysis import lyapunov_spectrum

    return lyapunov_spectrum(scene.system, _starts(scene), params=params,
                             progress=progress_line("Lyapunov spectrum"), **times)


def _lyapunov_text(spectrum: LyapunovSpectrum) -> str:
    values = ", ".join(f"{v:.6g}" for v in spectrum.exponents)
    count = len(spectrum.status)
    return (f"Lyapunov exponents: {values} (sum {np.sum(spectrum.exponents):.6g}, "
            f"Kaplan-Yorke dimension {spectrum.kaplan_yorke:.4g}; {count} "
            f"trajector{'y' if count == 1 else 'ies'} over t = {spectrum.duration:g})")


def _sweep(scene: Scene, params: dict[str, float], args: argparse.Namespace,
           times: dict[str, float]) -> OrbitDiagram:
    from dynsim.analysis import orbit_diagram

    system = get_system(scene.system)
    name, values = _sweep_values(args.sweep, system.dimension)
    section: dict[str, float] | None = None
    offset = 0.0
    if args.section:
        state, level = next(iter(parse_assignments([args.section], "--section").items()))
        system.state_index(state)
        section, offset = {state: 1.0}, level
    diagram = orbit_diagram(scene.system, name, values, _starts(scene)[:1], state=args.state,
                            section=section, offset=offset,
                            params={k: v for k, v in params.items() if k != name}, **times)
    _write_csv(args.output, [diagram.parameter, "t", *diagram.states],
               [diagram.values[diagram.index], diagram.t, *diagram.y.T])
    return diagram


def _sweep_values(text: str, dimension: int) -> tuple[str, np.ndarray]:
    """'NAME=START:STOP:N' -> (NAME, N evenly spaced values from START to STOP)."""
    name, sep, rest = text.partition("=")
    parts = rest.split(":")
    if not sep or not name.strip() or len(parts) != 3:
        raise InputError(f"--sweep expects NAME=START:STOP:N, got '{text}'")
    start, stop = (parse_number(p.strip(), f"--sweep {name.strip()}") for p in parts[:2])
    count = parse_number(parts[2].strip(), f"--sweep {name.strip()}")
    if count != int(count) or count < 2:
        raise InputError(f"--sweep {name.strip()}: N must be a whole number >= 2, "
                         f"got '{parts[2].strip()}'")
    if start == stop:
        raise InputError(f"--sweep {name.strip()}: START and STOP must differ")
    check_memory(batch_bytes(int(count), 2, dimension),  # before the values are allocated
                 f"--sweep {name.strip()} with N = {count:.6g} values",
                 "give a smaller N, or split the range over several runs")
    return name.strip(), np.linspace(start, stop, int(count))


def _sweep_summary(diagram: OrbitDiagram, output: str) -> dict[str, Any]:
    return {"parameter": diagram.parameter, "values": len(diagram.values),
            "points": len(diagram.t), "record": diagram.record, "output": output,
            "failed": sum(s != "success" for s in diagram.status)}


def _sweep_text(diagram: OrbitDiagram, output: str) -> str:
    return (f"Orbit diagram over {diagram.parameter} ({len(diagram.values)} values from "
            f"{diagram.values[0]:g} to {diagram.values[-1]:g}, {diagram.record}): "
            f"{len(diagram.t)} points written to {output}")


def _basins(scene: Scene, params: dict[str, float], box: dict[str, tuple[float, float]],
            args: argparse.Namespace, times: dict[str, float]) -> BasinMap:
    from dynsim.analysis import basins_of_attraction, make_plane

    system = get_system(scene.system)
    axes = _plane_axes(scene, system, args.axes)
    others = {n: sum(box[n]) / 2 for n in system.states if n not in axes and n in box}
    plane = make_plane(system, axes, xlim=box.get(axes[0]), ylim=box.get(axes[1]), at=others,
                       t=parse_number(args.t, "--t"))
    options = {"t_end": times["duration"]} if "duration" in times else {}
    basins = basins_of_attraction(system, plane, resolution=_grid(args.grid),
                                  params=params, **options)
    xx, yy = np.meshgrid(basins.x, basins.y)
    _write_csv(args.output, [*plane.names, "label"],
               [xx.ravel(), yy.ravel(), basins.labels.ravel()])
    return basins


def _plane_axes(scene: Scene, system: System, text: str | None) -> tuple[str, str]:
    if text is not None:
        names = [n.strip() for n in text.split(",") if n.strip()]
    else:
        names = list(scene.view.axes[:2]) if len(scene.view.axes) >= 2 else \
            list(system.states[:2])
    if len(names) != 2:
        raise InputError(f"--axes expects two state names X,Y, got '{text}'")
    for name in names:
        system.state_index(name)
    return names[0], names[1]


def _grid(text: str | None) -> tuple[int, int]:
    if text is None:
        return DEFAULT_GRID, DEFAULT_GRID
    counts = parse_state(text, "--grid")
    if len(counts) == 1:
        counts *= 2
    if len(counts) != 2 or any(c != int(c) or c < 2 for c in counts):
        raise InputError(f"--grid expects N or NX,NY (whole numbers >= 2), got '{text}'")
    return int(counts[0]), int(counts[1])


def _basins_summary(basins: BasinMap, output: str) -> dict[str, Any]:
    states = basins.plane.states
    labels = basins.labels
    return {"axes": list(basins.plane.names), "grid": [len(basins.x), len(basins.y)],
            "attractors": [a.to_dict(states) for a in basins.attractors],
            "escaped": int((labels == -1).sum()), "unresolved": int((labels == -2).sum()),
            "output": output}


def _basins_text(basins: BasinMap, output: str) -> list[str]:
    (x, y), plane = basins.plane.names, basins.plane
    lines = [f"Basins on {x} [{plane.xlim[0]:g}, {plane.xlim[1]:g}] x {y} "
             f"[{plane.ylim[0]:g}, {plane.ylim[1]:g}] ({len(basins.x)}x{len(basins.y)} "
             f"points) written to {output}:"]
    for k, a in enumerate(basins.attractors):
        where = ", ".join(f"{n}={v:.6g}" for n, v in zip(plane.states, a.state, strict=True))
        kind = f"{a.kind} ({where})" + (f" {a.classification}" if a.classification else "")
        lines.append(f"  {k}: {kind}: {a.points} points")
    for label, name in ((-1, "escaped"), (-2, "unresolved")):
        count = int((basins.labels == label).sum())
        if count:
            lines.append(f"  {label}: {name}: {count} points")
    return lines


def _write_csv(path: str, header: Sequence[str], columns: Sequence[np.ndarray]) -> None:
    """Write `columns` under `header` atomically: floats as repr (they round-trip), integer
    columns as integers."""
    cells = [np.asarray(c).tolist() for c in columns]
    text = "".join(",".join(map(repr, row)) + "\n" for row in zip(*cells, strict=True))
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(header) + "\n")
        handle.write(text)


def _warn_failures(failed: int) -> int:
    if failed:
        print(f"dynsim: warning: {failed} trajector{'y' if failed == 1 else 'ies'} failed "
              "(see --json for which); the results above leave them out", file=sys.stderr)
        return 1
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
    missing = [state for state in system.states if state not in box]
    if missing:
        raise InputError(f"system '{system.name}' has no default range for "
                         f"{', '.join(missing)}; give one with --box STATE=LOW:HIGH for each")
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
