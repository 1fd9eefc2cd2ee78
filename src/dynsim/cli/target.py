"""TARGET arguments: a scene file or the name of a registered system."""

from __future__ import annotations

from pathlib import Path

from dynsim.core.scene import Scene, SimulationSpec, load_scene
from dynsim.core.simulate import get_system

DEFAULT_T_END = 10.0
"""A system named on the command line is simulated over [0, 10] unless --t-end says."""


def scene_for_target(target: str) -> Scene:
    """The scene in file `target` (`.toml` or an existing file), else a scene for the system
    called `target` with its defaults and example initial state (if it has one)."""
    path = Path(target)
    if path.suffix.lower() == ".toml" or path.is_file():
        return load_scene(path)
    system = get_system(target)
    ics = (tuple(system.y0),) if system.y0 is not None else ()
    return Scene(system=system.name, params={},
                 simulation=SimulationSpec(t_span=(0.0, DEFAULT_T_END), initial_conditions=ics))
