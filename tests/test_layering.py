"""The layers of docs/architecture.md: imports only point downwards; start-up stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "dynsim"
HEAVY = ("torch", "torchdiffeq", "PySide6", "pyqtgraph", "OpenGL")
QT = ("PySide6", "pyqtgraph", "OpenGL", "shiboken6")

# layer -> dynsim packages it may import (besides itself)
ALLOWED = {
    "core": set(),
    "numerics": {"core"},
    "analysis": {"core", "numerics"},
    "learn": {"core", "numerics", "analysis"},
    "gui": {"core", "numerics", "analysis", "learn"},
    "cli": {"core", "numerics", "analysis", "learn", "gui"},
}
PUBLIC_FOR_PLUGINS = {"dynsim", "dynsim.numerics", "dynsim.analysis", "dynsim.learn"}


def imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at_module_level) for every import in a file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, id(node) in top))
    return found


def layer_files(layer: str) -> list[Path]:
    return sorted((SRC / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_dynsim_imports_point_downwards(layer):
    bad = []
    for path in layer_files(layer):
        for module, _ in imports(path):
            parts = module.split(".")
            if parts[0] != "dynsim" or len(parts) < 2:
                continue
            target = parts[1]
            if target in ALLOWED and target != layer and target not in ALLOWED[layer]:
                bad.append(f"{path.relative_to(REPO)} imports {module}")
    assert not bad, "\n".join(bad)


QT_FREE_GUI_MODULES = ("model.py", "tasks.py", "display.py", "compute.py", "compute_child.py",
                       "__init__.py")
"""The app's modules the CLI uses before loading Qt (the explorer state and its tasks), and
those the compute processes run (they never load Qt)."""


def test_the_app_model_and_tasks_import_no_qt():
    bad = [f"{name}: {m}" for name in QT_FREE_GUI_MODULES
           for m, top in imports(SRC / "gui" / name) if top and m.split(".")[0] in QT]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("layer", ["core", "numerics", "analysis", "learn"])
def test_only_the_gui_imports_qt(layer):
    bad = [f"{p.relative_to(REPO)}: {m}" for p in layer_files(layer) for m, _ in imports(p)
           if m.split(".")[0] in QT]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("layer", ["core", "numerics", "analysis", "cli"])
def test_torch_is_never_imported_at_module_level_below_learn(layer):
    bad = [f"{p.relative_to(REPO)}: {m}" for p in layer_files(layer) for m, top in imports(p)
           if top and m.split(".")[0] in HEAVY]
    assert not bad, "\n".join(bad)


def test_package_root_imports_only_core():
    modules = {m for m, _ in imports(SRC / "__init__.py")}
    assert all(m.startswith("dynsim.core") for m in modules if m.startswith("dynsim")), modules


def test_builtin_plugins_use_only_the_public_api():
    bad = []
    for path in sorted((REPO / "plugins").rglob("*.py")):
        for module, _ in imports(path):
            if module.split(".")[0] == "dynsim" and module not in PUBLIC_FOR_PLUGINS:
                bad.append(f"{path.relative_to(REPO)} imports {module}")
    assert not bad, "\n".join(bad)


STARTUP_CHECK = """
import sys
{action}
heavy = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})
print(heavy)
"""


@pytest.mark.parametrize("action", [
    "import dynsim",
    "import dynsim; dynsim.systems(); dynsim.solvers(); dynsim.exporters()",
    "from dynsim.cli.main import main; main(['list'])",
    "from dynsim.cli.main import main; main(['plugins', '--json'])",
    "from dynsim.cli.main import main; main(['simulate', 'lorenz', '--points', '3'])",
    # argument errors of the app's commands are found before Qt is loaded
    "from dynsim.cli.main import main; main(['render', 'lorenz', '-o', 'x.gif'])",
    "from dynsim.cli.main import main; main(['render', 'nosuch', '-o', 'x.png'])",
    "from dynsim.cli.main import main; main(['render', 'lorenz', '-o', 'x.png', '--size', '9'])",
    "from dynsim.cli.main import main; main(['gui', 'scenes/nosuch.toml'])",
    "import dynsim.gui.model, dynsim.gui.tasks, dynsim.gui.display",
])
def test_startup_never_imports_torch_or_qt(action):
    code = STARTUP_CHECK.format(action=action, heavy=HEAVY)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_dynsim_list_does_not_import_scipy():
    code = STARTUP_CHECK.format(action="from dynsim.cli.main import main; main(['list'])",
                                heavy=("scipy",))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert out.strip().splitlines()[-1] == "[]"
