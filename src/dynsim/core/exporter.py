"""`Exporter`: a file format trajectories can be written to, chosen by file extension."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from dynsim.core.errors import SystemDefinitionError
from dynsim.core.trajectories import Trajectories

_EXTENSION = re.compile(r"^\.[A-Za-z0-9]+$")


@dataclass(frozen=True)
class Exporter:
    """Writes `Trajectories` to a file; `write(traj, path)` must write atomically."""

    name: str
    extensions: Sequence[str]
    write: Callable[[Trajectories, Path], None]
    description: str = ""

    def __post_init__(self) -> None:
        extensions = tuple(e.lower() for e in self.extensions)
        if not extensions or not all(_EXTENSION.match(e) for e in extensions):
            raise SystemDefinitionError(
                f"exporter '{self.name}': extensions must look like '.csv', got {self.extensions}"
            )
        if not callable(self.write):
            raise SystemDefinitionError(f"exporter '{self.name}': write must be callable")
        object.__setattr__(self, "extensions", extensions)
