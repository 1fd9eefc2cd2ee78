"""The docs cover what users rely on: every hook, the README's commands, the function list."""

from __future__ import annotations

import inspect
import re
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


def shipped_scenes() -> list[str]:
    return sorted(p.stem for p in (REPO / "scenes").glob("*.toml"))


def test_scenes_md_and_changelog_name_every_shipped_scene():
    scenes = shipped_scenes()
    assert len(scenes) >= 10
    intro = (REPO / "docs" / "scenes.md").read_text().split("```", 1)[0]
    changelog = (REPO / "CHANGELOG.md").read_text()
    for name, text in (("docs/scenes.md", intro), ("CHANGELOG.md", changelog)):
        missing = [scene for scene in scenes if f"`{scene}`" not in text]
        assert not missing, f"{name} does not name the shipped scenes {missing}"


def command_options(command: str) -> list[str]:
    import argparse

    from dynsim.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted({opt for action in sub.choices[command]._actions
                   for opt in action.option_strings if opt not in ("-h", "--help")})


def test_analysis_md_synopsis_lists_every_analyze_option():
    text = (REPO / "docs" / "analysis.md").read_text()
    start = text.index("```\n", text.index("## `dynsim analyze`")) + 4
    synopsis = text[start:text.index("```", start)]
    options = command_options("analyze")
    assert "--lyapunov" in options and "--eq" in options
    named = set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", synopsis))
    missing = [o for o in options if o not in named]
    assert not missing, f"docs/analysis.md's synopsis lacks {missing}"


def test_dev_without_arguments_prints_its_usage_only():
    import subprocess

    done = subprocess.run([str(REPO / "dev")], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.splitlines()
    assert any(line.lstrip().startswith("./dev app") for line in lines)
    assert any(line.lstrip().startswith("./dev test") for line in lines)
    assert not [line for line in lines if "set -" in line or line.startswith("#")]
