"""The one interface every guidance implements: sample a ray batch, then score the render of it."""

from __future__ import annotations

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
