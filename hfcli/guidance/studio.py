"""Studio guidance: a per-ray photometric loss against the studio's exact ground truth.

Before training, each (shape, finish)'s (opacity, shade) is rendered along a pool of random
rays (hfcli/studio/truth.py); a step draws rays from the pool and colours them per prompt.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..render import cameras as cams
from ..render.renderer import RenderOutput
from ..studio.truth import BETA, SIGMA_MAX, GroundTruth, colorize, sdf_and_normal
from .base import (
    DENSITY_BAND,
    VOLUME_EVERY,
    RayBatch,
    photometric_loss,
    point_loss,
    points_about_surface,
    points_in_box,
)

POOL_RAYS = 1 << 17  # ground-truth rays rendered per (shape, finish) before training
# Share of each scene's rays drawn from pool rays that hit the object. A thin shape (the knife
# covers 5% of a view) otherwise sees so few object rays that the field empties before it
# forms, and the occupancy grid then culls the object for good.
FOREGROUND_FRACTION = 0.25
WHITE = torch.ones(3)


class StudioGuidance:
    """Per-ray photometric loss against exact renders of the procedural scenes."""

    name = "studio"

    def __init__(
        self,
        prompts: list[str],
        rays_per_step: int = 4096,
        pool_rays: int = POOL_RAYS,
        seed: int = 0,
        depth_weight: float = 0.0,
        density_weight: float = 0.0,
    ):
        """density_weight > 0: each batch also carries points about the true surface with the
        studio's exact density there (point_loss): what no view shows, a slot's floor or a
        body's inside, is then pinned as well."""
        self.depth_weight, self.density_weight = depth_weight, density_weight
        self.truth = GroundTruth(prompts)  # raises PromptError for a prompt outside the vocabulary
        self.prompts = self.truth.prompts
        self.rays_per_step = rays_per_step
        self.pool_rays = pool_rays
        self.seed = seed
        # Keyed by (shape, finish), like the ground truth's geometry.
        self._pools: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor, torch.Tensor]] | None = None
        self._foreground: dict[tuple[str, str], torch.Tensor] = {}  # pool indices of rays that hit the object

    def prepare(self, on_progress: Callable[[int, int], None] | None = None) -> None:
        """Render the ground-truth ray pool of every (shape, finish) (the slow part of setting up)."""
        if self._pools is not None:
            return
        gen = torch.Generator().manual_seed(self.seed + 7919)
        pools, chunk = {}, 1 << 14
        total = len(self.truth.geometry) * self.pool_rays
        done = 0
        for key, geo in self.truth.geometry.items():
            o, d = cams.random_rays(self.pool_rays, gen)
            parts = []
            for i in range(0, self.pool_rays, chunk):
                parts.append(geo.render(o[i : i + chunk], d[i : i + chunk]))
                done += len(parts[-1])
                if on_progress:
                    on_progress(done, total)
            pools[key] = (o, d, torch.cat(parts))
        self._foreground = {key: (geo[:, 0] > 0.5).nonzero()[:, 0] for key, (_, _, geo) in pools.items()}
        self._pools = pools

    def sample(self, generator: torch.Generator, scenes: list[int] | None = None) -> RayBatch:
        self.prepare()
        scenes = list(range(len(self.prompts))) if scenes is None else sorted(scenes)
        per_scene = max(1, self.rays_per_step // len(scenes))
        os_, ds, targets, depths, points = [], [], [], [], []
        n_fg = int(per_scene * FOREGROUND_FRACTION)
        for s in scenes:
            p = self.truth.parsed[s]
            o, d, geo = self._pools[p.shape, p.finish]
            fg = self._foreground[p.shape, p.finish]
            idx = torch.randint(len(o), (per_scene,), generator=generator)
            if len(fg) and n_fg:
                idx[:n_fg] = fg[torch.randint(len(fg), (n_fg,), generator=generator)]
            os_.append(o[idx])
            ds.append(d[idx])
            targets.append(colorize(geo[idx], self.truth.albedos[s]))
            depths.append(geo[idx, 2])
            if self.density_weight:
                points.append(self._surface_points(s, o[idx], d[idx], geo[idx], generator))
        scene_ids = torch.tensor(scenes).repeat_interleave(per_scene)
        p, i, sigma = (torch.cat(t) for t in zip(*points)) if points else (None, None, None)
        return RayBatch(
            torch.cat(os_),
            torch.cat(ds),
            scene_ids,
            WHITE,
            target=torch.cat(targets),
            depth=torch.cat(depths),
            points=p,
            point_ids=i,
            point_density=sigma,
        )

    def _surface_points(self, scene: int, rays_o, rays_d, geo: torch.Tensor, generator: torch.Generator):
        """(points, their scene, the exact density there): one point on each ray the truth renders
        mostly opaque, uniform within DENSITY_BAND of where the ray ends, and a point uniform in the box
        every VOLUME_EVERY rays (as TeacherGuidance's)."""
        offsets = DENSITY_BAND * (2 * torch.rand(len(rays_o), generator=generator) - 1)
        band = points_about_surface(rays_o, rays_d, geo[:, 0], geo[:, 2], offsets)
        pts = torch.cat([band, points_in_box(len(rays_o) // VOLUME_EVERY, generator, rays_o.device)])
        sdf = sdf_and_normal(self.truth.parsed[scene].shape, pts)[0]  # the field the views render
        ids = torch.full((len(pts),), scene, dtype=torch.long)
        return pts, ids, SIGMA_MAX * torch.sigmoid(-sdf / BETA)

    def point_loss(self, sigma: torch.Tensor, batch: RayBatch) -> torch.Tensor:
        return point_loss(self.density_weight, sigma, batch)

    def loss(self, out: RenderOutput, batch: RayBatch):
        return photometric_loss(out, batch, self.depth_weight)
