"""A dense vertex-coloured mesh → a decimated, UV-unwrapped mesh with a baked colour texture.

Decimate first (quadric error, fast-simplification: what trimesh's simplify_quadric_decimation
calls, without trimesh's half-second import), because xatlas's chart search grows faster than
linearly with the triangle count. Then unwrap with xatlas, and bake: every texel whose centre
lies in a triangle in UV space gets the surface point under it (barycentric interpolation of
the decimated mesh's positions and normals) and the colour the field shows there
(surface_colors). Empty texels take the colour of the nearest baked one, so neither bilinear
filtering nor a viewer's mipmaps pull the background into a seam.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import distance_transform_edt

from .errors import HfcliError
from .export import Mesh, field_normals, fill_normals
from .output_config import TEXTURED_FACES
from .rasterize import cover

QueryFn = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]  # points [N, 3] → density [N], rgb [N, 3]

# The colour a mesh point shows is the field composited along a ray down its normal, sampled at
# these depths (in lattice steps, + outside), not the albedo at one point: a NeRF's albedo is
# only constrained through such sums, and at one depth it is noisy. On four held-out prompts
# this scored 0.1-0.6 dB over one sample half a step inside, 0.1-0.4 dB over two samples
# (BENCHMARKS.md, "Textured meshes").
BAKE_DEPTHS = (0.5, -0.5, -1.5)

# xatlas grows charts until their cost stops it; capped at this share of the surface area a
# chart stays small, which takes the unwrap of the 10k-triangle pink chair from 0.93 s to
# 0.32 s (20k: 3.3 s to 0.8 s) for more seams: 224 charts instead of 123 (BENCHMARKS.md,
# "Textured meshes").
MAX_CHART_AREA_FRACTION = 0.01
PADDING_TEXELS = 2  # between charts, so bilinear lookups at a chart's edge stay inside it


class UnwrapError(HfcliError):
    """xatlas could not unwrap the surface (too thin or degenerate to cut into charts)."""


@dataclass
class TexturedMesh:
    """A triangle mesh coloured by a texture.

    vertices: [V, 3] float32; faces: [F, 3] uint32, counter-clockwise seen from outside;
    normals: [V, 3] float32 unit, outward; uv: [V, 2] float32 in [0, 1], glTF's convention (u
    to the right, v down: texel row = v × height); texture: [H, W, 3] uint8, the colour as the
    field gives it (what the renders show, so sRGB-encoded as glTF's baseColorTexture is)."""

    vertices: np.ndarray
    faces: np.ndarray
    normals: np.ndarray
    uv: np.ndarray
    texture: np.ndarray


def decimate(vertices: np.ndarray, faces: np.ndarray, target: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadric decimation to at most about `target` faces; faces that collapsed to repeat an
    index and vertices no face uses are dropped. Returns float32 [V, 3], int64 [F, 3]."""
    if len(faces) <= target:
        return vertices, faces.astype(np.int64)
    import fast_simplification

    v, f = fast_simplification.simplify(
        np.ascontiguousarray(vertices, dtype=np.float32),
        np.ascontiguousarray(faces, dtype=np.int32),
        target_count=int(target),
    )
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    used = np.unique(f)
    remap = np.full(len(v), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return v[used].astype(np.float32), remap[f]


def unwrap(vertices: np.ndarray, faces: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """xatlas charts packed for a size×size texture. Returns (vmap [V'] indices of the input
    vertex each output vertex copies — seams split vertices —, faces [F, 3] into the output
    vertices, uv [V', 2] float32 in glTF's convention). Raises UnwrapError where xatlas fails."""
    import xatlas

    t = vertices[faces]
    area = 0.5 * float(np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1).sum())
    if len(faces) == 0 or not area > 0:
        raise UnwrapError("the surface has no area to unwrap")
    atlas = xatlas.Atlas()
    charts, pack = xatlas.ChartOptions(), xatlas.PackOptions()
    charts.max_chart_area = MAX_CHART_AREA_FRACTION * area
    pack.resolution, pack.padding = size, PADDING_TEXELS
    try:
        atlas.add_mesh(np.ascontiguousarray(vertices, dtype=np.float32), np.ascontiguousarray(faces, dtype=np.uint32))
        atlas.generate(charts, pack)
        vmap, new_faces, uv = atlas[0]
    except (RuntimeError, ValueError) as err:  # xatlas reports what it refused as these
        raise UnwrapError(f"xatlas: {err}") from None
    if atlas.atlas_count != 1 or len(new_faces) != len(faces) or not np.isfinite(uv).all():
        # What xatlas does with a surface too thin to cut into charts: no atlas, NaN coordinates.
        raise UnwrapError(f"xatlas could not cut the {len(faces)} triangles into charts (a surface too thin?)")
    return vmap.astype(np.int64), new_faces.astype(np.int64), uv.astype(np.float32)


@torch.no_grad()
def surface_colors(
    query: QueryFn, points: torch.Tensor, normals: torch.Tensor, step: float, chunk: int = 1 << 16
) -> torch.Tensor:
    """Colours [N, 3] of surface points [N, 3] with unit outward normals [N, 3]: the field's
    colour composited over BAKE_DEPTHS × `step` along the normal, as a ray looking straight at
    the surface sees it; what light is left after the last sample sees that sample's colour.
    Computed on the device of `points`, where the field must live."""
    out = torch.zeros(len(points), 3, device=points.device)
    for s in range(0, len(points), chunk):
        p, n = points[s : s + chunk].float(), normals[s : s + chunk].float()
        remaining = torch.ones(len(p), 1, device=p.device)
        for k, depth in enumerate(BAKE_DEPTHS):
            sigma, rgb = query(p + depth * step * n)
            rgb = torch.nan_to_num(rgb.float()).clamp(0.0, 1.0)
            if k == len(BAKE_DEPTHS) - 1:
                out[s : s + chunk] += remaining * rgb
                break
            alpha = 1.0 - torch.exp(-torch.nan_to_num(sigma.float()).clamp_min(0.0)[:, None] * step)
            out[s : s + chunk] += remaining * alpha * rgb
            remaining = remaining * (1.0 - alpha)
    return out


def dilate(image: np.ndarray, filled: np.ndarray) -> np.ndarray:
    """Every texel not `filled` [H, W] takes the value of the nearest filled one."""
    if filled.all() or not filled.any():
        return image
    _, (rows, cols) = distance_transform_edt(~filled, return_indices=True)
    return image[rows, cols]


@torch.no_grad()
def bake(
    vertices: np.ndarray,
    faces: np.ndarray,
    normals: np.ndarray,
    uv: np.ndarray,
    query: QueryFn,
    size: int,
    step: float,
    device: torch.device | str = "cpu",
) -> np.ndarray:
    """The texture [size, size, 3] uint8 of a UV-mapped mesh: surface_colors at each covered
    texel's surface point and interpolated normal; the rest filled by dilate. Texel coverage is
    found on the CPU; the field is queried on `device`."""
    f = torch.as_tensor(faces, dtype=torch.long)
    cov = cover(torch.as_tensor(uv, dtype=torch.float32)[f] * size, size, size)
    corners, b = f[cov.face], cov.bary[:, :, None]
    points = (torch.as_tensor(vertices, dtype=torch.float32)[corners] * b).sum(dim=1)
    normals = (torch.as_tensor(normals, dtype=torch.float32)[corners] * b).sum(dim=1)
    normals = torch.nn.functional.normalize(normals, dim=1)
    colors = surface_colors(query, points.to(device), normals.to(device), step).cpu()
    texture = np.zeros((size * size, 3), dtype=np.uint8)
    filled = np.zeros(size * size, dtype=bool)
    pixel = cov.pixel.numpy()
    texture[pixel] = np.round(colors.numpy() * 255).astype(np.uint8)
    filled[pixel] = True
    return dilate(texture.reshape(size, size, 3), filled.reshape(size, size))


def finish_mesh(
    dense: Mesh,
    query: QueryFn,
    density_fn: Callable[[torch.Tensor], torch.Tensor],
    *,
    step: float,
    faces: int | None = None,
    texture_size: int = 1024,
    vertex_colors: bool = False,
    device: torch.device | str = "cpu",
) -> tuple[Mesh | TexturedMesh, list[str], dict[str, float]]:
    """A marching-cubes mesh → the mesh to write: (mesh, notes for the user, seconds per stage).

    Decimated to `faces` (default TEXTURED_FACES when textured); textured meshes are unwrapped
    and baked, vertex-coloured ones recoloured at their new vertices; without `faces` a
    vertex-coloured mesh is `dense` itself, every triangle kept. A surface xatlas cannot unwrap
    gets vertex colours and a note. `step`: the lattice spacing, which the colour bake steps by;
    `device`: where the field lives (decimation and unwrap are numpy, on the CPU)."""
    clock = time.perf_counter
    seconds = dict.fromkeys(("decimate", "unwrap", "bake"), 0.0)
    budget = faces if faces is not None else None if vertex_colors else TEXTURED_FACES
    if budget is None:
        return dense, [], seconds
    notes = []
    start = clock()
    if budget < len(dense.faces):
        vertices, tris = decimate(dense.vertices, dense.faces, budget)
        normals, ok = field_normals(density_fn, vertices, step, device=device)
        normals = fill_normals(normals, ok, vertices, tris).astype(np.float32)
    else:
        if faces is not None:
            notes.append(f"--faces {faces}: the mesh has only {len(dense.faces)} triangles; kept them all")
        vertices, tris, normals = dense.vertices, dense.faces.astype(np.int64), dense.normals
    seconds["decimate"] = clock() - start
    if not vertex_colors:
        try:
            start = clock()
            vmap, uv_faces, uv = unwrap(vertices, tris, texture_size)
            seconds["unwrap"] = clock() - start
            start = clock()
            v, n = vertices[vmap], normals[vmap]
            texture = bake(v, uv_faces, n, uv, query, texture_size, step, device)
            seconds["bake"] = clock() - start
            return TexturedMesh(v, uv_faces.astype(np.uint32), n, uv, texture), notes, seconds
        except UnwrapError as err:
            notes.append(f"no texture: {err}; wrote vertex colours instead")
    start = clock()
    colors = surface_colors(
        query, torch.as_tensor(vertices, device=device), torch.as_tensor(normals, device=device), step
    )
    seconds["bake"] = clock() - start
    return Mesh(vertices, tris.astype(np.uint32), colors.cpu().numpy(), normals), notes, seconds
