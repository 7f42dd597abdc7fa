"""Look-at cameras on a sphere around the origin (y up, OpenGL camera axes: looks along -z).

The same convention as NeRF-synthetic `transforms.json`, so studio datasets load in other tools.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

RADIUS = 3.0
FOV_DEG = 45.0
EVAL_AZIMUTHS_DEG = tuple(range(0, 360, 45))  # 8 azimuths
EVAL_ELEVATIONS_DEG = (15.0, 40.0)  # × 2 elevations = the 16 fixed evaluation cameras
TRAIN_ELEVATION_RANGE_DEG = (-10.0, 70.0)


@dataclass
class Cameras:
    """c2w: [B, 4, 4] camera-to-world matrices; fov_x in radians; images are square."""

    c2w: torch.Tensor
    fov_x: float = math.radians(FOV_DEG)

    def __len__(self) -> int:
        return self.c2w.shape[0]

    @property
    def focal_unit(self) -> float:
        """Focal length for an image of width 1 (multiply by the width in pixels)."""
        return 0.5 / math.tan(0.5 * self.fov_x)


def look_at(eye: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
    """eye: [B, 3] → c2w [B, 4, 4] looking at `target` (default origin) with y up."""
    target = torch.zeros_like(eye) if target is None else target
    forward = torch.nn.functional.normalize(target - eye, dim=-1)
    up = torch.tensor([0.0, 1.0, 0.0], dtype=eye.dtype).expand_as(forward)
    right = torch.nn.functional.normalize(torch.cross(forward, up, dim=-1), dim=-1)
    true_up = torch.cross(right, forward, dim=-1)
    c2w = torch.eye(4, dtype=eye.dtype).repeat(eye.shape[0], 1, 1)
    c2w[:, :3, 0], c2w[:, :3, 1], c2w[:, :3, 2], c2w[:, :3, 3] = right, true_up, -forward, eye
    return c2w


def orbit_cameras(azimuth_deg, elevation_deg, radius: float = RADIUS) -> Cameras:
    """Cameras at the given azimuths/elevations (same length sequences or tensors)."""
    az = torch.deg2rad(torch.as_tensor(azimuth_deg, dtype=torch.float32).reshape(-1))
    el = torch.deg2rad(torch.as_tensor(elevation_deg, dtype=torch.float32).reshape(-1))
    eye = radius * torch.stack([el.cos() * az.sin(), el.sin(), el.cos() * az.cos()], dim=-1)
    return Cameras(look_at(eye))


def eval_cameras() -> Cameras:
    """The 16 fixed evaluation cameras: 8 azimuths × 2 elevations
    (docs/ARCHITECTURE.md, "The 16 eval cameras and the eval metrics")."""
    az = [a for _ in EVAL_ELEVATIONS_DEG for a in EVAL_AZIMUTHS_DEG]
    el = [e for e in EVAL_ELEVATIONS_DEG for _ in EVAL_AZIMUTHS_DEG]
    return orbit_cameras(az, el)


def turntable_cameras(n_views: int, elevation_deg: float = 25.0) -> Cameras:
    az = [360.0 * i / n_views + 30.0 for i in range(n_views)]
    return orbit_cameras(az, [elevation_deg] * n_views)


def image_rays(cams: Cameras, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rays through pixel centres. Returns rays_o, rays_d: [B, H*W, 3] (row-major, top row first)."""
    i = (torch.arange(resolution, dtype=torch.float32) + 0.5) / resolution - 0.5
    y, x = torch.meshgrid(-i, i, indexing="ij")
    return _rays(cams.c2w, x.reshape(1, -1), y.reshape(1, -1), cams.focal_unit)


def random_rays(n: int, generator: torch.Generator, radius: float = RADIUS, fov_x: float = math.radians(FOV_DEG)):
    """n rays, each from its own random camera on the training orbit through a random point of
    its image plane. Returns rays_o, rays_d: [n, 3]."""
    u = torch.rand(n, 4, generator=generator)
    az = u[:, 0] * 2 * math.pi
    lo, hi = (math.radians(v) for v in TRAIN_ELEVATION_RANGE_DEG)
    el = lo + (hi - lo) * u[:, 1]
    eye = radius * torch.stack([el.cos() * az.sin(), el.sin(), el.cos() * az.cos()], dim=-1)
    c2w = look_at(eye)
    focal = 0.5 / math.tan(0.5 * fov_x)
    o, d = _rays(c2w, (u[:, 2:3] - 0.5), (u[:, 3:4] - 0.5), focal)
    return o[:, 0], d[:, 0]


def _rays(c2w: torch.Tensor, x: torch.Tensor, y: torch.Tensor, focal: float):
    """x, y: [B or 1, K] image-plane coordinates in [-0.5, 0.5] → rays_o, rays_d [B, K, 3]."""
    dirs_cam = torch.stack([x / focal, y / focal, -torch.ones_like(x)], dim=-1)  # [B|1, K, 3]
    dirs = torch.einsum("bij,bkj->bki", c2w[:, :3, :3], dirs_cam.expand(c2w.shape[0], -1, -1))
    dirs = torch.nn.functional.normalize(dirs, dim=-1)
    origins = c2w[:, None, :3, 3].expand_as(dirs)
    return origins.contiguous(), dirs
