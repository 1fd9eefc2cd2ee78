"""`load_model`: a learned model file (`.dsm`) as a `System`, for every layer that takes one.

Reading the file needs torch, so the learn layer that does it (`dynsim.learn.model_file`)
is imported only when a model file is opened: `import dynsim` stays torch-free.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from dynsim.core.system import System

MODEL_SUFFIX = ".dsm"


def is_model_path(text: str | Path) -> bool:
    """Whether `text` names a model file (by its `.dsm` extension)."""
    return Path(text).suffix.lower() == MODEL_SUFFIX


def load_model(path: str | Path) -> System:
    """The learned vector field in the model file `path` as a `System`.

    Its rhs runs the network (batched, without gradients, numpy in and out) and its
    Jacobian comes from autograd, so `simulate`, the analyses, scenes and the CLI use it
    like any system. A file that is not a dynsim model file (corrupt, truncated, foreign,
    a pickle) raises `ModelFileError` before anything in it is run.
    """
    return importlib.import_module("dynsim.learn.model_file").load_model(path)
