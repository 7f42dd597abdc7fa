"""Density/colour field → watertight vertex-coloured mesh.

Pipeline: sample density on a grid → marching cubes (PyMCubes) → world coordinates → merge
duplicates, drop degenerate faces and floaters → outward normals from the density gradient →
albedo sampled just inside the surface. hfcli/texture.py turns such a mesh into a textured one;
hfcli/gltf.py and hfcli/mesh_io.py write the files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import mcubes
import numpy as np
import torch
from scipy.ndimage import binary_fill_holes, gaussian_filter
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .errors import EmptyMeshError
from .inset import face_normals, inset_surface, vertex_normals
from .scene import box_corners

FieldFn = Callable[[torch.Tensor], torch.Tensor]
# (xs [X], ys [Y], zs [Z]) lattice coordinates per axis → bool [X, Y, Z]: where density can be non-zero.
ActiveFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
# (vertices [V, 3], faces [F, 3]) of a level surface → how far inside it to mesh instead.
InsetFn = Callable[[np.ndarray, np.ndarray], float]
AABB = tuple[tuple[float, float, float], tuple[float, float, float]]  # (min xyz, max xyz)

# Colours are read this many voxels inside the surface: albedo exactly at the boundary is a
# blend of the object and the empty space around it.
COLOR_INSET_VOXELS = 0.5


@dataclass
class Mesh:
    """A triangle mesh with per-vertex attributes.

    vertices: [V, 3] float32 world coordinates; faces: [F, 3] uint32, counter-clockwise seen
    from outside; colors: [V, 3] float32 in [0, 1]; normals: [V, 3] float32, unit, outward.
    """

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray
    normals: np.ndarray


# ───────────────────────────── field evaluation ─────────────────────────────


@torch.no_grad()
def _eval(fn: FieldFn, points: np.ndarray, chunk: int, device) -> np.ndarray:
    """Call `fn` on points [N, 3] in chunks; returns float64 [N] or [N, C] on the CPU."""
    outs = []
    for s in range(0, len(points), chunk):
        p = torch.as_tensor(points[s : s + chunk], dtype=torch.float32, device=device)
        outs.append(fn(p).detach().float().cpu().numpy().astype(np.float64))
    return np.concatenate(outs) if outs else np.zeros((0,))


@torch.no_grad()
def _sample_grid(
    density_fn: FieldFn,
    lo: np.ndarray,
    step: np.ndarray,
    res: int,
    chunk: int,
    device,
    active: ActiveFn | None = None,
    outside: float = 0.0,
) -> np.ndarray:
    """Density on the res³ grid lo + [i, j, k]·step; returns [res, res, res], axis 0 = x.
    With `active`, only the lattice points it marks are evaluated; the rest read `outside`."""
    if active is not None:
        mask = active(*(lo[i] + np.arange(res) * step[i] for i in range(3)))
        flat = np.flatnonzero(mask)
        out = np.full(res**3, outside, dtype=np.float64)
        ijk = np.stack(np.unravel_index(flat, (res, res, res)), axis=1)
        out[flat] = _eval(density_fn, lo + ijk * step, chunk, device).reshape(-1)
        return np.nan_to_num(out, nan=-np.inf).reshape(res, res, res)
    out = np.empty(res**3, dtype=np.float64)
    # Points are built per chunk so a 512³ grid never holds all coordinates at once.
    for s in range(0, res**3, chunk):
        flat = np.arange(s, min(s + chunk, res**3))
        ijk = np.stack([flat // (res * res), (flat // res) % res, flat % res], axis=1)
        out[s : s + len(flat)] = _eval(density_fn, lo + ijk * step, chunk, device).reshape(-1)
    return np.nan_to_num(out, nan=-np.inf).reshape(res, res, res)


# ───────────────────────────── mesh cleaning ─────────────────────────────


def _merge_and_drop_degenerate(v: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge bit-identical vertices (marching cubes emits one per cube when a grid sample
    equals the threshold) and drop faces that then repeat an index (zero area; the glTF
    validator flags them). v: [V, 3], f: [F, 3] → the same, renumbered."""
    v, inverse = np.unique(v, axis=0, return_inverse=True)
    f = inverse.reshape(-1)[f]
    keep = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    return v, f[keep]


def _clean(v: np.ndarray, f: np.ndarray, min_component_fraction: float, threshold: float):
    """Marching cubes' output merged, without degenerate faces or floaters (components with
    fewer than min_component_fraction × the largest one's faces), renumbered."""
    v, f = _merge_and_drop_degenerate(v, f)
    if len(f) == 0:
        raise EmptyMeshError(f"no surface at density threshold {threshold:g}: only degenerate triangles")
    labels = _face_components(f, len(v))
    counts = np.bincount(labels)
    return _compact(v, f[counts[labels] >= min_component_fraction * counts.max()])


def _face_components(f: np.ndarray, n_vertices: int) -> np.ndarray:
    """Connected-component label of every face [F] (faces linked through shared vertices)."""
    rows = np.concatenate([f[:, 0], f[:, 1], f[:, 2]])
    cols = np.concatenate([f[:, 1], f[:, 2], f[:, 0]])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_vertices, n_vertices))
    _, labels = connected_components(graph, directed=False)
    return labels[f[:, 0]]


def _compact(v: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop vertices no face references; v: [V, 3], f: [F, 3] → renumbered."""
    used = np.unique(f)
    remap = np.full(len(v), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return v[used], remap[f]


def _normalize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of x [N, 3] scaled to unit length, and a mask [N] of rows that could be."""
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    ok = norm[:, 0] > 1e-12
    return np.where(ok[:, None], x / np.maximum(norm, 1e-30), 0.0), ok


# ───────────────────────────── extraction ─────────────────────────────


def field_normals(density_fn: FieldFn, v: np.ndarray, step, chunk: int = 65536, device="cpu"):
    """Outward unit normals [V, 3] at points v [V, 3]: from high to low density, i.e. minus the
    density gradient by central differences half a lattice `step` (scalar or per axis) wide;
    and a mask [V] of points where the gradient did not vanish."""
    h = 0.5 * np.broadcast_to(np.asarray(step, dtype=np.float64), (3,))
    offsets = np.concatenate([np.diag(h), -np.diag(h)])  # [6, 3]
    d = _eval(density_fn, (v[:, None, :] + offsets[None]).reshape(-1, 3), chunk, device)
    d = np.nan_to_num(d.reshape(len(v), 6))
    return _normalize(-(d[:, :3] - d[:, 3:]) / (2 * h))


def fill_normals(normals: np.ndarray, ok: np.ndarray, v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Where the density gradient vanished (flat density; `ok` False), area-weighted face normals
    of the mesh v [V, 3], f [F, 3] instead, and +z where even those cancel."""
    if ok.all():
        return normals
    area_n = vertex_normals(v.astype(np.float64), f)
    area_ok = np.linalg.norm(area_n, axis=1) > 0.5  # unit, or zero where the faces cancel
    normals = np.where(ok[:, None], normals, area_n)
    normals[~ok & ~area_ok] = (0.0, 0.0, 1.0)
    return normals


def extract_mesh(
    density_fn: FieldFn,
    color_fn: FieldFn,
    *,
    threshold: float,
    resolution: int = 128,
    aabb: AABB | None = None,
    chunk: int = 65536,
    min_component_fraction: float = 0.05,
    fill_cavities: bool = True,
    smooth_voxels: float = 0.0,
    active: ActiveFn | None = None,
    outside: float = 0.0,
    device: str | torch.device = "cpu",
    inset: InsetFn | None = None,
) -> Mesh:
    """Iso-surface {density = threshold} of a field, with outward normals and albedo.

    density_fn: points [N, 3] → [N]; color_fn: points [N, 3] → [N, 3] in [0, 1]. Both run
    under torch.no_grad on at most `chunk` points at a time, on `device`. The grid has
    `resolution` samples per axis over `aabb` (default: the scene box), its corners included.
    Components with fewer than `min_component_fraction` × the largest component's faces are
    dropped as floaters.
    With `fill_cavities`, closed pockets of low density inside the object are filled: a NeRF
    is never trained behind its visible surface, and its noise there would mesh as inner shells.
    `smooth_voxels` > 0 blurs the sampled density (Gaussian sigma, in voxels) before meshing.
    `active` marks the lattice points worth evaluating (the rest read `outside`: zero density, or
    a negative value when the field is a negated signed distance meshed at 0).
    `inset`, given the level's cleaned mesh (vertices [V, 3], faces [F, 3]), says how far inside
    it the surface lies; the mesh is then the surface that far in (hfcli/inset.py).
    Raises EmptyMeshError when the field never crosses the threshold.
    """
    lo, hi = (np.asarray(c, dtype=np.float64) for c in (aabb or box_corners()))
    step = (hi - lo) / (resolution - 1)
    grid = _sample_grid(density_fn, lo, step, resolution, chunk, device, active, outside)
    if smooth_voxels > 0:
        grid = gaussian_filter(np.nan_to_num(grid, nan=0.0), smooth_voxels)
    finite = grid[np.isfinite(grid)]
    if finite.size == 0 or not (finite.max() > threshold and grid.min() < threshold):
        lo_d = f"{finite.min():.4g}" if finite.size else "nan"
        hi_d = f"{finite.max():.4g}" if finite.size else "nan"
        raise EmptyMeshError(
            f"no surface at density threshold {threshold:g}: density on the "
            f"{resolution}³ grid ranges over [{lo_d}, {hi_d}]; pick a --threshold inside it"
        )

    if fill_cavities:
        solid = binary_fill_holes(grid > threshold)
        grid = np.where(solid & ~(grid > threshold), 2.0 * abs(threshold) + 1.0, grid)

    # A border of empty space closes surfaces that touch the aabb, so the mesh stays watertight.
    floor = min(float(finite.min()), threshold) - 1.0
    padded = np.pad(np.maximum(grid, floor), 1, constant_values=floor)
    v, f = mcubes.marching_cubes(padded, float(threshold))
    # PyMCubes returns vertices in array-index order (column 0 ↔ axis 0 ↔ x) and, for a field
    # that is high inside, counter-clockwise faces seen from outside; winding is re-checked below.
    v, f = _clean(np.clip(lo + (v - 1.0) * step, lo, hi), f.astype(np.int64), min_component_fraction, threshold)
    depth = inset(v, f) if inset is not None else 0.0
    if depth > 0:
        v, f = inset_surface(v, f, grid > threshold, lo, step, depth)
        v, f = _clean(np.clip(v, lo, hi), f, min_component_fraction, threshold)
    labels = _face_components(f, len(v))

    normals, ok = field_normals(density_fn, v, step, chunk, device)

    # Flip whole components whose winding disagrees with the normals, so neighbours stay
    # consistently wound (flipping face by face could tear the orientation of a noisy field).
    agree = np.einsum("fc,fc->f", face_normals(v, f), normals[f].sum(axis=1))
    flip = np.bincount(labels, weights=agree, minlength=labels.max() + 1) < 0
    f[flip[labels]] = f[flip[labels]][:, ::-1]

    normals = fill_normals(normals, ok, v, f)

    inset = COLOR_INSET_VOXELS * float(step.mean())
    colors = _eval(color_fn, v - inset * normals, chunk, device).reshape(len(v), 3)
    return Mesh(
        vertices=v.astype(np.float32),
        faces=f.astype(np.uint32),
        colors=np.clip(np.nan_to_num(colors), 0.0, 1.0).astype(np.float32),
        normals=normals.astype(np.float32),
    )
