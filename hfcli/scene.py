"""The scene every model lives in: one box, the occupancy grid over it, and the render step.

The one home of these constants. The field's encoding, the raymarcher, the meshing lattice and
the studio all read them from here; the compiled kernels get the box as an argument.
"""

from __future__ import annotations

import math

import torch

from .render.occupancy import OccupancyGrid

# (min x, min y, min z, max x, max y, max z). Studio objects fit |x|, |y|, |z| <= 0.85.
BOX: tuple[float, float, float, float, float, float] = (-1.0, -1.0, -1.0, 1.0, 1.0, 1.0)
GRID_RES = 64  # occupancy cells per axis
RENDER_STEP = 2 * math.sqrt(3) / 256  # 256 steps across the box diagonal


def box_tensor(device: torch.device | str | None = None) -> torch.Tensor:
    """BOX as a fresh float32 tensor [6] on `device` (callers may modify it)."""
    return torch.tensor(BOX, device=device)


def box_corners() -> tuple[tuple[float, float, float], tuple[float, float, float]]:
    """BOX as (min xyz, max xyz)."""
    return BOX[:3], BOX[3:]


def new_grid(
    n_scenes: int = 1, resolution: int = GRID_RES, step: float = RENDER_STEP, device: torch.device | str | None = None
) -> OccupancyGrid:
    """An occupancy grid over the scene box on `device`, every cell occupied until an update sees densities."""
    return OccupancyGrid(n_scenes, resolution, box_tensor(device), step)
