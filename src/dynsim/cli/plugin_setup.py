"""Loading plugins for a command and warning about the ones that were skipped."""

from __future__ import annotations

import argparse
import sys

from dynsim.core.plugins import PluginSet, load_plugins


def load_for_command(args: argparse.Namespace, *, warn: bool = True) -> PluginSet:
    """Load plugins (with any --plugins-dir) and print a warning line per skipped plugin."""
    plugins = load_plugins(getattr(args, "plugins_dir", []))
    if warn:
        for record in plugins.records:
            if record.error:
                state = "skipped" if record.state == "failed" else "conflict"
                print(f"dynsim: warning: plugin '{record.name}' {state}: {record.error}",
                      file=sys.stderr)
    return plugins
