"""The mesh rasteriser against the camera model it must match (cams.image_rays), ray casting,
exact perspective geometry, and the NeRF renderer on the same shape."""

from __future__ import annotations

import numpy as np
import torch

from hfcli.export import extract_mesh
from hfcli.metrics import psnr
from hfcli.rasterize import project, rasterize, render_mesh, sample_texture
from hfcli.render import cameras as cams
from hfcli.render.renderer import render_image_batches
from tests.test_export import CENTRE, RADIUS, sphere_density, split_colour

RES = 24


def _ray_cast(o: torch.Tensor, d: torch.Tensor, v: torch.Tensor, f: torch.Tensor):
    """Möller–Trumbore, every ray against every triangle: (hit [R], point [R, 3], margin [R]),
    margin = the nearest hit's smallest barycentric (how far inside its triangle the ray passes)."""
    a, b, c = v[f[:, 0]].double(), v[f[:, 1]].double(), v[f[:, 2]].double()
    e1, e2 = b - a, c - a
    o, d = o.double(), d.double()
    p = torch.cross(d[:, None], e2[None].expand(len(d), -1, -1), dim=-1)
    det = (e1[None] * p).sum(-1)
    inv = 1.0 / torch.where(det.abs() < 1e-15, 1e-15, det)
    s = o[:, None] - a[None]
    u = (s * p).sum(-1) * inv
    q = torch.cross(s, e1[None].expand_as(s), dim=-1)
    w = (d[:, None] * q).sum(-1) * inv
    t = (e2[None] * q).sum(-1) * inv
    inside = (u >= 0) & (w >= 0) & (u + w <= 1) & (t > 0) & (det.abs() > 1e-15)
    t = torch.where(inside, t, torch.inf)
    nearest = t.argmin(dim=1)
    hit = torch.isfinite(t.min(dim=1).values)
    rows = torch.arange(len(d))
    margin = torch.stack([u, w, 1 - u - w], -1)[rows, nearest].min(dim=1).values
    return hit, (o + t.min(dim=1).values[:, None] * d), margin


def _sphere():
    return extract_mesh(sphere_density, split_colour, threshold=50, resolution=16)


def test_project_inverts_image_rays():
    cameras = cams.eval_cameras()
    o, d = cams.image_rays(cameras, RES)
    for k in (0, 5, 13):
        points = o[k] + d[k] * torch.linspace(2.0, 4.0, RES * RES)[:, None]  # one point on each pixel's ray
        xy, depth = project(points, cameras.c2w[k], cameras.focal_unit, RES)
        i = torch.arange(RES * RES)
        np.testing.assert_allclose(xy[:, 0], i % RES + 0.5, atol=1e-4)  # column, pixel centre
        np.testing.assert_allclose(xy[:, 1], i // RES + 0.5, atol=1e-4)  # row, top row first
        forward = -cameras.c2w[k, :3, 2]
        np.testing.assert_allclose(depth, (points - o[k]) @ forward, atol=1e-5)


def test_coverage_and_surface_points_match_ray_casting():
    mesh = _sphere()
    v, f = torch.as_tensor(mesh.vertices), torch.as_tensor(mesh.faces).long()
    cameras = cams.eval_cameras()
    o, d = cams.image_rays(cameras, RES)
    for k in (2, 11):
        face, bary = rasterize(v, f, cameras.c2w[k], cameras.focal_unit, RES)
        hit, point, margin = _ray_cast(o[k], d[k], v, f)
        # Rays that graze a silhouette edge may go either way in float arithmetic.
        sure = (margin > 1e-4) | ~hit
        assert ((face >= 0) == hit)[sure].all() and hit.sum() > 50
        both = (face >= 0) & hit
        # Perspective-correct barycentrics give the exact point on the surface that the ray hits.
        surface = (v[f[face[both]]] * bary[both, :, None]).sum(dim=1)
        np.testing.assert_allclose(surface, point[both].float(), atol=1e-4)


def test_attributes_interpolate_perspective_correct():
    """A quad steeply tilted in depth, each vertex coloured by its own position: every pixel must
    show the point its ray hits. Interpolating in screen space would miss by up to ~0.1."""
    quad = torch.tensor([[-0.8, -0.3, 0.9], [0.8, -0.3, 0.9], [0.8, 0.3, -0.9], [-0.8, 0.3, -0.9]])
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    cameras = cams.orbit_cameras([0.0], [0.0])
    colors = (quad + 1) / 2  # positions into [0, 1]
    image, coverage = render_mesh(quad, faces, cameras, RES, colors=colors, supersample=1)
    o, d = cams.image_rays(cameras, RES)
    normal = torch.cross(quad[1] - quad[0], quad[2] - quad[0], dim=0)
    t = ((quad[0] - o[0]) @ normal) / (d[0] @ normal)
    expected = ((o[0] + t[:, None] * d[0]) + 1) / 2
    inside = coverage.reshape(-1) > 0
    assert inside.sum() > 100
    np.testing.assert_allclose(image.reshape(-1, 3)[inside], expected[inside], atol=1e-4)


def test_texture_lookup_is_bilinear_with_v_down():
    texture = torch.tensor([[[1.0, 0, 0], [0, 1.0, 0]], [[0, 0, 1.0], [1.0, 1.0, 1.0]]])  # row 0 on top
    uv = torch.tensor([[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.5, 0.5], [0.0, 0.0], [0.5, 0.25]])
    got = sample_texture(texture, uv)
    want = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5], [1, 0, 0], [0.5, 0.5, 0]]
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_the_nearest_triangle_wins_whatever_the_order():
    near = torch.tensor([[-0.5, -0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.5, 0.5]])
    far = near * torch.tensor([2.0, 2.0, -1.0])  # larger, behind it
    v = torch.cat([near, far])
    colors = torch.tensor([[1.0, 0, 0]] * 3 + [[0, 0, 1.0]] * 3)  # near red, far blue
    cameras = cams.orbit_cameras([0.0], [0.0])
    for faces in ([[0, 1, 2], [3, 4, 5]], [[3, 4, 5], [0, 1, 2]]):
        image, _ = render_mesh(v, torch.tensor(faces), cameras, RES, colors=colors, supersample=1)
        np.testing.assert_allclose(image[0, RES // 2, RES // 2], [1.0, 0, 0], atol=1e-6)
        np.testing.assert_allclose(image[0, 19, 5], [0, 0, 1.0], atol=1e-6)  # only the far one reaches there


def test_a_mesh_renders_like_the_nerf_renderer_renders_its_field():
    """A sphere with a hard boundary through the volume renderer (fine steps), and its
    marching-cubes mesh through the rasteriser: the same picture on white, at the same cameras.
    (A soft boundary would not do: a grazing ray gathers density outside the level set, so the
    volume's silhouette is wider than the mesh's; tests/test_export.py's sphere by 0.4 pixel.)"""

    def density(p):
        return sphere_density(p) * 1e3 * torch.sigmoid(-((p - CENTRE).norm(dim=-1) - RADIUS) / 1e-4)

    mesh = extract_mesh(density, split_colour, threshold=0.5e5, resolution=64)
    cameras = cams.Cameras(cams.eval_cameras().c2w[::4])  # four of the eval cameras, two elevations
    o, d = cams.image_rays(cameras, 32)

    def field(points, _scene=0):
        return density(points), split_colour(points)

    ids = torch.zeros(o.numel() // 3, dtype=torch.long)
    out = render_image_batches(field, o.reshape(-1, 3), d.reshape(-1, 3), ids, None, torch.ones(3), step=2e-3)
    nerf, alpha = out.rgb.reshape(4, 32, 32, 3), out.opacity.reshape(4, 32, 32)
    image, coverage = render_mesh(mesh.vertices, mesh.faces, cameras, 32, colors=mesh.colors, supersample=1)
    # The sphere is off-centre: a swapped or mirrored axis would move it by pixels.
    assert ((coverage > 0.5) != (alpha > 0.5)).float().mean() < 0.002
    assert np.mean([psnr(a, b) for a, b in zip(image, nerf)]) > 28.0
