"""Textured meshes: decimation, unwrapping, the bake and its padding, and the files (glb, OBJ +
MTL + PNG, PLY) read back by independent readers (trimesh, the Khronos glTF validator)."""

from __future__ import annotations

import json

import numpy as np
import pygltflib
import pytest
import torch
import trimesh

from hfcli.export import Mesh, extract_mesh
from hfcli.gltf import write_textured_glb
from hfcli.mesh_io import write_mesh
from hfcli.rasterize import sample_texture
from hfcli.texture import BAKE_DEPTHS, TexturedMesh, UnwrapError, decimate, finish_mesh, surface_colors, unwrap
from tests.gltf_check import validate_glb
from tests.test_export import CENTRE, RADIUS, sphere_density, split_colour

RES = 40
STEP = 2.0 / (RES - 1)
RED, BLUE = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])


def query(p: torch.Tensor):
    return sphere_density(p), split_colour(p)


@pytest.fixture(scope="module")
def dense() -> Mesh:
    return extract_mesh(sphere_density, split_colour, threshold=50, resolution=RES)


@pytest.fixture(scope="module")
def textured(dense) -> TexturedMesh:
    mesh, notes, _ = finish_mesh(dense, query, sphere_density, step=STEP, faces=1500, texture_size=256)
    assert isinstance(mesh, TexturedMesh) and notes == []
    return mesh


def _sided(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of vertices clearly left (red) and right (blue) of the colour boundary x = centre.x."""
    x = vertices[:, 0] - CENTRE[0].item()
    return x < -2 * STEP, x > 2 * STEP


def _assert_split_colours(vertices: np.ndarray, colours: np.ndarray, atol: float = 0.05) -> None:
    left, right = _sided(vertices)
    assert left.sum() > 50 and right.sum() > 50
    np.testing.assert_allclose(colours[left], np.broadcast_to(RED, colours[left].shape), atol=atol)
    np.testing.assert_allclose(colours[right], np.broadcast_to(BLUE, colours[right].shape), atol=atol)


# ───────────────────────────── decimate, unwrap ─────────────────────────────


def test_decimation_reaches_the_budget_and_keeps_the_surface(dense):
    v, f = decimate(dense.vertices, dense.faces, 1000)
    assert 900 <= len(f) <= 1000 < len(dense.faces)
    assert np.abs(np.linalg.norm(v - CENTRE.numpy(), axis=1) - RADIUS).max() < STEP
    tm = trimesh.Trimesh(v, f, process=False)
    assert tm.is_watertight and tm.volume == pytest.approx(4 / 3 * np.pi * RADIUS**3, rel=0.05)


def test_unwrap_gives_one_atlas_whose_charts_do_not_overlap(dense):
    v, f = decimate(dense.vertices, dense.faces, 1000)
    vmap, faces, uv = unwrap(v, f, 256)
    assert len(faces) == len(f) and uv.min() >= 0 and uv.max() <= 1
    np.testing.assert_array_equal(v[vmap][faces], v[f])  # the same triangles, seams split
    from hfcli.rasterize import cover

    cov = cover(torch.as_tensor(uv)[torch.as_tensor(faces)] * 256, 256, 256)
    # A texel centre in two triangles happens only on a shared edge: overlapping charts would
    # give thousands.
    assert len(cov.pixel) - len(torch.unique(cov.pixel)) < 0.005 * len(cov.pixel)


def test_a_surface_too_thin_to_unwrap_falls_back_to_vertex_colours():
    n = 40  # a strip of slivers 1e-9 wide: xatlas returns no atlas and NaN coordinates for it
    t = np.linspace(-0.5, 0.5, n, dtype=np.float32)
    v = np.concatenate([np.column_stack([t, np.zeros(n), np.zeros(n)]), np.column_stack([t, np.full(n, 1e-9), 0 * t])])
    f = np.array([[i, i + 1, n + i] for i in range(n - 1)] + [[i + 1, n + i + 1, n + i] for i in range(n - 1)])
    with pytest.raises(UnwrapError, match="too thin"):
        unwrap(v.astype(np.float32), f, 64)
    normals = np.tile(np.float32([0, 0, 1]), (2 * n, 1))
    strip = Mesh(v.astype(np.float32), f.astype(np.uint32), np.zeros((2 * n, 3), np.float32), normals)
    mesh, notes, _ = finish_mesh(strip, query, sphere_density, step=STEP, faces=1000, texture_size=64)
    assert type(mesh) is Mesh and len(mesh.faces) == len(f)
    assert len(notes) == 2 and "kept them all" in notes[0] and notes[1].startswith("no texture: xatlas")


def test_a_face_budget_above_the_mesh_keeps_it_whole_with_a_note(dense):
    mesh, notes, _ = finish_mesh(dense, query, sphere_density, step=STEP, faces=10**6, vertex_colors=True)
    assert len(mesh.faces) == len(dense.faces) and notes == [
        f"--faces 1000000: the mesh has only {len(dense.faces)} triangles; kept them all"
    ]
    same, notes, _ = finish_mesh(dense, query, sphere_density, step=STEP, vertex_colors=True)
    assert same is dense and notes == []  # --vertex-colors without --faces: the mesh as before


# ───────────────────────────── the bake ─────────────────────────────


def test_surface_colours_composite_along_the_normal():
    """One point, normal +z: samples at BAKE_DEPTHS × step; empty outside (z > 0), density s
    inside, a colour per depth. What a ray straight down sees: α c1 + (1 − α) c2."""
    step, s = 0.1, 7.0
    colours = torch.tensor([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])

    def layered(p):
        z = p[:, 2]
        k = torch.bucketize(-z, torch.tensor([-0.25 * step, 0.75 * step]))  # sample index by depth
        return torch.where(z > 0, 0.0, s), colours[k]

    got = surface_colors(layered, torch.zeros(1, 3), torch.tensor([[0.0, 0, 1]]), step)
    alpha = 1 - np.exp(-s * step)
    assert BAKE_DEPTHS[0] > 0 > BAKE_DEPTHS[1] > BAKE_DEPTHS[2]
    np.testing.assert_allclose(got[0].numpy(), [0, alpha, 1 - alpha], atol=1e-6)


def test_baked_texture_holds_the_field_colour_at_each_vertex(textured):
    at_vertices = sample_texture(torch.as_tensor(textured.texture).float() / 255, torch.as_tensor(textured.uv))
    _assert_split_colours(textured.vertices, at_vertices.numpy())


def test_padding_fills_every_texel_so_mipmaps_do_not_bleed(textured):
    """Every texel outside the charts takes a chart's colour: no texel keeps the empty black, so
    bilinear lookups at a seam and every mip level hold only the object's red and blue."""
    tex = textured.texture.astype(np.float64)
    for _ in range(8):  # 256 → 1: each level the 2×2 mean, as a viewer builds its mipmaps
        assert (tex[..., 0] + tex[..., 2]).min() > 250 and tex[..., 1].max() < 5, tex.shape
        tex = tex.reshape(tex.shape[0] // 2, 2, tex.shape[1] // 2, 2, 3).mean(axis=(1, 3))


# ───────────────────────────── files ─────────────────────────────


def test_textured_glb_passes_the_validator_and_reads_back(textured, tmp_path):
    path = tmp_path / "sphere.glb"
    write_textured_glb(textured, path)
    report = validate_glb(path)
    issues = report["issues"]
    assert (issues["numErrors"], issues["numWarnings"]) == (0, 0), json.dumps(issues["messages"], indent=1)
    assert report["info"]["totalTriangleCount"] == len(textured.faces) and report["info"]["hasTextures"]
    g = pygltflib.GLTF2().load(str(path))
    prim = g.meshes[0].primitives[0]
    assert prim.attributes.TEXCOORD_0 is not None and prim.attributes.NORMAL is not None
    assert prim.attributes.COLOR_0 is None
    pbr = g.materials[prim.material].pbrMetallicRoughness
    assert pbr.baseColorTexture.index == 0 and (pbr.metallicFactor, pbr.roughnessFactor) == (0, 1)
    (image,) = g.images
    assert image.mimeType == "image/png" and image.uri is None and image.bufferView is not None  # embedded
    # trimesh samples the texture at each vertex's UV itself: the colours must be the field's.
    tm = trimesh.load(path, force="mesh", process=False)
    assert tm.visual.material.baseColorTexture.size == (256, 256)
    _assert_split_colours(np.asarray(tm.vertices), tm.visual.to_color().vertex_colors[:, :3] / 255.0)


def test_obj_mtl_and_png_read_back_with_their_texture(textured, tmp_path):
    path = tmp_path / "sphere.obj"
    written = write_mesh(textured, path)
    assert sorted(written) == sorted(str(tmp_path / n) for n in ("sphere.obj", "sphere.mtl", "sphere.png"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sphere.mtl", "sphere.obj", "sphere.png"]
    assert "map_Kd sphere.png" in (tmp_path / "sphere.mtl").read_text()
    assert "mtllib sphere.mtl" in path.read_text()
    tm = trimesh.load(path, process=False)
    assert tm.visual.material.image.size == (256, 256) and len(tm.faces) == len(textured.faces)
    _assert_split_colours(np.asarray(tm.vertices), tm.visual.to_color().vertex_colors[:, :3] / 255.0)


def test_vertex_coloured_ply_and_obj_read_back(dense, tmp_path):
    mesh, _, _ = finish_mesh(dense, query, sphere_density, step=STEP, faces=800, vertex_colors=True)
    assert type(mesh) is Mesh and len(mesh.faces) <= 800
    _assert_split_colours(mesh.vertices, mesh.colors)
    for name in ("m.ply", "m.obj"):
        write_mesh(mesh, tmp_path / name)
        tm = trimesh.load(tmp_path / name, process=False)
        assert len(tm.faces) == len(mesh.faces)
        _assert_split_colours(np.asarray(tm.vertices), tm.visual.vertex_colors[:, :3] / 255.0, atol=0.01)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.obj", "m.ply"]  # no material for vertex colours


def test_a_failed_obj_write_leaves_nothing(textured, tmp_path, monkeypatch):
    (tmp_path / "sphere.obj").write_text("old")

    def broken(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("pathlib.Path.write_bytes", broken)  # the .mtl and .png, after the .obj's text
    with pytest.raises(OSError, match="disk full"):
        write_mesh(textured, tmp_path / "sphere.obj")
    assert [p.name for p in tmp_path.iterdir()] == ["sphere.obj"]
    assert (tmp_path / "sphere.obj").read_text() == "old"
