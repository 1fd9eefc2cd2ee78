"""The foundation layer: systems, trajectories, files, scenes, plugins, errors."""
