"""Importing plugin code from plugin directories, and the rules it runs under.

- Only folders the user named are searched: an empty name (an unset shell variable in
  `--plugins-dir "$DIR"`) is never taken for the current folder (`checked_plugin_dir`).
- A single file `name.py` is imported as `dynsim_user_plugins.name`. A package folder
  `name/` is imported under its own name `name` when no installed module has that name, so
  both `from . import physics` and `from name import physics` work inside it (the same
  module objects either way); otherwise as `dynsim_user_plugins.name`, where relative
  imports work.
- While plugin code runs (import and hooks), its prints go to stderr (`plugin_code`): the
  CSV that `dynsim simulate` writes to stdout stays clean.
- A plugin still importing after `HANG_WARNING_SECONDS` gets a warning line on stderr that
  names it and says how to disable it (`import_watchdog`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

from dynsim.core.errors import PluginError

NAMESPACE = "dynsim_user_plugins"
HANG_WARNING_SECONDS = 5.0
"""A plugin whose import (and hooks) take longer than this gets a warning on stderr."""


def checked_plugin_dir(text: str | Path, option: str = "--plugins-dir") -> Path:
    """`text` as a plugins folder that exists; `PluginError` if empty, missing or a file."""
    if not str(text).strip():
        raise PluginError(f"{option} is empty (an unset shell variable?); give a folder, e.g. "
                          f"{option} ~/my-plugins")
    folder = Path(text)
    if not folder.exists():
        raise PluginError(f"plugins directory '{folder}' does not exist")
    if not folder.is_dir():
        raise PluginError(f"plugins directory '{folder}' is a file, not a folder")
    return folder


def import_plugin_file(name: str, path: Path, package_dir: Path | None) -> ModuleType:
    """Import the plugin file `path` (a package's `__init__.py` when `package_dir` is set)."""
    module_name = _module_name(name, package_dir)
    _forget(module_name)
    spec = importlib.util.spec_from_file_location(
        module_name, path,
        submodule_search_locations=[str(package_dir)] if package_dir else None,
    )
    if spec is None or spec.loader is None:
        raise PluginError(f"cannot import '{path}'")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        _forget(module_name)
        raise
    return module


def _module_name(name: str, package_dir: Path | None) -> str:
    """The package's own name if nothing else answers to it, else `dynsim_user_plugins.name`."""
    if package_dir is not None and name.isidentifier():
        own = sys.modules.get(name)
        ours = own is not None and _is_from(own, package_dir)
        if ours or (own is None and importlib.util.find_spec(name) is None):
            return name
    if NAMESPACE not in sys.modules:
        namespace = ModuleType(NAMESPACE, "Plugins imported from plugin directories.")
        namespace.__path__ = []
        sys.modules[NAMESPACE] = namespace
    return f"{NAMESPACE}.{name}"


def _is_from(module: ModuleType, package_dir: Path) -> bool:
    return Path(getattr(module, "__file__", "") or "").parent == package_dir


def _forget(module_name: str) -> None:
    """Drop `module_name` and its submodules, so a new load imports the files afresh."""
    for key in [k for k in sys.modules if k == module_name or k.startswith(module_name + ".")]:
        del sys.modules[key]


@contextlib.contextmanager
def plugin_code() -> Iterator[None]:
    """Run plugin code with its prints sent to stderr instead of stdout."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


@contextlib.contextmanager
def import_watchdog(name: str, source: str, disable_variable: str) -> Iterator[None]:
    """Warn on stderr if the block (a plugin's import) is still running after a while."""

    def warn() -> None:
        print(f"dynsim: warning: plugin '{name}' ({source}) is still loading after "
              f"{HANG_WARNING_SECONDS:g} s; if it hangs, stop dynsim (Ctrl+C) and disable it "
              f"with {disable_variable}={name}", file=sys.stderr, flush=True)

    timer = threading.Timer(HANG_WARNING_SECONDS, warn)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
