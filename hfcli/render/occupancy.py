"""Occupancy grid: an EMA of density per cell, thresholded into the bitfield the marcher skips by."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..device import rand
from . import backend
from .raymarch_torch import grid_lookup

DensityFn = Callable[[torch.Tensor, int], torch.Tensor]  # (points [N, 3], scene) → sigma [N]


class OccupancyGrid:
    """Per-scene grids over one box. ema: [S, G, G, G] float; occupied: [S, G, G, G] bool; both
    on the device of `aabb`.

    A cell is occupied while its EMA density exceeds `threshold`, chosen so that one render
    step through the cell would be at least 1% opaque.
    """

    def __init__(self, n_scenes: int, resolution: int, aabb: torch.Tensor, render_step: float, decay: float = 0.95):
        self.resolution = resolution
        self.aabb = aabb
        self.decay = decay
        self.threshold = 0.01 / render_step
        # Fully occupied until the first update has seen densities.
        self.ema = torch.zeros((n_scenes,) + (resolution,) * 3, device=aabb.device)
        self.occupied = torch.ones_like(self.ema, dtype=torch.bool)

    def cell_centers(self) -> torch.Tensor:
        """[G³, 3] world positions of cell centres in (x, y, z) C order."""
        g = self.resolution
        idx = (torch.arange(g, dtype=torch.float32, device=self.aabb.device) + 0.5) / g
        grid = torch.stack(torch.meshgrid(idx, idx, idx, indexing="ij"), dim=-1).reshape(-1, 3)
        return self.aabb[:3] + grid * (self.aabb[3:] - self.aabb[:3])

    @torch.no_grad()
    def update(
        self,
        density_fn: DensityFn,
        generator: torch.Generator | None = None,
        chunk: int = 1 << 18,
        scenes: list[int] | None = None,
    ) -> None:
        """Evaluate density at a jittered point in every cell of `scenes` (default all), fold it
        into their EMA, re-threshold."""
        g = self.resolution
        cell = (self.aabb[3:] - self.aabb[:3]) / g
        ops = backend.ops_for(self.ema.device)
        for s in range(self.ema.shape[0]) if scenes is None else scenes:
            pts = self.cell_centers() + (rand((g**3, 3), generator, self.ema.device) - 0.5) * cell
            sigma = torch.cat([density_fn(pts[i : i + chunk], s) for i in range(0, len(pts), chunk)])
            sigma = sigma.reshape(g, g, g).float()
            if ops is not None:
                ops.grid_update(self.ema[s], sigma.contiguous(), self.decay)
            else:
                self.ema[s] = torch.maximum(self.ema[s] * self.decay, sigma)
        self.rethreshold()

    def thresholds(self) -> torch.Tensor:
        """[S, 1, 1, 1]: the 1%-per-step density, or the scene's mean density if lower, so a
        young, faint field is never culled entirely (as in Instant-NGP)."""
        mean = self.ema.mean(dim=(1, 2, 3), keepdim=True)
        return mean.clamp_max(self.threshold)

    def dilate(self) -> None:
        """Grow occupied space by one cell in every direction (max-pool of the EMA)."""
        self.ema = torch.nn.functional.max_pool3d(self.ema[:, None], 3, stride=1, padding=1)[:, 0]
        self.occupied = self.ema > self.thresholds()

    def set_occupied(self, scene: int, mask: torch.Tensor) -> None:
        """Fix a scene's cells from a known mask [G, G, G] (fields known in closed form)."""
        self.ema[scene] = torch.where(mask, 1e6, 0.0)
        self.occupied[scene] = mask

    def state(self) -> dict[str, torch.Tensor]:
        return {"grid.ema": self.ema.clone()}

    def load_state(self, tensors: dict[str, torch.Tensor]) -> None:
        self.ema = tensors["grid.ema"].to(self.ema.device).clone().float()  # a checkpoint's: on the CPU
        self.rethreshold()

    def rethreshold(self) -> None:
        """occupied from ema; a scene no update has reached yet (all zero) stays fully occupied."""
        unseen = (self.ema == 0).flatten(1).all(dim=1)[:, None, None, None]
        self.occupied = (self.ema > self.thresholds()) | unseen

    def select(self, scenes: list[int]) -> OccupancyGrid:
        out = OccupancyGrid.__new__(OccupancyGrid)
        out.__dict__.update(self.__dict__)
        out.ema, out.occupied = self.ema[scenes].clone(), self.occupied[scenes].clone()
        return out

    def bitfields(self):
        """`occupied` packed for the compiled marcher (raymarch_ext.bitfields); cached until it changes."""
        from .raymarch_ext import bitfields

        return backend.derived(self, "_bits_of", (self.occupied,), bitfields)

    def contains(self, points: torch.Tensor, scene: int = 0) -> torch.Tensor:
        """bool [N]: whether the marcher samples each of points [N, 3] in `scene` (its occupied
        cells, by its own lookup); elsewhere a field's density never shows."""
        ids = torch.full((len(points),), scene, dtype=torch.long, device=points.device)
        return grid_lookup(self.occupied, points, ids, self.aabb)

    def occupancy_fraction(self) -> float:
        return float(self.occupied.float().mean())
