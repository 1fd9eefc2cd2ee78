"""Finding, loading and isolating plugins; the registry of what they contribute.

Plugins come from four places, loaded in this order and all through `_load_candidate`:
the built-in plugins shipped in `dynsim.builtin_plugins`, installed distributions with an
entry point in the group `dynsim`, single `.py` files (or package folders) in plugin
directories (`--plugins-dir`, `DYNSIM_PLUGINS_PATH`, the `plugins` folder of the user's config
directory), and objects handed in directly (tests). A plugin that fails to import, has a
misspelled or unmarked hook, bad hook arguments, or raises inside a hook is recorded with its
error and skipped; everything it registered is dropped and every other plugin keeps working.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pluggy

from dynsim.core import hookspecs
from dynsim.core.errors import PluginError, did_you_mean, exception_line, unknown_name
from dynsim.core.exporter import Exporter
from dynsim.core.guard import guarded
from dynsim.core.model_family import ModelFamily
from dynsim.core.plugin_import import (
    checked_plugin_dir,
    import_plugin_file,
    import_watchdog,
    plugin_code,
)
from dynsim.core.solver import Solver
from dynsim.core.system import System

ENTRY_POINT_GROUP = "dynsim"
ENV_PLUGINS_PATH = "DYNSIM_PLUGINS_PATH"
ENV_DISABLE = "DYNSIM_DISABLE_PLUGINS"

BUILTIN_PACKAGE = "dynsim.builtin_plugins"
BUILTIN_PLUGINS = (
    "systems.lotka_volterra",
    "systems.lorenz",
    "systems.linear",
    "systems.oscillators",
    "systems.rossler",
    "systems.hopf",
    "systems.sir",
    "systems.cubic_spiral",
    "systems.robertson",
    "solvers.explicit_rk",
    "solvers.scipy_stiff",
    "exporters.csv",
    "exporters.npz",
    "models.families",
)

KINDS = {
    "systems": ("dynsim_register_systems", System, "a dynsim.System"),
    "solvers": ("dynsim_register_solvers", Solver, "a solver (see dynsim.Solver)"),
    "exporters": ("dynsim_register_exporters", Exporter, "a dynsim.Exporter"),
    "models": ("dynsim_register_models", ModelFamily, "a dynsim.ModelFamily"),
}
"""kind -> (hook name, type registered objects must have, that type in words)."""

HOOK_NAMES = tuple(hook for hook, _, _ in KINDS.values())


@dataclass
class PluginRecord:
    """What `dynsim plugins` shows about one plugin."""

    name: str
    origin: str  # 'builtin', 'entry point', 'directory' or 'direct'
    source: str  # module, distribution or file the plugin came from
    version: str = ""
    state: str = "loaded"  # 'loaded', 'failed' or 'disabled'
    error: str = ""
    registered: dict[str, list[str]] = field(default_factory=dict)

    def fail(self, message: str) -> None:
        """Mark this plugin as skipped because of `message`."""
        self.state, self.error, self.registered = "failed", message, {}


@dataclass(frozen=True)
class Entry:
    """One registered object and the plugin that gave it."""

    obj: object
    plugin: str


@dataclass(frozen=True)
class _Candidate:
    name: str
    origin: str
    source: str
    version: str
    load: Callable[[], object]


class PluginSet:
    """The loaded plugins and everything they registered, by kind and name."""

    def __init__(self, records: list[PluginRecord], entries: dict[str, dict[str, Entry]],
                 conflicts: dict[str, dict[str, list[str]]]) -> None:
        self.records = records
        self.plugin_dirs: tuple[Path, ...] = ()
        """The folders given to `load_plugins` (not those found in the environment)."""
        self._entries = entries
        self._conflicts = conflicts

    def names(self, kind: str) -> list[str]:
        """Sorted names of the `kind` ('systems', 'solvers', 'exporters') registered."""
        return sorted(self._entries[kind])

    def entries(self, kind: str) -> Mapping[str, Entry]:
        """name -> `Entry` (object and plugin) for one kind, sorted by name."""
        return MappingProxyType(dict(sorted(self._entries[kind].items())))

    def objects(self, kind: str) -> dict[str, Any]:
        """name -> registered object for one kind, sorted by name."""
        return {name: entry.obj for name, entry in self.entries(kind).items()}

    def get(self, kind: str, name: str) -> Any:
        """The object of `kind` registered as `name`; a clear error if unknown or contested."""
        if name in self._conflicts[kind]:
            plugins = " and ".join(f"'{p}'" for p in self._conflicts[kind][name])
            raise PluginError(
                f"{kind[:-1]} '{name}' is registered by both plugins {plugins}; block one with "
                f"{ENV_DISABLE}=<plugin name>"
            )
        if name not in self._entries[kind]:
            raise unknown_name(kind[:-1], name, self._entries[kind])
        return self._entries[kind][name].obj

    def failures(self) -> list[PluginRecord]:
        """The plugins that were skipped because of an error."""
        return [r for r in self.records if r.state == "failed"]


def load_plugins(
    plugin_dirs: Sequence[str | Path] = (),
    *,
    builtins: bool = True,
    entry_points: bool = True,
    environment: bool = True,
    extra: Iterable[object] = (),
) -> PluginSet:
    """Load plugins from every source and make them the active set `dynsim` uses.

    `plugin_dirs` are searched first among the directories; with `environment`,
    `DYNSIM_PLUGINS_PATH`, the user's config folder and `DYNSIM_DISABLE_PLUGINS` apply too.
    `extra` are plugin objects (modules, classes) registered directly, for tests.
    """
    global _active
    dirs = [checked_plugin_dir(d) for d in plugin_dirs]
    disabled: set[str] = set()
    if environment:
        dirs += _environment_dirs()
        disabled = {n.strip() for n in os.environ.get(ENV_DISABLE, "").split(",") if n.strip()}
    candidates: list[_Candidate] = []
    if builtins:
        candidates += _builtin_candidates()
    if entry_points:
        candidates += _entry_point_candidates()
    candidates += _directory_candidates(dirs)
    candidates += _direct_candidates(extra)
    _active = _Loader(disabled).run(candidates)
    _active.plugin_dirs = tuple(dirs[:len(plugin_dirs)])
    return _active


_active: PluginSet | None = None


def active_plugins() -> PluginSet:
    """The active `PluginSet`, loading the default one (all sources) on first use."""
    return _active if _active is not None else load_plugins()


def reset_plugins() -> None:
    """Forget the active set; the next use loads the default one again."""
    global _active
    _active = None


def user_plugins_dir() -> Path:
    """The `plugins` folder in the user's config directory (it need not exist)."""
    import platformdirs

    return platformdirs.user_config_path("dynsim") / "plugins"


def _environment_dirs() -> list[Path]:
    env = [Path(p) for p in os.environ.get(ENV_PLUGINS_PATH, "").split(os.pathsep) if p]
    user = user_plugins_dir()
    return env + ([user] if user.is_dir() else [])


def _builtin_candidates() -> Iterator[_Candidate]:
    from dynsim import __version__

    for module in BUILTIN_PLUGINS:
        qualified = f"{BUILTIN_PACKAGE}.{module}"
        yield _Candidate(f"dynsim.{module}", "builtin", qualified, __version__,
                         lambda q=qualified: importlib.import_module(q))


def _entry_point_candidates() -> Iterator[_Candidate]:
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        source = f"{dist.name if dist else '?'}: {ep.value}"
        yield _Candidate(ep.name, "entry point", source, dist.version if dist else "", ep.load)


def _directory_candidates(dirs: Sequence[Path]) -> Iterator[_Candidate]:
    for folder in dirs:
        if not folder.is_dir():
            yield _Candidate(str(folder), "directory", str(folder), "",
                             _raiser(f"plugins directory '{folder}' does not exist"))
            continue
        try:
            paths = sorted(folder.iterdir())
        except OSError as exc:
            yield _Candidate(str(folder), "directory", str(folder), "",
                             _raiser(f"cannot read plugins directory '{folder}': "
                                     f"{exc.strerror or exc}"))
            continue
        for path in paths:
            if path.name.startswith(("_", ".")):
                continue
            if path.suffix == ".py" and path.is_file():
                yield _Candidate(path.stem, "directory", str(path), "",
                                 lambda p=path: import_plugin_file(p.stem, p, None))
            elif (path / "__init__.py").is_file():
                yield _Candidate(path.name, "directory", str(path), "",
                                 lambda p=path: import_plugin_file(p.name, p / "__init__.py", p))


def _direct_candidates(objects: Iterable[object]) -> Iterator[_Candidate]:
    for obj in objects:
        name = getattr(obj, "__name__", type(obj).__name__)
        yield _Candidate(name, "direct", repr(obj), "", lambda o=obj: o)


def _raiser(message: str) -> Callable[[], object]:
    def load() -> object:
        raise PluginError(message)

    return load


class _Loader:
    """Loads candidates one by one into a fresh pluggy manager, isolating each."""

    def __init__(self, disabled: set[str]) -> None:
        self.disabled = disabled
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.records: list[PluginRecord] = []
        self.entries: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
        self.conflicts: dict[str, dict[str, list[str]]] = {kind: {} for kind in KINDS}

    def run(self, candidates: Iterable[_Candidate]) -> PluginSet:
        for candidate in candidates:
            record = PluginRecord(candidate.name, candidate.origin, candidate.source,
                                  candidate.version)
            self.records.append(record)
            if candidate.name in self.disabled:
                record.state = "disabled"
                continue
            plugin = self._load(candidate, record)
            if plugin is not None:
                self._collect(plugin, record)
        return PluginSet(self.records, self.entries, self.conflicts)

    def _load(self, candidate: _Candidate, record: PluginRecord) -> object | None:
        earlier = next((r for r in self.records[:-1]
                        if r.name == candidate.name and r.state == "loaded"), None)
        if earlier is not None:
            record.fail(f"a plugin named '{candidate.name}' is already loaded from "
                        f"{earlier.source}")
            return None
        try:
            with import_watchdog(candidate.name, candidate.source, ENV_DISABLE), plugin_code():
                plugin = candidate.load()
        except (Exception, SystemExit) as exc:  # a plugin's import must never stop dynsim
            record.fail(f"failed to load: {exception_line(exc, candidate.source)}")
            return None
        if not record.version:
            record.version = str(getattr(plugin, "__version__", ""))
        problem = _unmarked_hooks(plugin)
        if problem:
            record.fail(problem)
            return None
        try:
            self.pm.register(plugin, name=candidate.name)
            self.pm.check_pending()
        except (pluggy.PluginValidationError, ValueError) as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            record.fail(_validation_message(exc))
            return None
        return plugin

    def _collect(self, plugin: object, record: PluginRecord) -> None:
        """Call the plugin's hooks in isolation; commit its registrations only if all succeed."""
        gathered: list[tuple[str, str, object]] = []
        for kind, (hook, expected, words) in KINDS.items():
            impls = [i for i in getattr(self.pm.hook, hook).get_hookimpls() if i.plugin is plugin]
            for impl in impls:
                register = _register_callback(kind, expected, words, hook, gathered)
                try:
                    with plugin_code():
                        impl.function(**{arg: register for arg in impl.argnames})
                except (Exception, SystemExit) as exc:
                    self.pm.unregister(plugin)
                    record.fail(f"{hook} raised {exception_line(exc, _source_file(plugin))}")
                    return
        for kind, name, obj in gathered:
            if record.origin != "builtin":
                obj = guarded(obj, record.name, _source_file(plugin))
            self._commit(kind, name, obj, record)

    def _commit(self, kind: str, name: str, obj: object, record: PluginRecord) -> None:
        record.registered.setdefault(kind, []).append(name)
        contested = self.conflicts[kind].get(name)
        if contested is not None:
            contested.append(record.name)
        elif name in self.entries[kind]:
            first = self.entries[kind].pop(name).plugin
            self.conflicts[kind][name] = [first, record.name]
        else:
            self.entries[kind][name] = Entry(obj, record.name)
            return
        record.error = (f"{kind[:-1]} '{name}' is registered by both plugins "
                        + " and ".join(f"'{p}'" for p in self.conflicts[kind][name])
                        + f"; block one with {ENV_DISABLE}")


def _register_callback(kind: str, expected: type, words: str, hook: str,
                       gathered: list[tuple[str, str, object]]) -> Callable[[object], None]:
    def register(obj: object) -> None:
        if not isinstance(obj, expected):
            raise TypeError(f"register() in {hook} expects {words}, got {type(obj).__name__}")
        name = obj.name  # type: ignore[attr-defined]
        if any(k == kind and n == name for k, n, _ in gathered):
            raise ValueError(f"{kind[:-1]} '{name}' registered twice")
        gathered.append((kind, name, obj))

    return register


def _unmarked_hooks(plugin: object) -> str:
    """A message if the plugin defines hook-like functions without `@dynsim.hookimpl`."""
    for attr, value in inspect.getmembers(plugin):
        if attr.startswith("dynsim_") and callable(value) and not hasattr(
            value, f"{hookspecs.PROJECT}_impl"
        ):
            hint = "" if attr in HOOK_NAMES else did_you_mean(attr, HOOK_NAMES)
            return f"function {attr} is not marked with @dynsim.hookimpl{hint}"
    return ""


def _validation_message(exc: Exception) -> str:
    text = str(exc)
    for hook in HOOK_NAMES:
        if hook in text and "argument" in text:
            return f"bad arguments for {hook}: {text.splitlines()[0]}"
    if "unknown hook" in text:
        name = text.split("unknown hook", 1)[1].strip().split()[0].strip("'\"")
        return f"unknown hook '{name}'{did_you_mean(name, HOOK_NAMES)}"
    return text.splitlines()[0]


def _source_file(plugin: object) -> str:
    return getattr(plugin, "__file__", "") or ""
