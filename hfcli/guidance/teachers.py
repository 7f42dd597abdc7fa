"""Teacher guidance for distillation: the student matches teacher renders at the same rays."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..device import rand
from ..model import NerfScene
from ..render import cameras as cams
from ..render.renderer import RenderOutput, render_image_batches
from .base import (
    DENSITY_BAND,
    VOLUME_EVERY,
    RayBatch,
    photometric_loss,
    point_loss,
    points_about_surface,
    points_in_box,
)

WHITE = torch.ones(3)


class TeacherGuidance:
    """Per-ray photometric loss against baked teacher NeRFs, one per student prompt."""

    name = "teachers"
    renders_share = True  # sample(share=...) renders only one process's share (hfcli/train/distributed.py)

    def __init__(
        self, scenes: list[NerfScene], rays_per_step: int, depth_weight: float = 0.0, density_weight: float = 0.0
    ):
        """Batches come on the teachers' device (that of the first scene). density_weight > 0: each
        batch also carries points about the teachers' surfaces with their density (point_loss)."""
        self.depth_weight, self.density_weight = depth_weight, density_weight
        self.scenes = scenes
        self.device = scenes[0].device if scenes else torch.device("cpu")
        self.prompts = [s.prompt for s in scenes]
        self.rays_per_step = rays_per_step

    @torch.no_grad()
    def _teacher_render(self, scene: int, rays_o, rays_d) -> RenderOutput:
        teacher = self.scenes[scene]
        ids = torch.zeros(len(rays_o), dtype=torch.long, device=rays_o.device)
        return render_image_batches(teacher.query, rays_o, rays_d, ids, teacher.grid, WHITE)

    def sample(
        self, generator: torch.Generator, scenes: list[int] | None = None, share: Callable[[int], slice] | None = None
    ) -> RayBatch:
        """`share(number of rays)`, where given, picks the rays whose targets are rendered (one
        training process's share); the others get zero targets, which that process never reads."""
        scenes = list(range(len(self.prompts))) if scenes is None else sorted(scenes)
        per_scene = max(1, self.rays_per_step // len(scenes))
        rays_o, rays_d = (r.to(self.device) for r in cams.random_rays(per_scene * len(scenes), generator))
        scene_ids = torch.tensor(scenes, device=self.device).repeat_interleave(per_scene)
        keep = slice(None) if share is None else share(len(rays_o))
        target, depth = torch.zeros_like(rays_o), torch.zeros(len(rays_o), device=self.device)
        ids, counts = torch.unique_consecutive(scene_ids[keep], return_counts=True)
        start = keep.start or 0
        # Drawn for every ray, whichever share renders: each process draws the same numbers.
        offsets = DENSITY_BAND * (2 * rand((len(rays_o),), generator, self.device) - 1) if self.density_weight else None
        volume, counted = self._volume_points(len(rays_o), generator) if self.density_weight else (None, None)
        points: list[tuple] = []
        for s, n in zip(ids.tolist(), counts.tolist()):
            rows = slice(start, start + n)
            render = self._teacher_render(s, rays_o[rows], rays_d[rows])
            target[rows], depth[rows] = render.rgb, render.depth
            if offsets is not None:
                inside = volume[rows][counted[rows]]
                points.append(self._surface_points(s, rays_o[rows], rays_d[rows], render, offsets[rows], inside))
            start += n
        p, i, sigma = (torch.cat(t) for t in zip(*points)) if points else (None, None, None)
        return RayBatch(
            rays_o, rays_d, scene_ids, WHITE, target=target, depth=depth, points=p, point_ids=i, point_density=sigma
        )

    def _volume_points(self, n_rays: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(points [n_rays, 3] uniform in the box, bool [n_rays]: which count, every VOLUME_EVERY-th
        by the ray's index in the step, so processes that split a scene's rays split these too)."""
        points = points_in_box(n_rays, generator, self.device)
        return points, torch.arange(n_rays, device=self.device) % VOLUME_EVERY == 0

    @torch.no_grad()
    def _surface_points(self, scene: int, rays_o, rays_d, render: RenderOutput, offsets: torch.Tensor, volume):
        """(points, their scene, the teacher's density there as its renders show it, none outside
        its occupied cells): one point on each ray the teacher renders mostly opaque, `offsets` [R]
        (within DENSITY_BAND) from where the ray ends, then the `volume` points [V, 3] anywhere in
        the box (_volume_points): a vase's belly, the faint density round the object."""
        points = torch.cat([points_about_surface(rays_o, rays_d, render.opacity, render.depth, offsets), volume])
        teacher = self.scenes[scene]
        sigma = teacher.density(points).masked_fill(~teacher.grid.contains(points), 0.0)
        ids = torch.full((len(points),), scene, dtype=torch.long, device=points.device)
        return points, ids, sigma

    def point_loss(self, sigma: torch.Tensor, batch: RayBatch) -> torch.Tensor:
        return point_loss(self.density_weight, sigma, batch)

    def loss(self, out: RenderOutput, batch: RayBatch):
        return photometric_loss(out, batch, self.depth_weight)
