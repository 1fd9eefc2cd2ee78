"""The docs cover what users rely on: every hook, the README's commands."""

from __future__ import annotations

import inspect
from pathlib import Path

from dynsim.core import hookspecs

REPO = Path(__file__).resolve().parents[1]


def hook_names() -> list[str]:
    return [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if name.startswith("dynsim_") and hasattr(fn, "dynsim_spec")]


def test_every_hookspec_is_documented_in_plugins_md():
    text = (REPO / "docs" / "plugins.md").read_text()
    names = hook_names()
    assert len(names) >= 3
    missing = [name for name in names if f"### {name}" not in text]
    assert not missing, f"docs/plugins.md lacks a section for: {missing}"


def test_every_hookspec_has_a_docstring():
    for name in hook_names():
        assert getattr(hookspecs, name).__doc__, name


def test_readme_gives_the_two_commands_and_ci_uses_the_test_one():
    readme = (REPO / "README.md").read_text()
    assert "./dev app" in readme and "./dev test" in readme
    ci = (REPO / ".ci" / "run").read_text()
    assert "./dev test" in ci


def test_docs_links_resolve():
    readme = (REPO / "README.md").read_text()
    for target in ("docs/plugins.md", "docs/scenes.md", "docs/csv.md", "docs/architecture.md",
                   "CHANGELOG.md"):
        assert target in readme and (REPO / target).is_file()
