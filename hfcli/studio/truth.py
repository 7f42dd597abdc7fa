"""Studio ground truth: procedural scenes rendered exactly from any camera.

A scene is a solid with a thin soft boundary, the kind of field a NeRF models:
sigma(x) = SIGMA_MAX * sigmoid(-sdf(x) / BETA). Its colour is view-independent: the prompt's
albedo, darker on accent parts, times a fixed soft light baked in from the surface normal.
Without that baked light a flat colour would show only silhouettes, and a bowl could not be
told from a filled one. Ground truth is the field rendered with a fine step; only a shell
around the surface is marched, since behind it the remaining transmittance (< 2e-4) cannot
change a pixel.

A finish (hfcli/studio/finishes.py) multiplies that colour by a pattern of the object-space
position. Colour is linear in the albedo: pixel = albedo * shade + (1 - opacity) on white,
where shade = sum of weight * tone * light * pattern along the ray. So each (shape, finish)'s
geometry is rendered once (opacity and shade per ray) and serves every colour.
"""

from __future__ import annotations

import math

import torch

from ..errors import PromptError
from ..metrics import TETRA, tetra_probes
from ..render import cameras as cams
from ..render.occupancy import OccupancyGrid
from ..render.renderer import render_image_batches
from ..scene import new_grid
from .finishes import pattern
from .shapes import shape_sdf
from .vocab import StudioPrompt, parse_prompt

SIGMA_MAX = 100.0
BETA = 0.01  # boundary softness: about a pixel at 64×64 from the eval cameras
ACCENT_SHADE = 0.55  # accent parts (legs, handles) are this fraction of the prompt colour
LIGHT = torch.nn.functional.normalize(torch.tensor([0.35, 1.0, 0.55]), dim=0)  # from above, front-right
AMBIENT = 0.35  # light on faces turned away from LIGHT; 1.0 on faces turned to it
NORMAL_EPS = 0.004
GT_STEP = 0.004
GT_GRID_RES = 64
SHELL = 0.08  # depth below the surface after which T < 2e-4


def sdf_and_normal(shape: str, points: torch.Tensor):
    """points [N, 3] → sdf [N], unit normal [N, 3], tone [N] (0 main part, 1 accent)."""
    sdf4, tone4 = shape_sdf(shape, tetra_probes(points, NORMAL_EPS).reshape(-1, 3))
    sdf4 = sdf4.reshape(-1, 4)
    normal = torch.nn.functional.normalize(sdf4 @ TETRA, dim=-1)
    return sdf4.mean(dim=1), normal, tone4.reshape(-1, 4).amax(dim=1)


def shade_factor(normal: torch.Tensor, tone: torch.Tensor) -> torch.Tensor:
    """Baked soft light (half-Lambert) times the accent darkening: [N] in (0, 1]."""
    light = AMBIENT + (1.0 - AMBIENT) * (0.5 + 0.5 * (normal @ LIGHT))
    return light * (1.0 - (1.0 - ACCENT_SHADE) * tone)


def scene_query(shape: str, albedo: torch.Tensor, finish: str = "plain"):
    """The studio field of one shape, albedo [3] and finish: points [N, 3] → sigma [N], rgb [N, 3]."""

    def query(points: torch.Tensor, _scene: int = 0):
        sdf, normal, tone = sdf_and_normal(shape, points)
        shade = shade_factor(normal, tone)
        if finish != "plain":  # plain skips the multiply by 1, so its renders stay bit-for-bit
            shade = shade * pattern(finish, points)
        return SIGMA_MAX * torch.sigmoid(-sdf / BETA), albedo * shade[:, None]

    return query


def shell_grid(shape: str) -> OccupancyGrid:
    """Cells within SHELL of the surface (SDFs are 1-Lipschitz, so cell centres suffice)."""
    grid = new_grid(1, GT_GRID_RES, GT_STEP)
    half_diag = math.sqrt(3) * float((grid.aabb[3:] - grid.aabb[:3]).max()) / GT_GRID_RES / 2
    sdf, _ = shape_sdf(shape, grid.cell_centers())
    grid.set_occupied(0, (sdf.abs() < SHELL + half_diag).reshape((GT_GRID_RES,) * 3))
    return grid


class ShapeGeometry:
    """Renders one shape's opacity and shade (light times the finish's pattern) along any rays:
    colour-free ground truth."""

    def __init__(self, shape: str, finish: str = "plain"):
        self.shape, self.finish = shape, finish
        self.grid = shell_grid(shape)
        self._query = scene_query(shape, torch.tensor([1.0, 0.0, 0.0]), finish)  # channel 0 carries the shade

    def _channels(self, points: torch.Tensor, scene: int):
        sigma, rgb = self._query(points, scene)
        return sigma, torch.stack([torch.ones_like(sigma), rgb[:, 0], torch.zeros_like(sigma)], dim=-1)

    @torch.no_grad()
    def render(self, rays_o: torch.Tensor, rays_d: torch.Tensor) -> torch.Tensor:
        """rays [R, 3] → [R, 3] (opacity, shade, depth: sum of weight * t, as the renderer's)."""
        ids = torch.zeros(len(rays_o), dtype=torch.long)
        out = render_image_batches(self._channels, rays_o, rays_d, ids, self.grid, torch.zeros(3), GT_STEP)
        return torch.cat([out.rgb[:, :2], out.depth[:, None]], dim=-1)


def colorize(geometry: torch.Tensor, albedo: torch.Tensor) -> torch.Tensor:
    """geometry [..., 2 or 3] (opacity, shade, depth) → rgb [..., 3] on white."""
    opacity, shade = geometry[..., :1], geometry[..., 1:2]
    return albedo * shade + (1.0 - opacity)


class GroundTruth:
    """The exact views of a list of studio prompts (raises PromptError for a prompt outside the
    vocabulary). A (shape, finish)'s geometry is rendered once per camera set and serves every
    colour."""

    def __init__(self, prompts: list[str]):
        self.prompts = list(prompts)
        self.parsed: list[StudioPrompt] = []
        for n, prompt in enumerate(self.prompts, 1):
            try:
                self.parsed.append(parse_prompt(prompt))
            except PromptError as err:
                raise PromptError(f"prompt {n}: {err}") from None
        self.albedos = [torch.tensor(p.albedo) for p in self.parsed]
        self.geometry = {(p.shape, p.finish): ShapeGeometry(p.shape, p.finish) for p in self.parsed}
        self._views: dict[tuple, torch.Tensor] = {}

    @torch.no_grad()
    def views(self, scene: int, cameras: cams.Cameras, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Images [B, H, W, 3] and opacities [B, H, W] of prompt `scene`."""
        p = self.parsed[scene]
        key = (p.shape, p.finish, resolution, cameras.fov_x, cameras.c2w.numpy().tobytes())
        if key not in self._views:
            o, d = cams.image_rays(cameras, resolution)
            self._views[key] = self.geometry[p.shape, p.finish].render(o.reshape(-1, 3), d.reshape(-1, 3))
        geo = self._views[key]
        shape = (len(cameras), resolution, resolution)
        return colorize(geo, self.albedos[scene]).reshape(*shape, 3), geo[:, 0].reshape(shape)

    def render_views(self, scene: int, cameras: cams.Cameras, resolution: int) -> torch.Tensor:
        """Images [B, H, W, 3] of prompt `scene`."""
        return self.views(scene, cameras, resolution)[0]


def studio_truth(prompts: list[str]) -> GroundTruth | None:
    """The ground truth of `prompts`, or None when one is outside the studio's vocabulary."""
    try:
        return GroundTruth(prompts)
    except PromptError:
        return None
