"""The one interface every guidance implements: sample a ray batch, then score the render of it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch

from ..render.renderer import RenderOutput


@dataclass
class RayBatch:
    rays_o: torch.Tensor  # [R, 3]
    rays_d: torch.Tensor  # [R, 3]
    scene_ids: torch.Tensor  # [R] long, sorted: index into the guidance's prompts
    background: torch.Tensor  # [3] or [R, 3]
    target: torch.Tensor | None = None  # [R, 3] where the guidance knows the answer per ray
    # [R] the target's depth sum(weight * t) (0 on a ray that hits nothing), where known
    depth: torch.Tensor | None = None
    image_hw: tuple[int, int] | None = None  # set when the rays form whole images (SDS)
    views: torch.Tensor | None = None  # [B] view index of each whole image (SDS prompt suffixes)


class Guidance(Protocol):
    name: str
    prompts: list[str]
    # False where loss values swing by design (SDS): then only a non-finite loss is a collapse.
    loss_tracks_quality: bool

    def sample(self, generator: torch.Generator, scenes: list[int] | None = None) -> RayBatch:
        """Rays to render this step, for the given scenes (default: all prompts)."""

    def loss(self, out: RenderOutput, batch: RayBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """A scalar loss to minimise and figures to report."""


def photometric_loss(out: RenderOutput, batch: RayBatch, depth_weight: float):
    """The colour MSE, plus depth_weight times the depth MSE where the batch knows its depth: the
    colour alone leaves the surface free to bump where its shading is baked into the colour."""
    mse = torch.mean((out.rgb - batch.target) ** 2)
    value = float(mse.detach())
    figures = {"mse": value, "psnr": -10 * math.log10(max(value, 1e-10))}
    if depth_weight == 0 or batch.depth is None:
        return mse, figures
    depth_mse = torch.mean((out.depth - batch.depth) ** 2)
    figures["depth_mse"] = float(depth_mse.detach())
    return mse + depth_weight * depth_mse, figures
