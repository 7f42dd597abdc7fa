"""render_rays: march → query the field → composite, for any field that maps points to (sigma, rgb).

The field is a callable `query(points [N, 3], scene: int) -> (sigma [N], rgb [N, 3])`. Rays
carry a scene index so one call renders several prompts (a teacher batch) at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..device import rand
from ..scene import RENDER_STEP, box_tensor
from . import backend
from . import raymarch_ext as rx
from . import raymarch_torch as rm
from .occupancy import OccupancyGrid

QueryFn = Callable[[torch.Tensor, int], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class RenderOutput:
    rgb: torch.Tensor  # [R, 3] composited over the background
    opacity: torch.Tensor  # [R]
    depth: torch.Tensor  # [R]
    # Samples the field was queried at for this image. Under autograd the PyTorch path counts
    # those in front of each ray's termination (it re-queries only them); the compiled one
    # queries every marched sample once.
    n_samples: int


def _query_by_scene(query: QueryFn, points: torch.Tensor, sample_scenes: torch.Tensor):
    """Evaluate `query` for each run of equal scene ids; points are grouped by scene."""
    sigmas, rgbs = [], []
    scenes, counts = torch.unique_consecutive(sample_scenes, return_counts=True)
    for scene, chunk in zip(scenes.tolist(), torch.split(points, counts.tolist())):
        sigma, rgb = query(chunk, scene)
        sigmas.append(sigma)
        rgbs.append(rgb)
    if not sigmas:
        return points.new_zeros(0), points.new_zeros(0, 3)
    return torch.cat(sigmas), torch.cat(rgbs)


def render_rays(
    query: QueryFn,
    rays_o: torch.Tensor,
    rays_d: torch.Tensor,
    scene_ids: torch.Tensor,
    grid: OccupancyGrid | None,
    background: torch.Tensor,
    step: float = RENDER_STEP,
    generator: torch.Generator | None = None,
) -> RenderOutput:
    """rays_o, rays_d: [R, 3]; scene_ids: [R] long, sorted; background: [3] or [R, 3]. All on
    the device of the field's weights and the grid, but `background` (moved here, it is small).

    With a generator, steps are jittered per ray (training). The compiled backends query every
    marched sample once; the PyTorch reference, under autograd, first computes densities
    without gradient to drop samples behind the termination point, so its differentiable pass
    only sees samples that can contribute.
    """
    if scene_ids.numel() > 1 and bool((scene_ids[1:] < scene_ids[:-1]).any()):
        raise ValueError("render_rays needs rays grouped by scene (sorted scene_ids)")
    jitter = None if generator is None else rand((rays_o.shape[0],), generator, rays_o.device)
    aabb = box_tensor(rays_o.device) if grid is None else grid.aabb
    ops = backend.ops_for(rays_o.device)
    if ops is not None:
        color, opacity, depth, n = _render_compiled(ops, query, rays_o, rays_d, scene_ids, grid, aabb, step, jitter)
    else:
        color, opacity, depth, n = _render_reference(query, rays_o, rays_d, scene_ids, grid, aabb, step, jitter)
    color = color + (1.0 - opacity)[:, None] * background.to(color.device)
    return RenderOutput(color, opacity, depth, n)


def _render_reference(query, rays_o, rays_d, scene_ids, grid, aabb, step, jitter):
    """(rgb, opacity, depth, samples queried) on the PyTorch raymarcher."""
    n_rays = rays_o.shape[0]

    def points_of(idx, a, b):
        return rays_o[idx] + rays_d[idx] * (0.5 * (a + b))[:, None]

    occupied = None if grid is None else grid.occupied
    ray_idx, t0, t1 = rm.march(rays_o, rays_d, scene_ids, occupied, aabb, step, jitter)
    if torch.is_grad_enabled() and ray_idx.numel():
        with torch.no_grad():
            sigma, _ = _query_by_scene(query, points_of(ray_idx, t0, t1), scene_ids[ray_idx])
            keep = rm.visible_samples(sigma, ray_idx, t0, t1, n_rays)
        ray_idx, t0, t1 = ray_idx[keep], t0[keep], t1[keep]
    sigma, rgb = _query_by_scene(query, points_of(ray_idx, t0, t1), scene_ids[ray_idx])
    return (*rm.composite(sigma, rgb, ray_idx, t0, t1, n_rays), int(ray_idx.numel()))


def _render_compiled(ops, query, rays_o, rays_d, scene_ids, grid, aabb, step, jitter):
    """(rgb, opacity, depth, samples queried) on ext/raymarch: march, query, composite with the
    kernel. One query, with or without autograd: samples behind a ray's termination get zero
    gradient from the compositing backward, and the fused field's backward skips them, so no
    separate pass picks them out."""
    bits = grid.bitfields() if grid is not None else rx.no_grid(rays_o.device)
    res = grid.resolution if grid is not None else 1
    marcher = rx.Marcher(ops, rays_o, rays_d, scene_ids, bits, res, aabb, step, jitter)
    ray_idx, t0, t1 = marcher.march_all()
    sigma, rgb = _query_by_scene(query, marcher.points(ray_idx, t0, t1), scene_ids[ray_idx])
    return (*rx.composite(ops, sigma, rgb, ray_idx, t0, t1, rays_o.shape[0]), int(ray_idx.numel()))


@torch.no_grad()
def render_image_batches(query: QueryFn, rays_o, rays_d, scene_ids, grid, background, step=RENDER_STEP, chunk=8192):
    """Inference render of many rays in chunks (no gradient). Same arguments as render_rays."""
    outs = [
        render_rays(
            query, rays_o[i : i + chunk], rays_d[i : i + chunk], scene_ids[i : i + chunk], grid, background, step
        )
        for i in range(0, rays_o.shape[0], chunk)
    ]
    return RenderOutput(
        torch.cat([o.rgb for o in outs]),
        torch.cat([o.opacity for o in outs]),
        torch.cat([o.depth for o in outs]),
        sum(o.n_samples for o in outs),
    )
