"""What a NeRF scene turns into for people: rendered views and meshes."""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from .export import Mesh, extract_mesh
from .inset import vertex_normals
from .model import NerfScene
from .output_config import MeshConfig
from .render import cameras as cams
from .render.renderer import render_image_batches
from .scene import box_corners
from .texture import TexturedMesh, finish_mesh

WHITE = torch.ones(3)
# Fallback surface density for a mesh when a field shows no opaque pixel to measure its own
# (the studio's boundary, sdf = 0, sits at half its SIGMA_MAX of 100).
MESH_DENSITY_THRESHOLD = 50.0
SURFACE_FRACTION = 0.5
# The eval views at 24² give the median within about 1% of 48², in a fifth of the time.
THRESHOLD_PROBE_RESOLUTION = 24
# surface_gap's rays: from this far outside a level vertex to this far inside, in this many
# samples (0.002 apart, a fifth of the studio's own surface softness of 0.01).
GAP_RAY_OUTSIDE, GAP_RAY_INSIDE, GAP_RAY_SAMPLES = 0.04, 0.08, 61
GAP_VERTICES = 4096


@torch.no_grad()
def render_views(scene: NerfScene, cameras: cams.Cameras, resolution: int, background=WHITE):
    """Images [B, H, W, 3] and opacities [B, H, W] of a scene, on the scene's device."""
    out, _, _ = render_pixels(scene, cameras, resolution, background)
    shape = (len(cameras), resolution, resolution)
    return out.rgb.reshape(*shape, 3), out.opacity.reshape(shape)


def render_pixels(scene: NerfScene, cameras: cams.Cameras, resolution: int, background=WHITE):
    """The render of every pixel ray, flat, with the rays (origins, directions [B·H·W, 3]). The
    rays are made on the CPU (cheap, and the same on every device) and moved to the scene's."""
    o, d = cams.image_rays(cameras, resolution)
    o, d = o.reshape(-1, 3).to(scene.device), d.reshape(-1, 3).to(scene.device)
    ids = torch.zeros(len(o), dtype=torch.long, device=scene.device)
    return render_image_batches(scene.query, o, d, ids, scene.grid, background), o, d


def turntable(scene: NerfScene, n_views: int, resolution: int) -> list[torch.Tensor]:
    """n_views frames [H, W, 3] circling the object (one frame: a 3/4 view)."""
    images, _ = render_views(scene, cams.turntable_cameras(n_views), resolution)
    return list(images)


@torch.no_grad()
def surface_threshold(scene: NerfScene, resolution: int = THRESHOLD_PROBE_RESOLUTION) -> float:
    """The density at which to mesh this field: SURFACE_FRACTION of the median density at the
    expected depth of opaque pixels over the eval views. A learned field reaches full opacity
    with whatever density the training made convenient, so no fixed level fits every model;
    the expected depth lies inside the boundary, and at the median itself thin parts (a chair's
    seat) mesh with holes, while half of it closes them."""
    points, _ = rendered_surface(scene, resolution)
    if len(points) < 16:
        return MESH_DENSITY_THRESHOLD
    return SURFACE_FRACTION * float(scene.density(points).median())


@torch.no_grad()
def rendered_surface(scene: NerfScene, resolution: int = THRESHOLD_PROBE_RESOLUTION):
    """Where the eval views' opaque pixels (opacity > 0.9) end: their expected depth as points
    [N, 3], with the rays' directions [N, 3]."""
    out, o, d = render_pixels(scene, cams.eval_cameras(), resolution)
    opaque = out.opacity > 0.9
    return o[opaque] + d[opaque] * (out.depth[opaque] / out.opacity[opaque])[:, None], d[opaque]


@torch.no_grad()
def surface_gap(scene: NerfScene, v: np.ndarray, f: np.ndarray) -> float:
    """How far inside a level mesh (vertices v [V, 3], faces f [F, 3]) the field renders its
    surface: the median over up to GAP_VERTICES vertices of where a ray cast head-on at the
    vertex, down its inward normal, reaches opacity 1/2 (the studio's truth has its zero level
    exactly there), measured from the vertex. Rays that never reach it (a part too thin) are left
    out; 0 when fewer than 16 remain."""
    pick = np.linspace(0, len(v) - 1, min(len(v), GAP_VERTICES)).astype(np.int64)
    inward = -torch.as_tensor(vertex_normals(v.astype(np.float64), f)[pick], dtype=torch.float32, device=scene.device)
    start = torch.as_tensor(v[pick], dtype=torch.float32, device=scene.device) - GAP_RAY_OUTSIDE * inward
    t = torch.linspace(0.0, GAP_RAY_OUTSIDE + GAP_RAY_INSIDE, GAP_RAY_SAMPLES, device=scene.device)
    points = start[:, None, :] + inward[:, None, :] * t[None, :, None]
    sigma = scene.density(points.reshape(-1, 3)).reshape(len(pick), -1)
    # Optical depth at each sample (trapezoids); opacity 1/2 is optical depth ln 2.
    tau = torch.nn.functional.pad(torch.cumsum(0.5 * (sigma[:, 1:] + sigma[:, :-1]) * (t[1] - t[0]), 1), (1, 0))
    reached = tau[:, -1] >= math.log(2)
    if int(reached.sum()) < 16:
        return 0.0
    tau = tau[reached]
    i = (tau < math.log(2)).sum(1).clamp(1, len(t) - 1)  # tau rises: the first sample at or past ln 2
    a, b = tau.gather(1, (i - 1)[:, None])[:, 0], tau.gather(1, i[:, None])[:, 0]
    hit = t[i - 1] + (math.log(2) - a) / (b - a).clamp_min(1e-12) * (t[i] - t[i - 1])
    return float((hit - GAP_RAY_OUTSIDE).median())


def occupied_lattice(scene: NerfScene):
    """An `active` mask for extract_mesh: lattice points in or next to cells the scene's
    occupancy grid keeps. Culled cells are below the grid's 1%-per-step density, far under any
    mesh threshold, so the surface is the same while most of the box is never queried."""
    grid = scene.grid
    # Grown by a cell: a baked grid samples each cell once, and a boundary cell it missed can
    # still hold density near the mesh level next to one it kept.
    occupied = torch.nn.functional.max_pool3d(grid.occupied[:1].float(), 3, stride=1, padding=1)[0].bool().cpu().numpy()
    box = grid.aabb.cpu().numpy()  # the lattice test below runs in numpy, on the CPU
    lo, hi, res = box[:3], box[3:], occupied.shape[0]

    def active(*axes: np.ndarray) -> np.ndarray:
        # The cell arithmetic of raymarch_torch.grid_lookup (truncation toward zero), per axis.
        cells = [((a - lo[i]) / (hi[i] - lo[i]) * res).astype(np.int64) for i, a in enumerate(axes)]
        inside = [(c >= 0) & (c < res) for c in cells]
        cx, cy, cz = (np.clip(c, 0, res - 1) for c in cells)
        keep = occupied[cx[:, None, None], cy[None, :, None], cz[None, None, :]]
        return keep & inside[0][:, None, None] & inside[1][None, :, None] & inside[2][None, None, :]

    return active


def scene_mesh(
    scene: NerfScene,
    resolution: int = MeshConfig.resolution,
    threshold: float | None = None,
    smooth: float | None = None,
) -> Mesh:
    """Mesh of a scene at density `threshold`, as it is. By default the field's own surface: an
    sdf field's zero level (the surface it was trained to put there: nothing to measure); for a
    density field its surface_threshold level, moved inward by surface_gap onto where the field
    renders its surface (hfcli/inset.py: that level is smooth but lies about 0.02 outside).
    Both sampled fields are blurred first, by `smooth` voxels or else by the field's own
    mesh_smooth_voxels (how noisy it is; FieldConfig): a Gaussian
    leaves a signed distance's zero level where it is on flat parts and moves it by about
    sigma^2 times the mean curvature on curved ones (4e-4 on a ball of radius 0.6 at 128^3),
    but removes the ripples at the tri-plane's texel scale (a bowl teacher's normals 0.889 →
    0.973, BENCHMARKS.md); it also rounds edges, so a clean field records less."""
    blur = scene.field.cfg.mesh_smooth_voxels if smooth is None else smooth
    if threshold is None and scene.field.cfg.kind == "sdf":
        # Lattice points in culled cells lie over a cell from the surface: outside, far from 0.
        return extract_mesh(
            lambda p: -scene.signed_distance(p),
            scene.albedo,
            threshold=0.0,
            resolution=resolution,
            active=occupied_lattice(scene),
            outside=-1.0,
            smooth_voxels=blur,
            device=scene.device,
        )
    level = surface_threshold(scene) if threshold is None else threshold
    # Skipping culled cells is exact only for levels well above the grid's own threshold.
    active = occupied_lattice(scene) if level > 2 * float(scene.grid.thresholds().max()) else None
    return extract_mesh(
        scene.density,
        scene.albedo,
        threshold=level,
        resolution=resolution,
        smooth_voxels=blur,
        active=active,
        device=scene.device,
        inset=(lambda v, f: surface_gap(scene, v, f)) if threshold is None else None,
    )


def mesh_for_file(
    scene: NerfScene, cfg: MeshConfig, fmt: str = "glb", threshold: float | None = None
) -> tuple[Mesh | TexturedMesh, list[str], dict[str, float]]:
    """The mesh to write for a scene: (mesh, notes for the user, seconds per stage): scene_mesh,
    then texture.finish_mesh with the settings of `cfg` (a .ply always carries vertex colours)."""
    start = time.perf_counter()
    dense = scene_mesh(scene, cfg.resolution, threshold, cfg.smooth)
    mesh_s = time.perf_counter() - start
    lo, hi = box_corners()
    mesh, notes, seconds = finish_mesh(
        dense,
        scene.query,
        scene.density,
        step=float(np.mean(np.subtract(hi, lo))) / (cfg.resolution - 1),  # the marching-cubes lattice
        faces=cfg.faces,
        texture_size=cfg.texture_size,
        vertex_colors=cfg.vertex_colors or fmt == "ply",
        device=scene.device,
    )
    return mesh, notes, {"mesh": mesh_s, **seconds}
