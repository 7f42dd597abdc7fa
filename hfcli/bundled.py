"""The default model shipped inside the package: where it lives, and the name that stands for it.

`default` names it wherever a model is asked for (`hf generate`, `hf eval default`,
`hf render default -p …`); a file that happens to be called `default` is `./default`.
Packing a trained student into it is `checkpoint.pack` (this module imports nothing of
checkpoint, which imports `resolve_model` from here).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import CheckpointError

DEFAULT_MODEL = "default"
WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"


def default_model_path() -> Path:
    return WEIGHTS_DIR / "default.safetensors"


def resolve_model(spec: str | os.PathLike) -> Path:
    """A model argument → the checkpoint file it names."""
    if str(spec) != DEFAULT_MODEL:
        return Path(spec)
    path = default_model_path()
    if not path.is_file():
        raise CheckpointError(
            f"this install has no default model ({path} is missing); pass --model PATH "
            "or reinstall hfcli from a release that bundles it"
        )
    return path
