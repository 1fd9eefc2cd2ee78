"""`dynsim list` and `dynsim plugins`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from dynsim.cli.plugin_setup import load_for_command
from dynsim.core.plugins import PluginSet


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    """Register the `list` and `plugins` subcommands."""
    p = commands.add_parser("list", parents=[common],
                            help="systems, solvers, exporters and model families, with the "
                                 "plugin of each")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_list)
    p = commands.add_parser("plugins", parents=[common],
                            help="plugins with origin, version, registrations and errors")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(run=run_plugins)


def listing(plugins: PluginSet) -> dict[str, list[dict[str, Any]]]:
    """What `dynsim list --json` prints."""
    out: dict[str, list[dict[str, Any]]] = {"systems": [], "solvers": [], "exporters": [],
                                            "models": []}
    for name, entry in plugins.entries("systems").items():
        system = entry.obj
        out["systems"].append({
            "name": name, "title": system.title, "states": list(system.states),
            "params": {k: {"default": p.default, "min": p.min, "max": p.max,
                           "description": p.description} for k, p in system.params.items()},
            "tags": list(system.tags), "description": system.description,
            "plugin": entry.plugin})
    for kind in ("solvers", "exporters", "models"):
        for name, entry in plugins.entries(kind).items():
            item = {"name": name, "description": entry.obj.description, "plugin": entry.plugin}
            if kind == "exporters":
                item["extensions"] = list(entry.obj.extensions)
            if kind == "models":
                item["options"] = entry.obj.defaults()
            out[kind].append(item)
    return out


def run_list(args: argparse.Namespace) -> int:
    """Print the registered systems, solvers and exporters."""
    data = listing(load_for_command(args))
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    systems = [(s["name"], f"{len(s['states'])}D", s["plugin"], s["title"])
               for s in data["systems"]]
    _print_table("Systems", ("name", "dim", "plugin", "title"), systems)
    _print_table("Solvers", ("name", "plugin", "description"),
                 [(s["name"], s["plugin"], s["description"]) for s in data["solvers"]])
    _print_table("Exporters", ("name", "extensions", "plugin"),
                 [(e["name"], " ".join(e["extensions"]), e["plugin"]) for e in data["exporters"]])
    _print_table("Model families (dynsim train --family)", ("name", "plugin", "description"),
                 [(m["name"], m["plugin"], m["description"]) for m in data["models"]])
    return 0


def run_plugins(args: argparse.Namespace) -> int:
    """Print every plugin found, how it was found, and what it registered or why it failed."""
    plugins = load_for_command(args, warn=False)
    records = [{"name": r.name, "origin": r.origin, "source": r.source, "version": r.version,
                "state": r.state, "registered": r.registered, "error": r.error}
               for r in plugins.records]
    if args.json:
        print(json.dumps(records, indent=2))
        return 0
    rows = []
    for r in records:
        what = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in r["registered"].items())
        rows.append((r["name"], r["origin"], r["version"] or "-", r["state"],
                     r["error"] or what or "-"))
    _print_table("Plugins", ("name", "origin", "version", "state", "registered / error"), rows)
    return 0


def _print_table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    print(title)
    for row in (header, *rows):
        cells = [str(c).ljust(w) for c, w in zip(row[:-1], widths, strict=False)]
        print("  " + "  ".join([*cells, str(row[-1])]))
    print()
