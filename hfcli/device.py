"""`--device auto|cpu|cuda`: one option, on every command that computes, for where it computes.

`auto` is CUDA when torch sees a GPU, else the CPU; `cuda` on a machine without one is one line
and exit 1 before anything is read or written. In this release the Stable Diffusion model is
the part that moves to the GPU (hfcli/guidance/sd.py); the NeRF, the renderer and mesh export
run on the CPU whatever the choice, and their CUDA path (ext/raymarch's kernels, picked by
tensor device in hfcli/render/backend.py) has not run on a GPU yet. torch is imported only when
the answer needs it, so `hf --help` stays fast."""

from __future__ import annotations

from .config import DEVICES
from .errors import HfcliError


def resolve(name: str) -> str:
    """'cpu' or 'cuda' for a --device value; HfcliError for cuda where no GPU is visible."""
    if name not in DEVICES:
        raise ValueError(f"--device must be one of {', '.join(DEVICES)} (got {name!r})")
    if name == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if name == "cuda":
        raise HfcliError("--device cuda: torch sees no CUDA GPU on this machine; use --device cpu (or auto)")
    return "cpu"
