"""The wheel, a fresh venv, and a plugin shipped as an installed distribution."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"

pytestmark = pytest.mark.slow


def pip(*args: str, cwd: Path | None = None) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                   check=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("src")
    # build from a copy so the checkout's build/ and egg-info stay clean
    shutil.copytree(REPO, build / "dynsim", ignore=shutil.ignore_patterns(
        ".venv", ".git", "*.egg-info", "__pycache__", "build", "dist", ".*cache"))
    pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(build / "dynsim"))
    (path,) = out.glob("dynsim-*.whl")
    return path


def module_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.py")}


def test_wheel_holds_every_module_and_no_top_level_plugins(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not any(n.startswith("plugins/") for n in names)
    expected = {f"dynsim/{n}" for n in module_files(REPO / "src" / "dynsim")}
    expected |= {f"dynsim/builtin_plugins/{n}" for n in module_files(REPO / "plugins")}
    assert expected <= names, sorted(expected - names)


def test_wheel_in_a_fresh_venv_lists_the_builtins(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # dependencies come from the test environment through a path entry (not a site dir, so
    # the editable dynsim installed there stays invisible); dynsim itself from the wheel
    site = Path(subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        text=True).strip())
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True,
                   timeout=600)
    env = {**os.environ, "PYTHONPATH": ""}
    listed = subprocess.run([env_dir / "bin" / "dynsim", "list", "--json"], capture_output=True,
                            text=True, env=env, cwd=tmp_path, timeout=120)
    assert listed.returncode == 0, listed.stderr
    systems = {s["name"] for s in json.loads(listed.stdout)["systems"]}
    assert {"lotka_volterra", "lorenz", "attractor", "repulsor", "cubic_spiral"} <= systems
    where = subprocess.run([python, "-c", "import dynsim; print(dynsim.__file__)"],
                           capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    assert str(env_dir) in where.stdout
    shadow = subprocess.run([python, "-c", "import plugins"], capture_output=True, text=True,
                            env=env, cwd=tmp_path)
    assert "No module named 'plugins'" in shadow.stderr


def test_brusselator_as_an_installed_distribution(tmp_path, cli):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(DATA / "brusselator.py", project / "dynsim_brusselator.py")
    (project / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "dynsim-brusselator"
        version = "1.2.3"
        dependencies = ["dynsim"]

        [project.entry-points.dynsim]
        brusselator = "dynsim_brusselator"

        [tool.setuptools]
        py-modules = ["dynsim_brusselator"]
        """))
    target = tmp_path / "site"
    pip("install", "--no-deps", "--no-build-isolation", "--target", str(target), str(project))
    env = {"PYTHONPATH": str(target)}
    plugins = cli("plugins", "--json", env=env)
    assert plugins.returncode == 0, plugins.stderr
    entry = next(r for r in json.loads(plugins.stdout) if r["name"] == "brusselator")
    assert entry["origin"] == "entry point"
    assert entry["version"] == "1.2.3"
    assert entry["registered"] == {"systems": ["brusselator"]}
    run = cli("simulate", "brusselator", "--y0", "1,1", "--t-end", "1", "--points", "3",
              "--solver", "rk4", env=env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "trajectory,t,u,v"
    assert len(run.stdout.splitlines()) == 4
