"""The docs cover what users rely on: every hook, the README's commands, the function list."""

from __future__ import annotations

import inspect
from pathlib import Path

from dynsim.core import expressions, hookspecs

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


def function_list() -> str:
    """The allow-list as docs/equations.md shows it, generated from the code."""
    rows = ["| function | arguments | also written |", "| --- | --- | --- |"]
    for name in sorted(expressions.FUNCTIONS):
        aliases = sorted(a for a, canonical in expressions.ALIASES.items() if canonical == name)
        spelled = ", ".join(f"`{alias}`" for alias in aliases)
        rows.append(f"| `{name}` | {expressions.FUNCTIONS[name].arity} | {spelled} |"
                    .replace("|  |", "| |"))
    constants = ", ".join(f"`{k}` = {v!r}" for k, v in expressions.CONSTANTS.items())
    return "\n".join([*rows, "", f"Constants: {constants}."])


def test_equations_md_lists_exactly_the_allowed_functions_and_constants():
    text = (REPO / "docs" / "equations.md").read_text()
    start = text.index("-->\n", text.index("<!-- generated from FUNCTIONS")) + 4
    block = text[start:text.index("\n<!-- end of generated list -->")]
    assert block == function_list(), f"replace the list in docs/equations.md by:\n" \
                                     f"{function_list()}"


def test_equations_md_states_the_limits_and_the_heaviside_convention():
    text = (REPO / "docs" / "equations.md").read_text()
    for name in ("MAX_LENGTH", "MAX_DEPTH", "MAX_NODES"):
        assert f"| {getattr(expressions, name)} (`{name}`) |" in text, name
    assert "**1/2 at x = 0**" in text and "**`^` means power**" in text
    assert "](equations.md)" in (REPO / "docs" / "scenes.md").read_text()
