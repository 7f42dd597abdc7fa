"""Teacher guidance for distillation: the student matches teacher renders at the same rays."""

from __future__ import annotations

import torch

from ..model import NerfScene
from ..render import cameras as cams
from ..render.renderer import RenderOutput, render_image_batches
from .base import RayBatch, photometric_loss

WHITE = torch.ones(3)


class TeacherGuidance:
    """Per-ray photometric loss against baked teacher NeRFs, one per student prompt."""

    name = "teachers"

    def __init__(self, scenes: list[NerfScene], rays_per_step: int, depth_weight: float = 0.0):
        self.depth_weight = depth_weight
        self.scenes = scenes
        self.prompts = [s.prompt for s in scenes]
        self.rays_per_step = rays_per_step

    @torch.no_grad()
    def _teacher_render(self, scene: int, rays_o, rays_d) -> RenderOutput:
        teacher = self.scenes[scene]
        ids = torch.zeros(len(rays_o), dtype=torch.long)
        return render_image_batches(teacher.query, rays_o, rays_d, ids, teacher.grid, WHITE)

    def sample(self, generator: torch.Generator, scenes: list[int] | None = None) -> RayBatch:
        scenes = list(range(len(self.prompts))) if scenes is None else sorted(scenes)
        per_scene = max(1, self.rays_per_step // len(scenes))
        rays_o, rays_d = cams.random_rays(per_scene * len(scenes), generator)
        renders = [
            self._teacher_render(
                s, rays_o[i * per_scene : (i + 1) * per_scene], rays_d[i * per_scene : (i + 1) * per_scene]
            )
            for i, s in enumerate(scenes)
        ]
        scene_ids = torch.tensor(scenes).repeat_interleave(per_scene)
        target, depth = torch.cat([r.rgb for r in renders]), torch.cat([r.depth for r in renders])
        return RayBatch(rays_o, rays_d, scene_ids, WHITE, target=target, depth=depth)

    def loss(self, out: RenderOutput, batch: RayBatch):
        return photometric_loss(out, batch, self.depth_weight)
