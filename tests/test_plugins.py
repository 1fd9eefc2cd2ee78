"""Plugin discovery and isolation: directories, env vars, broken plugins, conflicts."""

from __future__ import annotations

import json
import shutil
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest

import dynsim
from dynsim.core.errors import PluginError, UnknownNameError

DATA = Path(__file__).parent / "data"
BRUSSELATOR = DATA / "brusselator.py"


def write_plugin(folder: Path, name: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


def record(plugins: dynsim.PluginSet, name: str):
    return next(r for r in plugins.records if r.name == name)


GOOD = """
    import numpy as np
    import dynsim

    @dynsim.hookimpl
    def dynsim_register_systems(register):
        register(dynsim.System(name="decay", states=["x"], params={"k": 1.0},
                               rhs=lambda t, y, p: -p["k"] * y))
"""


def test_brusselator_file_in_plugins_dir_is_simulated(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    shutil.copy(BRUSSELATOR, folder)
    plugins = dynsim.load_plugins([folder], entry_points=False)
    assert record(plugins, "brusselator").origin == "directory"
    system = dynsim.system("brusselator")
    assert system.states == ("u", "v")
    assert system.params["b"].description == "feed rate"
    traj = dynsim.simulate("brusselator", y0=[1.0, 1.0], t_span=(0, 1), solver="rk4", dt=1e-3,
                           params={"b": 2.0})
    # at (u, v) = (a, b/a) = (1, 2) the Brusselator is at rest
    rest = dynsim.simulate("brusselator", y0=[1.0, 2.0], t_span=(0, 1), solver="rk4",
                           params={"b": 2.0})
    np.testing.assert_allclose(rest.y[0, -1], [1.0, 2.0], atol=1e-12)
    assert np.isfinite(traj.y).all()


def test_plugins_path_environment_variable(tmp_path, monkeypatch):
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copy(BRUSSELATOR, write_plugin(a, "decay", GOOD).parent)
    write_plugin(b, "other", GOOD.replace('"decay"', '"growth"'))
    monkeypatch.setenv("DYNSIM_PLUGINS_PATH", f"{a}{__import__('os').pathsep}{b}")
    plugins = dynsim.load_plugins(entry_points=False)
    assert {"brusselator", "decay", "growth"} <= set(plugins.names("systems"))


def test_user_config_plugins_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    write_plugin(tmp_path / "dynsim" / "plugins", "decay", GOOD)
    assert "decay" in dynsim.load_plugins(entry_points=False).names("systems")


def test_package_folder_in_plugins_dir(tmp_path):
    package = tmp_path / "plugins" / "mypkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from .impl import dynsim_register_systems\n")
    (package / "impl.py").write_text(textwrap.dedent(GOOD))
    plugins = dynsim.load_plugins([tmp_path / "plugins"], entry_points=False)
    assert plugins.entries("systems")["decay"].plugin == "mypkg"


def test_missing_plugins_dir_is_an_error(tmp_path):
    with pytest.raises(PluginError, match=r"plugins directory '.*nope' does not exist"):
        dynsim.load_plugins([tmp_path / "nope"])


def test_missing_directory_in_plugins_path_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("DYNSIM_PLUGINS_PATH", str(tmp_path / "typo"))
    plugins = dynsim.load_plugins(entry_points=False)
    failed = plugins.failures()
    assert len(failed) == 1 and "does not exist" in failed[0].error
    assert "lorenz" in plugins.names("systems")


BROKEN = {
    "import_error": ("import numpy_does_not_exist\n", "ModuleNotFoundError"),
    "syntax_error": ("def broken(:\n", "SyntaxError"),
    "raises_at_import": ("raise RuntimeError('boom at import')\n", "boom at import"),
    "exits_at_import": ("import sys\nsys.exit(3)\n", "SystemExit"),
    "misspelled_hook": ("""
        import dynsim
        @dynsim.hookimpl
        def dynsim_register_system(register):
            pass
        """, "unknown hook 'dynsim_register_system' (did you mean 'dynsim_register_systems'?)"),
    "unmarked_hook": ("""
        def dynsim_register_systems(register):
            pass
        """, "not marked with @dynsim.hookimpl"),
    "bad_arguments": ("""
        import dynsim
        @dynsim.hookimpl
        def dynsim_register_systems(reg):
            pass
        """, "bad arguments for dynsim_register_systems"),
    "raises_in_hook": ("""
        import dynsim
        @dynsim.hookimpl
        def dynsim_register_systems(register):
            register(dynsim.System(name="half", states=["x"], params={}, rhs=lambda t, y, p: y))
            raise ValueError("boom in hook")
        """, "dynsim_register_systems raised"),
    "registers_wrong_type": ("""
        import dynsim
        @dynsim.hookimpl
        def dynsim_register_solvers(register):
            register("rk4")
        """, "expects a solver"),
    "bad_system": ("""
        import dynsim
        @dynsim.hookimpl
        def dynsim_register_systems(register):
            register(dynsim.System(name="bad name", states=["x"], params={},
                                   rhs=lambda t, y, p: y))
        """, "must start with a letter"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_plugin_is_reported_and_skipped(tmp_path, name):
    body, expected = BROKEN[name]
    folder = tmp_path / "plugins"
    write_plugin(folder, name, body)
    shutil.copy(BRUSSELATOR, folder)
    plugins = dynsim.load_plugins([folder], entry_points=False)
    broken = record(plugins, name)
    assert broken.state == "failed"
    assert expected in broken.error
    assert broken.registered == {}
    # everything else keeps working, including a plugin loaded after the broken one
    assert "brusselator" in plugins.names("systems")
    assert "lorenz" in plugins.names("systems")
    assert "half" not in plugins.names("systems")
    assert dynsim.simulate("brusselator", [1, 1], (0, 0.1), solver="rk4").ok


def test_error_points_at_the_plugin_line(tmp_path):
    path = write_plugin(tmp_path, "liner", """
        import dynsim
        @dynsim.hookimpl
        def dynsim_register_systems(register):
            x = 1 / 0
        """)
    plugins = dynsim.load_plugins([tmp_path], entry_points=False)
    assert f"{path}:5: ZeroDivisionError" in record(plugins, "liner").error


def test_two_plugins_registering_one_name_is_an_error_naming_both(tmp_path):
    write_plugin(tmp_path, "first", GOOD)
    write_plugin(tmp_path, "second", GOOD)
    plugins = dynsim.load_plugins([tmp_path], entry_points=False)
    assert "system 'decay' is registered by both plugins 'first' and 'second'" in record(
        plugins, "second").error
    with pytest.raises(PluginError, match=r"'first' and 'second'.*DYNSIM_DISABLE_PLUGINS"):
        dynsim.system("decay")
    assert "decay" not in plugins.names("systems")


def test_shadowing_a_builtin_system_is_a_conflict(tmp_path):
    write_plugin(tmp_path, "mylorenz", GOOD.replace('"decay"', '"lorenz"'))
    dynsim.load_plugins([tmp_path], entry_points=False)
    with pytest.raises(PluginError, match=r"'dynsim.systems.lorenz' and 'mylorenz'"):
        dynsim.system("lorenz")


def test_disable_plugins_by_name(tmp_path, monkeypatch):
    write_plugin(tmp_path, "first", GOOD)
    write_plugin(tmp_path, "second", GOOD)
    monkeypatch.setenv("DYNSIM_DISABLE_PLUGINS", "second, dynsim.systems.lorenz")
    plugins = dynsim.load_plugins([tmp_path], entry_points=False)
    assert record(plugins, "second").state == "disabled"
    assert record(plugins, "dynsim.systems.lorenz").state == "disabled"
    assert plugins.entries("systems")["decay"].plugin == "first"
    with pytest.raises(UnknownNameError, match="unknown system 'lorenz'"):
        dynsim.system("lorenz")


def test_disabled_plugin_is_not_even_imported(tmp_path, monkeypatch):
    write_plugin(tmp_path, "side_effect", f"""
        open({str(tmp_path / 'imported')!r}, 'w').close()
        """)
    monkeypatch.setenv("DYNSIM_DISABLE_PLUGINS", "side_effect")
    dynsim.load_plugins([tmp_path], entry_points=False)
    assert not (tmp_path / "imported").exists()


def test_same_plugin_name_twice_keeps_the_first(tmp_path):
    write_plugin(tmp_path / "a", "decay", GOOD)
    write_plugin(tmp_path / "b", "decay", GOOD)
    plugins = dynsim.load_plugins([tmp_path / "a", tmp_path / "b"], entry_points=False)
    states = [r.state for r in plugins.records if r.name == "decay"]
    assert states == ["loaded", "failed"]
    assert dynsim.system("decay").name == "decay"


def test_throwaway_plugin_object(with_plugins):
    plugin = types.SimpleNamespace(__name__="throwaway")

    @dynsim.hookimpl
    def dynsim_register_systems(register):
        register(dynsim.System(name="throwaway", states=["x"], params={},
                               rhs=lambda t, y, p: 0 * y))

    plugin.dynsim_register_systems = dynsim_register_systems
    plugins = with_plugins(plugin)
    assert plugins.entries("systems")["throwaway"].plugin == "throwaway"


def test_builtins_are_ordinary_plugins():
    plugins = dynsim.load_plugins(entry_points=False, environment=False)
    builtin = [r for r in plugins.records if r.origin == "builtin"]
    assert builtin and all(r.state == "loaded" and not r.error for r in builtin)
    assert plugins.entries("systems")["lorenz"].plugin == "dynsim.systems.lorenz"
    assert plugins.entries("solvers")["rk4"].plugin.startswith("dynsim.solvers.")


def test_cli_plugins_json_reports_failures(tmp_path, cli):
    write_plugin(tmp_path, "broken", "raise ImportError('no luck')\n")
    shutil.copy(BRUSSELATOR, tmp_path)
    result = cli("plugins", "--json", "--plugins-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    records = {r["name"]: r for r in json.loads(result.stdout)}
    assert records["broken"]["state"] == "failed"
    assert "ImportError: no luck" in records["broken"]["error"]
    assert records["brusselator"]["registered"] == {"systems": ["brusselator"]}
    assert records["brusselator"]["origin"] == "directory"


def test_cli_warns_about_skipped_plugins_on_stderr(tmp_path, cli):
    write_plugin(tmp_path, "broken", "raise ImportError('no luck')\n")
    result = cli("list", "--plugins-dir", str(tmp_path))
    assert result.returncode == 0
    assert "dynsim: warning: plugin 'broken' skipped" in result.stderr
    assert "lorenz" in result.stdout
