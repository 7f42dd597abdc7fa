"""Meshing on the rendered surface: the level mesh moved inward by the gap a head-on ray measures
(hfcli/inset.py, outputs.surface_gap), against analytic shapes."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial import cKDTree

from hfcli.export import extract_mesh
from hfcli.outputs import surface_gap

CENTRE = torch.tensor([0.1, -0.15, 0.05])
HALF = torch.tensor([0.45, 0.25, 0.35])  # a box, distinct per axis
SOFT = 0.01  # the studio's own softness: density 100 · sigmoid(-sdf / SOFT)
RES = 64
VOXEL = 2.0 / (RES - 1)


def box_sdf(p: torch.Tensor) -> torch.Tensor:
    q = (p - CENTRE).abs() - HALF
    return q.clamp_min(0).norm(dim=-1) + q.max(dim=-1).values.clamp_max(0)


def ball_sdf(p: torch.Tensor, radius: float = 0.4) -> torch.Tensor:
    return (p - CENTRE).norm(dim=-1) - radius


def studio_density(sdf):
    return lambda p: 100 * torch.sigmoid(-sdf(p) / SOFT)


def grey(p: torch.Tensor) -> torch.Tensor:
    return torch.full((len(p), 3), 0.5)


def box_edges_and_corners() -> np.ndarray:
    """The box's 8 corners and 9 points along each of its 12 edges [116, 3]."""
    points = []
    for axis in range(3):
        others = [a for a in range(3) if a != axis]
        for s1 in (-1, 1):
            for s2 in (-1, 1):
                for along in (*np.linspace(-0.8, 0.8, 9), -1, 1):
                    unit = torch.zeros(3)
                    unit[axis], unit[others[0]], unit[others[1]] = float(along), s1, s2
                    points.append((CENTRE + HALF * unit).numpy())
    return np.unique(np.round(np.array(points), 6), axis=0)


def distance_to_mesh(mesh, points: np.ndarray) -> np.ndarray:
    """Distance [N] from points to a mesh, through 20 random samples per face."""
    weights = np.random.default_rng(0).dirichlet([1, 1, 1], size=(len(mesh.faces), 20))
    samples = np.einsum("fkj,fjc->fkc", weights, mesh.vertices[mesh.faces.astype(np.int64)]).reshape(-1, 3)
    return cKDTree(samples).query(points)[0]


def test_an_inset_of_a_rounded_box_comes_back_sharp():
    """The level 0.06 outside a box is the box with its edges and corners rounded by 0.06. Inset
    by 0.06 it is the box again: its faces within a sixth of a voxel, its edges and corners as
    sharp as marching cubes makes those of the box itself (which cuts them by about a voxel)."""
    outside = 0.06
    density = studio_density(lambda p: box_sdf(p) - outside)
    level = extract_mesh(density, grey, threshold=50, resolution=RES)
    mesh = extract_mesh(density, grey, threshold=50, resolution=RES, inset=lambda v, f: outside)
    box = extract_mesh(studio_density(box_sdf), grey, threshold=50, resolution=RES)
    assert float(box_sdf(torch.as_tensor(level.vertices)).mean()) == pytest.approx(outside, abs=0.002)
    assert float(box_sdf(torch.as_tensor(mesh.vertices)).abs().max()) < VOXEL / 6
    sharp = box_edges_and_corners()
    inset_off, box_off, level_off = (distance_to_mesh(m, sharp).mean() for m in (mesh, box, level))
    assert inset_off < 1.2 * box_off < level_off, (inset_off, box_off, level_off)
    tm, box_tm = (trimesh.Trimesh(m.vertices, m.faces.astype(np.int64), process=False) for m in (mesh, box))
    assert tm.is_watertight and tm.is_winding_consistent
    assert tm.volume == pytest.approx(box_tm.volume, rel=0.01)  # both ~1% under 8 · HALF³: the cut edges


def test_the_gap_is_where_a_head_on_ray_turns_half_opaque():
    """For the studio's profile a ray down the normal is half opaque exactly at sdf = 0, so the
    gap of a level mesh is its own distance off the true sphere: for the level at density 5,
    SOFT ln 19 = 0.029 out, plus what marching cubes' linear interpolation of so steep a ramp adds."""
    scene = SimpleNamespace(density=studio_density(ball_sdf), device=torch.device("cpu"))
    level = extract_mesh(scene.density, grey, threshold=5, resolution=RES)
    outside = float(ball_sdf(torch.as_tensor(level.vertices)).median())
    assert outside == pytest.approx(SOFT * math.log(19), abs=0.004)
    assert surface_gap(scene, level.vertices, level.faces.astype(np.int64)) == pytest.approx(outside, abs=0.001)
    mesh = extract_mesh(scene.density, grey, threshold=5, resolution=RES, inset=lambda v, f: surface_gap(scene, v, f))
    # On the sphere, give or take the level's own wobble (marching cubes on a ramp 3 voxels steep).
    off = ball_sdf(torch.as_tensor(mesh.vertices))
    assert abs(float(off.mean())) < 0.001 and float(off.abs().max()) < VOXEL / 4


def test_no_gap_where_no_ray_turns_opaque():
    """A field too faint for any head-on ray to reach opacity 1/2 has no rendered surface to move to."""
    scene = SimpleNamespace(density=lambda p: 0.05 * studio_density(ball_sdf)(p), device=torch.device("cpu"))
    level = extract_mesh(scene.density, grey, threshold=1, resolution=32)
    assert surface_gap(scene, level.vertices, level.faces.astype(np.int64)) == 0.0
