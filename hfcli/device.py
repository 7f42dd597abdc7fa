"""`--device auto|cpu|cuda`: one option, on every command that computes, for where it computes.

`auto` is CUDA when torch sees a GPU, else the CPU; `cuda` on a machine without one is one line
and exit 1 before anything is read or written. The CLI resolves it once and hands the core a
device, which every computing command uses for the hypernetwork and text encoder weights, the
baked NeRFs, the occupancy grids, the rays, renders and their loss, the colour bake and the
mesh's field samples (docs/ARCHITECTURE.md, "Where tensors live"). What stays on the CPU
whatever the device: random draws (CPU generators, moved after drawing, so a seed gives the
same rays on either device), marching cubes, decimation, UV unwrap and the texture's coverage
(numpy libraries), the studio's ground truth, metrics and file I/O. On CUDA tensors the
renderer picks the CUDA kernels of ext/raymarch and the field runs their encoding plus torch's
MLP (the fused field kernel is CPU-only). That CUDA path has NOT been run on a GPU yet: no GPU
was lent to the work that wrote it; tests/test_device_placement.py checks on the CPU that no
tensor is left behind, and benchmarks/gpu_check.sh is what a GPU machine should run first.
torch is imported only when the answer needs it, so `hf --help` stays fast."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import DEVICES
from .errors import HfcliError

if TYPE_CHECKING:
    import torch


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


def as_device(device: str | torch.device | None) -> torch.device:
    """A torch.device for what the core is handed (None: the CPU). Never 'auto': the CLI resolves it."""
    import torch

    return torch.device("cpu" if device is None else device)


def rand(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """torch.rand drawn from a CPU `generator`, then moved: the same numbers on every device
    (and on the CPU the very tensor drawn, no copy)."""
    import torch

    return torch.rand(shape, generator=generator).to(device)
