"""Studio guidance: procedural scenes with exact ground truth from any camera.

A scene is a solid of flat, unlit albedo with a thin soft boundary, the kind of field a NeRF
models: sigma(x) = SIGMA_MAX * sigmoid(-sdf(x) / BETA). Ground truth is that field rendered
with a fine step; only a shell around the surface is marched, since behind it the remaining
transmittance (< 2e-4) cannot change a pixel.

Colour is linear in the render: pixel = albedo * (opacity - (1 - ACCENT_SHADE) * accent)
+ (1 - opacity) on white, so each shape's geometry is rendered once (opacity and accent
weight per ray) and serves every colour of that shape.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from ..render import cameras as cams
from ..render.occupancy import OccupancyGrid
from ..render.renderer import AABB, RenderOutput, render_image_batches
from .base import RayBatch
from .shapes import shape_sdf
from .vocab import COLOURS, StudioPrompt, parse_prompt

SIGMA_MAX = 100.0
BETA = 0.01  # boundary softness: about a pixel at 64×64 from the eval cameras
ACCENT_SHADE = 0.55  # accent parts (legs, handles) are this fraction of the prompt colour
GT_STEP = 0.004
GT_GRID_RES = 64
SHELL = 0.08  # depth below the surface after which T < 2e-4
POOL_RAYS = 1 << 17  # ground-truth rays rendered per shape before training
WHITE = torch.ones(3)


def scene_query(shape: str, albedo: torch.Tensor):
    """The studio field of one shape and albedo [3]: points [N, 3] → sigma [N], rgb [N, 3]."""

    def query(points: torch.Tensor, _scene: int = 0):
        sdf, tone = shape_sdf(shape, points)
        shade = 1.0 - (1.0 - ACCENT_SHADE) * tone
        return SIGMA_MAX * torch.sigmoid(-sdf / BETA), albedo * shade[:, None]

    return query


def shell_grid(shape: str) -> OccupancyGrid:
    """Cells within SHELL of the surface (SDFs are 1-Lipschitz, so cell centres suffice)."""
    grid = OccupancyGrid(1, GT_GRID_RES, AABB.clone(), GT_STEP)
    half_diag = math.sqrt(3) * float((grid.aabb[3:] - grid.aabb[:3]).max()) / GT_GRID_RES / 2
    sdf, _ = shape_sdf(shape, grid.cell_centers())
    grid.set_occupied(0, (sdf.abs() < SHELL + half_diag).reshape((GT_GRID_RES,) * 3))
    return grid


class ShapeGeometry:
    """Renders one shape's opacity and accent weight along any rays (colour-free ground truth)."""

    def __init__(self, shape: str):
        self.shape = shape
        self.grid = shell_grid(shape)
        # rgb channels carry (1, tone, 0): compositing yields (opacity, accent weight, 0).

    def _geometry_query(self, points: torch.Tensor, _scene: int):
        sdf, tone = shape_sdf(self.shape, points)
        channels = torch.stack([torch.ones_like(tone), tone, torch.zeros_like(tone)], dim=-1)
        return SIGMA_MAX * torch.sigmoid(-sdf / BETA), channels

    @torch.no_grad()
    def render(self, rays_o: torch.Tensor, rays_d: torch.Tensor) -> torch.Tensor:
        """rays [R, 3] → [R, 2] (opacity, accent weight)."""
        ids = torch.zeros(len(rays_o), dtype=torch.long)
        out = render_image_batches(self._geometry_query, rays_o, rays_d, ids, self.grid, torch.zeros(3), GT_STEP)
        return out.rgb[:, :2]


def colorize(geometry: torch.Tensor, albedo: torch.Tensor) -> torch.Tensor:
    """geometry [..., 2] (opacity, accent) → rgb [..., 3] on white."""
    opacity, accent = geometry[..., :1], geometry[..., 1:2]
    return albedo * (opacity - (1.0 - ACCENT_SHADE) * accent) + (1.0 - opacity)


class StudioGuidance:
    """Per-ray photometric loss against exact renders of the procedural scenes."""

    name = "studio"

    def __init__(self, prompts: list[str], rays_per_step: int = 4096, pool_rays: int = POOL_RAYS, seed: int = 0):
        self.prompts = list(prompts)
        self.parsed: list[StudioPrompt] = [parse_prompt(p) for p in self.prompts]  # raises PromptError
        self.albedos = [torch.tensor(COLOURS[p.colour]) for p in self.parsed]
        self.rays_per_step = rays_per_step
        self.pool_rays = pool_rays
        self.seed = seed
        self.geometry = {p.shape: ShapeGeometry(p.shape) for p in self.parsed}
        self._pools: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = None

    def prepare(self, on_progress: Callable[[int, int], None] | None = None) -> None:
        """Render the ground-truth ray pool of every shape (the slow part of setting up)."""
        if self._pools is not None:
            return
        gen = torch.Generator().manual_seed(self.seed + 7919)
        pools, chunk = {}, 1 << 14
        total = len(self.geometry) * self.pool_rays
        done = 0
        for shape, geo in self.geometry.items():
            o, d = cams.random_rays(self.pool_rays, gen)
            parts = []
            for i in range(0, self.pool_rays, chunk):
                parts.append(geo.render(o[i : i + chunk], d[i : i + chunk]))
                done += len(parts[-1])
                if on_progress:
                    on_progress(done, total)
            pools[shape] = (o, d, torch.cat(parts))
        self._pools = pools

    def sample(self, generator: torch.Generator, scenes: list[int] | None = None) -> RayBatch:
        self.prepare()
        scenes = list(range(len(self.prompts))) if scenes is None else sorted(scenes)
        per_scene = max(1, self.rays_per_step // len(scenes))
        os_, ds, targets = [], [], []
        for s in scenes:
            o, d, geo = self._pools[self.parsed[s].shape]
            idx = torch.randint(len(o), (per_scene,), generator=generator)
            os_.append(o[idx])
            ds.append(d[idx])
            targets.append(colorize(geo[idx], self.albedos[s]))
        scene_ids = torch.tensor(scenes).repeat_interleave(per_scene)
        return RayBatch(torch.cat(os_), torch.cat(ds), scene_ids, WHITE, target=torch.cat(targets))

    def loss(self, out: RenderOutput, batch: RayBatch):
        mse = torch.mean((out.rgb - batch.target) ** 2)
        value = float(mse.detach())
        return mse, {"mse": value, "psnr": -10 * math.log10(max(value, 1e-10))}

    @torch.no_grad()
    def render_views(self, scene: int, cameras: cams.Cameras, resolution: int) -> torch.Tensor:
        """Ground-truth images [B, H, W, 3] of one prompt."""
        o, d = cams.image_rays(cameras, resolution)
        geo = self.geometry[self.parsed[scene].shape].render(o.reshape(-1, 3), d.reshape(-1, 3))
        return colorize(geo, self.albedos[scene]).reshape(len(cameras), resolution, resolution, 3)
