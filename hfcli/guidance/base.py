"""The one interface every guidance implements: sample a ray batch, then score the render of it."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Protocol

import torch

from ..device import rand
from ..render.renderer import RenderOutput
from ..scene import box_tensor

# The density term's points lie within this distance of the rendered depth, along the ray: the
# studio's surface ramp (sigmoid of sdf / 0.01) spans about ±0.03, so the band holds it with
# empty space before it and the interior behind it.
DENSITY_BAND = 0.06
# And a point anywhere in the box every this many rays: the inside and the underside no view reaches.
VOLUME_EVERY = 4


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
    # Where the guidance knows the field itself (a teacher): points [Q, 3] about its surface, their
    # scene [Q] (sorted, as scene_ids) and the teacher's density there [Q].
    points: torch.Tensor | None = None
    point_ids: torch.Tensor | None = None
    point_density: torch.Tensor | None = None

    def to(self, device: torch.device) -> RayBatch:
        """The batch on `device` (where the model renders it); on its own device, itself."""
        names = (
            "rays_o",
            "rays_d",
            "scene_ids",
            "background",
            "target",
            "depth",
            "points",
            "point_ids",
            "point_density",
        )
        moved = {k: getattr(self, k) for k in names}
        if all(t is None or t.device == device for t in moved.values()):
            return self
        return dataclasses.replace(self, **{k: None if t is None else t.to(device) for k, t in moved.items()})


class Guidance(Protocol):
    name: str
    prompts: list[str]
    # False where loss values swing by design (SDS): then only a non-finite loss is a collapse.
    loss_tracks_quality: bool

    def sample(self, generator: torch.Generator, scenes: list[int] | None = None) -> RayBatch:
        """Rays to render this step, for the given scenes (default: all prompts)."""

    def loss(self, out: RenderOutput, batch: RayBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """A scalar loss to minimise and figures to report."""


# The depth term is quadratic up to this error and linear beyond (Huber): where a silhouette or
# a step in depth (a chair's seat against its legs) is a few texels off, a squared error of
# order 1 would outweigh every colour error. On the world's chair teacher (400 steps) the
# squared term cost 4.0 dB against colour only and this one 1.4 dB; on the bowl it gave 43.07 dB
# against 38.08 (BENCHMARKS.md, "Depth beside colour").
DEPTH_HUBER = 0.05


def photometric_loss(out: RenderOutput, batch: RayBatch, depth_weight: float):
    """The colour MSE, plus depth_weight times the depth error where the batch knows its depth
    (squared up to DEPTH_HUBER, linear beyond): the colour alone leaves the surface free to bump
    where its shading is baked into the colour."""
    mse = torch.mean((out.rgb - batch.target) ** 2)
    value = float(mse.detach())
    figures = {"mse": value, "psnr": -10 * math.log10(max(value, 1e-10))}
    if depth_weight == 0 or batch.depth is None:
        return mse, figures
    figures["depth_mse"] = float(torch.mean((out.depth - batch.depth).detach() ** 2))
    # 2 x Huber: the squared error itself below DEPTH_HUBER
    depth_loss = 2 * torch.nn.functional.huber_loss(out.depth, batch.depth, delta=DEPTH_HUBER)
    return mse + depth_weight * depth_loss, figures


def points_about_surface(rays_o, rays_d, opacity, depth, offsets) -> torch.Tensor:
    """One point [Q, 3] on each ray rendered mostly opaque (opacity [R] > 0.5), `offsets` [R]
    along it from where the ray ends (its expected depth, depth [R] / opacity)."""
    hit = opacity > 0.5
    t = depth[hit] / opacity[hit] + offsets[hit]
    return rays_o[hit] + rays_d[hit] * t[:, None]


def points_in_box(n: int, generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """n points [n, 3] uniform in the scene box, drawn from a CPU generator (hfcli/device.py rand)."""
    box = box_tensor(device)
    return box[:3] + (box[3:] - box[:3]) * rand((n, 3), generator, device)


def point_loss(weight: float, sigma: torch.Tensor, batch: RayBatch) -> torch.Tensor:
    """weight times the density error at the batch's points (sigma [Q]), summed and divided by
    the step's rays: a per-ray mean, as the colour's, so training processes' shares add up to
    the one-process loss (RankShare.point_loss)."""
    return weight * density_loss(sigma, batch.point_density, reduction="sum") / len(batch.rays_o)


def density_loss(sigma: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Squared error of log(1 + density): a teacher's surface ramp (tens to a hundred) and its empty
    space (near 0) count alike, where a plain squared error would weigh only the interior."""
    err = (torch.log1p(sigma.clamp_min(0)) - torch.log1p(target.clamp_min(0))) ** 2
    return err.sum() if reduction == "sum" else err.mean()
