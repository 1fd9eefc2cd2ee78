"""What a TARGET argument names (the CLI's commands, `dynsim gui`, `Window(...)`)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from dynsim.core.models import is_model_path


def target_kind(target: str | Path) -> Literal["model", "scene", "system"]:
    """A learned model file (`.dsm`), a scene file (`.toml`, or any other existing file),
    else the name of a registered system."""
    path = Path(target)
    if is_model_path(path):
        return "model"
    if path.suffix.lower() == ".toml" or path.is_file():
        return "scene"
    return "system"
