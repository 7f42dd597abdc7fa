"""The default model shipped inside the package, and packing a trained student into one.

`default` names it wherever a model is asked for (`hf generate`, `hf eval default`,
`hf render default -p …`); a file that happens to be called `default` is `./default`.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

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


def pack(ck, extra: dict):
    """A student checkpoint → the same model without training state (optimiser, RNG, the
    per-prompt occupancy grids), weights stored as float16: a few MB instead of tens.
    `extra` (commands, data split, figures) goes into the header."""
    from .checkpoint import Checkpoint

    if ck.kind != "student":
        raise CheckpointError(f"only a student is bundled as the default model, not a {ck.kind}")
    tensors = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in ck.tensors.items() if k.startswith("model.")}
    return Checkpoint(
        kind="student",
        tensors=tensors,
        config=ck.config,
        prompts=ck.prompts,
        text_encoder=ck.text_encoder,
        step=ck.step,
        metrics=ck.metrics,
        extra={"bundle": extra},
    )
