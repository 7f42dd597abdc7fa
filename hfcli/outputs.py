"""What a NeRF scene turns into for people: rendered views and meshes."""

from __future__ import annotations

import torch

from .defaults import MESH_DENSITY_THRESHOLD, MESH_RESOLUTION
from .export import Mesh, extract_mesh
from .model import NerfScene
from .render import cameras as cams
from .render.renderer import render_image_batches

WHITE = torch.ones(3)


@torch.no_grad()
def render_views(scene: NerfScene, cameras: cams.Cameras, resolution: int, background=WHITE):
    """Images [B, H, W, 3] and opacities [B, H, W] of a scene."""
    o, d = cams.image_rays(cameras, resolution)
    ids = torch.zeros(o.shape[0] * o.shape[1], dtype=torch.long)
    out = render_image_batches(scene.query, o.reshape(-1, 3), d.reshape(-1, 3), ids, scene.grid, background)
    shape = (len(cameras), resolution, resolution)
    return out.rgb.reshape(*shape, 3), out.opacity.reshape(shape)


def turntable(scene: NerfScene, n_views: int, resolution: int) -> list[torch.Tensor]:
    """n_views frames [H, W, 3] circling the object (one frame: a 3/4 view)."""
    images, _ = render_views(scene, cams.turntable_cameras(n_views), resolution)
    return list(images)


def scene_mesh(scene: NerfScene, resolution: int = MESH_RESOLUTION, threshold: float = MESH_DENSITY_THRESHOLD) -> Mesh:
    return extract_mesh(scene.density, scene.albedo, threshold=threshold, resolution=resolution)
