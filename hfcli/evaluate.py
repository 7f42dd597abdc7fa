"""Metrics against studio ground truth at the fixed evaluation cameras."""

from __future__ import annotations

import torch

from .outputs import render_views
from .progress import Report, no_report
from .render import cameras as cams

EVAL_RESOLUTION = 64


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a - b) ** 2).clamp_min(1e-10)
    return float(-10.0 * torch.log10(mse))


@torch.no_grad()
def evaluate_scenes(scenes, guidance, resolution: int = EVAL_RESOLUTION, report: Report = no_report) -> dict:
    """Mean PSNR over prompts and the 16 eval cameras (mean of per-image PSNRs)."""
    cameras = cams.eval_cameras()
    per_prompt = {}
    for i, scene in enumerate(scenes):
        pred, _ = render_views(scene, cameras, resolution)
        gt = guidance.render_views(i, cameras, resolution)
        per_prompt[scene.prompt] = round(sum(psnr(p, g) for p, g in zip(pred, gt)) / len(cameras), 3)
        report("evaluating", i + 1, len(scenes), {"psnr": per_prompt[scene.prompt]})
    mean = sum(per_prompt.values()) / max(1, len(per_prompt))
    return {"psnr": round(mean, 3), "per_prompt": per_prompt}
