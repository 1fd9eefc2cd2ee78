"""Shared fixtures: every test starts from the built-in plugins only, in a clean environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import dynsim
from dynsim.core.plugins import reset_plugins

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def clean_plugin_environment(monkeypatch, tmp_path_factory):
    """No user config, no plugin env vars, and the plugin set reloaded for each test."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
    for name in ("DYNSIM_PLUGINS_PATH", "DYNSIM_DISABLE_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    reset_plugins()
    yield
    reset_plugins()


@pytest.fixture
def with_plugins():
    """Load the built-ins plus throwaway plugin objects: `with_plugins(module_or_object, ...)`."""

    def load(*plugins: object) -> dynsim.PluginSet:
        return dynsim.load_plugins(entry_points=False, environment=False, extra=plugins)

    return load


@pytest.fixture
def cli():
    """Run `python -m dynsim ARGS` in a subprocess: `cli("list", "--json", env={...})`."""

    def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            input: str | None = None) -> subprocess.CompletedProcess:
        full_env = {**os.environ, **(env or {})}
        return subprocess.run([sys.executable, "-m", "dynsim", *args], capture_output=True,
                              text=True, env=full_env, cwd=cwd, input=input, timeout=300)

    return run


@pytest.fixture
def one_torch_thread():
    """Tiny tensors: one intra-op torch thread (threaded BLAS on a busy machine stalls for ms)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
