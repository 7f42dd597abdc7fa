"""Metrics against studio ground truth at the fixed evaluation cameras."""

from __future__ import annotations

import torch

from .render import cameras as cams
from .render.renderer import render_image_batches

EVAL_RESOLUTION = 64
WHITE = torch.ones(3)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a - b) ** 2).clamp_min(1e-10)
    return float(-10.0 * torch.log10(mse))


@torch.no_grad()
def render_scene(scene, cameras: cams.Cameras, resolution: int, background=WHITE):
    """Images [B, H, W, 3] and opacities [B, H, W] of a NerfScene."""
    o, d = cams.image_rays(cameras, resolution)
    ids = torch.zeros(o.shape[0] * o.shape[1], dtype=torch.long)
    out = render_image_batches(scene.query, o.reshape(-1, 3), d.reshape(-1, 3), ids, scene.grid, background)
    shape = (len(cameras), resolution, resolution)
    return out.rgb.reshape(*shape, 3), out.opacity.reshape(shape)


@torch.no_grad()
def evaluate_scenes(scenes, guidance, resolution: int = EVAL_RESOLUTION) -> dict:
    """Mean PSNR over prompts and the 16 eval cameras (mean of per-image PSNRs)."""
    cameras = cams.eval_cameras()
    per_prompt = {}
    for i, scene in enumerate(scenes):
        pred, _ = render_scene(scene, cameras, resolution)
        gt = guidance.render_views(i, cameras, resolution)
        per_prompt[scene.prompt] = round(sum(psnr(p, g) for p, g in zip(pred, gt)) / len(cameras), 3)
    mean = sum(per_prompt.values()) / max(1, len(per_prompt))
    return {"psnr": round(mean, 3), "per_prompt": per_prompt}
