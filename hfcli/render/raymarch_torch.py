"""Pure-PyTorch raymarcher: the reference for the C++/CUDA kernels of ext/raymarch.

Packed samples (as in nerfacc): every sample is one row of `ray_indices [N]`, `t_starts [N]`,
`t_ends [N]`, sorted by ray and then by t. All functions are differentiable where it matters
(compositing), and pure: no module state.
"""

from __future__ import annotations

import torch

# Samples whose transmittance has fallen below this are dropped (early ray termination).
TRANSMITTANCE_EPS = 1e-4


def ray_aabb(rays_o: torch.Tensor, rays_d: torch.Tensor, aabb: torch.Tensor):
    """Slab test. rays_o, rays_d: [R, 3]; aabb: [6] (min xyz, max xyz).

    Returns t_near, t_far: [R]; rays that miss have t_far <= t_near. t_near >= 0.
    """
    inv = 1.0 / torch.where(rays_d.abs() < 1e-9, torch.full_like(rays_d, 1e-9), rays_d)
    t0 = (aabb[:3] - rays_o) * inv
    t1 = (aabb[3:] - rays_o) * inv
    t_near = torch.minimum(t0, t1).amax(dim=-1).clamp_min(0.0)
    t_far = torch.maximum(t0, t1).amin(dim=-1)
    return t_near, t_far


def grid_lookup(occupied: torch.Tensor, points: torch.Tensor, scene_ids: torch.Tensor, aabb: torch.Tensor):
    """occupied: [S, G, G, G] bool (x, y, z order); points: [N, 3]; scene_ids: [N] → [N] bool."""
    res = occupied.shape[-1]
    cell = ((points - aabb[:3]) / (aabb[3:] - aabb[:3]) * res).long()
    inside = ((cell >= 0) & (cell < res)).all(dim=-1)
    cell = cell.clamp(0, res - 1)
    flat = ((scene_ids * res + cell[:, 0]) * res + cell[:, 1]) * res + cell[:, 2]
    return occupied.reshape(-1)[flat] & inside


def march(
    rays_o: torch.Tensor,
    rays_d: torch.Tensor,
    scene_ids: torch.Tensor,
    occupied: torch.Tensor | None,
    aabb: torch.Tensor,
    step: float,
    jitter: torch.Tensor | None = None,
):
    """Uniform steps of length `step` through the box, keeping those whose midpoint lies in an
    occupied cell of the ray's scene grid (all steps when `occupied` is None).

    rays_*: [R, 3]; scene_ids: [R] long; occupied: [S, G, G, G] bool; jitter: [R] in [0, 1)
    shifts each ray's steps (stratified sampling during training).
    Returns ray_indices [N] long, t_starts [N], t_ends [N], sorted by ray then t.
    """
    t_near, t_far = ray_aabb(rays_o, rays_d, aabb)
    hit = t_far > t_near
    if not bool(hit.any()):
        empty = rays_o.new_zeros(0)
        return empty.long(), empty, empty
    span = (t_far - t_near).clamp_min(0)
    n_steps = int(torch.ceil(span[hit].max() / step).item()) + 1
    offset = torch.zeros_like(t_near) if jitter is None else jitter
    k = torch.arange(n_steps, dtype=rays_o.dtype, device=rays_o.device)
    t_starts = t_near[:, None] + (k[None, :] + offset[:, None] - 1.0).clamp_min(0.0) * step
    t_ends = (t_near[:, None] + (k[None, :] + offset[:, None]) * step).minimum(t_far[:, None])
    keep = t_ends > t_starts  # [R, K]
    if occupied is not None:
        mid = 0.5 * (t_starts + t_ends)
        rows, cols = keep.nonzero(as_tuple=True)
        pts = rays_o[rows] + rays_d[rows] * mid[rows, cols, None]
        keep[rows, cols] = grid_lookup(occupied, pts, scene_ids[rows], aabb)
    rows, cols = keep.nonzero(as_tuple=True)
    return rows, t_starts[rows, cols], t_ends[rows, cols]


def _exclusive_segment_cumsum(values: torch.Tensor, ray_indices: torch.Tensor, n_rays: int) -> torch.Tensor:
    """Sum of `values` over the earlier samples of the same ray. float64 for long packs."""
    csum = torch.cumsum(values.double(), dim=0)
    first = torch.searchsorted(ray_indices, torch.arange(n_rays, device=ray_indices.device))
    before = torch.cat([csum.new_zeros(1), csum])[first]  # cumulative sum before each ray's first sample
    return (csum - values.double() - before[ray_indices]).to(values.dtype)


def transmittance(sigmas: torch.Tensor, ray_indices: torch.Tensor, t_starts, t_ends, n_rays: int):
    """T before each sample and alpha of each sample: both [N]."""
    tau = sigmas * (t_ends - t_starts)
    trans = torch.exp(-_exclusive_segment_cumsum(tau, ray_indices, n_rays))
    alpha = 1.0 - torch.exp(-tau)
    return trans, alpha


def composite(
    sigmas: torch.Tensor,
    rgbs: torch.Tensor,
    ray_indices: torch.Tensor,
    t_starts: torch.Tensor,
    t_ends: torch.Tensor,
    n_rays: int,
):
    """Front-to-back alpha compositing with early termination.

    sigmas: [N]; rgbs: [N, 3]. Returns rgb [R, 3] (no background), opacity [R], depth [R].
    Samples behind T < TRANSMITTANCE_EPS get zero weight (and zero gradient).
    """
    trans, alpha = transmittance(sigmas, ray_indices, t_starts, t_ends, n_rays)
    weights = torch.where(trans > TRANSMITTANCE_EPS, trans * alpha, torch.zeros_like(alpha))
    rgb = rgbs.new_zeros(n_rays, 3).index_add(0, ray_indices, weights[:, None] * rgbs)
    opacity = weights.new_zeros(n_rays).index_add(0, ray_indices, weights)
    depth = weights.new_zeros(n_rays).index_add(0, ray_indices, weights * 0.5 * (t_starts + t_ends))
    return rgb, opacity, depth


def visible_samples(sigmas, ray_indices, t_starts, t_ends, n_rays: int) -> torch.Tensor:
    """Mask [N] of samples in front of the termination point, from densities computed without grad."""
    trans, _ = transmittance(sigmas, ray_indices, t_starts, t_ends, n_rays)
    return trans > TRANSMITTANCE_EPS
