"""Package discovery for setuptools; all other metadata is in pyproject.toml.

The built-in plugins live in the top-level plugins/ folder and install as
dynsim.builtin_plugins (mapped in pyproject.toml), which `packages.find` cannot follow.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages("src")
    + ["dynsim.builtin_plugins"]
    + [f"dynsim.builtin_plugins.{name}" for name in find_packages("plugins")],
)
